"""The model directory's error rates (`cv_predictions.json`): what `stance summarize` corrects with.

Two kinds of rows. The recipe's out-of-fold predictions on the team-labeled SOTU rows (`stance cv`)
measure the model's errors on foreign-policy paragraphs, which is what the team labeled. A random
sample of the odd-year paragraphs nobody else labeled (`data/sotu_random/`, kept out of every
distillation pool so the shipped model never trained on them) measures them on the rest of an
address, each row weighted by how many unlabeled paragraphs it stands for; the shipped model predicts
them here. Together they stand for every odd-year paragraph, and each row carries its vocabulary
stratum (`model.quantify.stratum`), so the rates can be taken per stratum.
"""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from model.labeler import Labeler, softmax
from model.quantify import stratum
from training.corpus import read_jsonl
from training.cv import FOLDS_FILE, group_of


def read_random_sample(path: Path) -> list[dict]:
    """The labeled random-sample rows (`id`, `text`, `label`, `weight`)."""
    rows = [row for _, row in read_jsonl(path)]
    for row in rows:
        missing = {"id", "text", "label", "weight"} - set(row)
        if missing:
            raise ValueError(f"{path}: row {row.get('id')!r} lacks {', '.join(sorted(missing))}")
    return rows


def with_random_sample(
    cv_predictions: dict[str, Any],
    labeled_texts: dict[str, str],
    labeler: Labeler,
    sample: Sequence[dict],
    root: Path = Path(),
) -> dict[str, Any]:
    """`stance cv`'s predictions plus the shipped model's on the random sample, with weights and strata.

    `labeled_texts` maps each CV row's id to its text (for its stratum). Sample rows take the fold of
    their year, so that held-out comparisons hold out both kinds of rows together.
    """
    folds = {str(year): int(fold) for year, fold in json.loads((root / FOLDS_FILE).read_text()).items()}
    n = len(cv_predictions["ids"])
    ids = [row["id"] for row in sample]
    # Uncalibrated probabilities, like the fold models' (the summary applies the temperature).
    probs = softmax(labeler.logits([row["text"] for row in sample])[0]) if sample else np.zeros((0, 3))
    if list(labeler.labels) != list(cv_predictions["labels"]):
        raise ValueError(
            f"label order {labeler.labels} differs from the CV file's {cv_predictions['labels']}"
        )
    return {
        **cv_predictions,
        "ids": [*cv_predictions["ids"], *ids],
        "groups": [*cv_predictions["groups"], *(group_of(i) for i in ids)],
        "folds": [*cv_predictions["folds"], *(folds[group_of(i)] for i in ids)],
        "gold": [*cv_predictions["gold"], *(row["label"] for row in sample)],
        "probs": [*cv_predictions["probs"], *np.round(probs, 6).tolist()],
        "weights": [1.0] * n + [float(row["weight"]) for row in sample],
        "sources": ["cv"] * n + ["random_sample"] * len(sample),
        "strata": [stratum(labeled_texts[i]) for i in cv_predictions["ids"]]
        + [stratum(row["text"]) for row in sample],
    }
