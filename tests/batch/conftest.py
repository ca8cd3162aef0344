"""Helpers for the batch tests: a fast fake labeler, input writers and output readers."""

import argparse
import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from batch.command import configure, run
from model.labeler import Prediction
from model.labels import LABELS


class FakeLabeler:
    """Labels by text length (so labels vary), instantly; can fail on demand.

    `interrupt_on_call`: raise KeyboardInterrupt on that predict call (a Ctrl-C mid-run).
    `reject`: raise ValueError for any batch holding a text containing this marker.
    """

    labels = LABELS
    name = "fake"
    version = "9.9.9"
    backend = "fake"

    def __init__(self, interrupt_on_call: int | None = None, reject: str | None = None) -> None:
        self.interrupt_on_call = interrupt_on_call
        self.reject = reject
        self.calls = 0
        self._predictions = []
        for index, label in enumerate(LABELS):
            scores = {other: (0.6 if other == label else 0.2) for other in LABELS}
            self._predictions.append(Prediction(label, 0.6, scores, 10 + index, 1, False))

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        self.calls += 1
        if self.calls == self.interrupt_on_call:
            raise KeyboardInterrupt
        if self.reject and any(self.reject in text for text in texts):
            raise ValueError("rejected text")
        return [self._predictions[len(text) % 3] for text in texts]

    def expected_label(self, text: str) -> str:
        return LABELS[len(text) % 3]


def run_label(argv: Sequence[object], labeler: Any = None) -> int:
    """`stance label ARGV` in-process, optionally with a substitute labeler."""
    parser = argparse.ArgumentParser()
    configure(parser)
    return run(parser.parse_args([str(a) for a in argv]), labeler)


def write_rows(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write rows in the format named by the path's extension (.txt: the text of each, one a line)."""
    suffix = path.suffix
    if suffix == ".jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    elif suffix == ".csv":
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    elif suffix == ".parquet":
        pq.write_table(pa.Table.from_pylist(rows), path)
    elif suffix == ".txt":
        path.write_text("".join(row["text"] + "\n" for row in rows))
    return path


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Read an output file back, whatever its format."""
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text().splitlines()]
    if path.suffix == ".csv":
        with path.open(newline="") as handle:
            return list(csv.DictReader(handle))
    return pq.read_table(path).to_pylist()


def header(path: Path) -> list[str]:
    if path.suffix == ".csv":
        with path.open(newline="") as handle:
            return next(csv.reader(handle))
    if path.suffix == ".parquet":
        return list(pq.read_schema(path).names)
    return list(json.loads(path.read_text().splitlines()[0]))
