"""examples/sotu/label_sotu.py runs end to end (tiny model, three addresses)."""

import csv
import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_sotu_example_on_three_addresses(tmp_path: Path, tiny_model_dir: Path) -> None:
    spec = importlib.util.spec_from_file_location("label_sotu", REPO / "examples" / "sotu" / "label_sotu.py")
    assert spec and spec.loader
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    argv = ["--limit", "3", "--model", str(tiny_model_dir), "--out-dir", str(tmp_path), "--quiet"]
    assert example.main([*argv, "--work-dir", str(tmp_path / "work")]) == 0

    paragraphs = [
        json.loads(line) for line in (tmp_path / "work" / "paragraphs.jsonl").read_text().splitlines()
    ]
    addresses = {
        json.loads(line)["id"] for line in (tmp_path / "work" / "addresses.jsonl").read_text().splitlines()
    }
    assert len(addresses) == 3 and {row["document_id"] for row in paragraphs} == addresses
    with (tmp_path / "shares.csv").open(newline="") as handle:
        table = list(csv.DictReader(handle))
    for grouping in ("decade", "president"):
        rows = [row for row in table if row["grouping"] == grouping]
        assert sum(int(row["paragraphs"]) for row in rows) == len(paragraphs)
        stance = [p for p in paragraphs if p["label"] != "neither"]
        assert sum(int(row["stance_paragraphs"]) for row in rows) == len(stance)
        for row in rows:
            if int(row["stance_paragraphs"]):
                assert float(row["realist_share"]) + float(row["liberal_internationalist_share"]) == 1.0
    for picture in ("shares_by_decade.png", "shares_by_president.png"):
        assert (tmp_path / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
