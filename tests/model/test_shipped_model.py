"""The shipped default model: small, self-describing, served by int8 ONNX, and its card tells the truth."""

import json
from pathlib import Path

import numpy as np
import pytest

from model.directory import Manifest, default_model_dir, read_labels
from model.labeler import Labeler, softmax
from model.labels import LABELS
from model.quantify import stratum
from training.config import load_config
from training.corpus import load_training_data, read_jsonl
from training.metrics import classification_report

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "default"


def _shipped_files() -> list[Path]:
    return [f for f in SHIPPED.rglob("*") if f.is_file()]


def test_shipped_model_is_the_default_and_within_budget() -> None:
    assert default_model_dir() == SHIPPED
    assert sum(f.stat().st_size for f in _shipped_files()) <= 50 * 2**20
    names = {f.name for f in _shipped_files()}
    for required in (
        "config.json",
        "tokenizer.json",
        "stance.json",
        "calibration.json",
        "metrics.json",
        "README.md",
        "confusion_real_dev.png",
        "reliability_real_dev.png",
    ):
        assert required in names
    assert read_labels(SHIPPED) == LABELS


@pytest.fixture(scope="module")
def shipped() -> Labeler:
    return Labeler(SHIPPED)


def test_shipped_backend_follows_the_int8_gate(shipped: Labeler) -> None:
    metrics = json.loads((SHIPPED / "metrics.json").read_text())
    # The int8 graph serves by default only if it passed the gate against fp32; it ships either as a
    # file or as the hash of the gated graph, which each install rebuilds (model/export.py).
    recorded = (SHIPPED / "model.int8.onnx").exists() or bool(Manifest.load(SHIPPED).int8_sha256)
    assert recorded == metrics["int8_gate"]["passed"]
    assert shipped.backend == metrics["backend"] == ("onnx" if metrics["int8_gate"]["passed"] else "torch")
    assert shipped.temperature > 0


@pytest.mark.parametrize("split", ["real_dev", "team_test"])
def test_reported_figures_are_what_the_model_scores(shipped: Labeler, split: str) -> None:
    """The card's real dev and team test figures, and real dev calibration, re-measured from scratch."""
    repo = SHIPPED.parents[1]
    sets, _ = load_training_data(load_config(repo / "training/configs/default.toml").data, repo)
    rows = sets[split]
    predictions = shipped.predict([r["text"] for r in rows])
    probs = np.array([[p.scores[label] for label in LABELS] for p in predictions])
    report = classification_report([r["label"] for r in rows], [p.label for p in predictions], probs, LABELS)
    recorded = json.loads((SHIPPED / "metrics.json").read_text())["model"][split]
    assert report["confusion"] == recorded["confusion"]
    assert report["macro_f1"] == recorded["macro_f1"]
    assert report["ece"] == pytest.approx(recorded["ece"], abs=1e-4)
    assert f"{recorded['macro_f1']:.3f}" in (SHIPPED / "README.md").read_text()


def test_reported_cross_validation_is_what_the_stored_predictions_score() -> None:
    """The card's CV figure is recomputed from the out-of-fold predictions shipped beside it."""
    metrics = json.loads((SHIPPED / "metrics.json").read_text())
    if "cv" not in metrics:
        pytest.skip("this model's recipe was not cross-validated")
    stored = json.loads((SHIPPED / "cv_predictions.json").read_text())
    # The file also holds the shipped model's predictions on the random sample (error rates only).
    cv = [s == "cv" for s in stored.get("sources", ["cv"] * len(stored["gold"]))]
    predicted = [LABELS[i] for i in np.asarray(stored["probs"])[cv].argmax(axis=1)]
    report = classification_report(
        [g for g, c in zip(stored["gold"], cv, strict=True) if c], predicted, None, LABELS
    )
    assert report["macro_f1"] == metrics["cv"]["systems"][stored["system"]]["cv"]["macro_f1"]
    assert f"{report['macro_f1']:.3f}" in (SHIPPED / "README.md").read_text()


def test_the_random_sample_rows_are_the_shipped_models_own_predictions() -> None:
    """The sample rows in the rates file are what the shipped model says of the committed sample."""
    stored = json.loads((SHIPPED / "cv_predictions.json").read_text())
    sample = {
        row["id"]: row
        for row in (row for _, row in read_jsonl(SHIPPED.parents[1] / "data/sotu_random/random_sample.jsonl"))
    }
    rows = [i for i, s in enumerate(stored.get("sources", [])) if s == "random_sample"]
    assert [stored["ids"][i] for i in rows] == list(sample)
    picked = rows[::40]
    texts = [sample[stored["ids"][i]]["text"] for i in picked]
    labeler = Labeler(SHIPPED)
    probs = softmax(labeler.logits(texts)[0])
    np.testing.assert_allclose(probs, np.asarray(stored["probs"])[picked], atol=2e-5)
    assert [stored["strata"][i] for i in picked] == [stratum(t) for t in texts]
    assert [stored["gold"][i] for i in rows] == [row["label"] for row in sample.values()]
    assert [stored["weights"][i] for i in rows] == [row["weight"] for row in sample.values()]


def test_default_config_trains_on_the_shipped_models_data() -> None:
    """`make train` reproduces the shipped model only if the default config reads the same rows."""
    repo = SHIPPED.parents[1]
    sets, _ = load_training_data(load_config(repo / "training/configs/default.toml").data, repo)
    metrics = json.loads((SHIPPED / "metrics.json").read_text())
    assert len(sets["train"]) == metrics["training"]["train_paragraphs"]
    for split in ("real_dev", "team_dev", "team_test"):
        assert len(sets[split]) == metrics["model"][split]["n"], split


@pytest.mark.xfail(
    strict=True, reason="issue 15: the shipped model is below the real-text bar (docs/experiments.md)"
)
def test_shipped_model_meets_the_real_text_bar() -> None:
    """Issue 15's bar: real dev >= 0.80, live op-ed check >= 0.70, and on grouped CV above TF-IDF
    trained on the same rows with the paired 95% interval entirely above zero.

    Strict: once a model meets it, this passes, the xfail turns into a failure, and the marker goes.
    """
    metrics = json.loads((SHIPPED / "metrics.json").read_text())
    live = metrics.get("live_oped", {}).get("shipped", {}).get("macro_f1", 0.0)
    cv_gaps = metrics.get("cv", {}).get("versus_tfidf", {})
    shipped_gap = cv_gaps.get("model+tfidf" if (SHIPPED / "bag_of_words.json").exists() else "model")
    assert metrics["model"]["real_dev"]["macro_f1"] >= 0.80 and live >= 0.70
    assert shipped_gap is not None and shipped_gap["difference_ci95"][0] > 0
