"""Most-popular for batch runs: the evaluation's own model (:class:`personarec.session.popular.MostPopular`).

One class serves both, so the list a batch run writes is the ranking the evaluation scores: true
train counts, equal counts ordered by item id as a number (docs/protocol.md). Build it with
``MostPopular.from_graph(graph, dataset)``.
"""

from personarec.session.popular import MostPopular

__all__ = ["MostPopular"]
