"""The model directory's error-rate rows: CV predictions plus the weighted random sample."""

import json
from pathlib import Path

import pytest

from model.labeler import Labeler
from model.labels import LABELS
from model.quantify import STRATA, stratum
from training.config import load_config
from training.cv import group_of
from training.distill import sotu_pool
from training.rates import read_random_sample, with_random_sample
from training.train import load_training_data

RANDOM_SAMPLE = Path("data/sotu_random/random_sample.jsonl")


def test_cv_rows_and_sample_rows_carry_weights_sources_folds_and_strata(tiny_labeler: Labeler) -> None:
    cv = {
        "labels": list(LABELS),
        "system": "model",
        "ids": ["1901-McKinley-1#3", "1903-Roosevelt-1#9"],
        "groups": ["1901", "1903"],
        "folds": [2, 0],
        "gold": ["realist", "neither"],
        "probs": [[0.6, 0.2, 0.2], [0.1, 0.1, 0.8]],
    }
    texts = {
        "1901-McKinley-1#3": "Our navy and our commerce abroad need treaties.",
        "1903-Roosevelt-1#9": "Roads.",
    }
    sample = [
        {"id": "1905-Roosevelt-1#40", "text": "The postal service grew.", "label": "neither", "weight": 8.4},
        {
            "id": "1793-Washington-1#2",
            "text": "Peace with nations and the treaty.",
            "label": "neither",
            "weight": 8.4,
        },
    ]
    out = with_random_sample(cv, texts, tiny_labeler, sample)
    n = len(cv["ids"]) + len(sample)
    assert all(len(out[key]) == n for key in ("ids", "groups", "folds", "gold", "probs", "weights", "strata"))
    assert out["sources"] == ["cv", "cv", "random_sample", "random_sample"]
    assert out["weights"] == [1.0, 1.0, 8.4, 8.4]
    folds = json.loads(Path("data/cv_folds.json").read_text())
    assert out["folds"][2:] == [folds["1905"], folds["1793"]] and out["groups"][2:] == ["1905", "1793"]
    assert out["strata"] == [2, 0, 0, 1]
    assert all(abs(sum(p) - 1) < 1e-5 for p in out["probs"])


def test_the_random_sample_is_odd_year_unlabeled_and_was_never_in_the_shipped_pool() -> None:
    """The sample measures errors on paragraphs the shipped model never read; the recipe keeps it so."""
    config = load_config(Path("training/configs/default.toml"))
    assert config.data.random_sample == str(RANDOM_SAMPLE) and config.distill is not None
    sample = read_random_sample(RANDOM_SAMPLE)
    sets, _ = load_training_data(config.data, Path())
    labeled = {row["text"].strip() for row in [*sets["train"], *sets["real_dev"]]}
    texts = {row["text"] for row in sample}
    assert len(texts) == len(sample) == 800
    assert all(int(group_of(row["id"])) % 2 == 1 for row in sample)  # even years are never labeled
    assert not texts & labeled
    # The pool exactly as `training.distill.with_soft_targets` draws it for the shipped recipe.
    pool = sotu_pool(labeled, set(), config.distill.pool_size, config.train.seed)
    assert len(pool) == config.distill.pool_size and not texts & {row["text"] for row in pool}
    # Weights stand for the unlabeled paragraphs: about 8.4 each, some 6,700 in all.
    assert sum(row["weight"] for row in sample) == pytest.approx(6750, rel=0.01)
    labels_by_stratum = {s: {row["label"] for row in sample if stratum(row["text"]) == s} for s in range(3)}
    assert labels_by_stratum[0] == set(LABELS) and len(STRATA) == 3
