"""HDGI modules: attention is a distribution over metapaths, the loss falls, seeds reproduce (no Neo4j)."""

from __future__ import annotations

import numpy as np
import torch
from torch_geometric.data import HeteroData

from personarec.config import load_settings
from personarec.graph.export import KGExport
from personarec.persona.model import HDGI, MetapathGCN, SemanticAttention
from personarec.persona.train import embed_all, fit, prepare


def _toy_export(n_users: int = 60, n_items: int = 45, seed: int = 0) -> KGExport:
    rng = np.random.default_rng(seed)
    group = np.arange(n_items) % 3
    centroids = rng.standard_normal((3, 32))
    x_item = torch.tensor(centroids[group] + 0.5 * rng.standard_normal((n_items, 32)), dtype=torch.float32)
    edges = []
    for u in range(n_users):
        own = np.flatnonzero(group == u % 3)
        edges += [(u, i) for i in rng.choice(own, 6, replace=False)]
    ui = torch.tensor(edges).T
    data = HeteroData()
    data["item"].x = x_item
    x_user = torch.zeros(n_users, 32).index_add_(0, ui[0], x_item[ui[1]]) / 6
    data["user"].x = x_user
    data["user", "interacted", "item"].edge_index = ui
    data["item", "has_genre", "genre"].edge_index = torch.stack([torch.arange(n_items), torch.tensor(group)])
    return KGExport(data, {"user": [f"u{k}" for k in range(n_users)], "item": [f"i{k}" for k in range(n_items)],
                           "genre": ["g0", "g1", "g2"]},
                    rels={("user", "interacted", "item"): "INTERACTED", ("item", "has_genre", "genre"): "HAS_GENRE"})


def _settings(**persona: object):
    s = load_settings(env={})
    values = {"learner": "hdgi", "epochs": 40, "patience": 10, **persona}  # these tests are about HDGI's modules
    return s.model_copy(update={"persona": s.persona.model_copy(update=values)})


def test_semantic_attention_weights_sum_to_one() -> None:
    torch.manual_seed(0)
    att = SemanticAttention(16, 8)
    hs = torch.randn(3, 20, 16)
    fused, beta = att(hs)
    assert beta.shape == (3,) and torch.isclose(beta.sum(), torch.tensor(1.0))
    assert (beta > 0).all() and fused.shape == (20, 16)
    np.testing.assert_allclose(fused.detach().numpy(), (beta.view(-1, 1, 1) * hs).sum(0).detach().numpy(), rtol=1e-5)


def test_loss_decreases_and_personas_separate_groups() -> None:
    export = _toy_export()
    settings = _settings()
    prep = prepare(export, ["auto"], 8, seed=0)
    res = fit(prep, settings, seed=0, progress=False)
    assert min(res.loss_curve) < 0.5 * res.loss_curve[0]
    h, beta = embed_all(res.model, prep)
    assert h.shape == (60, 64) and abs(beta.sum() - 1) < 1e-6
    hn = h / np.linalg.norm(h, axis=1, keepdims=True)
    sim = hn @ hn.T
    np.fill_diagonal(sim, -np.inf)
    nearest = sim.argmax(axis=1)
    assert np.mean(nearest % 3 == np.arange(60) % 3) > 0.8


def test_mini_batches_use_the_same_code_path_and_are_seeded() -> None:
    export = _toy_export()
    settings = _settings(full_batch_max=10, batch_size=16, epochs=15)
    prep = prepare(export, ["U-I-U", "U-I-Genre-I-U"], 8, seed=1)
    a = fit(prep, settings, seed=5, progress=False)
    b = fit(prep, settings, seed=5, progress=False)
    assert a.loss_curve == b.loss_curve and a.loss_curve[-1] < a.loss_curve[0]
    np.testing.assert_allclose(embed_all(a.model, prep, batch_size=7)[0], embed_all(b.model, prep)[0], atol=1e-5)


def test_discriminator_scores_real_above_corrupted_after_training() -> None:
    export = _toy_export()
    prep = prepare(export, ["auto"], 8, seed=0)
    model: HDGI = fit(prep, _settings(), seed=0, progress=False).model
    from personarec.persona.train import _batch

    perm = torch.randperm(60, generator=torch.Generator().manual_seed(0))
    xs, xs_c, adjs = _batch(prep, np.arange(60), perm)
    with torch.no_grad():
        pos, neg, s = model(xs, xs_c, adjs)
        assert torch.sigmoid(model.discriminate(pos, s)).mean() > torch.sigmoid(model.discriminate(neg, s)).mean()


def test_gcn_aggregates_first_on_wide_batches_with_the_same_result() -> None:
    torch.manual_seed(0)
    gcn = MetapathGCN(32, 8)
    rows, cols = 4, 200  # a mini-batch touching many more columns than it has rows
    dense = (torch.rand(rows, cols) < 0.05).float() * torch.rand(rows, cols)
    adj, x = dense.to_sparse(), torch.randn(cols, 32)
    expected = gcn.act(dense @ gcn.lin(x) + gcn.bias)  # PReLU(Â X W + b), projected first
    torch.testing.assert_close(gcn(x, adj), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gcn.aggregated(dense @ x), expected, rtol=1e-5, atol=1e-5)


def test_prepared_graph_aggregates_each_metapath_once_within_its_memory_cap() -> None:
    prep = prepare(_toy_export(), ["U-I-U", "U-I-Genre-I-U"], 8, seed=1)
    agg = prep.aggregated()
    assert agg is not None and len(agg) == 2 and prep.aggregated() is agg  # computed once
    for a, tensor in zip(prep.adjs, agg, strict=True):
        np.testing.assert_allclose(tensor.numpy(), a @ prep.x.numpy(), rtol=1e-5, atol=1e-6)
    fresh = prepare(_toy_export(), ["U-I-U"], 8, seed=1)
    assert fresh.aggregated(max_bytes=1000) is None  # 60 x 32 x 4 bytes is over the cap
