"""Honest evaluation: full ranking, history masked, leave-one-out (``personarec evaluate``).

The runner (:func:`personarec.eval.runner.evaluate`) is imported lazily so that the metrics can be
used without loading the session models.
"""

from personarec.eval.metrics import METRICS, mask_history, metrics_from_ranks, summarize, target_ranks

__all__ = ["METRICS", "mask_history", "metrics_from_ranks", "summarize", "target_ranks"]
