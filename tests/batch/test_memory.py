"""Streaming: memory stays flat however large the input is."""

import json
import tracemalloc
from pathlib import Path

from tests.batch.conftest import FakeLabeler, run_label

ROWS = 40_000
FILLER = " ".join(["the balance of power and the rule of law"] * 12)


def test_memory_does_not_grow_with_the_input(tmp_path: Path) -> None:
    source = tmp_path / "big.jsonl"
    with source.open("w") as handle:
        for i in range(ROWS):
            handle.write(json.dumps({"id": i, "text": f"Paragraph {i}: {FILLER}."}) + "\n")
    size = source.stat().st_size
    out = tmp_path / "out.jsonl"
    labeler = FakeLabeler()

    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        assert run_label([source, "-o", out, "--chunk-size", "512", "--quiet"], labeler) == 0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    growth = peak - baseline
    # Holding the input (or the output) in memory would cost more than its size on disk; streaming
    # in chunks of 512 rows needs a small, fixed amount (about 2 chunks' worth plus imports).
    assert size > 20_000_000
    assert growth < size / 5, f"peak Python memory grew by {growth:,} bytes for a {size:,}-byte input"
    with out.open() as handle:
        assert sum(1 for _ in handle) == ROWS
