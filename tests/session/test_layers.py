"""The SASRec block against torch's TransformerEncoderLayer, and the CPU dropout's statistics."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from personarec.session.layers import CausalEncoder, CausalEncoderLayer, dropout


def _torch_layer(p: float) -> nn.TransformerEncoderLayer:
    return nn.TransformerEncoderLayer(16, 2, 32, p, activation="gelu", batch_first=True, layer_norm_eps=1e-12)


def _causal(length: int) -> torch.Tensor:
    return torch.triu(torch.ones(length, length, dtype=torch.bool), diagonal=1)


def test_layer_matches_torch_layer_and_loads_its_weights() -> None:
    torch.manual_seed(0)
    ref = nn.TransformerEncoder(_torch_layer(0.0), 2, enable_nested_tensor=False)
    # attn_dropout > 0 but far below 1/65,536: the explicit-product training path, with nothing dropped
    ours = CausalEncoder(2, 16, 2, 32, 0.0, 1e-9)
    ours.load_state_dict(ref.state_dict())  # strict: the parameter names are torch's
    x = torch.randn(3, 9, 16, requires_grad=True)
    w = torch.randn(3, 9, 16)
    for train in (False, True):
        ref.train(train)
        ours.train(train)
        a, b = ref(x, mask=_causal(9), is_causal=True), ours(x)
        torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-5)
        ga, = torch.autograd.grad((a * w).sum(), x)
        gb, = torch.autograd.grad((b * w).sum(), x)
        torch.testing.assert_close(gb, ga, atol=1e-5, rtol=1e-5)


def test_position_sees_only_earlier_positions_in_training() -> None:
    torch.manual_seed(1)
    layer = CausalEncoderLayer(16, 2, 32, 0.5, 0.5).train()
    x = torch.randn(2, 6, 16)
    y = x.clone()
    y[:, 4:] = torch.randn(2, 2, 16)  # change the future of position 3
    torch.manual_seed(7)
    a = layer(x)
    torch.manual_seed(7)
    b = layer(y)
    torch.testing.assert_close(a[:, :4], b[:, :4])
    assert not torch.allclose(a[:, 4:], b[:, 4:])


@pytest.mark.parametrize("p", [0.1, 0.2, 0.5])
def test_dropout_keeps_one_minus_p_and_preserves_the_mean(p: float) -> None:
    torch.manual_seed(2)
    out = dropout(torch.ones(400_000), p, training=True)
    kept = out > 0
    assert abs(kept.float().mean().item() - (1 - p)) < 0.005
    torch.testing.assert_close(out[kept], torch.full_like(out[kept], 1 / (1 - p)))
    assert abs(out.mean().item() - 1.0) < 0.01


def test_dropout_identity_cases_and_reproducible() -> None:
    x = torch.randn(5, 7)
    assert dropout(x, 0.5, training=False) is x
    assert dropout(x, 0.0, training=True) is x
    assert dropout(x, 1e-9, training=True) is x  # rounds to no dropout on the 1/65,536 grid
    assert torch.count_nonzero(dropout(x, 1.0, training=True)) == 0
    torch.manual_seed(3)
    a = dropout(x, 0.5, training=True)
    torch.manual_seed(3)
    b = dropout(x, 0.5, training=True)
    assert torch.equal(a, b)
    assert a.shape == x.shape and a.dtype == x.dtype


def test_dropout_gradient_is_the_mask() -> None:
    torch.manual_seed(4)
    x = torch.randn(64, 8, requires_grad=True)
    out = dropout(x, 0.5, training=True)
    out.sum().backward()
    assert x.grad is not None
    torch.testing.assert_close(x.grad, (out.detach() != 0).float() * 2.0)


def test_final_state_alone_equals_the_full_forward_row() -> None:
    from personarec.session.sasrec import SASRecConfig, SASRecNet, _pad

    torch.manual_seed(5)
    cfg = SASRecConfig(hidden=16, inner=32, heads=2, max_len=8, device="cpu")
    for user_dim in (None, 4):
        net = SASRecNet(30, cfg, user_dim).eval()
        sessions = [torch.randint(1, 31, (n,)).numpy() for n in (1, 3, 8, 12, 5)]
        seqs, last = _pad(sessions, cfg.max_len)
        users = torch.randn(len(sessions), 4) if user_dim else None
        with torch.no_grad():
            full = net(seqs, users)[torch.arange(len(sessions)), last]
            torch.testing.assert_close(net.final(seqs, last, users), full, atol=1e-5, rtol=1e-5)
