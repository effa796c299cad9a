"""`supportbus eval`: offline measurements of the classifier and the retriever on Banking77-format
CSVs (``text,category``, category = intent). The classifier's half lives in
:mod:`supportbus_cli.classify_eval`, the retriever's in :mod:`supportbus_cli.retrieval_eval`."""

from __future__ import annotations

from supportbus_cli.classify_eval import ClassifyReport, evaluate_classifier, plot_reliability
from supportbus_cli.retrieval_eval import (
    RetrieveReport,
    evaluate_retrieval,
    resolve_store_and_modes,
    retrieval_eval,
    retrieval_evals,
    retrieval_index,
)

__all__ = [
    "ClassifyReport",
    "RetrieveReport",
    "evaluate_classifier",
    "evaluate_retrieval",
    "plot_reliability",
    "resolve_store_and_modes",
    "retrieval_eval",
    "retrieval_evals",
    "retrieval_index",
]
