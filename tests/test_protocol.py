"""The protocol module against hand-computed values (docs/protocol.md); no database needed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from personarec import protocol
from personarec.loaders.common import Interaction
from personarec.protocol import (
    history_mask,
    mask_history,
    mean_item_vectors,
    metrics_from_ranks,
    node_id,
    node_ids,
    node_sort_key,
    popularity_order,
    raw_id,
    raw_sort_key,
    split_fingerprint,
    target_ranks,
)

NEG = float("-inf")


def test_fingerprint_of_a_three_user_split() -> None:
    # users sort as numbers (9 before 10), the non-numeric id after them; "x" has nothing held out and
    # is left out; a user with two held-out items (temporal) joins them with a comma
    held_out = {"10": (["d"], ["e"]), "a": (["f", "g"], []), "9": (["b"], ["c"]), "x": ([], [])}
    # md5 of the text "9\tb\tc\n10\td\te\na\tf,g\t\n", computed with `printf ... | md5sum`
    assert split_fingerprint(held_out) == "bad47b44bf859665cea9d9718b791035"


def test_every_former_copy_is_the_protocol_function() -> None:
    from personarec.export import split_fingerprint as export_fp
    from personarec.load.splits import leave_one_out
    from personarec.session.data import SequenceData

    assert export_fp is split_fingerprint
    seqs = {"10": ["d", "z", "e"], "9": ["y", "b", "c"], "2": ["q"]}
    rows = [Interaction(u, i, None, None, n) for u, items in seqs.items() for n, i in enumerate(items)]
    expected = split_fingerprint({"9": (["b"], ["c"]), "10": (["z"], ["e"])})
    assert leave_one_out(rows).fingerprint == expected
    data = SequenceData.leave_one_out("ds", {f"ds:{u}": [f"ds:{i}" for i in s] for u, s in seqs.items()})
    assert data.fingerprint() == expected


def test_id_order_and_mapping() -> None:
    assert sorted(["10", "9", "b", "a", "100"], key=raw_sort_key) == ["9", "10", "100", "a", "b"]
    assert sorted(["ml:10", "ml:9", "ml:x"], key=node_sort_key) == ["ml:9", "ml:10", "ml:x"]
    assert node_id("ml", "5") == "ml:5" and node_id("ml", "ml:5") == "ml:5"
    assert node_ids("ml", ["5", "ml:6"]) == ["ml:5", "ml:6"]
    assert raw_id("ml", "ml:5") == "5" and raw_id("ml", "other:5") == "other:5"


def test_history_mask_by_stage() -> None:
    splits = np.array([0, 0, 1, 2])
    assert history_mask(splits, "valid").tolist() == [True, True, False, False]
    assert history_mask(splits, "test").tolist() == [True, True, True, False]
    with pytest.raises(ValueError):
        history_mask(splits, "train")


def test_masking_keeps_the_target_and_hides_padding() -> None:
    scores = torch.tensor([[9.0, 1.0, 2.0, 3.0, 4.0], [9.0, 1.0, 2.0, 3.0, 4.0]])
    # row 0: item 2 is in the history and is also the target (a repeat), so it stays
    out = mask_history(scores, [np.array([2, 4]), np.array([1])], torch.tensor([2, 3]))
    assert out.tolist() == [[NEG, 1.0, 2.0, 3.0, NEG], [NEG, NEG, 2.0, 3.0, 4.0]]


def test_target_rank_counts_higher_scores_and_lower_index_ties() -> None:
    # items 2, 3 and 5 share the top score 3; item 4 scores 2
    scores = torch.tensor([[NEG, 1.0, 3.0, 3.0, 2.0, 3.0]] * 4)
    ranks = target_ranks(scores, torch.tensor([2, 3, 5, 4]))
    # item 2: first of its ties; item 3: one tie below it; item 5: two; item 4: three items above
    assert ranks.tolist() == [0, 1, 2, 3]
    assert target_ranks(scores[:1], torch.tensor([1])).tolist() == [4]


def test_popularity_order_is_the_rank_order_of_constant_scores() -> None:
    counts = np.array([0, 2, 5, 2, 0, 5], dtype=np.float32)
    order = popularity_order(counts)
    assert order.tolist() == [2, 5, 1, 3, 4]
    scores = torch.from_numpy(counts).expand(5, -1).clone()
    scores[:, 0] = NEG
    assert target_ranks(scores, torch.from_numpy(order)).tolist() == [0, 1, 2, 3, 4]


def test_metrics_cut_mrr_at_ten_and_keep_full_mrr() -> None:
    m = metrics_from_ranks(np.array([0, 9, 10]))
    assert m["HR@10"].tolist() == [1, 1, 0] and m["HR@100"].tolist() == [1, 1, 1]
    assert m["MRR@10"].tolist() == pytest.approx([1.0, 0.1, 0.0])
    assert m["MRR"].tolist() == pytest.approx([1.0, 0.1, 1 / 11])
    assert m["NDCG@10"].tolist() == pytest.approx([1.0, 1 / np.log2(11), 0.0])
    assert tuple(m) == protocol.METRICS


def test_mean_item_vectors_by_hand() -> None:
    vecs = np.array([[0, 0], [1, 0], [0, 2], [3, 3]], dtype=np.float32)  # row 0 = padding
    out = mean_item_vectors([np.array([1, 2]), np.array([], dtype=np.int64), np.array([3, 3, 1])], vecs)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.5, 1.0], [0.0, 0.0], [7 / 3, 2.0]], rtol=1e-6)  # a repeat counts twice
