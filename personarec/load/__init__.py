"""Loading datasets into the knowledge graph (issue 3): sources -> splits -> ``cypher/load/*.cypher``.

Entry point: :func:`load_dataset` returns a :class:`LoadSummary`.
"""

from personarec.load.loader import LoadSummary, TypeCounts, load_dataset
from personarec.load.lock import DatasetBusy, DatasetLock
from personarec.load.splits import Split, SplitError, co_interactions, kcore, leave_one_out, make_split, temporal

__all__ = ["DatasetBusy", "DatasetLock",
           "LoadSummary", "Split", "SplitError", "TypeCounts", "co_interactions", "kcore", "leave_one_out",
           "load_dataset", "make_split", "temporal"]
