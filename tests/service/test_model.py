"""GET /v1/model: what is served, from the model directory's manifest, calibration and metrics.json."""

import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from model.directory import METRICS
from model.labels import LABELS
from service.main import create_app
from tests.service.helpers import ready_client, tiny_settings


@pytest.fixture
def model_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))


def split_report(macro_f1: float) -> dict:
    """One split of metrics.json as `training.metrics.classification_report` writes it."""
    return {
        "n": 120,
        "accuracy": 0.8,
        "macro_f1": macro_f1,
        "per_class": {label: {"precision": 0.8, "recall": 0.8, "f1": 0.8, "support": 40} for label in LABELS},
        "confusion": {"labels": list(LABELS), "matrix": [[32, 4, 4], [4, 32, 4], [4, 4, 32]]},
        "ece": 0.031,
    }


def test_describes_the_tiny_model_without_metrics(client: TestClient) -> None:
    response = client.get("/v1/model")
    assert response.status_code == 200
    info = response.json()
    assert info["name"] == "tiny-test"
    assert info["version"] == "0.0.1"
    assert info["labels"] == list(LABELS)
    assert info["base_model"] == "random-init"
    assert info["backend"] == "torch"
    assert info["calibration_temperature"] == 1.5
    assert info["window"] == {"max_length": 64, "stride": 16, "max_windows": 4}
    assert info["metrics"] is None  # the tiny model directory has no metrics.json
    assert {"corpus_sha256", "trained_at"} <= set(info)


def test_headline_metrics_per_split(model_copy: Path) -> None:
    report = {
        "model": {"real_dev": split_report(0.71), "team_test": split_report(0.83)},
        "baselines": {"tfidf_logreg": {"team_test": split_report(0.5)}},
        "training": {"steps": 10},
    }
    (model_copy / METRICS).write_text(json.dumps(report))
    with ready_client(create_app(tiny_settings(model_copy))) as client:
        metrics = client.get("/v1/model").json()["metrics"]
    assert set(metrics) == {"real_dev", "team_test"}
    assert metrics["real_dev"] == {"macro_f1": 0.71, "accuracy": 0.8, "ece": 0.031, "n": 120}
    assert metrics["team_test"]["macro_f1"] == 0.83


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"baselines": {}}'])
def test_unusable_metrics_file_gives_null(model_copy: Path, content: str) -> None:
    (model_copy / METRICS).write_text(content)
    with ready_client(create_app(tiny_settings(model_copy))) as client:
        response = client.get("/v1/model")
    assert response.status_code == 200
    assert response.json()["metrics"] is None


def test_manifest_provenance_is_reported(model_copy: Path) -> None:
    manifest = json.loads((model_copy / "stance.json").read_text())
    manifest.update(corpus_sha256="ab" * 32, trained_at="2025-01-02T03:04:05Z", version="1.2.3")
    (model_copy / "stance.json").write_text(json.dumps(manifest))
    with ready_client(create_app(tiny_settings(model_copy))) as client:
        info = client.get("/v1/model").json()
        classified = client.post("/v1/classify", json={"texts": ["A text."]}).json()
    assert info["corpus_sha256"] == "ab" * 32
    assert info["trained_at"] == "2025-01-02T03:04:05Z"
    assert classified["model"] == {"name": "tiny-test", "version": "1.2.3"}
