"""Grouped cross-validation: committed folds hold out whole years, and a tiny end-to-end run scores."""

import json
from pathlib import Path

import numpy as np
import pytest

from model.labeler import Labeler
from tests.conftest import REPO, build_tiny_model
from tests.training.test_train import _rows
from training.config import TrainConfig, load_config
from training.corpus import assign_splits, expand, load_rows
from training.cv import (
    FOLDS_FILE,
    SOTU_ROWS,
    K,
    assign_folds,
    group_of,
    load_cv_data,
    run_fold,
    summarize,
    write_blends,
)


def test_committed_folds_are_current_and_balanced() -> None:
    rows = load_rows(expand([SOTU_ROWS], REPO))
    committed = json.loads((REPO / FOLDS_FILE).read_text())
    assert committed == assign_folds(rows), f"{FOLDS_FILE} is stale: run `stance cv --write-folds`"
    sizes = [sum(committed[group_of(r["id"])] == fold for r in rows) for fold in range(K)]
    assert max(sizes) <= 1.1 * min(sizes), sizes


def test_assignment_is_deterministic_and_keeps_years_whole() -> None:
    rows = [{"id": f"{1801 + 2 * (i % 23)}-X-1#{i}"} for i in range(200)]
    folds = assign_folds(rows, k=4)
    assert folds == assign_folds(list(reversed(rows)), k=4)  # row order does not matter
    assert set(folds) == {group_of(r["id"]) for r in rows} and set(folds.values()) == set(range(4))


def test_each_fold_holds_out_its_years_and_trains_on_no_held_out_row() -> None:
    data = load_cv_data(load_config(REPO / "training/configs/all_data.toml"), REPO)
    seen: list[str] = []
    for fold in range(K):
        train, held_out = data.fold_rows(fold)
        held_years = {group_of(r["id"]) for r in held_out}
        train_ids = {r["id"] for r in train}
        assert held_out and not train_ids & {r["id"] for r in held_out}
        assert not held_years & {group_of(i) for i in train_ids if "#" in i}
        seen += [r["id"] for r in held_out]
    assert sorted(seen) == sorted(r["id"] for r in data.sotu)  # every SOTU row is held out exactly once


@pytest.mark.slow
def test_cv_end_to_end_with_a_tiny_model(tmp_path: Path) -> None:
    base = build_tiny_model(tmp_path / "base")
    (tmp_path / "data/corpus").mkdir(parents=True)
    (tmp_path / "data/sotu_train").mkdir()
    corpus = _rows("c", 4, "nato") + _rows("t", 1, "sanctions")
    (tmp_path / "data/corpus/a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in corpus))
    sotu = [
        {"id": f"{1801 + 2 * (i % 10)}-X-1#{i}", "text": r["text"], "label": r["label"]}
        for i, r in enumerate(_rows("s", 10, "x"))
    ]
    (tmp_path / "data/sotu_train/s.jsonl").write_text("".join(json.dumps(r) + "\n" for r in sotu))
    (tmp_path / "data/splits.json").write_text(json.dumps(assign_splits(corpus)))
    (tmp_path / FOLDS_FILE).write_text(json.dumps(assign_folds(sotu, k=2)))
    (tmp_path / "data/dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _rows("d", 1, "nato")))
    config = TrainConfig.model_validate(
        {
            "model": {
                "name": "cv",
                "version": "0",
                "base": str(base),
                "max_length": 32,
                "stride": 8,
                "onnx_int8": True,
            },
            "data": {
                "corpus": ["data/corpus/*.jsonl"],
                "extra_train": ["data/sotu_train/*.jsonl"],
                "splits": "data/splits.json",
                "real_dev": "data/dev.jsonl",
            },
            "train": {"output_dir": "unused", "max_steps": 3, "batch_size": 8, "learning_rate": 1e-3},
        }
    )
    data = load_cv_data(config, tmp_path)
    out = tmp_path / "cv"
    for fold in range(2):
        for trainer in ("tfidf", "model"):
            for path in run_fold(config, data, fold, trainer, out):
                record = json.loads(path.read_text())
                assert len(record["splits"]["cv"]["ids"]) == len(data.fold_rows(fold)[1])
                assert set(record["splits"]) == {"cv", "team_dev", "team_test", "real_dev"}
    assert sorted(p.name for p in out.glob("fold0.*.json")) == [
        "fold0.model.json",
        "fold0.model_int8.json",
        "fold0.tfidf.json",
    ]
    # The fold's weights are kept beside its predictions, and are what made them.
    kept = Labeler(out / "fold0.model.weights", backend="torch")
    saved = json.loads((out / "fold0.model.json").read_text())["splits"]["real_dev"]
    texts = {r["id"]: r["text"] for r in data.reports["real_dev"]}
    again = kept.probabilities(kept.logits([texts[i] for i in saved["ids"]])[0])
    np.testing.assert_allclose(again, saved["probs"], atol=1e-5)
    assert not (out / "fold0.model.weights" / "model.int8.onnx").exists()
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")}
    run_fold(config, data, 0, "model", out)  # already saved: a resumed run does not redo it
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")} == before
    weights = write_blends(data, out)
    assert set(weights) == {"model", "model_int8"} and all(0 <= w <= 1 for w in weights.values())
    blended = json.loads((out / "fold0.model+tfidf.json").read_text())
    model, tfidf = (json.loads((out / f"fold0.{s}.json").read_text()) for s in ("model", "tfidf"))
    w = blended["tfidf_weight"]  # chosen on fold 1's rows only
    expected_probs = (1 - w) * np.asarray(model["splits"]["cv"]["probs"]) + w * np.asarray(
        tfidf["splits"]["cv"]["probs"]
    )
    np.testing.assert_allclose(blended["splits"]["cv"]["probs"], expected_probs, atol=1e-5)
    summary = summarize(data, out, ["tfidf", "model", "model_int8"])
    assert summary["folds_done"] == {"tfidf": [0, 1], "model": [0, 1], "model_int8": [0, 1]}
    for system in ("tfidf", "model", "model_int8"):
        entry = summary["systems"][system]
        assert entry["cv"]["n"] == len(sotu) and len(entry["cv_per_fold"]) == 2
        low, high = entry["cv"]["macro_f1_ci95"]
        assert low <= entry["cv"]["macro_f1"] <= high
    gap = summary["versus_tfidf"]["model"]
    expected = summary["systems"]["model"]["cv"]["macro_f1"] - summary["systems"]["tfidf"]["cv"]["macro_f1"]
    assert gap["rows"] == len(sotu) and gap["difference"] == pytest.approx(expected, abs=2e-4)
