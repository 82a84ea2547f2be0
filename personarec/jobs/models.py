"""Choosing the model a batch run uses: most-popular, or the trained two-stage model set."""

from __future__ import annotations

import logging
from pathlib import Path

from personarec.config import Settings
from personarec.errors import PersonarecError
from personarec.graph import Graph
from personarec.jobs.base import Recommender
from personarec.jobs.popularity import MostPopular

log = logging.getLogger(__name__)

MODELS = ("auto", "popular", "two-stage")


def build_recommender(graph: Graph, settings: Settings, dataset: str, model: str = "auto",
                      model_dir: str | Path | None = None) -> Recommender:
    """The model for a run.

    ``popular``: most-popular by train counts. ``two-stage``: persona-SASRec candidates reranked by
    SASRec (``personarec.session``), loaded from ``model_dir`` (a folder ``TrainedModels.save`` wrote:
    safetensors + JSON, hash-checked, never a pickle)
    or, without one, trained now on the graph with ``settings.session``. ``auto``: two-stage when
    ``model_dir`` is given, else most-popular.
    """
    if model not in MODELS:
        raise PersonarecError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}.")
    if model == "auto":
        model = "two-stage" if model_dir is not None else "popular"
        if model == "popular":
            log.warning("no --model-dir given: using the most-popular model (train counts)")
    if model == "popular":
        return MostPopular.from_graph(graph, dataset)
    from personarec.session.models import TrainedModels, train_models
    from personarec.session.retrieval import RetrievalOptions

    retrieval = RetrievalOptions.from_session(settings.session)  # exact, or the item index stored with the model
    if model_dir is not None and TrainedModels.saved(Path(model_dir)):
        log.info("loading the two-stage model from %s", model_dir)
        return TrainedModels.load(Path(model_dir), retrieval=retrieval).recommender()
    if model_dir is not None:
        log.info("%s holds no saved model set: training the two-stage model now and saving it there", model_dir)
    from personarec.session.data import load_item_embeddings, load_personas, load_sequences
    from personarec.session.sasrec import SASRecConfig

    s = settings.session
    data = load_sequences(graph, dataset)
    config = SASRecConfig.from_session(s, seed=settings.seed)
    models = train_models(data, config, personas=load_personas(graph, data),
                          item_vectors=load_item_embeddings(graph, data), n_candidates=s.n_candidates,
                          fusion=s.fusion, retrieval=retrieval)
    if model_dir is not None:
        models.save(Path(model_dir))
    return models.recommender()
