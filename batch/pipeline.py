"""The local engine: read in chunks, label each chunk, append it durably, record progress.

Everything between the readers and the writers that both engines share lives here too: the
`Sink` (output + errors file + progress sidecar + counts + progress bar) and the summary.
"""

import functools
import itertools
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar, cast

from tqdm import tqdm

from batch.inputs import InputFile, Record, read_records
from batch.outputs import Checkpoint, JsonlWriter, ParquetWriter, make_writer, sidecar_path
from batch.rows import Fields, Predicted, RowBuilder, Unit
from model.explain import Explained, explain_texts

if TYPE_CHECKING:
    from model.labeler import Prediction

R = TypeVar("R")
Result = Predicted | Explained


class LabelerLike(Protocol):
    """What the batch code needs of `model.labeler.Labeler` (tests substitute a fast fake)."""

    @property
    def labels(self) -> Sequence[str]: ...

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    def predict(self, texts: Sequence[str]) -> Sequence[Predicted]: ...


@dataclass
class Plan:
    """One run of `stance label`, resolved: inputs, output, and how to read them."""

    files: list[InputFile]
    counts: list[int]
    output: Path
    kind: str
    errors_path: Path
    fields: Fields
    chunk_size: int = 512
    progress: bool = True

    @property
    def sidecar(self) -> Path:
        return sidecar_path(self.output)

    @property
    def total(self) -> int:
        return sum(self.counts)


def all_records(plan: Plan, skip: int = 0) -> Iterator[Record]:
    """Every input row in order (files in order, rows in file order), after the first `skip`."""
    records = itertools.chain.from_iterable(
        read_records(file, plan.fields.text, plan.fields.id, plan.fields.documents) for file in plan.files
    )
    return itertools.islice(records, skip, None)


def chunked(units: Iterable[Unit], size: int) -> Iterator[list[Unit]]:
    """Group units until they hold `size` paragraphs; a document is never split across chunks."""
    chunk: list[Unit] = []
    weight = 0
    for unit in units:
        chunk.append(unit)
        weight += unit.weight
        if weight >= size:
            yield chunk
            chunk, weight = [], 0
    if chunk:
        yield chunk


def labeling(labeler: LabelerLike, explain: bool) -> Callable[[Sequence[str]], Sequence[Result]]:
    """What labels a slice of texts: the labeler's `predict`, or `predict` with sentence explanations
    (each text and its copies without one sentence labeled in one call)."""
    if not explain:
        return labeler.predict
    predict = cast("Callable[[Sequence[str]], Sequence[Prediction]]", labeler.predict)
    return functools.partial(explain_texts, predict)


def predict_all(
    label: Callable[[Sequence[str]], Sequence[R]], texts: Sequence[str], size: int
) -> list[R | str]:
    """`label`'s results in input order; a text it rejects gets its error message instead.

    If a whole slice fails, each text is retried alone so one bad row cannot sink its neighbours; if
    every one fails alone too, the problem is not the rows (a broken model, say) and the error is raised.
    """
    results: list[R | str] = []
    for start in range(0, len(texts), size):
        part = texts[start : start + size]
        try:
            results.extend(label(part))
        except Exception as error:
            singles: list[R | str] = []
            for text in part:
                try:
                    singles.extend(label([text]))
                except Exception as single:
                    singles.append(f"{type(single).__name__}: {single}")
            if all(isinstance(s, str) for s in singles):
                raise error
            results.extend(singles)
    return results


class Progress:
    """tqdm over input rows, with paragraphs/s; silent with --quiet or when stderr is not a terminal."""

    def __init__(self, total: int, initial: int, documents: bool, enabled: bool) -> None:
        self.documents = documents
        self.started = time.monotonic()
        self.paragraphs = 0
        self.bar = tqdm(
            total=total or None,
            initial=initial,
            unit="doc" if documents else "para",
            disable=not enabled,
            dynamic_ncols=True,
            file=sys.stderr,
        )

    def update(self, rows: int, paragraphs: int) -> None:
        self.paragraphs += paragraphs
        self.bar.update(rows)
        if self.documents and not self.bar.disable:
            rate = self.paragraphs / max(time.monotonic() - self.started, 1e-9)
            self.bar.set_postfix_str(f"{rate:.1f} paragraphs/s", refresh=False)

    def close(self) -> None:
        self.bar.close()


class Sink:
    """Writes labeled chunks and errors durably, then advances the progress sidecar."""

    def __init__(self, plan: Plan, checkpoint: Checkpoint, builder: RowBuilder) -> None:
        self.plan = plan
        self.checkpoint = checkpoint
        self.builder = builder
        self.writer = make_writer(plan.kind, plan.output, checkpoint.columns, checkpoint.output_position)
        self.errors = JsonlWriter(plan.errors_path, checkpoint.errors_position, lazy=True)
        self.progress = Progress(plan.total, checkpoint.rows_done, plan.fields.documents, plan.progress)
        self.session_rows = 0
        self.session_paragraphs = 0
        self.started = time.monotonic()

    def write(self, units: Sequence[Unit], predictions: Sequence[Result | str]) -> None:
        """Write one chunk: `predictions` holds one entry per item of the units, in order."""
        rows = []
        errors = []
        labels: Counter[str] = Counter()
        position = 0
        for unit in units:
            if unit.error is not None:
                errors.append(unit.error)
                continue
            mine = predictions[position : position + len(unit.items)]
            position += len(unit.items)
            problem = next((p for p in mine if isinstance(p, str)), None)
            if problem is not None:
                errors.append(unit.failed(problem))
                continue
            for item, prediction in zip(unit.items, mine, strict=True):
                assert not isinstance(prediction, str)
                row = self.builder.labeled(item, prediction)
                rows.append(row)
                labels[row["label"]] += 1
        if position != len(predictions):
            raise RuntimeError(f"{len(predictions)} predictions for {position} paragraphs")
        # Output and errors first, each fsynced; only then the sidecar that says they are there.
        self.writer.write(rows)
        self.errors.write([error.to_dict() for error in errors])
        state = self.checkpoint
        state.rows_done += len(units)
        state.errors += len(errors)
        state.rows_out += len(units) - len(errors)
        state.paragraphs_out += len(rows)
        for label, count in labels.items():
            state.label_counts[label] = state.label_counts.get(label, 0) + count
        for error in errors:
            state.errors_by_reason[error.reason] = state.errors_by_reason.get(error.reason, 0) + 1
        state.output_position = self.writer.position
        state.errors_position = self.errors.position
        state.save(self.plan.sidecar)
        self.session_rows += len(units)
        self.session_paragraphs += len(rows)
        self.progress.update(len(units), len(rows))

    def finish(self) -> None:
        """Close the output (combining Parquet parts) and mark the run complete."""
        self.progress.close()
        self.writer.finish()
        self.errors.close()
        if self.plan.errors_path.exists() and self.plan.errors_path.stat().st_size == 0:
            self.plan.errors_path.unlink()
        self.checkpoint.complete = True
        self.checkpoint.save(self.plan.sidecar)
        if isinstance(self.writer, ParquetWriter):
            self.writer.remove_parts()

    def close(self) -> None:
        self.progress.close()
        self.writer.close()
        self.errors.close()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started


def run_local(plan: Plan, labeler: LabelerLike, sink: Sink) -> None:
    """Label every input row not yet done, chunk by chunk."""
    units = (sink.builder.prepare(record) for record in all_records(plan, sink.checkpoint.rows_done))
    label = labeling(labeler, sink.builder.explain)
    for chunk in chunked(units, plan.chunk_size):
        texts = [item.text for unit in chunk for item in unit.items]
        sink.write(chunk, predict_all(label, texts, plan.chunk_size))


def summary(
    plan: Plan,
    state: Checkpoint,
    labels: Sequence[str],
    model: str,
    session_rows: int = 0,
    session_paragraphs: int = 0,
    seconds: float = 0.0,
) -> str:
    """The closing report: rows in/out/errors (and that they add up), labels, speed."""
    unit = "documents" if plan.fields.documents else "rows"
    rows_in = state.rows_done
    check = "ok" if rows_in == state.rows_out + state.errors else "MISMATCH"
    lines = [
        f"stance label: {rows_in:,} {unit} in = {state.rows_out:,} labeled + {state.errors:,} errors "
        f"({check})",
        f"  output  {plan.output} ({state.paragraphs_out:,} rows"
        + (f" from {state.rows_out:,} documents)" if plan.fields.documents else ")"),
    ]
    if state.errors:
        reasons = ", ".join(f"{n:,} {reason}" for reason, n in sorted(state.errors_by_reason.items()))
        lines.append(f"  errors  {plan.errors_path} ({reasons})")
    total = max(state.paragraphs_out, 1)
    for label in labels:
        count = state.label_counts.get(label, 0)
        lines.append(f"  {label:<26} {count:>10,}  {100 * count / total:5.1f}%")
    if seconds > 0:
        rate = session_paragraphs / seconds
        lines.append(
            f"  speed   {rate:,.1f} paragraphs/s ({session_rows:,} {unit} in {seconds:,.1f} s "
            f"this session); model {model}"
        )
    if plan.total and rows_in != plan.total:
        lines.append(
            f"  warning: the pre-count found {plan.total:,} {unit}; did an input change while reading?"
        )
    return "\n".join(lines)
