"""Training the SASRec variants side by side gives the same models as training them one after another."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from personarec.session.fit import Variant, _expected_cost, fit_variants
from personarec.session.sasrec import SASRecConfig

sys.path.insert(0, str(Path(__file__).parent))
from test_sasrec import cyclic  # noqa: E402


def test_parallel_training_equals_sequential_training() -> None:
    data = cyclic(12, 8)
    rng = np.random.default_rng(3)
    users = rng.normal(size=(data.n_users, 4)).astype(np.float32)
    items = rng.normal(size=(data.n_items + 1, 6)).astype(np.float32)
    cfg = SASRecConfig(hidden=16, inner=32, max_len=8, epochs=3, progress=False, batch_size=64, seed=11)
    # three variants on two workers: the persona variant is queued first, the results keep the given order
    variants = [Variant("sasrec"), Variant("history", users[:, ::-1].copy(), items), Variant("persona", users, items)]
    one = fit_variants(data, cfg, variants, jobs=1)
    two = fit_variants(data, cfg, variants, jobs=2)
    assert list(one) == list(two) == ["sasrec", "history", "persona"]
    for name in one:
        a, b = one[name], two[name]
        assert a.best_epoch_ == b.best_epoch_ and len(a.history_) == len(b.history_) == 3
        assert a.config == b.config
        for key, value in a.net_.state_dict().items():  # type: ignore[union-attr]
            torch.testing.assert_close(value, b.net_.state_dict()[key], rtol=0, atol=0)  # type: ignore[union-attr]
        session = [np.array([1, 2, 3])]
        uv = {"persona": users[:1], "history": users[:1, ::-1].copy()}.get(name)
        torch.testing.assert_close(a.score_sessions(session, uv), b.score_sessions(session, uv))


def test_the_queue_starts_with_the_variants_that_cost_most_per_epoch() -> None:
    vec = np.zeros((3, 2), dtype=np.float32)
    variants = [Variant("sasrec"), Variant("history", vec, vec), Variant("persona", vec, vec),
                Variant("persona_ref", vec, vec), Variant("persona_ids", vec)]
    queue = sorted(variants, key=_expected_cost, reverse=True)
    # persona variants first (LLM item vectors before ID-only), then history, plain SASRec last
    assert [v.name for v in queue] == ["persona", "persona_ref", "persona_ids", "history", "sasrec"]
