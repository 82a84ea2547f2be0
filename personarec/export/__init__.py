"""Exports of the graph for other tools. Entry point: :func:`export_recbole` (RecBole atomic files)."""

from personarec.export.recbole import (
                                       KG_RELATIONS,
                                       ExportError,
                                       ExportSummary,
                                       export_recbole,
                                       read_atomic,
                                       read_benchmark_split,
                                       split_fingerprint,
)

__all__ = ["KG_RELATIONS", "ExportError", "ExportSummary", "export_recbole", "read_atomic", "read_benchmark_split",
           "split_fingerprint"]
