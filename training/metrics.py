"""Classification metrics: macro-F1, per-class precision/recall/F1, confusion matrix, calibration error."""

from collections.abc import Sequence
from typing import Any

import numpy as np


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """ECE: the bin-weighted gap between confidence and accuracy, over equal-width confidence bins."""
    if len(confidence) == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    # Bin i holds confidences in (edges[i], edges[i+1]]; the first bin also takes exactly 0.
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = index == b
        if members.any():
            error += members.mean() * abs(confidence[members].mean() - correct[members].mean())
    return float(error)


def classification_report(
    gold: Sequence[str], predicted: Sequence[str], probs: np.ndarray | None, labels: Sequence[str]
) -> dict[str, Any]:
    """Everything `metrics.json` holds for one split."""
    position = {label: i for i, label in enumerate(labels)}
    k = len(labels)
    confusion = np.zeros((k, k), dtype=int)
    for g, p in zip(gold, predicted, strict=True):
        confusion[position[g], position[p]] += 1
    per_class = {}
    for i, label in enumerate(labels):
        tp = confusion[i, i]
        precision = tp / confusion[:, i].sum() if confusion[:, i].sum() else 0.0
        recall = tp / confusion[i, :].sum() if confusion[i, :].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {
            "precision": round(float(precision), 4),
            "recall": round(float(recall), 4),
            "f1": round(float(f1), 4),
            "support": int(confusion[i, :].sum()),
        }
    report: dict[str, Any] = {
        "n": len(gold),
        "accuracy": round(float(np.trace(confusion) / max(len(gold), 1)), 4),
        "macro_f1": round(float(np.mean([c["f1"] for c in per_class.values()])), 4),
        "per_class": per_class,
        "confusion": {"labels": list(labels), "matrix": confusion.tolist()},
    }
    if probs is not None:
        correct = np.array([g == p for g, p in zip(gold, predicted, strict=True)], dtype=float)
        report["ece"] = round(expected_calibration_error(probs.max(axis=1), correct), 4)
    return report
