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


def _macro_f1_rows(gold: np.ndarray, predicted: np.ndarray, k: int) -> np.ndarray:
    """Macro-F1 of each row of (resamples, n) index arrays, vectorised for the bootstrap."""
    f1s = []
    for label in range(k):
        tp = ((predicted == label) & (gold == label)).sum(axis=1)
        pred_n = (predicted == label).sum(axis=1)
        gold_n = (gold == label).sum(axis=1)
        # F1 = 2tp / (|predicted| + |gold|), 0 when the label is absent from both.
        f1s.append(np.where(pred_n + gold_n > 0, 2 * tp / np.maximum(pred_n + gold_n, 1), 0.0))
    return np.mean(f1s, axis=0)


def bootstrap_macro_f1(
    gold: Sequence[str],
    predicted: Sequence[str],
    labels: Sequence[str],
    reference: Sequence[str] | None = None,
    resamples: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """95% percentile bootstrap interval of macro-F1, resampling paragraphs.

    With `reference` (another system's labels for the same paragraphs) the resamples are paired, and
    the interval of the difference (predicted minus reference) tells whether the gap is more than
    the luck of which paragraphs were drawn: on 119 paragraphs, intervals are about 17 points wide.
    """
    index = {label: i for i, label in enumerate(labels)}
    g = np.array([index[x] for x in gold])
    p = np.array([index[x] for x in predicted])
    draws = np.random.default_rng(seed).integers(0, len(g), size=(resamples, len(g)))
    scores = _macro_f1_rows(g[draws], p[draws], len(labels))
    result: dict[str, Any] = {"macro_f1_ci95": _interval(scores)}
    if reference is not None:
        r = np.array([index[x] for x in reference])
        differences = scores - _macro_f1_rows(g[draws], r[draws], len(labels))
        full = _macro_f1_rows(g[None], p[None], len(labels)) - _macro_f1_rows(g[None], r[None], len(labels))
        result["difference"] = round(float(full[0]), 4)
        result["difference_ci95"] = _interval(differences)
    return result


def _interval(samples: np.ndarray) -> list[float]:
    return [round(float(q), 4) for q in np.percentile(samples, [2.5, 97.5])]
