"""Input files: discovery, streaming readers and a cheap pre-count.

Every reader yields one `Record` per input row, in file order, and never holds more than one row
(plus the reader's own buffer) in memory. A row that cannot be read becomes a `Record` carrying an
error instead of disappearing, so the caller can route it to the errors file.

Row numbers are 1-based: the line a row starts on for .jsonl, .txt and .csv (the CSV header is
line 1), the row index for .parquet. Blank lines are not rows.
"""

import csv
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMATS: dict[str, str] = {".jsonl": "jsonl", ".csv": "csv", ".parquet": "parquet", ".txt": "txt"}
EXCERPT = 200  # characters of a bad line kept in the errors file: enough to find it, not a copy of it
# What to do about it: a file that is not UTF-8 is most often Latin-1 or Windows-1252.
RECODE = "if the file is Latin-1 or Windows-1252, convert it first: iconv -f cp1252 -t utf-8 IN > OUT"

# Documents and long paragraphs may exceed the csv module's 128 KiB default field limit.
csv.field_size_limit(sys.maxsize)


class UsageError(Exception):
    """Unusable arguments or input: `stance label` exits with code 2."""


@dataclass(frozen=True)
class InputFile:
    """One input file and the stable name used for it in generated ids and the errors file."""

    path: Path
    name: str
    kind: str


@dataclass
class Record:
    """One input row: its values, or why it could not be read (`error` is a reason code)."""

    source: str
    row: int | None
    values: dict[str, Any] | None = None
    error: str | None = None
    detail: str = ""
    excerpt: str | None = None
    default_id: str = field(default="")

    def __post_init__(self) -> None:
        if not self.default_id:
            self.default_id = f"{self.source}:{self.row}"


def file_kind(path: Path) -> str | None:
    return FORMATS.get(path.suffix.lower())


def discover(paths: Sequence[str | Path], exclude: Sequence[Path] = ()) -> list[InputFile]:
    """Expand files and folders (recursively, sorted) into input files; raise UsageError if unusable.

    A file named on the command line is called by its file name; a file found in a folder by its path
    relative to that folder. `exclude` keeps this run's own output files out of a folder scan.
    """
    excluded = {p.resolve() for p in exclude}
    files: list[InputFile] = []
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                (p for p in path.rglob("*") if p.is_file() and file_kind(p) and not _inside(p, excluded)),
                key=lambda p: p.relative_to(path).as_posix(),
            )
            if not found:
                raise UsageError(f"{raw}: the folder holds no {', '.join(FORMATS)} files")
            candidates = [(p, p.relative_to(path).as_posix()) for p in found]
        elif path.exists():
            if not file_kind(path):
                raise UsageError(
                    f"{raw}: unknown extension {path.suffix!r}; expected one of {', '.join(FORMATS)}"
                )
            if _inside(path, excluded):
                raise UsageError(f"{raw} is this run's own output; it cannot also be an input")
            candidates = [(path, path.name)]
        else:
            raise UsageError(f"{raw}: no such file or folder")
        for candidate, name in candidates:
            resolved = candidate.resolve()
            if resolved not in seen:
                seen.add(resolved)
                files.append(InputFile(candidate, name, file_kind(candidate) or ""))
    return files


def _inside(path: Path, excluded: set[Path]) -> bool:
    resolved = path.resolve()
    return resolved in excluded or any(parent in excluded for parent in resolved.parents)


def read_records(
    file: InputFile, text_field: str, id_field: str, documents: bool = False
) -> Iterator[Record]:
    """Stream the rows of one file as Records. An unreadable file (or rest of one) is one error Record."""
    reader = {"jsonl": _read_jsonl, "csv": _read_csv, "parquet": _read_parquet, "txt": _read_txt}[file.kind]
    last_row = 0
    try:
        for record in reader(file, text_field, documents):
            last_row = record.row or last_row
            yield record
    except (OSError, ValueError, csv.Error) as error:  # pyarrow's errors subclass these too
        where = f"from row {last_row + 1} on " if last_row else ""
        yield Record(
            file.name,
            last_row + 1 if last_row else None,
            error="unreadable_file",
            detail=f"the file {where}could not be read: {error}",
        )


def _decode(raw: bytes, source: str, row: int) -> str | Record:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        text = raw.decode("utf-8", errors="replace")
        detail = f"not UTF-8 ({error}); {RECODE}"
        return Record(source, row, error="undecodable", detail=detail, excerpt=text[:EXCERPT])


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines with their 1-based line numbers, BOM and line ending removed."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if raw.strip():
                yield number, raw.rstrip(b"\r\n")


def _read_jsonl(file: InputFile, text_field: str, documents: bool) -> Iterator[Record]:
    for number, raw in _lines(file.path):
        line = _decode(raw, file.name, number)
        if isinstance(line, Record):
            yield line
            continue
        try:
            value = json.loads(line)
        except (ValueError, RecursionError) as error:  # JSONDecodeError, or nesting too deep
            yield Record(file.name, number, error="invalid_json", detail=str(error), excerpt=line[:EXCERPT])
            continue
        if not isinstance(value, dict):
            yield Record(
                file.name,
                number,
                error="not_an_object",
                detail=f"a JSON {type(value).__name__}, not an object",
                excerpt=line[:EXCERPT],
            )
            continue
        yield Record(file.name, number, values=value)


def _read_txt(file: InputFile, text_field: str, documents: bool) -> Iterator[Record]:
    if documents:
        # The whole file is one document; its id is the file name.
        content = _decode(file.path.read_bytes(), file.name, 1)
        if isinstance(content, Record):
            content.excerpt = None
            yield content
        else:
            yield Record(file.name, 1, values={text_field: content}, default_id=file.name)
        return
    for number, raw in _lines(file.path):
        line = _decode(raw, file.name, number)
        yield (
            line if isinstance(line, Record) else Record(file.name, number, values={text_field: line.strip()})
        )


def _read_csv(file: InputFile, text_field: str, documents: bool) -> Iterator[Record]:
    # surrogateescape keeps undecodable bytes as lone surrogates, so one bad row is an error, not the file.
    with file.path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return
        previous = reader.line_num
        for fields in reader:
            number, previous = previous + 1, reader.line_num
            if not fields:
                continue
            if len(fields) != len(header):
                yield Record(
                    file.name,
                    number,
                    error="malformed_csv_row",
                    detail=f"{len(fields)} fields where the header has {len(header)}",
                    excerpt=",".join(fields)[:EXCERPT].encode("utf-8", "replace").decode(),
                )
                continue
            try:
                "\x1f".join(fields).encode("utf-8")
            except UnicodeEncodeError:
                excerpt = ",".join(fields).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                detail = f"not UTF-8; {RECODE}"
                yield Record(file.name, number, error="undecodable", detail=detail, excerpt=excerpt[:EXCERPT])
                continue
            yield Record(file.name, number, values=dict(zip(header, fields, strict=True)))


def _read_parquet(file: InputFile, text_field: str, documents: bool) -> Iterator[Record]:
    import pyarrow.parquet as pq

    number = 0
    with pq.ParquetFile(file.path) as parquet:
        # Small batches: a row group may be far larger than memory should hold at once.
        for batch in parquet.iter_batches(batch_size=256):
            for values in batch.to_pylist():
                number += 1
                yield Record(file.name, number, values=values)


def count_records(file: InputFile, documents: bool = False) -> int:
    """How many Records `read_records` will yield for this file, without parsing rows where possible."""
    try:
        if file.kind == "txt" and documents:
            return 1
        if file.kind in ("jsonl", "txt"):
            return sum(1 for _ in _lines(file.path))
        if file.kind == "parquet":
            import pyarrow.parquet as pq

            with pq.ParquetFile(file.path) as parquet:
                return int(parquet.metadata.num_rows)
    except (OSError, ValueError):
        return 1  # the reader yields one `unreadable_file` record for it
    return sum(1 for _ in read_records(file, "", "", documents))


def input_columns(file: InputFile, text_field: str, id_field: str) -> list[str] | None:
    """Column names of a CSV header or Parquet schema ([id, text] for .txt); None for .jsonl or unreadable."""
    try:
        if file.kind == "txt":
            return [id_field, text_field]
        if file.kind == "csv":
            with file.path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
                return next(csv.reader(handle), [])
        if file.kind == "parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(file.path).names)
    except (OSError, ValueError, csv.Error):
        return None
    return None


def jsonl_keys(file: InputFile) -> list[str]:
    """Union of the keys of a JSONL file's objects, in first-seen order (bad lines are skipped here)."""
    keys: dict[str, None] = {}
    try:
        for _, raw in _lines(file.path):
            try:
                value = json.loads(raw)
            except (ValueError, RecursionError):
                continue
            if isinstance(value, dict):
                keys.update(dict.fromkeys(value))
    except OSError:
        pass
    return list(keys)
