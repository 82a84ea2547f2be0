"""The batch job's most-popular list is the ranking the evaluation scores (one MostPopular)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from personarec.config import Settings
from personarec.graph import Graph
from personarec.jobs import MostPopular, recommend
from personarec.protocol import mask_history, target_ranks
from personarec.session.data import load_sequences
from personarec.session.popular import MostPopular as EvalMostPopular

DATASET = "ties"
ITEMS = ["1", "2", "9", "10", "11"]
# the last two items of each list are valid and test; train counts: 9 and 10 tie (3), 2 and 11 tie (1),
# and "10" < "9", "11" < "2" as text but not as numbers
USERS = [["10", "9", "2", "1", "11"], ["9", "10", "1", "2", "11"], ["10", "9", "11", "1", "2"], ["1", "2", "9"]]
# test-only read-back; collect after ORDER BY keeps the rank order
RECS = ("MATCH (u:User)-[r:RECOMMENDED {run: $run}]->(i:Item) WITH u, r, i ORDER BY u.id, r.rank "
        "RETURN u.id AS user, collect(i.id) AS items")


def _evaluation_lists(graph: Graph) -> dict[str, list[str]]:
    """Per user, every unmasked item ordered by its rank under the evaluation's own rank function."""
    data = load_sequences(graph, DATASET)
    model = EvalMostPopular().train(data)
    out = {}
    for u, uid in enumerate(data.user_ids):
        train = data.train_sequence(u)
        ranks = {}
        for item in range(1, data.n_items + 1):
            if item in train:
                continue
            scores = mask_history(model.score_sessions([train]), [train], torch.tensor([item]))
            ranks[item] = int(target_ranks(scores, torch.tensor([item]))[0])
        out[uid] = [data.item_ids[j - 1] for j in sorted(ranks, key=ranks.__getitem__)]
    return out


def test_batch_job_list_equals_the_evaluation_ranking(graph: Graph, neo4j_settings: Settings,
                                                      seed: Callable[[str, list[str], list[dict[str, Any]]], None]
                                                      ) -> None:
    seed(DATASET, ITEMS, [{"raw": str(n), "items": items, "persona": None} for n, items in enumerate(USERS, 1)])
    train = Counter(i for items in USERS for i in items[:-2])
    assert train["9"] == train["10"] == 3 and train["2"] == train["11"] == 1  # the ties the test is about

    assert MostPopular is EvalMostPopular  # one class, not two with different tie rules
    model = MostPopular.from_graph(graph, DATASET)
    assert [i for i, _ in model.ranking_] == ["ties:9", "ties:10", "ties:1", "ties:2", "ties:11"]
    recommend(graph, neo4j_settings, model, "pop", k=3, history_splits=("train",), progress=False)
    written = {r["user"]: r["items"] for r in graph.execute(RECS, {"run": "pop"})}
    evaluation = _evaluation_lists(graph)
    assert written == {u: items[:3] for u, items in evaluation.items()}
    # user 4 (train: item 1) sees both ties, in id order as numbers: 9 before 10, 2 before 11
    assert written["ties:4"] == ["ties:9", "ties:10", "ties:2"]
    # sorting ids as text, as the batch job once did, would have given another list
    by_text = sorted(train, key=lambda i: (-train[i], f"{DATASET}:{i}"))
    assert by_text == ["10", "9", "1", "11", "2"]


def test_scores_are_train_counts_and_history_is_excluded() -> None:
    model = MostPopular.from_counts([("d:10", 2), ("d:9", 2), ("d:1", 5), ("d:2", 0)])
    assert model.item_ids_ == ["d:1", "d:2", "d:9", "d:10"]  # index order: ids as numbers
    assert model.counts_.tolist() == [0, 5, 0, 2, 2]
    assert model.order().tolist() == [1, 3, 4, 2]

    class Batch:
        histories = [["d:1"], []]

    items, scores = model.recommend(Batch(), 2)
    assert items == [["d:9", "d:10"], ["d:1", "d:9"]]
    assert scores == [[2.0, 2.0], [5.0, 2.0]]
    assert np.array_equal(model.score_sessions([np.zeros(0)])[0].numpy(), model.counts_)
