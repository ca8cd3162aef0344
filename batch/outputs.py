"""Output writers and the progress sidecar that makes runs resumable.

Each writer appends one chunk at a time and makes it durable (flush + fsync) before the sidecar
records the new position. On resume, anything past the recorded position (a chunk in flight, a
partial last line) is cut off, so a crash loses at most one chunk and never duplicates one.

Parquet cannot be appended to and an unclosed Parquet file is unreadable, so a Parquet output is
built as numbered part files in `OUT.parquet.parts/` (one per chunk, each renamed into place only
once complete) and combined into `OUT.parquet` at the end.
"""

import base64
import csv
import datetime as dt
import decimal
import io
import json
import math
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from batch.inputs import UsageError

OUTPUT_KINDS = {".jsonl": "jsonl", ".csv": "csv", ".parquet": "parquet"}


def sidecar_path(output: Path) -> Path:
    return output.with_name(output.name + ".progress.json")


def default_errors_path(output: Path) -> Path:
    return output.with_name(output.name + ".errors.jsonl")


def parts_dir(output: Path) -> Path:
    return output.with_name(output.name + ".parts")


def part_path(parts: Path, index: int) -> Path:
    return parts / f"part-{index:07d}.parquet"


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _json_default(value: Any) -> Any:
    """JSON for the values a Parquet input can hold that `json` does not know."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return value.tolist()
    return str(value)


def _finite(value: Any) -> Any:
    # NaN is not JSON; pandas writes it for missing floats, which mean null.
    return None if isinstance(value, float) and not math.isfinite(value) else value


_LINE_BREAKS = {ord(c): f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029"}


def json_line(row: dict[str, Any]) -> bytes:
    text = json.dumps({k: _finite(v) for k, v in row.items()}, ensure_ascii=False, default=_json_default)
    # Characters that many readers (Python's str.splitlines, JavaScript) take for line breaks are escaped, so
    # one row is one line for every reader; they can only occur inside JSON strings, where escapes are valid.
    text = text.translate(_LINE_BREAKS)
    # A lone surrogate (legal in JSON escapes) cannot be UTF-8 encoded; backslashreplace writes it back as
    # the same `\udXXX` escape, which is still valid JSON inside a string.
    return text.encode("utf-8", "backslashreplace") + b"\n"


class Writer(Protocol):
    def write(self, rows: Sequence[dict[str, Any]]) -> None: ...

    @property
    def position(self) -> int: ...

    def finish(self) -> None: ...

    def close(self) -> None: ...


class _AppendFile:
    """A file appended to in durable chunks; opened lazily, cut back to `position` first."""

    def __init__(self, path: Path, position: int, lazy: bool = False) -> None:
        self.path = path
        self._position = position
        self._handle: io.BufferedRandom | None = None
        if not lazy or path.exists():
            self._open()

    def _open(self) -> io.BufferedRandom:
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "r+b" if self.path.exists() else "w+b")  # noqa: SIM115
            self._handle.truncate(self._position)  # drop whatever a crash left after the last checkpoint
            self._handle.seek(self._position)
        return self._handle

    def append(self, data: bytes) -> None:
        if not data:
            return
        handle = self._open()
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
        self._position = handle.tell()

    @property
    def position(self) -> int:
        return self._position

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class _AppendWriter:
    """What the line-oriented writers share: bytes appended to one file, durable up to `position`."""

    _file: _AppendFile

    @property
    def position(self) -> int:
        return self._file.position

    def finish(self) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()


class JsonlWriter(_AppendWriter):
    def __init__(self, path: Path, position: int, lazy: bool = False) -> None:
        self._file = _AppendFile(path, position, lazy)

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        self._file.append(b"".join(json_line(row) for row in rows))


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    if isinstance(value, float):
        return "" if not math.isfinite(value) else repr(value)
    return value


class CsvWriter(_AppendWriter):
    """CSV with a fixed header, decided before the first row (see `RowBuilder.output_columns`)."""

    def __init__(self, path: Path, columns: Sequence[str], position: int) -> None:
        self.columns = list(columns)
        self._known = set(self.columns)
        self._file = _AppendFile(path, position)
        if position == 0:
            self._file.append(self._encode([self.columns]))

    @staticmethod
    def _encode(rows: Sequence[Sequence[Any]]) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        return buffer.getvalue().encode("utf-8", "backslashreplace")

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        for row in rows:
            unknown = row.keys() - self._known
            if unknown:  # cannot happen unless an input changed mid-run; never drop data silently
                raise RuntimeError(f"row has columns {sorted(unknown)} that the CSV header lacks")
        self._file.append(self._encode([[_csv_cell(row.get(c)) for c in self.columns] for row in rows]))


class ParquetWriter:
    """Parquet as durable part files, combined into the output file by `finish`."""

    def __init__(self, path: Path, columns: Sequence[str], position: int) -> None:
        self.path = path
        self.columns = list(columns)
        self.parts = parts_dir(path)
        self.parts.mkdir(parents=True, exist_ok=True)
        self._count = position
        keep = {self._part(i).name for i in range(position)}
        for stale in self.parts.iterdir():  # parts past the checkpoint, and half-written ones
            if stale.name not in keep:
                stale.unlink()

    def _part(self, index: int) -> Path:
        return part_path(self.parts, index)

    def write(self, rows: Sequence[dict[str, Any]]) -> None:
        import pyarrow.parquet as pq

        if not rows:
            return
        table = _table(rows, self.columns)
        target = self._part(self._count)
        temporary = target.with_suffix(".tmp")
        pq.write_table(table, temporary)
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        temporary.rename(target)
        fsync_dir(self.parts)
        self._count += 1

    @property
    def position(self) -> int:
        return self._count

    def finish(self) -> None:
        """Combine the parts, one row group each, into the output file; then remove them."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        parts = [self._part(i) for i in range(self._count)]
        schema = _unified_schema([pq.read_schema(p) for p in parts], self.columns)
        temporary = self.path.with_name(self.path.name + ".tmp")
        with pq.ParquetWriter(temporary, schema) as writer:
            for part in parts:
                writer.write_table(_conform(pq.read_table(part), schema))
            if not parts:
                writer.write_table(pa.Table.from_pylist([], schema=schema))
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        temporary.rename(self.path)
        fsync_dir(self.path.parent)

    def close(self) -> None:
        pass

    def remove_parts(self) -> None:
        shutil.rmtree(self.parts, ignore_errors=True)


def _table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> Any:
    import pyarrow as pa

    arrays = []
    for column in columns:
        values = [_finite(row.get(column)) for row in rows]
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # Mixed types in one column (possible in JSONL): keep every value, as its JSON text.
            arrays.append(pa.array([None if v is None else _json_text(v) for v in values], pa.string()))
    return pa.table(arrays, names=list(columns))


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=_json_default)


def _unified_schema(schemas: Sequence[Any], columns: Sequence[str]) -> Any:
    """One schema for all parts: types promoted where Arrow can, JSON text where it cannot."""
    import pyarrow as pa

    fields = []
    for column in columns:
        types = [s.field(column).type for s in schemas if s.get_field_index(column) >= 0]
        kinds = [t for t in types if t != pa.null()]
        if not kinds:
            fields.append(pa.field(column, pa.string() if not types else pa.null()))
            continue
        try:
            merged = pa.unify_schemas(
                [pa.schema([pa.field(column, t)]) for t in kinds], promote_options="permissive"
            )
            fields.append(merged.field(column))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            fields.append(pa.field(column, pa.string()))
    return pa.schema(fields)


def _conform(table: Any, schema: Any) -> Any:
    import pyarrow as pa

    arrays = []
    for target in schema:
        column = table.column(target.name)
        if column.type == target.type:
            arrays.append(column)
            continue
        try:
            arrays.append(column.cast(target.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            values = column.to_pylist()
            arrays.append(pa.array([None if v is None else _json_text(v) for v in values], target.type))
    return pa.table(arrays, schema=schema)


def make_writer(kind: str, path: Path, columns: Sequence[str], position: int) -> Writer:
    if kind == "jsonl":
        return JsonlWriter(path, position)
    if kind == "csv":
        return CsvWriter(path, columns, position)
    return ParquetWriter(path, columns, position)


@dataclass
class Checkpoint:
    """The progress sidecar: what a run is, and how far it durably got."""

    settings: dict[str, Any]
    columns: list[str] = field(default_factory=list)
    rows_done: int = 0
    rows_out: int = 0
    paragraphs_out: int = 0
    errors: int = 0
    label_counts: dict[str, int] = field(default_factory=dict)
    errors_by_reason: dict[str, int] = field(default_factory=dict)
    output_position: int = 0
    errors_position: int = 0
    complete: bool = False

    def save(self, path: Path) -> None:
        """Atomically replace the sidecar: a crash leaves the old or the new one, never half of one."""
        temporary = path.with_name(path.name + ".tmp")
        with open(temporary, "w") as handle:
            json.dump(asdict(self), handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
        fsync_dir(path.parent)

    @classmethod
    def load(cls, path: Path) -> "Checkpoint":
        """The record at `path`; UsageError if it is not one (edited, or cut short by a full disk)."""
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError) as error:
            raise UsageError(
                f"{path} is not a readable progress record ({error}); pass --overwrite to start again"
            ) from None
