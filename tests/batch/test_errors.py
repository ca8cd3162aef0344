"""Nothing lost: bad rows go to the errors file, rows in == rows out + errors, and the exit codes."""

import json
from pathlib import Path

import pytest

import cli
from tests.batch.conftest import FakeLabeler, read_rows, run_label, write_rows

GOOD = "Strength deters aggression."


def errors_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_bad_jsonl_rows_go_to_the_errors_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [
        json.dumps({"id": "ok1", "text": GOOD}).encode(),
        b"{not json",
        json.dumps({"id": "e1", "text": "   "}).encode(),
        json.dumps({"id": "m1", "body": GOOD}).encode(),
        json.dumps({"id": "n1", "text": 42}).encode(),
        b"",  # a blank line is not a row
        json.dumps(["a", "list"]).encode(),
        json.dumps({"id": "ok2", "text": "Rights " + GOOD}).encode(),
        b'{"id": "u1", "text": "caf\xe9"}',  # Latin-1, not UTF-8
        json.dumps({"id": "s1", "text": "\ud800 lone surrogate"}).encode(),
        json.dumps({"id": "z1", "text": None}).encode(),
        json.dumps({"text": "No id. " + GOOD}).encode(),
    ]
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out.jsonl"
    labeler = FakeLabeler()
    assert run_label([source, "-o", out, "--chunk-size", "3"], labeler) == 3

    rows = read_rows(out)
    assert [row["id"] for row in rows] == ["ok1", "ok2", "in.jsonl:12"]
    assert [row["label"] for row in rows] == [labeler.expected_label(row["text"]) for row in rows]
    errors = errors_of(tmp_path / "out.jsonl.errors.jsonl")
    assert [(e["row"], e["id"], e["reason"]) for e in errors] == [
        (2, None, "invalid_json"),
        (3, "e1", "empty_text"),
        (4, "m1", "missing_field"),
        (5, "n1", "non_string_text"),
        (7, None, "not_an_object"),
        (9, None, "undecodable"),
        (10, "s1", "undecodable"),
        (11, "z1", "missing_field"),
    ]
    assert {e["source"] for e in errors} == {"in.jsonl"}
    assert errors[0]["excerpt"] == "{not json"
    rows_in = sum(1 for line in lines if line.strip())
    assert rows_in == len(rows) + len(errors)
    summary = capsys.readouterr().err
    assert f"{rows_in} rows in = {len(rows)} labeled + {len(errors)} errors (ok)" in summary
    assert "1 empty_text, 1 invalid_json, 2 missing_field" in summary


def test_bad_csv_and_parquet_rows(tmp_path: Path) -> None:
    csv_path = tmp_path / "a.csv"
    csv_path.write_bytes(
        b'id,text\n1,"Alliances, treaties."\n2,\n3,too,many\n4,"caf\xe9"\n5,"Two\nlines of text."\n'
    )
    write_rows(tmp_path / "b.parquet", [{"id": 10, "text": GOOD}, {"id": 11, "text": None}])
    (tmp_path / "c.parquet").write_bytes(b"PAR1 this is not parquet")
    out = tmp_path / "out.csv"
    assert run_label([tmp_path, "-o", out], FakeLabeler()) == 3
    rows = read_rows(out)
    assert [row["id"] for row in rows] == ["1", "5", "10"]
    assert rows[1]["text"] == "Two\nlines of text."
    errors = errors_of(tmp_path / "out.csv.errors.jsonl")
    assert [(e["source"], e["row"], e["reason"]) for e in errors] == [
        ("a.csv", 3, "empty_text"),
        ("a.csv", 4, "malformed_csv_row"),
        ("a.csv", 5, "undecodable"),
        ("b.parquet", 2, "missing_field"),
        ("c.parquet", None, "unreadable_file"),
    ]
    # The pre-count agrees: 5 CSV rows + 2 Parquet rows + 1 unreadable file.
    progress = json.loads((tmp_path / "out.csv.progress.json").read_text())
    assert progress["rows_done"] == 8 == progress["rows_out"] + progress["errors"]
    assert progress["complete"] is True


def test_a_row_the_labeler_rejects_is_isolated(tmp_path: Path) -> None:
    rows = [{"id": f"r{i}", "text": f"{GOOD} {i}"} for i in range(6)]
    rows[2]["text"] = "BOOM " + GOOD
    source = write_rows(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    assert run_label([source, "-o", out, "--chunk-size", "4"], FakeLabeler(reject="BOOM")) == 3
    assert [row["id"] for row in read_rows(out)] == ["r0", "r1", "r3", "r4", "r5"]
    [error] = errors_of(tmp_path / "out.jsonl.errors.jsonl")
    assert (error["id"], error["row"], error["reason"]) == ("r2", 3, "labeling_failed")
    assert "rejected text" in error["detail"]


def test_a_labeler_that_always_fails_stops_the_run(tmp_path: Path) -> None:
    source = write_rows(tmp_path / "in.jsonl", [{"id": "a", "text": "BOOM"}, {"id": "b", "text": "BOOM!"}])
    with pytest.raises(ValueError, match="rejected"):
        run_label([source, "-o", tmp_path / "out.jsonl"], FakeLabeler(reject="BOOM"))


def test_clean_input_exits_0_and_overwrite_replaces(tmp_path: Path) -> None:
    source = write_rows(tmp_path / "in.jsonl", [{"id": "a", "text": GOOD}])
    out = tmp_path / "out.jsonl"
    assert run_label([source, "-o", out], FakeLabeler()) == 0
    assert not (tmp_path / "out.jsonl.errors.jsonl").exists()
    write_rows(source, [{"id": "b", "text": GOOD}, {"id": "c", "text": GOOD}])
    assert run_label([source, "-o", out], FakeLabeler()) == 2  # exists: refuse
    assert [row["id"] for row in read_rows(out)] == ["a"]
    assert run_label([source, "-o", out, "--overwrite"], FakeLabeler()) == 0
    assert [row["id"] for row in read_rows(out)] == ["b", "c"]


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing input", "no such file or folder"),
        ("unknown input extension", "unknown extension '.xml'"),
        ("unknown output extension", "unknown output extension '.xlsx'"),
        ("output exists", "exists: pass --resume"),
        ("csv without the text column", "no 'text' column (columns: id, body)"),
        ("empty folder", "holds no"),
        ("no model", "no model at"),
        ("output is an input", "cannot also be an input"),
        ("address without ray", "only apply with --engine ray"),
    ],
)
def test_unusable_arguments_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, message: str
) -> None:
    good = write_rows(tmp_path / "good.jsonl", [{"id": "a", "text": GOOD}])
    out = tmp_path / "out.jsonl"
    argv: list[object] = [good, "-o", out]
    labeler: FakeLabeler | None = FakeLabeler()
    if case == "missing input":
        argv[0] = tmp_path / "nope.jsonl"
    elif case == "unknown input extension":
        argv[0] = tmp_path / "x.xml"
        (tmp_path / "x.xml").write_text("<x/>")
    elif case == "unknown output extension":
        argv[2] = tmp_path / "out.xlsx"
    elif case == "output exists":
        out.write_text("")
    elif case == "csv without the text column":
        argv[0] = tmp_path / "x.csv"
        (tmp_path / "x.csv").write_text("id,body\n1,hello\n")
    elif case == "empty folder":
        (tmp_path / "empty").mkdir()
        argv[0] = tmp_path / "empty"
    elif case == "no model":
        argv += ["--model", tmp_path / "no-model"]
        labeler = None
    elif case == "output is an input":
        argv[2] = good
    elif case == "address without ray":
        argv += ["--address", "auto"]
    assert run_label(argv, labeler) == 2
    assert message in capsys.readouterr().err
    assert not out.exists() or case == "output exists"


@pytest.mark.parametrize("extra", [["--resume", "--overwrite"], ["--chunk-size", "0"], ["--engine", "spark"]])
def test_bad_options_exit_2(tmp_path: Path, extra: list[str]) -> None:
    good = write_rows(tmp_path / "good.jsonl", [{"id": "a", "text": GOOD}])
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["label", str(good), "-o", str(tmp_path / "out.jsonl"), *extra])
    assert exit_info.value.code == 2
