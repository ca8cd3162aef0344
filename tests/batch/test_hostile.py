"""Input that fights back: every row ends up labeled or in the errors file with a reason, or the run exits 2
with one clear line. Never a traceback, never a lost row."""

import json
import os
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.batch.conftest import FakeLabeler, read_rows, run_label, write_rows

GOOD = "Strength deters aggression."


def errors_of(out: Path) -> list[dict]:
    path = out.with_name(out.name + ".errors.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def label(argv: list[object], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = run_label(argv, FakeLabeler())
    return code, capsys.readouterr().err


def one_clear_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("stance label: ") and lines[0].isprintable(), lines[0]
    return lines[0]


def test_malformed_jsonl_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(
        b'{"id": "a", "text": "Power decides."}\n{"id": "b", "text":\n{"id": "c"\n}}\n[1, 2\n'
        b'{"id": "d", "text": "Law binds."}\n'
    )
    out = tmp_path / "out.jsonl"
    code, _ = label([source, "-o", out], capsys)
    assert code == 3
    assert [row["id"] for row in read_rows(out)] == ["a", "d"]
    assert [(e["row"], e["reason"]) for e in errors_of(out)] == [(r, "invalid_json") for r in (2, 3, 4, 5)]


def test_a_latin1_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes("id,text\nr1,Caf\xe9 diplomacy is over.\nr2,Plain words.\n".encode("latin-1"))
    out = tmp_path / "out.jsonl"
    code, _ = label([source, "-o", out], capsys)
    assert code == 3
    assert [row["id"] for row in read_rows(out)] == ["r2"]
    [error] = errors_of(out)
    assert (error["row"], error["reason"]) == (2, "undecodable")
    assert "iconv -f cp1252" in error["detail"]  # and what to do about it
    assert error["excerpt"].startswith("r1,Caf")


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_10mb_row(tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str) -> None:
    big = "word " * (2 * 1024 * 1024)  # 10 MiB in one row
    source = write_rows(tmp_path / f"in{suffix}", [{"id": "small", "text": GOOD}, {"id": "big", "text": big}])
    out = tmp_path / "out.jsonl"
    code, _ = label([source, "-o", out], capsys)
    assert code == 0
    rows = read_rows(out)
    assert [row["id"] for row in rows] == ["small", "big"]
    assert rows[1]["text"] == big


def test_nul_bytes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_bytes(b"id,text\nc1,Null\x00byte\nc2,fine\n")
    # A raw NUL inside a JSON string is invalid JSON; the escaped one is a character like any other.
    (tmp_path / "in" / "b.jsonl").write_bytes(
        b'{"id": "j1", "text": "a\x00b"}\n{"id": "j2", "text": "a\\u0000b"}\n'
    )
    (tmp_path / "in" / "c.txt").write_bytes(b"line one\x00\nline two\n")
    out = tmp_path / "out.jsonl"
    code, _ = label([tmp_path / "in", "-o", out], capsys)
    assert code == 3
    rows = read_rows(out)
    assert [row["id"] for row in rows] == ["c1", "c2", "j2", "c.txt:1", "c.txt:2"]
    assert rows[0]["text"] == "Null\x00byte" and rows[3]["text"] == "line one\x00"
    assert [(e["source"], e["row"], e["reason"]) for e in errors_of(out)] == [("b.jsonl", 1, "invalid_json")]


def test_a_parquet_file_without_the_text_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": ["p1"], "body": [GOOD]}), source)
    out = tmp_path / "out.jsonl"
    code, err = label([source, "-o", out], capsys)
    assert code == 2
    assert one_clear_line(err).endswith(
        "no 'text' column (columns: id, body); name the text column with --text-field"
    )
    assert not out.exists()


@pytest.mark.parametrize("names", [["empty.jsonl"], ["empty.csv"], ["empty.txt", "blank.jsonl"]])
def test_empty_files(tmp_path: Path, capsys: pytest.CaptureFixture[str], names: list[str]) -> None:
    for name in names:
        (tmp_path / name).write_text("\n\n" if name.startswith("blank") else "")
    out = tmp_path / "out.jsonl"
    code, err = label([*(tmp_path / name for name in names), "-o", out], capsys)
    assert code == 2
    line = one_clear_line(err)
    assert "the file is empty" in line if names == ["empty.csv"] else "no rows to label" in line
    assert not out.exists()


def test_an_empty_parquet_file_is_an_error_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty.parquet").write_bytes(b"")
    out = tmp_path / "out.jsonl"
    code, _ = label([tmp_path / "empty.parquet", "-o", out], capsys)
    assert code == 3
    assert [e["reason"] for e in errors_of(out)] == ["unreadable_file"]


def test_a_folder_of_mixed_junk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk"
    (junk / "deeper").mkdir(parents=True)
    noise = random.Random(16)
    for name in ("noise.jsonl", "noise.txt", "noise.parquet", "deeper/noise.jsonl"):
        (junk / name).write_bytes(bytes(noise.randrange(256) for _ in range(4000)))
    (junk / "empty.jsonl").write_text("")
    (junk / "empty.parquet").write_bytes(b"")
    (junk / "README").write_text("not an input: no known extension")
    (junk / "photo.png").write_bytes(os.urandom(100))
    write_rows(junk / "ok.jsonl", [{"id": "ok", "text": GOOD}])
    out = tmp_path / "out.jsonl"
    code, _ = label([junk, "-o", out], capsys)
    assert code == 3
    rows, errors = read_rows(out), errors_of(out)
    assert "ok" in [row["id"] for row in rows]
    rows_in = sum(
        sum(1 for line in (junk / name).read_bytes().split(b"\n") if line.strip())
        for name in ("noise.jsonl", "noise.txt", "deeper/noise.jsonl", "ok.jsonl")
    )
    rows_in += 1  # the unreadable noise.parquet is one error row (empty.parquet another, counted below)
    assert len(rows) + len(errors) == rows_in + 1
    assert {e["reason"] for e in errors} <= {
        "undecodable",
        "invalid_json",
        "not_an_object",
        "unreadable_file",
    }
    assert {e["source"] for e in errors if e["reason"] == "unreadable_file"} == {
        "noise.parquet",
        "empty.parquet",
    }
    # A junk CSV in the folder stops the run before anything is written, with a printable line.
    (junk / "noise.csv").write_bytes(bytes(noise.randrange(256) for _ in range(4000)))
    code, err = label([junk, "-o", tmp_path / "again.jsonl"], capsys)
    assert code == 2
    assert "noise.csv: no 'text' column" in one_clear_line(err)


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_a_finished_run_does_not_block_a_fresh_one_once_its_output_is_gone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str
) -> None:
    source = write_rows(tmp_path / "in.jsonl", [{"id": "a", "text": GOOD}, {"id": "b", "text": " "}])
    out = tmp_path / f"out{suffix}"
    assert label([source, "-o", out], capsys)[0] == 3
    out.unlink()  # the errors file and the progress record stay behind
    code, _ = label([source, "-o", out], capsys)
    assert code == 3
    assert [row["id"] for row in read_rows(out)] == ["a"]
    assert [e["id"] for e in errors_of(out)] == ["b"]  # written afresh, not appended to the old one
    # While the output is there, a new run still refuses to replace it.
    code, err = label([source, "-o", out], capsys)
    assert code == 2 and "exists: pass --resume" in one_clear_line(err)
