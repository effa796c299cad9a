"""`supportbus eval classify`: train on one labelled CSV, score another, as the service would.

The test file is only scored: the model, its features and its calibration temperature are all
fitted on the training file (the temperature on out-of-fold scores of it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supportbus_classifier.calibration import (
    ReliabilityBin,
    expected_calibration_error,
    reliability,
)
from supportbus_classifier.handoff import HandoffPolicy
from supportbus_classifier.linear_model import timed_predict
from supportbus_classifier.service import model_text
from supportbus_classifier.taxonomy import Taxonomy
from supportbus_classifier.training import accuracy_and_macro_f1, read_labelled_csv
from supportbus_cli.artifacts import fit_intent_model
from supportbus_cli.progress import progress_bar
from supportbus_runtime.embedding import TextEmbedder

# Confidence thresholds shown with their effect: below one, the hybrid classifier asks the LLM
# (CLASSIFIER_HYBRID_THRESHOLD) or the request could go to a person.
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class ThresholdRow:
    threshold: float
    share_below: float  # of all requests: sent to the LLM or a person at this threshold
    accuracy_above: float  # of the rest: what the local model decides alone
    errors_caught: int  # local errors among those below
    errors: int


@dataclass(frozen=True)
class ClassifyReport:
    accuracy: float
    macro_f1: float
    ece: float
    ms_per_request: float
    train_examples: int
    test_examples: int
    feature_set: str
    temperature: float
    confused_pairs: list[tuple[str, str, int]]  # (true, predicted, count), most frequent first
    category_f1: dict[str, float]
    thresholds: list[ThresholdRow]
    reliability: list[ReliabilityBin]
    # Test requests the handoff policy sends to a person, by reason (empty: no policy given).
    handoffs: dict[str, int] = field(default_factory=dict)

    @property
    def handoff_rate(self) -> float:
        return sum(self.handoffs.values()) / max(self.test_examples, 1)

    def summary(self) -> dict[str, Any]:
        """The figures other tooling reads from `--json`."""
        return {
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "ece": round(self.ece, 4),
            "ms_per_request": round(self.ms_per_request, 3),
            "train_examples": self.train_examples,
            "test_examples": self.test_examples,
            "feature_set": self.feature_set,
            "temperature": self.temperature,
            "confused_pairs": [
                {"true": t, "predicted": p, "count": n} for t, p, n in self.confused_pairs
            ],
            "category_f1": {c: round(f, 4) for c, f in self.category_f1.items()},
            "thresholds": [
                {
                    "threshold": r.threshold,
                    "share_below": round(r.share_below, 4),
                    "accuracy_above": round(r.accuracy_above, 4),
                    "errors_caught": r.errors_caught,
                    "errors": r.errors,
                }
                for r in self.thresholds
            ],
            "handoff_rate": round(self.handoff_rate, 4),
            "handoffs": dict(self.handoffs),
        }


def evaluate_classifier(
    train_csv: Path,
    test_csv: Path,
    *,
    embedder: TextEmbedder,
    taxonomy: Taxonomy,
    handoff: HandoffPolicy | None = None,
) -> ClassifyReport:
    train_data, test_data = read_labelled_csv(train_csv), read_labelled_csv(test_csv)
    model = fit_intent_model(train_data, embedder)
    # One request at a time, as the service classifies: the honest per-request cost.
    predicted: list[str] = []
    confidences: list[float] = []
    ms_total = 0.0
    with progress_bar() as progress:
        task = progress.add_task("classifying test texts", total=len(test_data))
        for start in range(0, len(test_data), 50):
            # As the service reads them (supportbus_classifier.service.model_text).
            chunk = [model_text(text) for text in test_data.texts[start : start + 50]]
            chunk_predictions, ms = timed_predict(model, chunk)
            predicted.extend(p.intent for p in chunk_predictions)
            confidences.extend(p.confidence for p in chunk_predictions)
            ms_total += ms * len(chunk)
            progress.advance(task, len(chunk))
    truth = test_data.labels
    correct = [p == t for p, t in zip(predicted, truth, strict=True)]
    accuracy, macro_f1 = accuracy_and_macro_f1(truth, predicted)
    return ClassifyReport(
        accuracy=accuracy,
        macro_f1=macro_f1,
        ece=expected_calibration_error(confidences, correct),
        ms_per_request=ms_total / max(len(test_data), 1),
        train_examples=len(train_data),
        test_examples=len(test_data),
        feature_set=model.metadata.feature_set,
        temperature=model.metadata.temperature,
        confused_pairs=most_confused(truth, predicted),
        category_f1=category_f1(truth, predicted, taxonomy),
        thresholds=threshold_table(confidences, correct),
        reliability=reliability(confidences, correct),
        handoffs=_handoffs(handoff, test_data.texts, predicted, confidences),
    )


def _handoffs(
    policy: HandoffPolicy | None,
    texts: Sequence[str],
    intents: Sequence[str],
    confidences: Sequence[float],
) -> dict[str, int]:
    if policy is None:
        return {}
    reasons = (
        policy.reason_for(text, intent, confidence)
        for text, intent, confidence in zip(texts, intents, confidences, strict=True)
    )
    return dict(Counter(reason for reason in reasons if reason is not None).most_common())


def most_confused(
    truth: Sequence[str], predicted: Sequence[str], top: int = 10
) -> list[tuple[str, str, int]]:
    pairs = Counter((t, p) for t, p in zip(truth, predicted, strict=True) if t != p)
    # Ties broken by name, so the list is the same on every run.
    ranked = sorted(pairs.items(), key=lambda item: (-item[1], item[0]))
    return [(t, p, n) for (t, p), n in ranked[:top]]


def category_f1(
    truth: Sequence[str], predicted: Sequence[str], taxonomy: Taxonomy
) -> dict[str, float]:
    """F1 of the category each intent belongs to (what routing and priority follow)."""
    from sklearn.metrics import f1_score

    true_categories = [taxonomy.info(i).category for i in truth]
    predicted_categories = [taxonomy.info(i).category for i in predicted]
    categories = sorted(set(true_categories))
    scores = f1_score(
        true_categories, predicted_categories, labels=categories, average=None, zero_division=0
    )
    return {c: float(s) for c, s in zip(categories, scores, strict=True)}


def threshold_table(confidences: Sequence[float], correct: Sequence[bool]) -> list[ThresholdRow]:
    rows = []
    total = max(len(confidences), 1)
    errors = sum(not c for c in correct)
    for threshold in THRESHOLDS:
        above = [c for conf, c in zip(confidences, correct, strict=True) if conf >= threshold]
        below_errors = sum(
            not c for conf, c in zip(confidences, correct, strict=True) if conf < threshold
        )
        rows.append(
            ThresholdRow(
                threshold,
                share_below=(len(confidences) - len(above)) / total,
                accuracy_above=sum(above) / len(above) if above else 1.0,
                errors_caught=below_errors,
                errors=errors,
            )
        )
    return rows


def plot_reliability(report: ClassifyReport, path: Path) -> None:
    """A reliability diagram: accuracy against confidence per bin, and how many fall in each."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers and CI
    import matplotlib.pyplot as plt

    bins = report.reliability
    centres = [(b.low + b.high) / 2 for b in bins]
    width = bins[0].high - bins[0].low if bins else 0.1
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(5.5, 6.5), gridspec_kw={"height_ratios": [3, 1]}, sharex=True
    )
    top.bar(centres, [b.accuracy for b in bins], width=width * 0.9, label="accuracy")
    top.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    top.scatter(centres, [b.confidence for b in bins], color="black", s=12, label="mean confidence")
    top.set_ylabel("accuracy in bin")
    top.set_title(
        f"calibrated confidence, {report.test_examples} held-out texts\n"
        f"accuracy {report.accuracy:.3f}, ECE {report.ece:.3f}, temperature {report.temperature:g}"
    )
    top.legend(loc="upper left")
    bottom.bar(centres, [b.count for b in bins], width=width * 0.9, color="tab:orange")
    bottom.set_yscale("log")
    bottom.set_xlabel("confidence")
    bottom.set_ylabel("texts")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def report_lines(report: ClassifyReport) -> list[str]:
    """The report for people: the figures, then the tables."""
    summary = report.summary()
    lines = [
        f"{key:>16}: {summary[key]}"
        for key in (
            "accuracy",
            "macro_f1",
            "ece",
            "ms_per_request",
            "train_examples",
            "test_examples",
            "feature_set",
            "temperature",
        )
    ]
    lines.append("most confused (true -> predicted: count):")
    lines += [f"  {t} -> {p}: {n}" for t, p, n in report.confused_pairs]
    lines.append("F1 per category:")
    lines += [f"  {c:<20} {f:.3f}" for c, f in report.category_f1.items()]
    lines.append("confidence threshold: share below (to the LLM or a person), accuracy above:")
    lines += [
        f"  {r.threshold:.1f}: {r.share_below:6.1%} below, {r.accuracy_above:.4f} above "
        f"({r.errors_caught}/{r.errors} errors below)"
        for r in report.thresholds
    ]
    if report.handoffs:
        reasons = ", ".join(f"{reason} {n}" for reason, n in report.handoffs.items())
        lines.append(f"handed off to a person: {report.handoff_rate:.1%} ({reasons})")
    return lines
