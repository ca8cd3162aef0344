"""The `stance` entry point: subcommands wire through, and bad input exits 2 with a message."""

import json
from pathlib import Path

import pytest

from cli import main


def test_evaluate_reports_the_model_on_a_labeled_file(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "tiny_eval.jsonl"
    rows = [
        {"id": str(i), "text": f"paragraph number {i} about treaties", "label": "neither"} for i in range(4)
    ]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = tmp_path / "report.json"
    code = main(
        [
            "evaluate",
            "--model",
            str(tiny_model_dir),
            "--data",
            str(data),
            "--baselines",
            "--json",
            str(report),
        ]
    )
    assert code == 0
    assert "| fine-tuned model |" in capsys.readouterr().out
    assert json.loads(report.read_text())["model"]["tiny_eval"]["n"] == 4


def test_evaluate_missing_file_exits_2(tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["evaluate", "--model", str(tiny_model_dir), "--data", "/nonexistent.jsonl", "--baselines"]) == 2
    )
    assert "No such file" in capsys.readouterr().err


def test_bad_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[model]\nname = 3\n")
    assert main(["train", "--config", str(config)]) == 2
    assert "stance train:" in capsys.readouterr().err


def test_splits_check_passes_on_the_committed_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    assert main(["splits", "--check"]) == 0


def test_export_writes_an_int8_copy_with_its_gate(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from model.directory import ONNX_INT8
    from model.labeler import Labeler

    target = tmp_path / "int8"
    assert main(["export", "--model", str(tiny_model_dir), "--output", str(target)]) == 0
    assert (target / ONNX_INT8).exists() and not (tiny_model_dir / ONNX_INT8).exists()
    assert Labeler(target).backend == "onnx"
    gate = json.loads((target / "metrics.json").read_text())["int8_gate"]
    assert set(gate["splits"]) == {"real_dev", "team_test"}
    assert gate["splits"]["real_dev"]["agreement"] > 0
    out = capsys.readouterr().out
    assert "| real_dev |" in out and "the gate" in out
    # Never overwrite: a second export to the same place is refused.
    assert main(["export", "--model", str(tiny_model_dir), "--output", str(target)]) == 2
    assert "exists" in capsys.readouterr().err
