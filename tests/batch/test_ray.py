"""The Ray engine writes what the local engine writes (on a small local Ray cluster)."""

import json
from pathlib import Path

import pytest

from tests.batch.conftest import read_rows, run_label, write_rows

ray = pytest.importorskip(
    "ray", reason="Ray is an optional extra (pip install 'ray[data]'): Ray engine not tested"
)


def test_ray_engine_matches_local_engine(tmp_path: Path, tiny_model_dir: Path) -> None:
    speeches = tmp_path / "in"
    speeches.mkdir()
    documents = [
        {
            "id": f"doc{i}",
            "text": "\n\n".join(f"Paragraph {j} of speech {i}. On power." for j in range(i % 4 + 1)),
        }
        for i in range(12)
    ]
    documents[5]["text"] = "  "
    lines = [json.dumps(document) for document in documents]
    lines.insert(3, "{broken json")
    (speeches / "a.jsonl").write_text("\n".join(lines) + "\n")
    write_rows(
        speeches / "b.csv", [{"id": "c1", "text": "Alliances.\n\nTrade and law."}, {"id": "c2", "text": ""}]
    )

    outputs = {}
    for engine in ("local", "ray"):
        out = tmp_path / f"{engine}.jsonl"
        argv = [
            speeches,
            "-o",
            out,
            "--model",
            tiny_model_dir,
            "--documents",
            "--explain",
            "--chunk-size",
            "4",
            "-q",
        ]
        if engine == "ray":
            ray.init(num_cpus=2, include_dashboard=False)
            try:
                code = run_label([*argv, "--engine", "ray", "--num-actors", "1"])
            finally:
                ray.shutdown()
        else:
            code = run_label(argv)
        assert code == 3  # the broken line and the two empty texts
        outputs[engine] = (read_rows(out), (tmp_path / f"{engine}.jsonl.errors.jsonl").read_text())

    local_rows, local_errors = outputs["local"]
    ray_rows, ray_errors = outputs["ray"]
    assert len(local_rows) == sum(i % 4 + 1 for i in range(12) if i != 5) + 2
    assert ray_errors == local_errors
    assert [list(row) for row in ray_rows] == [list(row) for row in local_rows]  # same schema, same order
    for mine, theirs in zip(ray_rows, local_rows, strict=True):
        for key in (
            "id",
            "text",
            "document_id",
            "paragraph_index",
            "start",
            "end",
            "label",
            "n_tokens",
            "heading",
        ):
            assert mine[key] == theirs[key]
        assert mine["scores"] == pytest.approx(theirs["scores"], abs=1e-4)
        assert [(s["start"], s["end"]) for s in mine["explanation"]] == [
            (s["start"], s["end"]) for s in theirs["explanation"]
        ]
        assert [s["effect"] for s in mine["explanation"]] == pytest.approx(
            [s["effect"] for s in theirs["explanation"]], abs=1e-4
        )


@pytest.mark.parametrize("skip", [0, 2, 5, 7, 8])
def test_ray_read_tasks_resume_where_the_local_reader_would(tmp_path: Path, skip: int) -> None:
    import itertools
    import pickle

    from batch.inputs import count_records, discover, read_records
    from batch.ray_engine import StanceFiles
    from batch.rows import Fields, RowBuilder
    from model.labels import LABELS

    write_rows(tmp_path / "a.jsonl", [{"id": f"a{i}", "text": f"A {i}."} for i in range(5)])
    (tmp_path / "b.txt").write_text("B one.\n\nB two.\nB three.\n")
    files = discover([tmp_path])
    counts = [count_records(file) for file in files]
    assert counts == [5, 3]
    builder = RowBuilder(Fields(), LABELS, "m", "1", scores_object=True)
    tasks = StanceFiles(files, counts, builder, skip, block_rows=2).get_read_tasks(parallelism=4)
    blocks = [block for task in tasks for block in task()]
    units = [pickle.loads(u) for block in blocks for u in block.column("unit").to_pylist() if u is not None]
    seqs = [s for block in blocks for s in block.column("seq").to_pylist()]
    records = itertools.chain.from_iterable(read_records(file, "text", "id") for file in files)
    expected = [builder.prepare(record) for record in itertools.islice(records, skip, None)]
    assert [unit.id for unit in units] == [unit.id for unit in expected]
    assert seqs == list(range(skip, 8))
