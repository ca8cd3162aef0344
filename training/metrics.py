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


def weighted_macro_f1(weights: np.ndarray, gold: np.ndarray, predicted: np.ndarray, k: int) -> np.ndarray:
    """Macro-F1 of each resample, a resample being a row of `weights` (how often each unit was drawn).

    `gold` and `predicted` are (units, rows-per-unit) padded with -1, so a unit is a paragraph or a
    whole group of them; per-unit counts make the bootstrap one matrix product per label.
    """
    f1s = []
    for label in range(k):
        tp = ((predicted == label) & (gold == label)).sum(axis=1)
        pred_n = (predicted == label).sum(axis=1)
        gold_n = (gold == label).sum(axis=1)
        tp_w, pred_w, gold_w = weights @ tp, weights @ pred_n, weights @ gold_n
        # F1 = 2tp / (|predicted| + |gold|), 0 when the label is absent from both.
        f1s.append(np.where(pred_w + gold_w > 0, 2 * tp_w / np.maximum(pred_w + gold_w, 1), 0.0))
    return np.mean(f1s, axis=0)


def _by_unit(values: np.ndarray, units: np.ndarray, n_units: int) -> np.ndarray:
    """(units, max rows per unit) array of label indices, padded with -1."""
    width = int(np.bincount(units, minlength=n_units).max())
    out = np.full((n_units, width), -1, dtype=np.int64)
    slot = np.zeros(n_units, dtype=np.int64)
    for value, unit in zip(values, units, strict=True):
        out[unit, slot[unit]] = value
        slot[unit] += 1
    return out


def bootstrap_macro_f1(
    gold: Sequence[str],
    predicted: Sequence[str],
    labels: Sequence[str],
    reference: Sequence[str] | None = None,
    resamples: int = 2000,
    seed: int = 0,
    groups: Sequence[str] | None = None,
) -> dict[str, Any]:
    """95% percentile bootstrap interval of macro-F1, resampling paragraphs (or whole `groups`).

    With `reference` (another system's labels for the same paragraphs) the resamples are paired, and
    the interval of the difference (predicted minus reference) tells whether the gap is more than
    the luck of which paragraphs were drawn: on 119 paragraphs, intervals are about 17 points wide.
    With `groups` (e.g. the address each paragraph comes from) whole groups are drawn, because
    paragraphs of one document share wording and resampling them one by one makes intervals too narrow.
    """
    index = {label: i for i, label in enumerate(labels)}
    if groups is None:
        units = np.arange(len(gold))
    else:
        order: dict[str, int] = {}  # numbered by first appearance: singleton groups are the plain bootstrap
        units = np.array([order.setdefault(group, len(order)) for group in groups])
    n_units = int(units.max()) + 1 if len(units) else 0
    g = _by_unit(np.array([index[x] for x in gold]), units, n_units)
    p = _by_unit(np.array([index[x] for x in predicted]), units, n_units)
    draws = np.random.default_rng(seed).integers(0, n_units, size=(resamples, n_units))
    weights = np.stack([np.bincount(row, minlength=n_units) for row in draws]).astype(float)
    once = np.ones((1, n_units))
    scores = weighted_macro_f1(weights, g, p, len(labels))
    result: dict[str, Any] = {"macro_f1_ci95": _interval(scores)}
    if reference is not None:
        r = _by_unit(np.array([index[x] for x in reference]), units, n_units)
        differences = scores - weighted_macro_f1(weights, g, r, len(labels))
        full = weighted_macro_f1(once, g, p, len(labels)) - weighted_macro_f1(once, g, r, len(labels))
        result["difference"] = round(float(full[0]), 4)
        result["difference_ci95"] = _interval(differences)
    return result


def _interval(samples: np.ndarray) -> list[float]:
    return [round(float(q), 4) for q in np.percentile(samples, [2.5, 97.5])]
