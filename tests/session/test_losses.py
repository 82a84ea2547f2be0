"""Sampled softmax (uniform and popularity with logQ) learns an obvious pattern; correction, hit masking, auto;
the chunked full CE equals the one-product loss and learns in bfloat16 too."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from personarec.config import SessionConfig
from personarec.cpu import auto_bf16, cpu_avx512
from personarec.session.data import SequenceData
from personarec.session.losses import (
    AUTO_FULL_MAX_ITEMS_CPU,
    AUTO_FULL_MAX_ITEMS_CPU_WIDE,
    AUTO_FULL_MAX_ITEMS_CUDA,
    ChunkedFullCE,
    NegativeSampler,
    full_ce_loss,
    resolve_loss,
    resolve_precision,
    sampled_logits,
    sampled_softmax_loss,
)
from personarec.session.sasrec import SASRec, SASRecConfig, SASRecNet

N_ITEMS = 40


def fixed_routes(n_users: int = 80, length: int = 9) -> SequenceData:
    """Four fixed routes through disjoint items; each user follows one from some offset: the next item is certain.

    Items on the first route are visited by more users than the others, so popularity sampling has
    something to be biased by.
    """
    routes = [list(range(r * 10, r * 10 + 10)) for r in range(4)]
    seqs = {}
    for u in range(n_users):
        route = routes[0] if u % 2 == 0 else routes[1 + u % 3]
        start = u % 10
        seqs[f"r:{u}"] = [f"r:{route[(start + k) % 10]}" for k in range(length)]
    return SequenceData.leave_one_out("r", seqs)


def small(**kw: object) -> SASRecConfig:
    base = dict(hidden=32, inner=64, dropout=0.1, attn_dropout=0.1, max_len=8, lr=5e-3, epochs=40, batch_size=256,
                patience=40, progress=False, seed=7, loss="sampled", negatives=8, device="cpu")
    base.update(kw)
    return SASRecConfig(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("sampler", ["uniform", "popularity"])
def test_sampled_softmax_learns_the_next_item(sampler: str) -> None:
    data = fixed_routes()
    model = SASRec(small(negative_sampler=sampler)).train(data)
    ranks = model.ranks(data, "test", data.eval_users("test"))  # full ranking over all 40 items
    assert (ranks == 0).mean() >= 0.9
    assert model.loss_info() == {"loss": "sampled", "negatives": 8, "negative_sampler": sampler,
                                 "popularity_power": 1.0 if sampler == "popularity" else None}
    assert model.history_[-1]["loss"] < model.history_[0]["loss"]


def test_log_q_correction_is_exactly_logit_minus_log_q() -> None:
    g = torch.Generator().manual_seed(0)
    h, table = torch.randn(5, 4, generator=g), torch.randn(11, 4, generator=g)
    targets, negatives = torch.tensor([1, 2, 3, 4, 5]), torch.tensor([6, 7, 8, 9, 10, 6])
    counts = np.array([0, 9, 1, 0, 3, 5, 7, 2, 2, 4, 30])
    sampler = NegativeSampler(10, "popularity", counts, power=1.0)
    q = (counts[1:] + 1.0) / (counts[1:] + 1.0).sum()
    assert np.allclose(sampler.probs[1:].numpy(), q) and sampler.probs[0] == 0
    raw = sampled_logits(h, targets, table, negatives)
    corrected = sampled_logits(h, targets, table, negatives, sampler.log_q)
    expected_raw = torch.cat([(h * table[targets]).sum(1, keepdim=True), h @ table[negatives].T], 1)
    assert torch.allclose(raw, expected_raw, atol=1e-6)
    log_q = torch.from_numpy(np.log(np.concatenate([[1.0], q]))).float()
    assert torch.allclose(corrected[:, :1], raw[:, :1] - log_q[targets].unsqueeze(1), atol=1e-5)
    assert torch.allclose(corrected[:, 1:], raw[:, 1:] - log_q[negatives].unsqueeze(0), atol=1e-5)


def test_accidental_hits_are_masked() -> None:
    h, table = torch.randn(3, 4), torch.randn(8, 4)
    targets, negatives = torch.tensor([2, 5, 7]), torch.tensor([5, 1, 2, 5])
    logits = sampled_logits(h, targets, table, negatives)
    hits = negatives.unsqueeze(0) == targets.unsqueeze(1)
    assert torch.isneginf(logits[:, 1:][hits]).all() and hits.sum() == 3
    assert torch.isfinite(logits[:, 1:][~hits]).all() and torch.isfinite(logits[:, 0]).all()
    # a masked hit contributes nothing: the loss equals the one without that negative
    row = torch.tensor([1])
    alone = sampled_softmax_loss(h[row], targets[row], table, torch.tensor([1, 2]))
    assert torch.allclose(sampled_softmax_loss(h[row], targets[row], table, negatives), alone)


def test_samplers_draw_real_items_with_their_probabilities() -> None:
    counts = np.array([0, 100, 0, 0, 0])
    pop = NegativeSampler(4, "popularity", counts, seed=1).sample(20000)
    assert pop.min() >= 1 and pop.max() <= 4
    share = (pop == 1).float().mean().item()
    assert abs(share - 101 / 104) < 0.01  # counts + 1: unseen items stay drawable
    flat = NegativeSampler(4, "popularity", counts, power=0.0, seed=1).sample(20000)
    assert abs((flat == 1).float().mean().item() - 0.25) < 0.02
    uni = NegativeSampler(4, "uniform", seed=1).sample(20000)
    assert uni.min() >= 1 and uni.max() <= 4 and abs((uni == 3).float().mean().item() - 0.25) < 0.02
    with pytest.raises(ValueError, match="train counts"):
        NegativeSampler(4, "popularity")


def test_auto_resolves_by_catalogue_size_and_device() -> None:
    assert resolve_loss("auto", AUTO_FULL_MAX_ITEMS_CPU, "cpu", avx512=False) == "full"
    assert resolve_loss("auto", AUTO_FULL_MAX_ITEMS_CPU + 1, "cpu", avx512=False) == "sampled"
    assert resolve_loss("auto", AUTO_FULL_MAX_ITEMS_CPU + 1, "cuda") == "full"
    assert resolve_loss("auto", AUTO_FULL_MAX_ITEMS_CUDA + 1, "cuda:1") == "sampled"
    assert resolve_loss("full", 10**7, "cpu") == "full"
    assert resolve_loss("sampled", 10, "cuda") == "sampled"
    # a CPU with AVX-512 keeps full CE up to a larger catalogue (Beauty's 12,101 items)
    assert resolve_loss("auto", 12_101, "cpu", avx512=True) == "full"
    assert resolve_loss("auto", AUTO_FULL_MAX_ITEMS_CPU_WIDE + 1, "cpu", avx512=True) == "sampled"
    assert resolve_loss("auto", 12_101, "cpu", avx512=False) == "sampled"
    # unsaid, the machine's own CPU decides
    assert resolve_loss("auto", 12_101, "cpu") == ("full" if cpu_avx512() else "sampled")
    # the model records what auto chose
    data = fixed_routes(8, 5)
    model = SASRec(small(loss="auto", epochs=1)).train(data)
    precision = "bf16" if resolve_precision("auto", "cpu") == torch.bfloat16 else "fp32"  # the machine decides
    assert model.loss_info() == {"loss": "full", "precision": precision}
    assert model.state()["loss"] == {"loss": "full", "precision": precision}


def test_unknown_loss_is_refused_clearly() -> None:
    with pytest.raises(ValidationError, match="auto.*full.*sampled"):
        SessionConfig(loss="bpr")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="uniform.*popularity"):
        SessionConfig(negative_sampler="in-batch")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="auto.*full.*sampled"):
        SASRecConfig(loss="bce")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown SASRec loss 'bce'"):
        resolve_loss("bce", 10, "cpu")


def test_session_settings_reach_the_model_and_its_saved_meta(tmp_path) -> None:
    cfg = SASRecConfig.from_session(SessionConfig(loss="sampled", negatives=5, negative_sampler="uniform"),
                                    **{k: v for k, v in small(epochs=2).model_dump().items()
                                       if k not in ("loss", "negatives", "negative_sampler")})
    assert (cfg.loss, cfg.negatives, cfg.negative_sampler) == ("sampled", 5, "uniform")
    data = fixed_routes(8, 5)
    model = SASRec(cfg).train(data)
    model.save(tmp_path / "m")
    again = SASRec.load(tmp_path / "m")
    assert again.loss_info() == model.loss_info() == {"loss": "sampled", "negatives": 5,
                                                      "negative_sampler": "uniform", "popularity_power": None}
    sessions = [data.session(u, "test", 8) for u in range(data.n_users)]
    assert np.allclose(model.score_sessions(sessions).numpy(), again.score_sessions(sessions).numpy(), atol=1e-6)


def test_sampled_step_on_gathered_rows_equals_the_full_table() -> None:
    """Training builds only the rows a batch touches; the loss must be the one over the full item table."""
    torch.manual_seed(0)
    n_items = 30
    cfg = small(dropout=0.0, attn_dropout=0.0)
    text = torch.randn(n_items + 1, 6)
    net = SASRecNet(n_items, cfg, user_dim=3, item_text=text).eval()
    x = torch.tensor([[3, 7, 7, 0], [12, 5, 9, 30]])
    y = torch.tensor([[7, 7, 2, 0], [5, 9, 30, 1]])
    keep, uv = y > 0, torch.randn(2, 3)
    negatives = torch.tensor([4, 30, 2, 11, 11])
    counts = np.arange(n_items + 1)
    log_q = NegativeSampler(n_items, "popularity", counts).log_q
    table = net.item_table()
    expected = sampled_softmax_loss(net(x, uv, table)[keep], y[keep], table, negatives, log_q)
    got = SASRec._sampled_step(net, x, y[keep], keep, uv, negatives, log_q)
    assert torch.allclose(got, expected, atol=1e-6)


def _ce_inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(37, 16, generator=g), torch.randn(301, 16, generator=g) * 0.3, \
        torch.randint(1, 301, (37,), generator=g)


@pytest.mark.parametrize("rows", [1, 8, 10, 37, 64])  # chunks that do and do not divide the 37 positions
def test_chunked_full_ce_equals_the_one_product_loss(rows: int) -> None:
    h0, t0, targets = _ce_inputs()
    h, t = h0.clone().requires_grad_(), t0.clone().requires_grad_()
    ref = torch.nn.functional.cross_entropy(h @ t.T, targets)
    ref.backward()
    hc, tc = h0.clone().requires_grad_(), t0.clone().requires_grad_()
    loss = ChunkedFullCE.apply(hc, tc, targets, rows, torch.float32)
    loss.backward()
    assert torch.allclose(loss, ref, atol=1e-6)
    assert torch.allclose(hc.grad, h.grad, atol=1e-7) and torch.allclose(tc.grad, t.grad, atol=1e-7)
    # full_ce_loss picks the chunked path on request, and the rows from the catalogue size
    assert torch.allclose(full_ce_loss(h0, targets, t0, chunked=True), ref.detach(), atol=1e-6)


def test_bfloat16_products_stay_close_and_scale_the_gradient() -> None:
    h0, t0, targets = _ce_inputs(1)
    h, t = h0.clone().requires_grad_(), t0.clone().requires_grad_()
    ref = torch.nn.functional.cross_entropy(h @ t.T, targets)
    ref.backward()
    hb, tb = h0.clone().requires_grad_(), t0.clone().requires_grad_()
    loss = full_ce_loss(hb, targets, tb, dtype=torch.bfloat16)  # bf16 always goes through the chunks
    (2 * loss).backward()  # the incoming gradient scales both parameter gradients
    assert hb.grad.dtype == torch.float32 and tb.grad.dtype == torch.float32
    assert abs(loss.item() - ref.item()) < 2e-2 * ref.item()
    for mine, exact in ((hb.grad, h.grad), (tb.grad, t.grad)):
        assert float((mine - 2 * exact).norm() / (2 * exact).norm()) < 2e-2


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_kept_logits_give_the_recomputed_gradients_bit_for_bit(dtype: torch.dtype, monkeypatch) -> None:
    h0, t0, targets = _ce_inputs(2)
    results = []
    for keep in (0, 1 << 23):  # recompute the logits in the backward pass, then keep them from the forward
        monkeypatch.setattr("personarec.session.losses.KEEP_LOGITS_ELEMENTS", keep)
        h, t = h0.clone().requires_grad_(), t0.clone().requires_grad_()
        loss = ChunkedFullCE.apply(h, t, targets, 10, dtype)
        loss.backward()
        results.append((loss.detach(), h.grad, t.grad))
    for recomputed, kept in zip(*results, strict=True):
        assert torch.equal(recomputed, kept)
    # the backward pass overwrites the kept logits: autograd refuses a second one instead of a wrong result
    h, t = h0.clone().requires_grad_(), t0.clone().requires_grad_()
    loss = ChunkedFullCE.apply(h, t, targets, 10, dtype)
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_precision_resolves_and_refuses_unknown_names() -> None:
    assert resolve_precision("fp32", "cpu") == torch.float32
    assert resolve_precision("bf16", "cpu") == torch.bfloat16
    assert resolve_precision("auto", "cuda") == torch.float32  # GPUs keep the float32 of their tables
    assert resolve_precision("auto", "cpu") == (torch.bfloat16 if auto_bf16("cpu") else torch.float32)
    with pytest.raises(ValueError, match="unknown SASRec precision 'fp8'"):
        resolve_precision("fp8", "cpu")
    with pytest.raises(ValidationError, match="auto.*fp32.*bf16"):
        SessionConfig(precision="fp16")  # type: ignore[arg-type]
    assert SASRecConfig.from_session(SessionConfig(precision="fp32")).precision == "fp32"


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_full_ce_learns_the_next_item_in_either_precision(precision: str, tmp_path) -> None:
    data = fixed_routes()
    model = SASRec(small(loss="full", precision=precision)).train(data)
    ranks = model.ranks(data, "test", data.eval_users("test"))
    assert (ranks == 0).mean() >= 0.9
    assert model.loss_info() == {"loss": "full", "precision": precision}
    assert model.loss_label() == ("full CE bf16" if precision == "bf16" else "full CE")
    model.save(tmp_path / "m")
    assert SASRec.load(tmp_path / "m").loss_info() == model.loss_info()  # the saved meta keeps it


@pytest.mark.parametrize("loss", ["full", "sampled"])
def test_bfloat16_autocast_training_learns_the_next_item_and_scores_in_float32(loss: str) -> None:
    data = fixed_routes()
    model = SASRec(small(loss=loss, train_precision="bf16")).train(data)
    ranks = model.ranks(data, "test", data.eval_users("test"))
    assert (ranks == 0).mean() >= 0.9
    sessions = [data.session(u, "test", 8) for u in range(4)]
    assert model.score_sessions(sessions).dtype == torch.float32
    assert model.net_ is not None and all(p.dtype == torch.float32 for p in model.net_.parameters())
    assert SASRecConfig.from_session(SessionConfig(train_precision="bf16")).train_precision == "bf16"
