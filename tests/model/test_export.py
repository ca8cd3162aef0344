"""The int8 graph a directory records but does not ship: rebuilt once, used only if it is the gated one."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from model.directory import ONNX_INT8, Manifest
from model.export import derived_int8_graph, export_onnx, sha256_of
from model.labeler import Labeler
from tests.conftest import build_tiny_model

TEXTS = ["Troops moved north to hold the pass.", "The treaty binds every member to the court."]


@pytest.fixture()
def recorded_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, np.ndarray]:
    """A tiny directory whose manifest records its graph's hash, with the graph itself removed."""
    monkeypatch.setenv("STANCE_CACHE_DIR", str(tmp_path / "cache"))
    directory = build_tiny_model(tmp_path / "model")
    graph = export_onnx(directory)
    shipped = Labeler(directory).logits(TEXTS)[0]
    manifest = Manifest.load(directory)
    dataclasses.replace(manifest, int8_sha256=sha256_of(graph)).save(directory)
    graph.unlink()
    return directory, shipped


def test_the_export_is_byte_for_byte_reproducible(tmp_path: Path) -> None:
    directory = build_tiny_model(tmp_path / "model")
    first = sha256_of(export_onnx(directory, target=tmp_path / "a.onnx"))
    assert first == sha256_of(export_onnx(directory, target=tmp_path / "b.onnx"))


def test_a_recorded_graph_is_rebuilt_once_and_serves_as_the_gated_one(
    recorded_dir: tuple[Path, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, shipped = recorded_dir
    labeler = Labeler(directory)
    assert labeler.backend == "onnx" and not (directory / ONNX_INT8).exists()
    np.testing.assert_array_equal(labeler.logits(TEXTS)[0], shipped)
    # Cached: the next load exports nothing.
    monkeypatch.setattr("model.export.export_onnx", lambda *a, **k: pytest.fail("rebuilt a cached graph"))
    assert Labeler(directory).backend == "onnx"
    assert Labeler(directory, backend="torch").backend == "torch"


def test_a_graph_that_differs_from_the_gated_one_is_never_used(recorded_dir: tuple[Path, np.ndarray]) -> None:
    directory, _ = recorded_dir
    manifest = Manifest.load(directory)
    dataclasses.replace(manifest, int8_sha256="0" * 64).save(directory)
    assert derived_int8_graph(directory, "0" * 64) is None
    assert Labeler(directory).backend == "torch"
    assert not any(p.suffix == ".onnx" for p in (directory.parent / "cache").rglob("*"))
