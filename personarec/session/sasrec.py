"""SASRec (Kang & McAuley 2018) with an optional user token and LLM item initialisation.

One class covers three models of arXiv 2604.06928's table:

* plain SASRec — ID item embeddings, no user token;
* SASRec + a user vector derived from the session history (the paper's baseline);
* persona-SASRec, the candidate generator — the user's persona enters as a prepended token (a linear
  projection), and item embeddings start from the LLM text embeddings projected to the hidden size
  (the pattern of CoT-Rec, arXiv 2502.13845).

Training uses cross-entropy at every position of a window (not the original one-negative BCE, and
not RecBole's one-prefix-per-sample expansion): each user's train sequence is cut into windows of
``max_len + 1`` items, so one step trains every target of the window at once. The loss
(:mod:`personarec.session.losses`) is full softmax over all items or sampled softmax against
``negatives`` items shared per batch (uniform, or popularity with logQ correction); ``loss="auto"``
picks by catalogue size and device. Windows are bucketed by length so short Amazon sessions do not
pay for padding. Early stopping on validation NDCG@10 under full ranking (all items, whatever the
training loss) with the train history masked. The Transformer block is
:class:`personarec.session.layers.CausalEncoderLayer` (torch's encoder layer, with dropout masks a CPU
draws cheaply).
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn
from tqdm.auto import tqdm

from personarec import store
from personarec.config import SessionConfig
from personarec.cpu import MIN_PRODUCT_ROWS
from personarec.protocol import mask_history, metrics_from_ranks, target_ranks
from personarec.session.data import SequenceData
from personarec.session.layers import CausalEncoder, dropout
from personarec.session.losses import (
    LossName,
    NegativeSampler,
    PrecisionName,
    SamplerName,
    full_ce_loss,
    resolve_loss,
    resolve_precision,
    sampled_softmax_loss,
)

log = logging.getLogger(__name__)


class SASRecConfig(BaseModel):
    """Hyper-parameters; defaults follow RecBole's SASRec (2 layers, 2 heads, hidden 64, dropout 0.5)."""

    model_config = ConfigDict(extra="forbid")

    hidden: int = Field(64, gt=0, description="Hidden size (item and position embeddings).")
    layers: int = Field(2, gt=0, description="Transformer blocks.")
    heads: int = Field(2, gt=0, description="Attention heads.")
    inner: int = Field(256, gt=0, description="Feed-forward inner size.")
    dropout: float = Field(0.5, ge=0, lt=1, description="Hidden dropout (embeddings, feed-forward).")
    attn_dropout: float = Field(0.5, ge=0, lt=1, description="Attention-weight dropout.")
    max_len: int = Field(50, gt=0, description="Session length: the most recent interactions the model sees.")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate.")
    weight_decay: float = Field(0.0, ge=0, description="Adam weight decay.")
    batch_size: int = Field(1024, gt=0, description="Predicted positions (targets) per training step, about "
                            "RecBole's 2048 prefixes per batch halved: more steps per epoch on small data.")
    epochs: int = Field(200, gt=0, description="Maximum epochs.")
    patience: int = Field(10, ge=1, description="Stop after this many evaluations without a better validation NDCG@10.")
    time_limit_s: float | None = Field(None, gt=0, description="Stop training after this many seconds.")
    seed: int = Field(2020, description="Seed for initialisation, shuffling and dropout.")
    threads: int = Field(1, gt=0, description="torch CPU threads; 1 is fastest on the shared 2-core build machines.")
    eval_batch: int = Field(1024, gt=0, description="Users per full-ranking evaluation batch.")
    valid_users: int | None = Field(None, gt=0, description="Early-stop on a fixed random sample of this many "
                                    "validation users (None: all); the final numbers always use all users.")
    progress: bool = Field(True, description="Show a tqdm bar over epochs.")
    device: str = Field("auto", description="torch device for training and scoring: 'auto' (CUDA when "
                        "available, else CPU), 'cpu', 'cuda', 'cuda:1', …; scores always come back on the CPU.")
    loss: LossName = Field("auto", description="Training loss: 'full' (softmax over every item), 'sampled' "
                           "(softmax against `negatives` shared items), 'auto' (by catalogue size and device, "
                           "personarec.session.losses.resolve_loss).")
    negatives: int = Field(256, gt=0, description="Negatives per batch for the sampled loss (eSASRec's 256).")
    negative_sampler: SamplerName = Field("popularity", description="How sampled negatives are drawn: "
                                          "'uniform' or 'popularity' (train counts, logQ-corrected).")
    popularity_power: float = Field(1.0, ge=0, description="Popularity sampling q(i) ∝ (count + 1) ** power "
                                    "(1: raw train popularity, 0: uniform).")
    precision: PrecisionName = Field("auto", description="dtype of the full-CE logit products: 'fp32', 'bf16' "
                                     "(float32 softmax and sums), 'auto' (bf16 where it measured faster, else "
                                     "fp32; personarec.session.losses.resolve_precision).")
    train_precision: PrecisionName = Field("fp32", description="Transformer forward and backward in training: "
                                           "'fp32', 'bf16' (autocast: bfloat16 products, float32 weights, "
                                           "optimizer and loss), 'auto' (as for `precision`). Scoring "
                                           "always runs in float32.")

    @classmethod
    def from_session(cls, session: SessionConfig, **overrides: Any) -> SASRecConfig:
        """The knobs of the ``session`` config section (max_len, epochs, …, device), plus ``overrides``."""
        return cls(**{"max_len": session.max_len, "epochs": session.epochs, "patience": session.patience,
                      "time_limit_s": session.time_limit_s, "valid_users": session.valid_users,
                      "device": session.device, "loss": session.loss, "negatives": session.negatives,
                      "negative_sampler": session.negative_sampler, "precision": session.precision,
                      "train_precision": session.train_precision, **overrides})


def resolve_device(name: str) -> torch.device:
    """``'auto'`` -> CUDA when torch sees a GPU, else CPU; anything else as torch spells it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class SASRecNet(nn.Module):
    """The network: item (+ optional LLM-projected) and position embeddings, causal Transformer.

    Args:
        n_items: number of real items (embedding rows ``n_items + 1``; row 0 is padding).
        cfg: hyper-parameters.
        user_dim: size of the user vector that becomes the prepended token; ``None`` for no token.
        item_text: (n_items + 1, d) LLM item embeddings (row 0 padding), or ``None`` for ID embeddings only.
    """

    def __init__(self, n_items: int, cfg: SASRecConfig, user_dim: int | None = None,
                 item_text: torch.Tensor | None = None) -> None:
        super().__init__()
        self.n_items = n_items
        self.max_len = cfg.max_len
        self.item_emb = nn.Embedding(n_items + 1, cfg.hidden, padding_idx=0)
        self.pos_emb = nn.Embedding(cfg.max_len + 1, cfg.hidden)  # +1: room for the user token
        self.user_proj = nn.Linear(user_dim, cfg.hidden) if user_dim else None
        if item_text is not None:
            self.register_buffer("item_text", item_text.float())
            self.item_proj: nn.Linear | None = nn.Linear(item_text.shape[1], cfg.hidden)
        else:
            self.item_text = None
            self.item_proj = None
        self.norm = nn.LayerNorm(cfg.hidden, eps=1e-12)
        self.p = cfg.dropout
        self.encoder = CausalEncoder(cfg.layers, cfg.hidden, cfg.heads, cfg.inner, cfg.dropout, cfg.attn_dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """RecBole's initialisation: normal(0, 0.02) weights, zero biases, unit LayerNorm."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, 0.0, 0.02)
                if isinstance(m, nn.Linear) and m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.MultiheadAttention):
                nn.init.normal_(m.in_proj_weight, 0.0, 0.02)
                nn.init.zeros_(m.in_proj_bias)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()

    def item_table(self) -> torch.Tensor:
        """(n_items + 1, hidden) output/input item embeddings: ID part plus projected LLM part."""
        table = self.item_emb.weight
        if self.item_proj is not None and self.item_text is not None:
            table = table + self.item_proj(self.item_text)
        return table

    def item_rows(self, ids: torch.Tensor) -> torch.Tensor:
        """Rows ``ids`` of :meth:`item_table` without building the rest (the LLM projection of a few items)."""
        rows = self.item_emb(ids)
        if self.item_proj is not None and self.item_text is not None:
            rows = rows + self.item_proj(self.item_text[ids])
        return rows

    def forward(self, seqs: torch.Tensor, user_vecs: torch.Tensor | None = None,
                table: torch.Tensor | None = None) -> torch.Tensor:
        """Hidden states (B, L, hidden) for right-padded item sequences (B, L); position t has seen items ≤ t."""
        h = self.encoder(self._inputs(seqs, user_vecs, table))
        return h[:, 1:] if self.user_proj is not None else h

    def final(self, seqs: torch.Tensor, last: torch.Tensor, user_vecs: torch.Tensor | None = None,
              table: torch.Tensor | None = None) -> torch.Tensor:
        """(B, hidden): :meth:`forward`'s state at position ``last[b]`` of each sequence, computed for that
        position alone in the last layer (:meth:`CausalEncoder.forward_at`)."""
        n = seqs.shape[0]
        if n < MIN_PRODUCT_ROWS:
            # Products of fewer than ~12 rows take another BLAS kernel and round differently: padding
            # keeps a session's state independent of the batch it comes in (as retrieval.score_all does).
            pad = torch.zeros(MIN_PRODUCT_ROWS - n, dtype=torch.long, device=seqs.device)
            seqs, last = torch.cat([seqs, seqs[pad]]), torch.cat([last, last[pad]])
            user_vecs = None if user_vecs is None else torch.cat([user_vecs, user_vecs[pad]])
        offset = 1 if self.user_proj is not None else 0  # the user token shifts every item position
        return self.encoder.forward_at(self._inputs(seqs, user_vecs, table), last + offset)[:n]

    def _inputs(self, seqs: torch.Tensor, user_vecs: torch.Tensor | None,
                table: torch.Tensor | None) -> torch.Tensor:
        """The encoder's input: item rows (+ the user token first), positions, LayerNorm, dropout."""
        table = self.item_table() if table is None else table
        x = table[seqs] * (seqs > 0).unsqueeze(-1)
        if self.user_proj is not None:
            if user_vecs is None:
                raise ValueError("this model was trained with a user token; pass user vectors.")
            x = torch.cat([self.user_proj(user_vecs).unsqueeze(1), x], dim=1)
        length = x.shape[1]
        x = x + self.pos_emb(torch.arange(length, device=x.device))[None]
        # Right padding + causal attention: real positions never see padding, so no row is fully masked.
        return dropout(self.norm(x), self.p, self.training)


def _windows(data: SequenceData, max_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut train sequences into windows of ≤ max_len + 1 items so every train target is predicted once.

    Returns (inputs, targets, users): right-padded (W, max_len) arrays and the user of each window.
    """
    inputs, targets, users = [], [], []
    for u in range(data.n_users):
        s = data.train_sequence(u)
        for end in range(len(s), 1, -max_len):
            chunk = s[max(0, end - max_len - 1):end]
            inputs.append(chunk[:-1])
            targets.append(chunk[1:])
            users.append(u)
    n = len(inputs)
    x = np.zeros((n, max_len), dtype=np.int64)
    y = np.zeros((n, max_len), dtype=np.int64)
    for k, (a, b) in enumerate(zip(inputs, targets)):
        x[k, :len(a)] = a
        y[k, :len(b)] = b
    return x, y, np.asarray(users, dtype=np.int64)


def _pad(sessions: Sequence[np.ndarray], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad the last ``max_len`` items of each session; returns (seqs, index of the last item)."""
    sessions = [np.asarray(s, dtype=np.int64)[-max_len:] for s in sessions]
    width = max(1, max(len(s) for s in sessions))
    out = np.zeros((len(sessions), width), dtype=np.int64)
    for k, s in enumerate(sessions):
        out[k, :len(s)] = s
    last = np.array([max(len(s), 1) - 1 for s in sessions], dtype=np.int64)
    return torch.from_numpy(out), torch.from_numpy(last)


class SASRec:
    """SASRec component (LensKit style): configure, :meth:`train`, then :meth:`score_sessions`.

    Learned state (after :meth:`train`): ``net_``, ``user_mean_``/``user_std_`` (user-vector
    standardisation), ``history_`` (per-epoch validation NDCG@10 and seconds), ``best_epoch_``,
    ``epoch_seconds_``, ``loss_`` and ``precision_`` (the loss and the full-CE logit precision actually
    used, ``auto`` resolved: see :meth:`loss_info`).
    """

    def __init__(self, config: SASRecConfig | None = None, **kwargs: Any) -> None:
        self.config = config or SASRecConfig(**kwargs)
        self.net_: SASRecNet | None = None
        self.user_mean_: np.ndarray | None = None
        self.user_std_: np.ndarray | None = None
        self.history_: list[dict[str, float]] = []
        self.best_epoch_: int = -1
        self.epoch_seconds_: float = float("nan")
        self.loss_: str | None = None
        self.precision_: str | None = None

    @property
    def best_valid_ndcg10(self) -> float:
        """The best validation NDCG@10 of :attr:`history_` (the early-stopping score; NaN before training)."""
        return max((h["valid_ndcg10"] for h in self.history_), default=float("nan"))

    def loss_info(self) -> dict[str, Any] | None:
        """The training loss as used: ``{"loss": "full", "precision": "bf16"}`` or sampled with its
        negatives and sampler (models saved before the precision option: no precision)."""
        if self.loss_ is None:
            return None
        if self.loss_ == "full":
            return {"loss": "full"} if self.precision_ is None else {"loss": "full", "precision": self.precision_}
        cfg = self.config
        return {"loss": "sampled", "negatives": cfg.negatives, "negative_sampler": cfg.negative_sampler,
                "popularity_power": cfg.popularity_power if cfg.negative_sampler == "popularity" else None}

    def loss_label(self) -> str:
        """Short text for reports: ``full CE``, ``full CE bf16`` or ``sampled 256 popularity``."""
        info = self.loss_info()
        if info is None:
            return "?"
        if info["loss"] == "full":
            return "full CE bf16" if info.get("precision") == "bf16" else "full CE"
        return f"sampled {info['negatives']} {info['negative_sampler']}"

    # ------------------------------------------------------------------ training
    def train(self, data: SequenceData, user_vectors: np.ndarray | None = None,
              item_vectors: np.ndarray | None = None,
              on_epoch: Callable[[dict[str, float]], None] | None = None) -> SASRec:
        """Fit on the train split of ``data``; early-stop on validation NDCG@10 (full ranking, train masked).

        Args:
            data: the sequences (train split used for fitting, valid split for early stopping).
            user_vectors: (n_users, d) vectors that become the prepended user token (persona or history
                vector), or ``None`` for plain SASRec.
            item_vectors: (n_items + 1, d') LLM item embeddings to initialise items from, or ``None``.
            on_epoch: called after every epoch with its :attr:`history_` row plus ``best_epoch``,
                ``best_valid_ndcg10`` and ``stale`` (epochs since the best; training stops at ``patience``):
                progress for whoever trains the model in another process.
        """
        cfg = self.config
        torch.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        torch.set_num_threads(cfg.threads)
        users_t = None
        if user_vectors is not None:
            self.user_mean_ = user_vectors.mean(0)
            self.user_std_ = user_vectors.std(0) + 1e-6  # personas come at any scale: standardise them
            users_t = torch.from_numpy(((user_vectors - self.user_mean_) / self.user_std_).astype(np.float32))
        text = None
        if item_vectors is not None:
            text = torch.from_numpy(item_vectors.astype(np.float32))
            text = text / (text[1:].std() + 1e-8)
        device = resolve_device(cfg.device)
        if device.type == "cuda":
            torch.cuda.manual_seed_all(cfg.seed)
        self.net_ = net = SASRecNet(data.n_items, cfg, None if users_t is None else users_t.shape[1], text).to(device)
        if users_t is not None:
            users_t = users_t.to(device)
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        logit_dtype = resolve_precision(cfg.precision, device)
        self.loss_ = resolve_loss(cfg.loss, data.n_items, device)
        self.precision_ = None if self.loss_ != "full" else "bf16" if logit_dtype == torch.bfloat16 else "fp32"
        # bfloat16 autocast of the Transformer ('auto' picks it on a CPU only, as for the logits)
        autocast = resolve_precision(cfg.train_precision, device) == torch.bfloat16
        # on a CPU the chunked loss beats the one-product loss even in float32 (losses.ChunkedFullCE)
        chunked = device.type == "cpu"
        sampler = None
        if self.loss_ == "sampled":
            sampler = NegativeSampler(data.n_items, cfg.negative_sampler, data.train_counts(), cfg.popularity_power,
                                      device, cfg.seed)
        # uniform sampling: log q is one constant that cancels in the softmax, so it is left out
        log_q = sampler.log_q if sampler is not None and sampler.kind == "popularity" else None
        log.info("SASRec: %s loss over %d items on %s", self.loss_label(), data.n_items, device)

        x_all, y_all, u_all = _windows(data, cfg.max_len)
        if len(x_all) == 0:
            raise ValueError("no user has two or more train interactions; nothing to learn from.")
        lengths = (y_all > 0).sum(1)
        order = np.argsort(lengths, kind="stable")  # bucket by length: trim padding per batch
        # batches of similar-length windows holding about batch_size targets each
        batches, cur, filled = [], [], 0
        for w in order:
            cur.append(w)
            filled += int(lengths[w])
            if filled >= cfg.batch_size:
                batches.append(np.asarray(cur))
                cur, filled = [], 0
        if cur:
            batches.append(np.asarray(cur))
        valid_users = data.eval_users("valid")
        if cfg.valid_users and cfg.valid_users < valid_users.size:
            # a fixed sample keeps epochs cheap on large catalogues; same sample every epoch
            valid_users = np.sort(rng.choice(valid_users, cfg.valid_users, replace=False))
        best, best_state, since = -1.0, None, 0
        self.history_ = []
        started = time.perf_counter()
        bar = tqdm(range(cfg.epochs), desc="SASRec", disable=not cfg.progress, leave=False)
        for epoch in bar:
            net.train()
            t0, c0 = time.perf_counter(), time.process_time()  # CPU time too: wall time on shared boxes lies
            total = torch.zeros((), device=device)
            for b in rng.permutation(len(batches)):
                idx = batches[b]
                width = int(lengths[idx].max())
                x = torch.from_numpy(x_all[idx, :width]).to(device, non_blocking=True)
                y = torch.from_numpy(y_all[idx, :width]).to(device, non_blocking=True)
                uv = users_t[torch.from_numpy(u_all[idx]).to(device)] if users_t is not None else None
                keep = y > 0
                if sampler is None:  # full softmax over every item, all positions at once
                    table = net.item_table()
                    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                        states = net(x, uv, table)[keep]
                    loss = full_ce_loss(states.float(), y[keep], table, chunked, logit_dtype)
                else:  # the same negatives for every position of the batch
                    loss = self._sampled_step(net, x, y[keep], keep, uv, sampler.sample(cfg.negatives), log_q,
                                              autocast)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.detach() * keep.sum()  # a tensor: no device sync per step
            epoch_loss = float(total)
            train_s, train_cpu_s = time.perf_counter() - t0, time.process_time() - c0
            ndcg = self.evaluate(data, "valid", users=valid_users, user_vectors=user_vectors)["NDCG@10"] \
                if valid_users.size else -epoch_loss
            self.history_.append({"epoch": epoch, "loss": epoch_loss / max(1, int(lengths.sum())),
                                  "valid_ndcg10": ndcg, "train_s": train_s, "train_cpu_s": train_cpu_s,
                                  "elapsed_s": time.perf_counter() - started})
            bar.set_postfix(loss=f"{epoch_loss / max(1, int(lengths.sum())):.3f}", ndcg=f"{ndcg:.4f}")
            if ndcg > best:
                best, best_state, since, self.best_epoch_ = ndcg, copy.deepcopy(net.state_dict()), 0, epoch
            else:
                since += 1
            if on_epoch is not None:
                on_epoch({**self.history_[-1], "best_epoch": self.best_epoch_, "best_valid_ndcg10": best,
                          "stale": since})
            if since >= cfg.patience:
                break
            if cfg.time_limit_s and time.perf_counter() - started > cfg.time_limit_s:
                log.info("SASRec: time limit reached after %d epochs", epoch + 1)
                break
        if best_state is not None:
            net.load_state_dict(best_state)
        self.epoch_seconds_ = float(np.mean([h["train_s"] for h in self.history_]))
        log.info("SASRec: best valid NDCG@10 %.4f at epoch %d; %.2f s/epoch", best, self.best_epoch_,
                 self.epoch_seconds_)
        return self

    @staticmethod
    def _sampled_step(net: SASRecNet, x: torch.Tensor, targets: torch.Tensor, keep: torch.Tensor,
                      uv: torch.Tensor | None, negatives: torch.Tensor, log_q: torch.Tensor | None,
                      autocast: bool = False) -> torch.Tensor:
        """Sampled-softmax loss of one batch, building only the item rows the batch touches.

        The batch's inputs, targets and negatives are a few thousand of the catalogue's items, so their
        rows (with the LLM projection, for models that have one) are gathered once and every index is
        renumbered into them: the same numbers as indexing the full table, without projecting every item.
        """
        zero = torch.zeros(1, dtype=x.dtype, device=x.device)  # padding stays index 0 (the smallest id)
        ids, inv = torch.unique(torch.cat([zero, x.flatten(), targets, negatives]), return_inverse=True)
        n_x, n_t = x.numel(), targets.numel()
        rows = net.item_rows(ids)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=autocast):
            h = net(inv[1:1 + n_x].view_as(x), uv, rows)
        return sampled_softmax_loss(h[keep].float(), inv[1 + n_x:1 + n_x + n_t], rows, inv[1 + n_x + n_t:],
                                    None if log_q is None else log_q[ids])

    # ------------------------------------------------------------------ inference
    def _user_tensor(self, user_vectors: np.ndarray | None) -> torch.Tensor | None:
        if self.net_ is None:
            raise RuntimeError("train the model first.")
        if self.net_.user_proj is None:
            return None
        if user_vectors is None:
            raise ValueError("this model needs user vectors (persona or history vector) to score.")
        assert self.user_mean_ is not None and self.user_std_ is not None
        return torch.from_numpy(((user_vectors - self.user_mean_) / self.user_std_).astype(np.float32)).to(
            self.device)

    @property
    def device(self) -> torch.device:
        """Where the network lives (CPU until trained or loaded)."""
        return next(self.net_.parameters()).device if self.net_ is not None else torch.device("cpu")

    @torch.no_grad()
    def score_sessions(self, sessions: Sequence[np.ndarray], user_vectors: np.ndarray | None = None) -> torch.Tensor:
        """Scores (B, n_items + 1) of every item as the next one after each session (column 0 is padding).

        Args:
            sessions: item-index sequences (most recent last; only the last ``max_len`` are used).
            user_vectors: (B, d) user vectors when the model has a user token.
        """
        return self._scores(sessions, user_vectors).float().cpu()

    def _scores(self, sessions: Sequence[np.ndarray], user_vectors: np.ndarray | None) -> torch.Tensor:
        """:meth:`score_sessions` left on the model's device."""
        net = self.net_
        if net is None:
            raise RuntimeError("train the model first.")
        net.eval()
        table = net.item_table()
        return self.final_states(sessions, user_vectors, table) @ table.T

    def final_states(self, sessions: Sequence[np.ndarray], user_vectors: np.ndarray | None = None,
                     table: torch.Tensor | None = None) -> torch.Tensor:
        """(B, hidden) final hidden state per session on the model's device, in eval mode: item ``j``
        scores ``state · table[j]`` (``table``: :meth:`SASRecNet.item_table`, passed in to reuse it)."""
        net = self.net_
        if net is None:
            raise RuntimeError("train the model first.")
        net.eval()
        seqs, last = _pad(sessions, self.config.max_len)
        with torch.no_grad():
            return net.final(seqs.to(self.device), last.to(self.device), self._user_tensor(user_vectors), table)

    def ranks(self, data: SequenceData, stage: str, users: np.ndarray,
              user_vectors: np.ndarray | None = None, gap_s: float | None = None) -> np.ndarray:
        """0-based full-ranking ranks of each user's ``stage`` target, history masked (docs/protocol.md).

        Users are batched by session length, so a batch of short sessions is not padded to ``max_len``
        (on Beauty, sessions of 9 items on average, this made validation 3x cheaper on a CPU); the ranks
        come back in the order of ``users``.
        """
        users = np.asarray(users)
        sessions = [data.session(int(u), stage, self.config.max_len, gap_s) for u in users]  # type: ignore[arg-type]
        order = np.argsort([len(s) for s in sessions], kind="stable")
        out = np.zeros(len(users), dtype=np.int64)
        for i in range(0, len(users), self.config.eval_batch):
            rows = order[i:i + self.config.eval_batch]
            batch = users[rows]
            uv = user_vectors[batch] if user_vectors is not None else None
            with torch.no_grad():  # masking and ranking stay on the device: only B ranks come back
                scores = self._scores([sessions[r] for r in rows], uv)
                targets = torch.tensor([data.target(int(u), stage) for u in batch],  # type: ignore[arg-type]
                                       device=scores.device)
                mask_history(scores, [data.history(int(u), stage) for u in batch], targets)  # type: ignore[arg-type]
                out[rows] = target_ranks(scores, targets).cpu().numpy()
        return out

    def evaluate(self, data: SequenceData, stage: str, users: np.ndarray | None = None,
                 user_vectors: np.ndarray | None = None) -> dict[str, float]:
        """Mean full-ranking metrics for ``stage`` (HR@10, HR@100, NDCG@10, MRR@10, MRR)."""
        users = data.eval_users(stage) if users is None else users  # type: ignore[arg-type]
        per_user = metrics_from_ranks(self.ranks(data, stage, users, user_vectors))
        return {k: float(v.mean()) for k, v in per_user.items()}

    # ------------------------------------------------------------------ persistence
    def state(self) -> dict[str, Any]:
        """Everything needed to rebuild the trained model (see :meth:`from_state`)."""
        if self.net_ is None:
            raise RuntimeError("train the model first.")
        return {"config": self.config.model_dump(), "n_items": self.net_.n_items,
                "user_dim": None if self.net_.user_proj is None else self.net_.user_proj.in_features,
                "item_dim": None if self.net_.item_proj is None else self.net_.item_proj.in_features,
                "state_dict": self.net_.state_dict(), "user_mean": self.user_mean_, "user_std": self.user_std_,
                "history": self.history_, "best_epoch": self.best_epoch_, "loss": self.loss_info()}

    @classmethod
    def from_state(cls, state: dict[str, Any], device: str | None = None) -> SASRec:
        """Rebuild a trained model on ``device`` (default ``auto``: the machine loading it decides, so a
        model trained on a GPU loads on a CPU-only box)."""
        config = {**state["config"], "device": device or "auto"}
        model = cls(SASRecConfig(**config))
        text = None
        if state["item_dim"]:
            text = torch.zeros(state["n_items"] + 1, state["item_dim"])
        model.net_ = SASRecNet(state["n_items"], model.config, state["user_dim"], text)
        model.net_.load_state_dict(state["state_dict"])
        model.net_.to(resolve_device(model.config.device))
        model.user_mean_, model.user_std_ = state["user_mean"], state["user_std"]
        model.history_, model.best_epoch_ = state["history"], state["best_epoch"]
        info = state.get("loss") or {}
        model.loss_ = info.get("loss")  # models saved before the loss option: None
        model.precision_ = info.get("precision")
        return model

    def parts(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """:meth:`state` as tensors (weights ``net.*``, user-vector standardisation) and plain-JSON meta."""
        state = self.state()
        tensors = {f"net.{k}": v for k, v in state.pop("state_dict").items()}
        for name in ("user_mean", "user_std"):
            value = state.pop(name)
            if value is not None:
                tensors[name] = torch.from_numpy(np.asarray(value))
        return tensors, state

    @classmethod
    def from_parts(cls, tensors: dict[str, torch.Tensor], meta: dict[str, Any], device: str | None = None) -> SASRec:
        """Rebuild a model from :meth:`parts` (see :meth:`from_state`)."""
        state = {**meta, "state_dict": {k[len("net."):]: v for k, v in tensors.items() if k.startswith("net.")}}
        for name in ("user_mean", "user_std"):
            state[name] = tensors[name].numpy() if name in tensors else None
        return cls.from_state(state, device)

    def save(self, folder: Path) -> str:
        """Save into ``folder`` (safetensors + JSON, no pickle; ``personarec.store``); returns the content hash."""
        return store.write(folder, *self.parts())

    @classmethod
    def load(cls, folder: Path, expected_sha256: str | None = None) -> SASRec:
        """A model :meth:`save` wrote, its content hash checked."""
        return cls.from_parts(*store.read(folder, expected_sha256))

