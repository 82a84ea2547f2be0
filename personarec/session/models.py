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

Candidates come from exact scoring of every item, or on large catalogues from a FAISS index over the
generator's item table followed by exact re-scoring (``personarec.session.retrieval``; the index is
built once per model and stored in the model's folder, tagged with the table's sha256). The rerank
stage scores only the candidates (their rows of SASRec's item table), never the whole catalogue.
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
from personarec.protocol import mean_item_vectors
from personarec.session.data import SequenceData, history_vectors
from personarec.session.fit import Variant, VariantPool, fit_variants
from personarec.session.popular import MostPopular
from personarec.session.rerank import rerank_scored
from personarec.session.retrieval import (
    ItemIndex,
    RetrievalOptions,
    ann_top,
    exact_top,
    score_items,
    table_digest,
)
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
        persona_ref: persona-SASRec on another learner's personas (``personarec evaluate``'s reference rows;
            never saved, never served).
        item_vectors: LLM item embeddings ((n_items + 1) × d), used for history vectors of new sessions.
        n_candidates: candidates kept by the generator (100 in the paper).
        fusion: generator weight in the reranker's score fusion (0 = pure SASRec rerank).
        retrieval: exact or index retrieval of candidates (``session.retrieval``, ``session.ann_*``).
        folder: where the set was saved or loaded from; item indexes are stored in its ``index/``.
    """

    item_ids: list[str]
    popular: MostPopular
    sasrec: SASRec
    history: SASRec | None = None
    persona: SASRec | None = None
    persona_ref: SASRec | None = None
    item_vectors: np.ndarray | None = None
    n_candidates: int = 100
    fusion: float = 0.0
    retrieval: RetrievalOptions = field(default_factory=RetrievalOptions)
    folder: Path | None = None
    _index: dict[str, int] = field(default_factory=dict, repr=False)
    _tables: dict[str, tuple[tuple[Any, ...], torch.Tensor]] = field(default_factory=dict, repr=False)
    _digests: dict[str, tuple[torch.Tensor, str]] = field(default_factory=dict, repr=False)
    _item_indexes: dict[str, ItemIndex] = field(default_factory=dict, repr=False)

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

    def item_table(self, name: str) -> torch.Tensor:
        """The output item table of SASRec variant ``name`` (eval mode, no grad), cached while its weights
        are unchanged (torch's in-place version counters are part of the cache key)."""
        model: SASRec | None = getattr(self, name)
        if model is None or model.net_ is None:
            raise ValueError(f"this model set has no trained {name} model.")
        net = model.net_
        key = tuple((id(t), t._version) for t in (*net.parameters(), *net.buffers()))
        cached = self._tables.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        net.eval()
        with torch.no_grad():
            table = net.item_table().detach()
        self._tables[name] = (key, table)
        return table

    def item_index(self, name: str) -> ItemIndex:
        """The FAISS index over model ``name``'s item table: the one in memory or in ``folder/index`` when
        its tag (sha256 of the table) and parameters match, else built now (and stored when ``folder`` is
        set). A stale index is never returned."""
        table = self.item_table(name)
        params = self.retrieval.build_params(table.shape[0] - 1)
        held = self._item_indexes.get(name)
        known = self._digests.get(name)
        if known is None or known[0] is not table:  # a new table object: hash it (once per table)
            known = self._digests[name] = (table, table_digest(table))
        tag = known[1]
        if held is not None and held.tag == tag and held.params == params:
            return held
        # next to the stored model; a folder gone since loading (a temporary copy) keeps nothing
        where = self.folder / "index" if self.folder is not None and self.folder.is_dir() else None
        index = ItemIndex.load(where, name, tag, params) if where is not None else None
        if index is None:
            log.info("building the %s item index (%s)", name, params)
            index = ItemIndex.build(table, self.retrieval, tag)
            if where is not None:
                try:
                    index.save(where, name)
                except OSError as exc:  # a read-only model folder still serves, it just rebuilds next time
                    log.warning("cannot store the item index in %s: %s", where, exc)
        self._item_indexes[name] = index
        return index

    def _generate(self, name: str, sessions: Sequence[np.ndarray], user_vectors: np.ndarray | None, k: int,
                  exclude: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Top-``k`` of model ``name`` with ``exclude`` masked, exact or via the index: (items, scores, states)."""
        model: SASRec = getattr(self, name)
        table = self.item_table(name)
        h = model.final_states(sessions, user_vectors, table)
        if self.retrieval.use_index(len(self.item_ids), h.device):
            items, scores = ann_top(h, table, self.item_index(name), exclude, k, self.retrieval)
        else:
            items, scores = exact_top(h, table, exclude, k)
        return items.cpu(), scores.float().cpu(), h

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
            (items, scores), each (B, k); without a persona model, plain SASRec generates them. Exact
            scoring of every item, or the item index plus exact re-scoring on large catalogues
            (:attr:`retrieval`).
        """
        name, uv = ("persona", personas) if self.persona is not None else ("sasrec", None)
        items, scores, _ = self._generate(name, sessions, uv, k or self.n_candidates,
                                          exclude if exclude is not None else sessions)
        return items, scores

    def rerank(self, sessions: Sequence[np.ndarray], cand_items: torch.Tensor, cand_scores: torch.Tensor,
               k: int = 10, fusion: float | None = None, states: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Reorder candidates with base SASRec's scores (optional fusion); returns the top ``k``.

        Only the candidates are scored: their rows of SASRec's item table against its final state per
        session (``states``, when already computed for these sessions), the same float32 values the
        full score matrix would hold.
        """
        table = self.item_table("sasrec")
        if states is None:
            states = self.sasrec.final_states(sessions, None, table)
        ranker = score_items(states, table, cand_items.to(states.device)).float().cpu()
        items, scores = rerank_scored(cand_items, cand_scores, ranker, self.fusion if fusion is None else fusion)
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
        digest = store.write(folder, tensors, meta)
        self.folder = Path(folder)  # item indexes live next to the stored model, tagged by its item tables
        return digest

    @classmethod
    def saved(cls, folder: Path) -> bool:
        """True when ``folder`` holds a model set :meth:`save` wrote."""
        return store.exists(folder)

    @classmethod
    def load(cls, folder: Path, expected_sha256: str | None = None,
             retrieval: RetrievalOptions | None = None) -> TrainedModels:
        """The model set :meth:`save` wrote into ``folder``, its content hash checked; its item indexes
        (``folder/index``) are used when their tags match its item tables, else rebuilt."""
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
                   n_candidates=int(meta["n_candidates"]), fusion=float(meta["fusion"]),
                   retrieval=retrieval or RetrievalOptions(), folder=Path(folder))


class SessionRecommender:
    """Adapter to ``personarec.jobs.base.Recommender``: node ids in, node ids out, history excluded.

    Users without a persona (new or anonymous sessions) fall back to plain SASRec candidates, retrieved
    the same way (exact or item index, :attr:`TrainedModels.retrieval`).
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
                items, scores = m.rerank(sub, cand, cs, k=k)
            else:  # SASRec generates: its final states serve the rerank too
                cand, cs, states = m._generate("sasrec", sub, None, m.n_candidates, excl)
                items, scores = m.rerank(sub, cand, cs, k=k, states=states)
            # through numpy: per-row tensor indexing cost ~36 µs a user against ~2 µs (4% of the call at 1M items)
            items_np, scores_np = items.numpy(), scores.numpy()
            finite = np.isfinite(scores_np)
            ids = m.item_ids
            for j, r in enumerate(rows):
                ok = finite[j]
                out_items[r] = [ids[i - 1] for i in items_np[j][ok].tolist()]
                out_scores[r] = scores_np[j][ok].tolist()
        return out_items, out_scores


def table_variants(data: SequenceData, personas: np.ndarray | None = None, item_vectors: np.ndarray | None = None,
                   reference_personas: np.ndarray | None = None) -> list[Variant]:
    """The SASRec variants of the table that these inputs allow: plain SASRec always; the history-vector
    baseline with item vectors; persona-SASRec with personas (and ``persona_ref`` with a reference
    learner's), on LLM item vectors when there are any (:func:`train_models`)."""
    variants = [Variant("sasrec")]
    if item_vectors is not None:
        variants.append(Variant("history", history_vectors(data, item_vectors), item_vectors))
    if personas is not None:
        variants.append(Variant("persona", personas, item_vectors))
    if reference_personas is not None:
        variants.append(Variant("persona_ref", reference_personas, item_vectors))
    return variants


def train_models(data: SequenceData, config: SASRecConfig, personas: np.ndarray | None = None,
                 item_vectors: np.ndarray | None = None, n_candidates: int = 100,
                 fusion: float = 0.0, retrieval: RetrievalOptions | None = None, jobs: int = 1,
                 reference_personas: np.ndarray | None = None, pool: VariantPool | None = None) -> TrainedModels:
    """Train the whole table's model set on ``data`` (one seed: ``config.seed``).

    Args:
        data: sequences with the stored split.
        config: SASRec hyper-parameters shared by all three SASRec variants.
        personas: (n_users, d) ``User.persona`` per user index, or ``None`` (no persona model).
        item_vectors: ((n_items + 1), d') ``Item.embedding`` per item index, or ``None`` (no history
            baseline; the persona model then uses ID item embeddings).
        n_candidates: candidates kept by the generator.
        fusion: generator weight in the reranker's score fusion.
        retrieval: candidate retrieval (default: exact below the measured catalogue size, else the index).
        jobs: SASRec variants trained at once in separate processes (:func:`personarec.session.fit.fit_variants`).
        reference_personas: another learner's personas per user index: a second persona-SASRec,
            ``persona_ref``, trained the same way (evaluation only).
        pool: train in this :class:`personarec.session.fit.VariantPool` (``jobs`` is then its size), taking
            the variants it already trains with the same inputs (the main job hands them in early).
    """
    pop = MostPopular().train(data)
    variants = table_variants(data, personas, item_vectors, reference_personas)
    jobs = pool.jobs if pool is not None else jobs
    log.info("training %s (seed %d%s)", ", ".join(v.name for v in variants), config.seed,
             f", {jobs} at once" if jobs > 1 else "")
    fitted = fit_variants(data, config, variants, jobs, pool)
    return TrainedModels(item_ids=list(data.item_ids), popular=pop, sasrec=fitted["sasrec"],
                         history=fitted.get("history"), persona=fitted.get("persona"),
                         persona_ref=fitted.get("persona_ref"), item_vectors=item_vectors,
                         n_candidates=n_candidates, fusion=fusion, retrieval=retrieval or RetrievalOptions())
