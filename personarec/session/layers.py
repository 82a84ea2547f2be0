"""SASRec's Transformer block with dropout masks a CPU can afford.

The block is ``torch.nn.TransformerEncoderLayer`` as SASRec/RecBole use it (post-norm, GELU, dropout on
the attention probabilities and on both residual branches; Kang & McAuley 2018, Sec. III-B/C), with the
same parameter names, so models saved with the torch layer load unchanged.

Why not the torch layer: on a CPU, torch draws dropout masks with ``bernoulli_``, one random number per
element at about 12 ns each, 24 times the cost of drawing the same bits as 64-bit integers. On
MovieLens-100K that was 28% of a training step (torch.profiler; docs/evaluation.md "Full softmax on a
CPU"). :func:`dropout` takes each keep/drop decision from 16 random bits instead; on other devices it
is ``torch.nn.functional.dropout``. Scoring a session needs only its last position's state:
:meth:`CausalEncoder.forward_at` runs the last layer for that position alone.
"""

from __future__ import annotations

import copy
from typing import cast

import torch
from torch import nn
from torch.nn import functional as F

_LEVELS = 1 << 16  # one decision per 16 random bits: keep probabilities on a 1/65,536 grid


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Inverted dropout (Srivastava et al. 2014): zero each element with probability ``p``, scale the rest
    by ``1 / (1 - p)``; the identity when not training.

    On a CPU the mask comes from 16-bit slices of ``torch.randint`` draws of the default generator (so
    ``torch.manual_seed`` makes it reproducible); ``p`` is rounded to a multiple of 1/65,536 (0.5 exactly).
    """
    if not training or p == 0.0:
        return x
    if x.device.type != "cpu" or p >= 1.0:
        return F.dropout(x, p, True)
    threshold = round((1.0 - p) * _LEVELS) - _LEVELS // 2  # int16 values below it: probability 1 - p
    if threshold >= _LEVELS // 2:  # p rounds to 0 (and the bound would not fit an int16)
        return x
    n = x.numel()
    bits = torch.randint(-(1 << 63), (1 << 63) - 1, ((n + 3) // 4,), dtype=torch.int64, device=x.device)
    keep = bits.view(torch.int16)[:n].view(x.shape) < threshold
    return x * keep.to(x.dtype).mul_(1.0 / (1.0 - p))


class CausalEncoderLayer(nn.Module):
    """One post-norm Transformer block under a causal mask (``nn.TransformerEncoderLayer`` semantics).

    ``x = norm1(x + drop(attn(x)))``, ``x = norm2(x + drop(linear2(drop(gelu(linear1(x))))))``, attention
    probabilities dropped with ``attn_dropout``. In training on a CPU the attention runs as explicit
    products so that :func:`dropout` can mask its probabilities; elsewhere it is
    ``scaled_dot_product_attention``.
    """

    def __init__(self, hidden: int, heads: int, inner: int, dropout: float, attn_dropout: float,
                 eps: float = 1e-12) -> None:
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden size {hidden} is not a multiple of {heads} attention heads")
        self.heads, self.p, self.p_attn = heads, dropout, attn_dropout
        # the MultiheadAttention module only holds the projections (names as in the torch layer)
        self.self_attn = nn.MultiheadAttention(hidden, heads, batch_first=True)
        self.linear1 = nn.Linear(hidden, inner)
        self.linear2 = nn.Linear(inner, hidden)
        self.norm1 = nn.LayerNorm(hidden, eps=eps)
        self.norm2 = nn.LayerNorm(hidden, eps=eps)

    def _attention(self, x: torch.Tensor) -> torch.Tensor:
        b, length, d = x.shape
        sa = self.self_attn
        q, k, v = F.linear(x, sa.in_proj_weight, sa.in_proj_bias).view(b, length, 3, self.heads, d // self.heads) \
            .permute(2, 0, 3, 1, 4).unbind(0)  # each (B, heads, L, d_head)
        if self.training and self.p_attn > 0 and x.device.type == "cpu":
            scores = (q @ k.transpose(-2, -1)) * (q.shape[-1] ** -0.5)
            causal = torch.ones(length, length, dtype=torch.bool, device=x.device).triu_(1)
            probs = dropout(scores.masked_fill_(causal, float("-inf")).softmax(-1), self.p_attn, True)
            out = probs @ v
        else:
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.p_attn if self.training else 0.0,
                                                 is_causal=True)
        return sa.out_proj(out.transpose(1, 2).reshape(b, length, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, hidden) -> (B, L, hidden); position t attends to positions ≤ t."""
        x = self.norm1(x + dropout(self._attention(x), self.p, self.training))
        ff = self.linear2(dropout(F.gelu(self.linear1(x)), self.p, self.training))
        return self.norm2(x + dropout(ff, self.p, self.training))

    def forward_at(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """(B, L, hidden), positions (B,) -> (B, hidden): :meth:`forward`'s row ``pos[b]`` of each sequence
        ``b`` alone, without dropout. Keys and values still cover every position; the query, the
        attention, the output projection and the feed-forward run for one row instead of L."""
        b, length, d = x.shape
        sa = self.self_attn
        dh = d // self.heads
        kv = F.linear(x, sa.in_proj_weight[d:], sa.in_proj_bias[d:]).view(b, length, 2, self.heads, dh)
        k, v = kv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, heads, L, d_head)
        row = x[torch.arange(b, device=x.device), pos]  # (B, hidden)
        q = F.linear(row, sa.in_proj_weight[:d], sa.in_proj_bias[:d]).view(b, self.heads, 1, dh)
        seen = (torch.arange(length, device=x.device)[None] <= pos[:, None])[:, None, None]  # (B, 1, 1, L)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=seen).reshape(b, d)
        row = self.norm1(row + sa.out_proj(out))
        return self.norm2(row + self.linear2(F.gelu(self.linear1(row))))


class CausalEncoder(nn.Module):
    """A stack of :class:`CausalEncoderLayer` (``layers``, as in ``nn.TransformerEncoder``)."""

    def __init__(self, layers: int, hidden: int, heads: int, inner: int, dropout: float,
                 attn_dropout: float) -> None:
        super().__init__()
        # copies of one layer, as nn.TransformerEncoder makes them: the same random draws before
        # SASRecNet.reset_parameters, hence the same initial weights as the torch layer gave for a seed
        layer = CausalEncoderLayer(hidden, heads, inner, dropout, attn_dropout)
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def forward_at(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """(B, L, hidden), positions (B,) -> (B, hidden): the last layer's output at ``pos`` only
        (:meth:`CausalEncoderLayer.forward_at`); what scoring a session needs, in about 70% of the time."""
        layers = cast(list[CausalEncoderLayer], list(self.layers))
        for layer in layers[:-1]:
            x = layer(x)
        return layers[-1].forward_at(x, pos)
