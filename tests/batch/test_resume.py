"""--resume: after kill -9 of a real process, and after Ctrl-C, no duplicates and no gaps."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import cli
from tests.batch.conftest import FakeLabeler, read_rows, run_label, write_rows

REPO = Path(__file__).resolve().parents[2]


def test_resume_after_sigkill(tmp_path: Path, tiny_model_dir: Path) -> None:
    ids = [f"r{i:05d}" for i in range(3_000)]
    source = tmp_path / "in.jsonl"
    source.write_text(
        "".join(json.dumps({"id": i, "text": f"Paragraph {i} on power and law."}) + "\n" for i in ids)
    )
    out = tmp_path / "out.jsonl"
    argv = [
        "label",
        str(source),
        "-o",
        str(out),
        "--model",
        str(tiny_model_dir),
        "--chunk-size",
        "32",
        "--quiet",
    ]
    process = subprocess.Popen([sys.executable, "-m", "cli", *argv], cwd=REPO, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        # Kill once a few chunks are durable, mid-run.
        while not (out.exists() and out.stat().st_size > 3 * 32 * 300) and time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    written = out.read_bytes().splitlines()
    assert 0 < len(written) < len(ids), "the kill should land mid-run"
    # Simulate the worst case on top: a torn, half-written last line.
    with out.open("ab") as handle:
        handle.write(b'{"id": "r0000')

    assert cli.main([*argv, "--resume"]) == 0
    rows = read_rows(out)
    assert [row["id"] for row in rows] == ids  # no duplicates, no gaps, input order
    assert not (tmp_path / "out.jsonl.errors.jsonl").exists()
    progress = json.loads((tmp_path / "out.jsonl.progress.json").read_text())
    assert progress["complete"] and progress["rows_done"] == len(ids)


def _inputs(tmp_path: Path) -> tuple[Path, list[str], list[int]]:
    """100 rows, every 10th one with an empty text (so the errors file resumes too)."""
    rows = [
        {"id": f"r{i:03d}", "text": "" if i % 10 == 7 else f"Row {i} " + "x" * (i % 5)} for i in range(100)
    ]
    good = [row["id"] for row in rows if row["text"]]
    bad_lines = [i + 1 for i, row in enumerate(rows) if not row["text"]]
    return write_rows(tmp_path / "in.jsonl", rows), good, bad_lines


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_resume_after_interrupt_with_torn_tails(tmp_path: Path, suffix: str) -> None:
    source, good, bad_lines = _inputs(tmp_path)
    out = tmp_path / f"out{suffix}"
    errors = tmp_path / f"out{suffix}.errors.jsonl"
    argv = [source, "-o", out, "--chunk-size", "10"]
    # Ctrl-C during the 4th chunk: three chunks are durable.
    assert run_label(argv, FakeLabeler(interrupt_on_call=4)) == 130
    progress = json.loads((tmp_path / f"out{suffix}.progress.json").read_text())
    assert progress["rows_done"] == 30 and not progress["complete"]
    # A crash may leave bytes after the checkpoint: a partial row, a stray part file.
    if suffix == ".parquet":
        assert not out.exists()
        (tmp_path / "out.parquet.parts" / "part-0000099.parquet").write_bytes(b"half a part")
        (tmp_path / "out.parquet.parts" / "part-0000003.tmp").write_bytes(b"half a part")
    else:
        with out.open("ab") as handle:
            handle.write(b"r031,Row 31 x,partial")
    with errors.open("ab") as handle:
        handle.write(b'{"source": "in.jsonl", "row": 38, "id"')

    labeler = FakeLabeler()
    assert run_label([*argv, "--resume"], labeler) == 3
    rows = read_rows(out)
    assert [row["id"] for row in rows] == good
    assert [row["label"] for row in rows] == [labeler.expected_label(row["text"]) for row in rows]
    entries = [json.loads(line) for line in errors.read_text().splitlines()]
    assert [e["row"] for e in entries] == bad_lines
    assert len(rows) + len(entries) == 100
    assert not (tmp_path / "out.parquet.parts").exists()


def test_resume_refuses_a_changed_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source, _, _ = _inputs(tmp_path)
    out = tmp_path / "out.jsonl"
    assert run_label([source, "-o", out, "--chunk-size", "10"], FakeLabeler(interrupt_on_call=2)) == 130
    assert run_label([source, "-o", out, "--resume", "--text-field", "body"], FakeLabeler()) == 2
    assert "text field differs" in capsys.readouterr().err
    with source.open("a") as handle:
        handle.write(json.dumps({"id": "new", "text": "appended later"}) + "\n")
    assert run_label([source, "-o", out, "--resume"], FakeLabeler()) == 2
    assert "inputs differs" in capsys.readouterr().err


def test_resume_without_a_run_starts_and_a_complete_run_is_kept(tmp_path: Path) -> None:
    source, good, _ = _inputs(tmp_path)
    out = tmp_path / "out.jsonl"
    assert run_label([source, "-o", out, "--resume"], FakeLabeler()) == 3
    before = out.read_bytes()
    labeler = FakeLabeler()
    assert run_label([source, "-o", out, "--resume"], labeler) == 3
    assert labeler.calls == 0 and out.read_bytes() == before
    assert [row["id"] for row in read_rows(out)] == good


def test_output_without_progress_record_cannot_be_resumed(tmp_path: Path) -> None:
    source, _, _ = _inputs(tmp_path)
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "from elsewhere"}\n')
    assert run_label([source, "-o", out, "--resume"], FakeLabeler()) == 2
    assert out.read_text() == '{"id": "from elsewhere"}\n'


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_resume_refuses_an_output_shorter_than_its_record(tmp_path: Path, suffix: str) -> None:
    source, _, _ = _inputs(tmp_path)
    out = tmp_path / f"out{suffix}"
    assert run_label([source, "-o", out, "--chunk-size", "10"], FakeLabeler(interrupt_on_call=4)) == 130
    if suffix == ".parquet":
        (tmp_path / "out.parquet.parts" / "part-0000001.parquet").unlink()
    else:
        out.write_bytes(out.read_bytes()[:100])
    assert run_label([source, "-o", out, "--resume"], FakeLabeler()) == 2
