"""examples/sotu/label_sotu.py runs end to end (tiny model, three addresses)."""

import csv
import importlib.util
import json
from pathlib import Path

import pytest

from model.labels import LABELS

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
    decades = {
        f"{json.loads(line)['year'] // 10 * 10}s" for line in (tmp_path / "work" / "addresses.jsonl").open()
    }
    for grouping in ("decade", "president"):
        rows = [row for row in table if row["group"].startswith(f"{grouping}=")]
        per_group = {row["group"]: int(row["n"]) for row in rows}
        assert sum(per_group.values()) == len(paragraphs)
        for group in per_group:
            block = [row for row in rows if row["group"] == group]
            assert [row["label"] for row in block] == list(LABELS)
            assert sum(float(row["count_share"]) for row in block) == pytest.approx(1.0, abs=2e-4)
            assert not any(row["corrected_share"] for row in block)  # the tiny model has no error rates
    assert {row["group"] for row in table if row["group"].startswith("decade=")} == {
        f"decade={d}" for d in decades
    }
    for picture in ("shares_by_decade.png", "shares_by_president.png"):
        assert (tmp_path / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
