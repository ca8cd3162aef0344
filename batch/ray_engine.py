"""`--engine ray`: Ray Data reads the files and an actor pool labels them; the driver writes.

Reading goes through a custom Datasource that runs the local engine's own readers and row checks
(one read task per input file), so ids, errors and `--documents` segmentation are identical. Each
actor of the pool builds one Labeler. Blocks come back in input order (`preserve_order`) and the
driver writes them through the same `Sink` as the local engine: the same single output file, errors
file and progress sidecar, so `--resume` works the same way (and either engine can resume the other).

Ray is an optional dependency: this module is imported only when `--engine ray` is asked for.
"""

import functools
import itertools
import json
import logging
import pickle
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import pyarrow as pa
import ray
from ray.data import ActorPoolStrategy, DataContext, Datasource, ReadTask
from ray.data.block import BlockMetadata

from batch.inputs import InputFile, read_records
from batch.pipeline import Plan, Result, Sink, labeling, predict_all
from batch.rows import RowBuilder, Unit
from model.explain import Explained, SentenceEffect
from model.labeler import Prediction

_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),  # the row's position among all input rows, to check the order
        ("last", pa.bool_()),  # last paragraph of its input row
        ("text", pa.string()),  # what to label; null for an error row
        ("unit", pa.binary()),  # the pickled Unit, on its first paragraph only
    ]
)


def _to_json(result: Result) -> str:
    """An actor's result for one paragraph, as it travels back to the driver."""
    if isinstance(result, Explained):
        value = result.prediction.to_dict()
        value["sentences"] = [[s.start, s.end, s.effect] for s in result.sentences]
        value["capped"] = result.capped
    else:
        value = cast(Prediction, result).to_dict()  # the actors' Labeler makes Predictions
    return json.dumps(value)


def _from_json(text: str) -> Result | str:
    value = json.loads(text)
    if "error" in value:
        return str(value["error"])
    sentences, capped = value.pop("sentences", None), value.pop("capped", False)
    prediction = Prediction(**value)
    if sentences is None:
        return prediction
    return Explained(prediction, tuple(SentenceEffect(*sentence) for sentence in sentences), capped)


def _read_file(
    file: InputFile, skip: int, first_seq: int, builder: RowBuilder, block_rows: int
) -> Iterator[Any]:
    """One read task: a file's rows (after `skip`) as Arrow blocks of about `block_rows` paragraphs."""
    fields = builder.fields
    columns: dict[str, list[Any]] = {name: [] for name in _SCHEMA.names}
    records = itertools.islice(read_records(file, fields.text, fields.id, fields.documents), skip, None)
    for seq, record in enumerate(records, first_seq):
        unit = builder.prepare(record)
        texts: list[str | None] = [item.text for item in unit.items] or [None]
        for index, text in enumerate(texts):
            columns["seq"].append(seq)
            columns["last"].append(index == len(texts) - 1)
            columns["text"].append(text)
            columns["unit"].append(pickle.dumps(unit) if index == 0 else None)
        if len(columns["seq"]) >= block_rows:
            yield pa.table(columns, schema=_SCHEMA)
            columns = {name: [] for name in _SCHEMA.names}
    if columns["seq"]:
        yield pa.table(columns, schema=_SCHEMA)


class StanceFiles(Datasource):
    """The input files as a Ray Datasource, one read task per file, resuming after `skip` rows."""

    def __init__(
        self,
        files: Sequence[InputFile],
        counts: Sequence[int],
        builder: RowBuilder,
        skip: int,
        block_rows: int,
    ) -> None:
        super().__init__()
        self.files = list(files)
        self.counts = list(counts)
        self.builder = builder
        self.skip = skip
        self.block_rows = block_rows

    def estimate_inmemory_data_size(self) -> int | None:
        return None

    def get_read_tasks(
        self, parallelism: int, per_task_row_limit: int | None = None, data_context: DataContext | None = None
    ) -> list[ReadTask]:
        tasks = []
        start = 0
        skip = self.skip
        for file, count in zip(self.files, self.counts, strict=True):
            first, start = start, start + count
            if skip >= count:  # done in the interrupted run
                skip -= count
                continue
            read = functools.partial(_read_file, file, skip, first + skip, self.builder, self.block_rows)
            metadata = BlockMetadata(
                num_rows=None, size_bytes=None, exec_stats=None, input_files=(str(file.path),)
            )
            tasks.append(ReadTask(read, metadata))
            skip = 0
        return tasks


class LabelActor:
    """The map_batches UDF: one Labeler per actor, built once."""

    def __init__(self, model_dir: str, backend: str, threads: int, chunk_size: int, explain: bool) -> None:
        from model.labeler import Labeler

        labeler = Labeler(model_dir, backend=backend, threads=threads)  # type: ignore[arg-type]
        self.label = labeling(labeler, explain)
        self.chunk_size = chunk_size

    def __call__(self, batch: pa.Table) -> pa.Table:
        texts = batch.column("text").to_pylist()
        wanted = [i for i, text in enumerate(texts) if text is not None]
        results: list[str | None] = [None] * len(texts)
        predictions = predict_all(self.label, [texts[i] for i in wanted], self.chunk_size)
        for index, prediction in zip(wanted, predictions, strict=True):
            results[index] = (
                json.dumps({"error": prediction}) if isinstance(prediction, str) else _to_json(prediction)
            )
        return batch.append_column("prediction", pa.array(results, pa.string()))


def run_ray(
    plan: Plan, sink: Sink, model_dir: Path, backend: str, address: str | None, num_actors: int | None
) -> None:
    """Label every input row not yet done on a Ray cluster (a local one unless `address` is given)."""
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, logging_level=logging.WARNING)
    try:
        _run(plan, sink, model_dir, backend, num_actors)
    finally:
        if started_here:
            ray.shutdown()


def _run(plan: Plan, sink: Sink, model_dir: Path, backend: str, num_actors: int | None) -> None:
    # Ray Data's INFO lines (execution plans, log paths) would bury the summary; warnings still show.
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    context = DataContext.get_current()
    context.execution_options.preserve_order = True  # the output is written in input order
    context.enable_progress_bars = False  # our own bar counts rows as they are written
    if num_actors is None:
        # One CPU per actor, and one left for the read tasks so they are never starved.
        num_actors = max(1, int(ray.cluster_resources().get("CPU", 2)) - 1)
    done = sink.checkpoint.rows_done
    source = StanceFiles(plan.files, plan.counts, sink.builder, done, plan.chunk_size)
    dataset = ray.data.read_datasource(source).map_batches(
        LabelActor,
        fn_constructor_kwargs={
            "model_dir": str(model_dir.resolve()),
            "backend": backend,
            "threads": 1,
            "chunk_size": plan.chunk_size,
            "explain": sink.builder.explain,
        },
        batch_size=plan.chunk_size,
        batch_format="pyarrow",
        compute=ActorPoolStrategy(size=num_actors),
        num_cpus=1,
    )
    units: list[Unit] = []
    predictions: list[Any] = []
    weight = 0
    expected = done
    unit: Unit | None = None
    for batch in dataset.iter_batches(batch_size=None, batch_format="pyarrow"):
        columns = [batch.column(name).to_pylist() for name in ("seq", "last", "unit", "prediction")]
        for seq, last, pickled, prediction in zip(*columns, strict=True):
            if pickled is not None:
                if seq != expected:
                    raise RuntimeError(f"Ray returned row {seq} where row {expected} was due: order lost")
                unit = pickle.loads(pickled)
                units.append(unit)
                expected += 1
            if prediction is not None:
                predictions.append(_from_json(prediction))
            if last:
                assert unit is not None
                weight += unit.weight
                if weight >= plan.chunk_size:
                    sink.write(units, predictions)
                    units, predictions, weight = [], [], 0
    if units:
        sink.write(units, predictions)
