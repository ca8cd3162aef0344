"""Evaluation: the model and baselines trained on the same data, scored side by side on any split."""

import importlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model.labeler import Labeler
from model.labels import LABELS
from training.metrics import bootstrap_macro_f1, classification_report

BASELINES = ("majority", "tfidf_logreg", "frozen_minilm_logreg")
SHORTCUT_F1 = 0.95  # TF-IDF this good on held-out topics means the data gives the label away


def resolve_base(base: str) -> Path:
    """A base-model directory: a path as given, or the model directory shipped inside a pip package."""
    if Path(base).is_dir():
        return Path(base)
    module = importlib.import_module(base.replace("-", "_"))
    directory = Path(module.get_model_path())
    if not directory.is_dir():
        raise FileNotFoundError(f"package {base} has no model directory at {directory}")
    return directory


def score(labeler: Labeler, rows: Sequence[dict]) -> tuple[dict[str, Any], list[str], np.ndarray]:
    """The model's report on labeled rows, with its predictions and calibrated probabilities."""
    logits, *_ = labeler.logits([row["text"] for row in rows])
    probs = labeler.probabilities(logits)
    predicted = [labeler.labels[i] for i in probs.argmax(axis=1)]
    gold = [row["label"] for row in rows]
    return classification_report(gold, predicted, probs, labeler.labels), predicted, probs


def contrast_pairs(rows: Sequence[dict], predicted: Sequence[str]) -> dict[str, Any]:
    """Accuracy on minimal-edit pairs: a pair counts only when both of its paragraphs are right."""
    pairs: dict[str, list[bool]] = {}
    for row, label in zip(rows, predicted, strict=True):
        if row.get("pair_id"):
            pairs.setdefault(row["pair_id"], []).append(row["label"] == label)
    complete = [hits for hits in pairs.values() if len(hits) == 2]
    return {
        "pairs": len(complete),
        "pair_accuracy": round(float(np.mean([all(h) for h in complete])), 4) if complete else None,
        "paragraph_accuracy": round(float(np.mean([x for h in complete for x in h])), 4)
        if complete
        else None,
    }


def mean_pooled(
    base_dir: Path, texts: Sequence[str], batch_size: int = 32, progress: bool = False
) -> np.ndarray:
    """Frozen sentence embeddings: the base encoder's token states, mean-pooled over the mask."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    encoder = AutoModel.from_pretrained(base_dir, dtype=torch.float32).eval()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), encoder.config.hidden_size), dtype=np.float32)
    from tqdm.auto import tqdm

    with torch.inference_mode():
        starts = range(0, len(order), batch_size)
        for start in tqdm(starts, desc="embedding", unit="batch", disable=not progress):
            chunk = order[start : start + batch_size]
            batch = tokenizer(
                [texts[i] for i in chunk], truncation=True, max_length=256, padding=True, return_tensors="pt"
            )
            states = encoder(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            out[chunk] = ((states * mask).sum(1) / mask.sum(1)).numpy()
    return out


def tfidf_pipeline() -> Any:
    """The bag-of-words baseline, and the shipped model's bag-of-words member: one definition."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
        LogisticRegression(C=10.0, class_weight="balanced", max_iter=2000),
    )


def baseline_predictions(
    name: str, train: Sequence[dict], splits: Mapping[str, Sequence[dict]], base_dir: Path
) -> dict[str, tuple[list[str], np.ndarray]]:
    """Fit one baseline on `train` and predict every split: {split: (labels, probabilities)}."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = [row["label"] for row in train]
    results: dict[str, tuple[list[str], np.ndarray]] = {}
    if name == "majority":
        top = max(LABELS, key=y.count)
        one_hot = np.array([[float(label == top) for label in LABELS]])
        return {s: ([top] * len(rows), np.repeat(one_hot, len(rows), axis=0)) for s, rows in splits.items()}
    if name == "tfidf_logreg":
        classifier = tfidf_pipeline()
        classifier.fit([row["text"] for row in train], y)
        features: dict[str, Any] = {s: [row["text"] for row in rows] for s, rows in splits.items()}
    elif name == "frozen_minilm_logreg":
        classifier = make_pipeline(
            StandardScaler(), LogisticRegression(C=1.0, class_weight="balanced", max_iter=3000)
        )
        classifier.fit(mean_pooled(base_dir, [row["text"] for row in train]), y)
        features = {s: mean_pooled(base_dir, [row["text"] for row in rows]) for s, rows in splits.items()}
    else:
        raise ValueError(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")
    classes = list(classifier.classes_)
    for split, x in features.items():
        probs = classifier.predict_proba(x)
        # Reorder the classifier's columns to the model's label order.
        aligned = np.stack(
            [probs[:, classes.index(label)] if label in classes else 0 * probs[:, 0] for label in LABELS],
            axis=1,
        )
        results[split] = ([LABELS[i] for i in aligned.argmax(axis=1)], aligned)
    return results


def evaluate(
    labeler: Labeler,
    splits: Mapping[str, Sequence[dict]],
    train: Sequence[dict] | None = None,
    base_dir: Path | None = None,
    baselines: Sequence[str] = BASELINES,
    figures_dir: Path | None = None,
) -> dict[str, Any]:
    """The full report: the model per split, contrast pairs, and each baseline per split.

    With `figures_dir`, also draws each split's confusion matrix and reliability diagram there.
    """
    report: dict[str, Any] = {"model": {}, "contrast_pairs": {}, "baselines": {}, "versus_tfidf": {}}
    model_labels: dict[str, list[str]] = {}
    for split, rows in splits.items():
        result, predicted, probs = score(labeler, rows)
        gold = [row["label"] for row in rows]
        report["model"][split] = {**result, **bootstrap_macro_f1(gold, predicted, labeler.labels)}
        model_labels[split] = predicted
        if figures_dir is not None:
            _figures(split, rows, result, predicted, probs, labeler.labels, figures_dir)
        if any(row.get("pair_id") for row in rows):
            report["contrast_pairs"][split] = contrast_pairs(rows, predicted)
    if train and base_dir is not None:
        for name in baselines:
            predictions = baseline_predictions(name, train, splits, base_dir)
            report["baselines"][name] = {
                split: classification_report([r["label"] for r in splits[split]], labels, probs, LABELS)
                for split, (labels, probs) in predictions.items()
            }
            if name == "tfidf_logreg":
                # Paired: is the model's gap over the bag-of-words baseline more than sampling luck?
                report["versus_tfidf"] = {
                    split: bootstrap_macro_f1(
                        [r["label"] for r in splits[split]], model_labels[split], LABELS, reference=labels
                    )
                    for split, (labels, _) in predictions.items()
                }
    tfidf_test = report["baselines"].get("tfidf_logreg", {}).get("team_test")
    if tfidf_test is not None:
        report["shortcut_probe"] = {
            "tfidf_logreg_team_test_macro_f1": tfidf_test["macro_f1"],
            "threshold": SHORTCUT_F1,
            "too_easy": tfidf_test["macro_f1"] >= SHORTCUT_F1,
        }
    return report


def markdown_table(report: dict[str, Any]) -> str:
    """Macro-F1 per split for the model and every baseline, as a markdown table."""
    splits = list(report["model"])
    lines = ["| system | " + " | ".join(splits) + " |", "|---" * (len(splits) + 1) + "|"]
    rows = [("fine-tuned model", report["model"]), *report["baselines"].items()]
    for name, per_split in rows:
        cells = [f"{per_split[s]['macro_f1']:.3f}" if s in per_split else "" for s in splits]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _figures(
    split: str,
    rows: Sequence[dict],
    result: dict[str, Any],
    predicted: Sequence[str],
    probs: np.ndarray,
    labels: Sequence[str],
    directory: Path,
) -> None:
    """Confusion matrix and reliability diagram PNGs for one split."""
    from training.plots import confusion_matrix_png, reliability_png

    title = f"{split} (n={len(rows)}, macro-F1 {result['macro_f1']:.3f})"
    confusion_matrix_png(result["confusion"]["matrix"], labels, title, directory / f"confusion_{split}.png")
    correct = np.array([r["label"] == p for r, p in zip(rows, predicted, strict=True)], dtype=float)
    reliability_png(
        probs.max(axis=1),
        correct,
        f"{split}: ECE {result['ece']:.3f}",
        directory / f"reliability_{split}.png",
    )


def compare_backends(
    reference: Labeler, candidate: Labeler, splits: Mapping[str, Sequence[dict]]
) -> dict[str, dict[str, float]]:
    """How often two backends (fp32 torch vs int8 ONNX) agree, and each one's macro-F1, per split."""
    comparison = {}
    for split, rows in splits.items():
        a, pred_a, _ = score(reference, rows)
        b, pred_b, _ = score(candidate, rows)
        comparison[split] = {
            "agreement": round(float(np.mean([x == y for x, y in zip(pred_a, pred_b, strict=True)])), 4),
            f"macro_f1_{reference.backend}": a["macro_f1"],
            f"macro_f1_{candidate.backend}": b["macro_f1"],
            "macro_f1_drop": round(a["macro_f1"] - b["macro_f1"], 4),
        }
    return comparison
