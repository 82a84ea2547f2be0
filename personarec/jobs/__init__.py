"""Batch recommendation jobs: top-k per user (or anonymous session) into Neo4j and/or Parquet.

Entry points: :func:`recommend`, :func:`recommend_sessions`; runs are managed with :func:`list_runs`,
:func:`compare_runs` and :func:`remove_run`. A model is anything with the :class:`Recommender` shape;
:class:`MostPopular` is the simple one (the evaluation's own most-popular, so a run writes the ranking
it scores).
"""

from personarec.jobs.base import Recommender, UserBatch, top_k_masked
from personarec.jobs.batch import (
                                   JobError,
                                   RunSummary,
                                   default_run_id,
                                   read_id_file,
                                   read_sessions_file,
                                   recommend,
                                   recommend_sessions,
)
from personarec.jobs.models import MODELS, build_recommender
from personarec.jobs.parquet import read_run
from personarec.jobs.popularity import MostPopular
from personarec.jobs.runs import Comparison, compare_runs, get_run, list_runs, remove_run, run_recommendations

__all__ = ["MODELS", "build_recommender", "Comparison", "JobError", "MostPopular", "Recommender", "RunSummary",
           "UserBatch", "compare_runs", "default_run_id", "get_run", "list_runs", "read_id_file", "read_run",
           "read_sessions_file", "recommend", "recommend_sessions", "remove_run", "run_recommendations", "top_k_masked"]
