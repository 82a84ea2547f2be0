"""Training losses for SASRec: full-softmax cross-entropy and sampled softmax with shared negatives.

* **Full CE** scores every item at every predicted position (the loss of Klenitskiy & Vasilev,
  arXiv 2309.07602, "Turning dross into gold loss: is BERT4Rec really better than SASRec?").
* **Sampled softmax** scores the target against ``N`` negatives drawn once per batch and shared by
  every position of the batch (Klenitskiy & Vasilev's sampled CE; gSASRec, arXiv 2308.07192, shows
  that the number of negatives, not the architecture, decides most of SASRec's quality). Negatives
  are drawn uniformly or by train popularity; popularity sampling over-represents popular items as
  negatives, so each logit is corrected by ``- log q(i)`` (logQ correction, Yi et al. 2019,
  "Sampling-bias-corrected neural modeling for large corpus item recommendations", RecSys), as in
  TensorFlow's ``sampled_softmax_loss`` (true and sampled logits alike). A sampled negative equal to
  the position's target (an "accidental hit") is masked to ``-inf``. eSASRec's benchmark
  (arXiv 2508.06450) trains SASRec with 256 such negatives.

:func:`resolve_loss` turns ``loss = "auto"`` into ``full`` or ``sampled`` from the catalogue size and
the device, with thresholds measured by ``bench/sasrec_loss.py`` (``bench/results/sasrec-loss.json``).

**Chunked full CE.** On a CPU the full-CE step is bound by memory traffic, not arithmetic: the
(positions × items) logit matrix of a 1,024-target step over Beauty's 12,101 items is 50 MB, and
softmax, its gradient and the two backward products each stream it through memory again.
:class:`ChunkedFullCE` never builds it: it computes the logits a few dozen rows at a time (a chunk
stays in cache), keeps only each row's log-sum-exp, and recomputes the chunk's logits in the backward
pass (the memory-saving scheme of Liger's fused linear cross-entropy and of Wijmans et al.'s "Cut your
losses in large-vocabulary language models", arXiv 2411.09009). Its products may run in bfloat16 with
float32 softmax and accumulation (``logit_dtype``; mixed-precision training, Micikevicius et al.,
arXiv 1710.03740) where that measured faster: :func:`resolve_precision`.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from personarec.cpu import auto_bf16, cpu_avx512

LossName = Literal["auto", "full", "sampled"]
SamplerName = Literal["uniform", "popularity"]
LOSSES: tuple[str, ...] = ("auto", "full", "sampled")
SAMPLERS: tuple[str, ...] = ("uniform", "popularity")

#: ``auto`` trains with full CE up to this many items on a CPU, sampled softmax above. Measured on the
#: 2-core box (``bench/results/sasrec-loss.json``: CPU seconds per epoch, one torch thread, 256
#: negatives): full CE costs 1.3x the sampled loss on ML-100K (1,682 items: 5.4 s vs 4.1 s), 6.4x on
#: Beauty (12,101 items: 34 s vs 5.3 s), 17x and 19x on synthetic 50k and 100k catalogues. Full CE
#: grows linearly with the catalogue (about 0.03 + 1.9e-5 x items ms per target vs a flat ~0.04 ms
#: sampled), so it is twice the sampled cost near 2,600 items and three times near 5,000. The sampled
#: loss is not free in quality (Beauty, docs/evaluation.md "Sampled softmax": NDCG@10 4-11% below full
#: CE), so full CE is kept wherever it costs at most about 3x. Re-measured with the chunked float32 loss on
#: an AVX2-only AMD EPYC (``bench/results/sasrec-loss-avx2.json``, one thread): Beauty 48 s per epoch full
#: against 6.1-6.2 s sampled (7.7x), so Beauty's five rows in full CE would take over 40 min there
#: (persona-SASRec's ~52 epochs alone) and the rule stands on CPUs without AVX-512.
AUTO_FULL_MAX_ITEMS_CPU = 5_000
#: The same threshold on a CPU with AVX-512, where full CE runs chunked (:class:`ChunkedFullCE`) with
#: bfloat16 or float32 logit products (:func:`resolve_precision`): Beauty's five-row table (12,101 items,
#: three SASRecs, one seed) trained on the 2-core box in 21-24 min with bfloat16 products, every row's
#: NDCG@10 within 3% of the GPU's full-CE table or above it (docs/evaluation.md, "Full softmax on a CPU";
#: 17-20 s per epoch, two models at once), where 1,024 sampled negatives cost 4-11%; on an Intel Xeon with
#: AVX-512 but no AMX, in float32 (14.6-16.2 CPU s per epoch alone, against 19.7-20.6 with bfloat16
#: products), in 21.7 min with HeCo personas (bench/results/eval-beauty-fullfp32-cpu-xeon).
AUTO_FULL_MAX_ITEMS_CPU_WIDE = 15_000
#: The same threshold on CUDA, where the (positions x items) logit matrix is one fast matmul: full CE
#: on Beauty took 1.0 s per epoch on an H200 (bench/results/eval-beauty); 100k items is that x8 (an
#: extrapolation, not a measurement), still seconds per epoch, and the logits of a 1,024-target step
#: (400 MB) fit any GPU.
AUTO_FULL_MAX_ITEMS_CUDA = 100_000


def resolve_loss(loss: str, n_items: int, device: torch.device | str,
                 avx512: bool | None = None) -> Literal["full", "sampled"]:
    """``full`` or ``sampled`` for ``loss`` (``auto`` decides by ``n_items``, the device type and, on a
    CPU, whether it has AVX-512: ``avx512``, ``None`` for this machine's CPU).

    Raises:
        ValueError: for a loss that is not one of :data:`LOSSES`.
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown SASRec loss {loss!r}: expected one of {', '.join(LOSSES)}")
    if loss != "auto":
        return loss  # type: ignore[return-value]
    kind = torch.device(device).type
    if kind == "cuda":
        limit = AUTO_FULL_MAX_ITEMS_CUDA
    else:
        wide = cpu_avx512() if avx512 is None else avx512
        limit = AUTO_FULL_MAX_ITEMS_CPU_WIDE if wide else AUTO_FULL_MAX_ITEMS_CPU
    return "full" if n_items <= limit else "sampled"


class NegativeSampler:
    """Draws negatives among items ``1..n_items`` (index 0 is padding) and knows their ``log q``.

    Args:
        n_items: real items.
        kind: ``uniform`` or ``popularity`` (train counts).
        counts: (n_items + 1,) train counts, needed for ``popularity``; each gets +1 so items seen only
            in validation or test can still be drawn (and their log q is finite).
        power: popularity smoothing exponent: q(i) ∝ (count(i) + 1) ** power (1: raw popularity,
            0: uniform; word2vec's 0.75 lies between).
        device: where samples and ``log q`` live.
        seed: seed of the sampler's own generator (training stays reproducible).
    """

    def __init__(self, n_items: int, kind: str = "uniform", counts: np.ndarray | None = None,
                 power: float = 1.0, device: torch.device | str = "cpu", seed: int = 0) -> None:
        if kind not in SAMPLERS:
            raise ValueError(f"unknown negative sampler {kind!r}: expected one of {', '.join(SAMPLERS)}")
        if n_items < 1:
            raise ValueError("the catalogue is empty: nothing to sample.")
        self.n_items, self.kind = n_items, kind
        self.device = torch.device(device)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        if kind == "popularity":
            if counts is None or len(counts) != n_items + 1:
                raise ValueError("popularity sampling needs train counts of length n_items + 1.")
            w = (np.asarray(counts[1:], dtype=np.float64) + 1.0) ** power
            probs = np.concatenate([[0.0], w / w.sum()])
        else:
            probs = np.concatenate([[0.0], np.full(n_items, 1.0 / n_items)])
        self.probs = torch.tensor(probs, dtype=torch.float32, device=self.device)
        with np.errstate(divide="ignore"):
            self.log_q = torch.tensor(np.log(probs), dtype=torch.float32, device=self.device)  # -inf at padding

    def sample(self, n: int) -> torch.Tensor:
        """``n`` item indices (with replacement; the logQ correction accounts for repeats)."""
        if self.kind == "uniform":
            return torch.randint(1, self.n_items + 1, (n,), generator=self.generator, device=self.device)
        return torch.multinomial(self.probs, n, replacement=True, generator=self.generator)


PrecisionName = Literal["auto", "fp32", "bf16"]
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16")
#: Logit elements per chunk of :class:`ChunkedFullCE` (4 MB of float32; 86 rows at Beauty's 12,102
#: columns): on the 2-core box a 1,024-target Beauty step took 82 ms with 64-row chunks, 92 ms with 32
#: and 101 ms with 128 (bfloat16 products; unchunked float32: 198 ms). The per-epoch effect is in
#: docs/evaluation.md, "Full softmax on a CPU".
CHUNK_ELEMENTS = 1 << 20
#: :class:`ChunkedFullCE` keeps the forward's float32 logits for the backward pass, instead of
#: recomputing them, when the whole (positions x items) matrix has at most this many elements (32 MB).
#: On the AMX box a 1,050-target step's loss (forward and backward, bfloat16 products) took 7.3 ms
#: against 10.0 at MovieLens-100K's 1,683 columns and 22.6 against 27.1 at 5,000, the same to the last
#: bit; at Beauty's 12,102 (50 MB) keeping them saved nothing (62.5 against 62.6 ms).
KEEP_LOGITS_ELEMENTS = 1 << 23


def resolve_precision(precision: str, device: torch.device | str) -> torch.dtype:
    """The dtype of the full-CE logit products for ``precision`` on ``device``.

    ``auto``: bfloat16 on a CPU where it measured faster (:func:`personarec.cpu.auto_bf16`: AMX, where
    the products run ~4x faster and the step ~2.4x, and AMD's AVX512-BF16, :data:`CHUNK_ELEMENTS`),
    float32 elsewhere: on an Intel Xeon with AVX512-BF16 but no AMX the bfloat16 step was the slower
    one, and on CUDA the GPU tables were trained in float32 and a GPU epoch already takes about a second.

    Raises:
        ValueError: for a precision that is not one of :data:`PRECISIONS`.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown SASRec precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp32":
        return torch.float32
    return torch.bfloat16 if auto_bf16(device) else torch.float32


class ChunkedFullCE(torch.autograd.Function):
    """Mean full-softmax cross-entropy of ``h @ table.T`` computed chunk by chunk (module docstring).

    ``forward(h, table, targets, rows, dtype)``: ``rows`` positions per chunk; the products run in
    ``dtype`` (float32 or bfloat16), the softmax and every accumulation in float32. In float32 the loss
    and gradients equal :func:`torch.nn.functional.cross_entropy` on the full logits to rounding. Up to
    :data:`KEEP_LOGITS_ELEMENTS` logits the forward keeps them for the backward instead of recomputing
    them (the same numbers, bit for bit); the backward then overwrites them, so it cannot run twice.
    """

    @staticmethod
    def forward(ctx: Any, h: torch.Tensor, table: torch.Tensor, targets: torch.Tensor, rows: int,
                dtype: torch.dtype) -> torch.Tensor:
        hh, tab = h.detach().to(dtype), table.detach().to(dtype)
        lse = torch.empty(h.shape[0], dtype=torch.float32, device=h.device)
        hit = torch.empty_like(lse)
        # small enough: the float32 logits stay for the backward pass (KEEP_LOGITS_ELEMENTS)
        kept = torch.empty((h.shape[0], tab.shape[0]), dtype=torch.float32, device=h.device) \
            if h.shape[0] * tab.shape[0] <= KEEP_LOGITS_ELEMENTS else None
        for s in range(0, h.shape[0], rows):
            if kept is None:
                logits = (hh[s:s + rows] @ tab.T).float()
            else:
                logits = kept[s:s + rows]
                logits.copy_(hh[s:s + rows] @ tab.T)
            lse[s:s + rows] = torch.logsumexp(logits, 1)
            hit[s:s + rows] = logits.gather(1, targets[s:s + rows, None]).squeeze(1)
        ctx.save_for_backward(hh, tab, targets, lse, kept)
        ctx.rows, ctx.dtypes = rows, (h.dtype, table.dtype)
        return (lse - hit).mean()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        hh, tab, targets, lse, kept = ctx.saved_tensors
        rows, n = ctx.rows, hh.shape[0]
        grad_h = torch.empty(hh.shape, dtype=torch.float32, device=hh.device)
        grad_t = torch.zeros(tab.shape, dtype=torch.float32, device=hh.device)
        scale = grad.float() / n
        for s in range(0, n, rows):
            hc = hh[s:s + rows]
            # d loss / d logits = softmax - one-hot, from the kept log-sum-exp (and logits, when kept)
            # overwritten in place: a second backward (retain_graph) fails autograd's version check
            logits = (hc @ tab.T).float() if kept is None else kept[s:s + rows]
            p = logits.sub_(lse[s:s + rows, None]).exp_()
            p[torch.arange(p.shape[0], device=p.device), targets[s:s + rows]] -= 1.0
            pc = p.mul_(scale).to(tab.dtype)
            grad_h[s:s + rows] = (pc @ tab).float()
            grad_t += (pc.T @ hc).float()
        return grad_h.to(ctx.dtypes[0]), grad_t.to(ctx.dtypes[1]), None, None, None


def full_ce_loss(h: torch.Tensor, targets: torch.Tensor, table: torch.Tensor, chunked: bool = False,
                 dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Cross-entropy of each position's target against every item (``table`` rows; row 0 padding).

    Args:
        h: (P, d) hidden states of the predicted positions.
        targets: (P,) target item indices.
        table: (n_items + 1, d) output item embeddings.
        chunked: compute it with :class:`ChunkedFullCE` (always, when ``dtype`` is not float32).
        dtype: the dtype of the logit products.
    """
    if not chunked and dtype == torch.float32:
        return nn.functional.cross_entropy(h @ table.T, targets)
    rows = max(8, CHUNK_ELEMENTS // table.shape[0])
    return ChunkedFullCE.apply(h, table, targets, rows, dtype)


def sampled_logits(h: torch.Tensor, targets: torch.Tensor, table: torch.Tensor, negatives: torch.Tensor,
                   log_q: torch.Tensor | None = None) -> torch.Tensor:
    """(P, 1 + N) logits: column 0 the target, then the shared negatives; corrected and hit-masked.

    Args:
        h: (P, d) hidden states; targets: (P,) item indices; table: (n_items + 1, d) item embeddings.
        negatives: (N,) item indices shared by every position.
        log_q: (n_items + 1,) log sampling probabilities; when given every logit (target and negatives)
            becomes ``logit - log q(item)`` (Yi et al. 2019). ``None``: no correction (uniform
            sampling, where it is a constant and cancels).
    """
    pos = (h * table[targets]).sum(-1, keepdim=True)
    neg = h @ table[negatives].T
    if log_q is not None:
        pos = pos - log_q[targets].unsqueeze(1)
        neg = neg - log_q[negatives].unsqueeze(0)
    # accidental hits: a negative that is the position's own target must not be pushed down
    neg = neg.masked_fill(negatives.unsqueeze(0) == targets.unsqueeze(1), float("-inf"))
    return torch.cat([pos, neg], dim=1)


def sampled_softmax_loss(h: torch.Tensor, targets: torch.Tensor, table: torch.Tensor, negatives: torch.Tensor,
                         log_q: torch.Tensor | None = None) -> torch.Tensor:
    """Mean sampled-softmax cross-entropy: the target (column 0 of :func:`sampled_logits`) vs the negatives."""
    logits = sampled_logits(h, targets, table, negatives, log_q)
    return nn.functional.cross_entropy(logits, torch.zeros(len(targets), dtype=torch.long, device=logits.device))

