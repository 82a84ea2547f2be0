"""The trained model set of arXiv 2604.06928's table, and the API the batch job calls.

:func:`train_models` fits, on one :class:`SequenceData`:

* ``sasrec`` — plain SASRec (Kang & McAuley 2018), also the reranker;
* ``history`` — SASRec with a prepended user token from the mean LLM embedding of the user's train
  items (the paper's "user embedding derived from session history" baseline);
* ``persona`` — persona-SASRec, the candidate generator (persona token, LLM-initialised items,
  the CoT-Rec pattern of arXiv 2502.13845);

plus most-popular. :class:`TrainedModels` exposes :meth:`~TrainedModels.candidates` and
:meth:`~TrainedModels.rerank`, saves/loads its state, and :meth:`~TrainedModels.recommender` adapts it
to the batch job's ``Recommender`` protocol (``personarec.jobs.base``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from personarec import store
from personarec.protocol import mask_history, mean_item_vectors
from personarec.session.data import SequenceData, history_vectors
from personarec.session.popular import MostPopular
from personarec.session.rerank import rerank, top_candidates
from personarec.session.sasrec import SASRec, SASRecConfig

log = logging.getLogger(__name__)

#: The SASRec variants of a model set, in the order they are saved.
_SASRECS = ("sasrec", "history", "persona")


@dataclass
class TrainedModels:
    """Trained models plus what is needed to use them on ids (learned state ends with ``_``).

    Attributes:
        item_ids: item node ids; item index ``k`` is ``item_ids[k - 1]``.
        popular: most-popular baseline.
        sasrec: base SASRec (the reranker).
        history: SASRec + history-vector token, or ``None`` without item embeddings.
        persona: persona-SASRec (candidate generator), or ``None`` without personas.
        item_vectors: LLM item embeddings ((n_items + 1) × d), used for history vectors of new sessions.
        n_candidates: candidates kept by the generator (100 in the paper).
        fusion: generator weight in the reranker's score fusion (0 = pure SASRec rerank).
    """

    item_ids: list[str]
    popular: MostPopular
    sasrec: SASRec
    history: SASRec | None = None
    persona: SASRec | None = None
    item_vectors: np.ndarray | None = None
    n_candidates: int = 100
    fusion: float = 0.0
    _index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._index = {iid: k + 1 for k, iid in enumerate(self.item_ids)}

    @property
    def max_len(self) -> int:
        return self.sasrec.config.max_len

    def to_indices(self, items: Sequence[str]) -> np.ndarray:
        """Item node ids to indices; unknown items are dropped (the models never saw them)."""
        return np.array([self._index[i] for i in items if i in self._index], dtype=np.int64)

    def history_vector(self, sessions: Sequence[np.ndarray]) -> np.ndarray | None:
        """Mean LLM item embedding per session (the baseline's user vector for sessions without a user)."""
        if self.item_vectors is None:
            return None
        return mean_item_vectors(sessions, self.item_vectors)

    def candidates(self, sessions: Sequence[np.ndarray], personas: np.ndarray | None,
                   k: int | None = None, exclude: Sequence[np.ndarray] | None = None
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """Top-``k`` candidates of persona-SASRec (arXiv 2604.06928's first stage).

        Args:
            sessions: item-index sequences (most recent last).
            personas: (B, d) persona vectors; required when the persona model exists.
            k: candidates per session (default :attr:`n_candidates`).
            exclude: per session, items never to return (default: the session's own items).

        Returns:
            (items, scores), each (B, k); without a persona model, plain SASRec generates them.
        """
        model = self.persona if self.persona is not None else self.sasrec
        scores = model.score_sessions(sessions, personas if self.persona is not None else None)
        masked = exclude if exclude is not None else sessions
        _mask_rows(scores, masked)
        return top_candidates(scores, k or self.n_candidates)

    def rerank(self, sessions: Sequence[np.ndarray], cand_items: torch.Tensor, cand_scores: torch.Tensor,
               k: int = 10, fusion: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Reorder candidates with base SASRec's scores (optional fusion); returns the top ``k``."""
        ranker = self.sasrec.score_sessions(sessions)
        items, scores = rerank(cand_items, cand_scores, ranker, self.fusion if fusion is None else fusion)
        return items[:, :k], scores[:, :k]

    def recommend(self, sessions: Sequence[np.ndarray], personas: np.ndarray | None, k: int = 10,
                  exclude: Sequence[np.ndarray] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Both stages: candidates then rerank; (B, k) item indices and scores (-inf rows = no item)."""
        cand, cs = self.candidates(sessions, personas, exclude=exclude)
        return self.rerank(sessions, cand, cs, k=k)

    def recommender(self, name: str = "persona-sasrec-rerank") -> SessionRecommender:
        """This model set as the batch job's ``Recommender`` (``personarec.jobs.base``)."""
        return SessionRecommender(self, name)

    # ------------------------------------------------------------------ persistence
    def save(self, folder: Path) -> str:
        """Write the whole set into ``folder`` as one stored model (``personarec.store``: safetensors +
        ``meta.json``, no pickle); returns its content hash. Tensors are prefixed by model name."""
        tensors: dict[str, torch.Tensor] = {}
        models: dict[str, Any] = {}
        for name in _SASRECS:
            model: SASRec | None = getattr(self, name)
            if model is None:
                continue
            parts, meta = model.parts()
            tensors.update({f"{name}.{k}": v for k, v in parts.items()})
            models[name] = meta
        if self.popular.counts_ is not None:
            tensors["popular.counts"] = torch.from_numpy(np.asarray(self.popular.counts_))
        if self.item_vectors is not None:
            tensors["item_vectors"] = torch.from_numpy(np.asarray(self.item_vectors))
        meta = {"kind": "two-stage", "item_ids": list(self.item_ids), "models": models,
                "n_candidates": self.n_candidates, "fusion": self.fusion}
        return store.write(folder, tensors, meta)

    @classmethod
    def saved(cls, folder: Path) -> bool:
        """True when ``folder`` holds a model set :meth:`save` wrote."""
        return store.exists(folder)

    @classmethod
    def load(cls, folder: Path, expected_sha256: str | None = None) -> TrainedModels:
        """The model set :meth:`save` wrote into ``folder``, its content hash checked."""
        tensors, meta = store.read(folder, expected_sha256)

        def sub(name: str) -> SASRec | None:
            if name not in meta["models"]:
                return None
            prefix = name + "."
            own = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
            return SASRec.from_parts(own, meta["models"][name])

        pop = MostPopular()
        pop.counts_ = tensors["popular.counts"].numpy() if "popular.counts" in tensors else None
        pop.item_ids_ = list(meta["item_ids"])
        sasrec = sub("sasrec")
        if sasrec is None:
            raise store.ModelStoreError(f"the stored model in {folder} is not a two-stage model set (no sasrec).")
        vectors = tensors.get("item_vectors")
        return cls(item_ids=list(meta["item_ids"]), popular=pop, sasrec=sasrec, history=sub("history"),
                   persona=sub("persona"), item_vectors=None if vectors is None else vectors.numpy(),
                   n_candidates=int(meta["n_candidates"]), fusion=float(meta["fusion"]))


def _mask_rows(scores: torch.Tensor, items: Sequence[np.ndarray]) -> None:
    """-inf for each row's given items and the padding column (no target to keep here)."""
    dummy = torch.zeros(scores.shape[0], dtype=torch.long)  # column 0 is masked anyway
    mask_history(scores, [np.asarray(s, dtype=np.int64) for s in items], dummy)
    scores[:, 0] = float("-inf")


class SessionRecommender:
    """Adapter to ``personarec.jobs.base.Recommender``: node ids in, node ids out, history excluded.

    Users without a persona (new or anonymous sessions) fall back to plain SASRec candidates.
    """

    def __init__(self, models: TrainedModels, name: str = "persona-sasrec-rerank") -> None:
        self.models = models
        self.name = name

    def recommend(self, batch: Any, k: int) -> tuple[list[list[str]], list[list[float]]]:
        m = self.models
        sessions = [m.to_indices(h) for h in batch.histories]
        inputs = [s[-m.max_len:] for s in sessions]
        has = [p is not None for p in batch.personas]
        out_items: list[list[str]] = [[] for _ in sessions]
        out_scores: list[list[float]] = [[] for _ in sessions]
        groups = [(np.flatnonzero(has), True), (np.flatnonzero(~np.asarray(has, dtype=bool)), False)]
        for rows, with_persona in groups:
            if rows.size == 0:
                continue
            sub = [inputs[r] for r in rows]
            excl = [sessions[r] for r in rows]
            if with_persona and m.persona is not None:
                personas = np.asarray([batch.personas[r] for r in rows], dtype=np.float32)
                cand, cs = m.candidates(sub, personas, exclude=excl)
            else:
                scores = m.sasrec.score_sessions(sub)
                _mask_rows(scores, excl)
                cand, cs = top_candidates(scores, m.n_candidates)
            items, scores = m.rerank(sub, cand, cs, k=k)
            for j, r in enumerate(rows):
                ok = torch.isfinite(scores[j])
                out_items[r] = [m.item_ids[int(i) - 1] for i in items[j][ok]]
                out_scores[r] = [float(s) for s in scores[j][ok]]
        return out_items, out_scores


def train_models(data: SequenceData, config: SASRecConfig, personas: np.ndarray | None = None,
                 item_vectors: np.ndarray | None = None, n_candidates: int = 100,
                 fusion: float = 0.0) -> TrainedModels:
    """Train the whole table's model set on ``data`` (one seed: ``config.seed``).

    Args:
        data: sequences with the stored split.
        config: SASRec hyper-parameters shared by all three SASRec variants.
        personas: (n_users, d) ``User.persona`` per user index, or ``None`` (no persona model).
        item_vectors: ((n_items + 1), d') ``Item.embedding`` per item index, or ``None`` (no history
            baseline; the persona model then uses ID item embeddings).
        n_candidates: candidates kept by the generator.
        fusion: generator weight in the reranker's score fusion.
    """
    pop = MostPopular().train(data)
    log.info("training SASRec (seed %d)", config.seed)
    sasrec = SASRec(config).train(data)
    history = None
    if item_vectors is not None:
        log.info("training SASRec + history vector (seed %d)", config.seed)
        history = SASRec(config).train(data, history_vectors(data, item_vectors), item_vectors)
    persona = None
    if personas is not None:
        log.info("training persona-SASRec (seed %d)", config.seed)
        persona = SASRec(config).train(data, personas, item_vectors)
    return TrainedModels(item_ids=list(data.item_ids), popular=pop, sasrec=sasrec, history=history,
                         persona=persona, item_vectors=item_vectors, n_candidates=n_candidates, fusion=fusion)
