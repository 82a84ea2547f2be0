"""Source loaders: streaming, validating parsers that turn dataset files into typed records.

- :mod:`loaders.amazon` — Amazon reviews and metadata (2014, 2018, 2023 formats).
- :mod:`loaders.movielens` — MovieLens 100K and 1M.
- :mod:`loaders.sequences` — ``user item item …`` sequence files plus item -> attributes JSON.
- :mod:`loaders.common` — opening gz/plain files, records, validation, rejects.

The records are written to Neo4j by :mod:`personarec.load` through ``cypher/load/*.cypher``.
"""

from personarec.loaders.common import Interaction, ItemRecord, Reject, Rejects, SourceError

__all__ = ["Interaction", "ItemRecord", "Reject", "Rejects", "SourceError"]
