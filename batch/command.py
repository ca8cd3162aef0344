"""`stance label IN... -o OUT`: label files of paragraphs or documents, resumably, nothing lost.

Exit codes: 0 every row labeled; 3 some rows went to the errors file; 2 unusable arguments or input;
130 interrupted (finished chunks are kept: run again with --resume).
"""

import argparse
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

from batch.inputs import InputFile, UsageError, count_records, discover, input_columns, jsonl_keys
from batch.outputs import OUTPUT_KINDS, Checkpoint, default_errors_path, part_path, parts_dir, sidecar_path
from batch.pipeline import LabelerLike, Plan, Sink, run_local, summary
from batch.rows import Fields, RowBuilder

EXIT_OK, EXIT_USAGE, EXIT_ROW_ERRORS, EXIT_INTERRUPTED = 0, 2, 3, 130


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive integer")
    return number


def configure(parser: argparse.ArgumentParser) -> None:
    """Add `stance label`'s arguments to its subparser."""
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="IN",
        help="files (.jsonl .csv .parquet .txt) or folders, searched recursively",
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="OUT", help="output file: .jsonl, .csv or .parquet"
    )
    parser.add_argument(
        "--model",
        default=None,
        metavar="DIR",
        help="model directory (default: the shipped model, or $STANCE_MODEL_DIR)",
    )
    parser.add_argument("--backend", default="auto", choices=["auto", "onnx", "torch"])
    parser.add_argument(
        "--text-field", default="text", help="field or column holding the text (default: text)"
    )
    parser.add_argument(
        "--id-field",
        default="id",
        help="field or column holding the id (default: id); rows without one get <file>:<row>",
    )
    parser.add_argument(
        "--documents",
        action="store_true",
        help="each text is a whole document: split it into paragraphs and label each",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="add `explanation` (each sentence's effect on the label, as JSON) and `explanation_capped` "
        "to every row; costs one more model read of a paragraph per sentence",
    )
    again = parser.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue an interrupted run into the same OUT")
    again.add_argument(
        "--overwrite", action="store_true", help="replace OUT (and its errors file) if it exists"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar and no summary")
    parser.add_argument(
        "--chunk-size",
        type=_positive,
        default=512,
        metavar="N",
        help="rows (with --documents: paragraphs) labeled and saved at a time (default: 512)",
    )
    parser.add_argument(
        "--errors",
        default=None,
        metavar="PATH",
        help="where rows that cannot be labeled go (default: OUT.errors.jsonl)",
    )
    parser.add_argument("--engine", default="local", choices=["local", "ray"])
    parser.add_argument(
        "--address",
        default=None,
        help="Ray cluster address ('auto' for a running cluster; default: start a local one)",
    )
    parser.add_argument(
        "--num-actors",
        type=_positive,
        default=None,
        metavar="N",
        help="Ray actors, one model each (default: the cluster's CPUs minus one)",
    )


def run(args: argparse.Namespace, labeler: LabelerLike | None = None) -> int:
    """Run `stance label`; returns the exit code.

    `labeler` replaces the model directory's Labeler in the local engine (tests pass a fast fake).
    """
    try:
        return _run(args, labeler)
    except UsageError as error:
        print(f"stance label: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(
            "\nstance label: interrupted; every finished chunk is saved: run the same command with --resume "
            "to continue",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED


def _settings(
    files: list[InputFile],
    fields: Fields,
    kind: str,
    errors_path: Path,
    name: str,
    version: str,
    explain: bool,
) -> dict[str, Any]:
    """What must not change between a run and its resumption."""
    inputs = []
    for file in files:
        try:
            stat = file.path.stat()
            size, mtime = stat.st_size, stat.st_mtime_ns
        except OSError:
            size, mtime = None, None
        inputs.append({"path": str(file.path.resolve()), "name": file.name, "size": size, "mtime_ns": mtime})
    settings = {
        "inputs": inputs,
        "text_field": fields.text,
        "id_field": fields.id,
        "documents": fields.documents,
        "output_kind": kind,
        "errors": str(errors_path.resolve()),
        "model": {"name": name, "version": version},
    }
    if explain:  # only then, so that runs recorded before --explain existed still resume
        settings["explain"] = True
    if fields.documents:  # the `heading` column: a --documents run recorded before it cannot resume
        settings["headings"] = True
    return settings


def _resume_state(
    args: argparse.Namespace, output: Path, errors_path: Path, settings: dict[str, Any]
) -> Checkpoint | None:
    """The checkpoint to continue from, or None to start afresh (after clearing old files if allowed)."""
    sidecar, parts = sidecar_path(output), parts_dir(output)
    existing = [path for path in (output, errors_path, sidecar, parts) if path.exists()]
    if args.overwrite:
        for path in existing:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        return None
    if not args.resume and sidecar.exists() and not output.exists() and Checkpoint.load(sidecar).complete:
        # What is left of a finished run whose output was deleted: its record and errors file describe an
        # output that is gone, and this run writes both afresh.
        for path in (sidecar, errors_path, parts):
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        return None
    if not args.resume:
        if existing:
            raise UsageError(
                f"{existing[0]} exists: pass --resume to continue an interrupted run, "
                "or --overwrite to start again"
            )
        return None
    if not sidecar.exists():
        if existing:
            raise UsageError(
                f"cannot resume: {existing[0]} exists but there is no progress record ({sidecar}); "
                "pass --overwrite to start again"
            )
        return None  # nothing to resume: a fresh run
    checkpoint = Checkpoint.load(sidecar)
    for key in sorted(settings.keys() | checkpoint.settings.keys()):
        if checkpoint.settings.get(key) != settings.get(key):
            raise UsageError(
                f"cannot resume {output}: {key.replace('_', ' ')} differs from the interrupted run "
                f"(was {checkpoint.settings.get(key)!r}, now {settings.get(key)!r}); pass --overwrite to "
                "start again"
            )
    if not checkpoint.complete:
        _check_written(checkpoint, output, errors_path, settings["output_kind"])
    return checkpoint


def _check_written(checkpoint: Checkpoint, output: Path, errors_path: Path, kind: str) -> None:
    """Refuse to resume onto files shorter than the progress record says (deleted or edited since)."""

    def size(path: Path) -> int:
        return path.stat().st_size if path.exists() else 0

    if kind == "parquet":
        parts = parts_dir(output)
        missing = [i for i in range(checkpoint.output_position) if not part_path(parts, i).exists()]
        damaged = [str(parts)] if missing else []
    else:
        damaged = [str(output)] if size(output) < checkpoint.output_position else []
    if size(errors_path) < checkpoint.errors_position:
        damaged.append(str(errors_path))
    if damaged:
        raise UsageError(
            f"cannot resume: {' and '.join(damaged)} hold less than the progress record says was "
            "written (changed or deleted since?); pass --overwrite to start again"
        )


def _shown(names: Iterable[str], most: int = 8) -> str:
    """Names for a one-line message: escaped (a binary file's "header" is anything), at most `most`."""
    names = list(names)
    shown = [ascii(name)[1:-1][:40] for name in names[:most]]
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return (", ".join(shown) or "none") + more


def _columns(files: list[InputFile], builder: RowBuilder, kind: str) -> list[str]:
    """A CSV or Parquet output's header: the union of input columns (JSONL keys need a pass), then ours."""
    if kind == "jsonl":
        return []
    keys: dict[str, None] = {}
    for file in files:
        names = (
            jsonl_keys(file)
            if file.kind == "jsonl"
            else input_columns(file, builder.fields.text, builder.fields.id)
        )
        keys.update(dict.fromkeys(names or []))
    return builder.output_columns(list(keys))


def _run(args: argparse.Namespace, labeler: LabelerLike | None) -> int:
    from model.directory import Manifest, default_model_dir, read_labels

    output = Path(args.output)
    kind = OUTPUT_KINDS.get(output.suffix.lower())
    if kind is None:
        raise UsageError(
            f"{output}: unknown output extension {output.suffix!r}; use .jsonl, .csv or .parquet"
        )
    if args.engine != "ray" and (args.address or args.num_actors):
        raise UsageError("--address and --num-actors only apply with --engine ray")
    errors_path = Path(args.errors) if args.errors else default_errors_path(output)
    if errors_path.resolve() == output.resolve():
        raise UsageError("the errors file cannot be the output file")
    files = discover(args.inputs, exclude=[output, errors_path, sidecar_path(output), parts_dir(output)])
    fields = Fields(args.text_field, args.id_field, args.documents)

    model_dir = Path(args.model) if args.model else default_model_dir()
    if labeler is not None:
        labels, name, version = tuple(labeler.labels), labeler.name, labeler.version
    elif not (model_dir / "config.json").exists():
        raise UsageError(
            f"no model at {model_dir} (config.json missing): pass --model DIR or set STANCE_MODEL_DIR"
        )
    else:
        # Read without loading weights: the Ray engine loads the model only in its actors.
        labels = read_labels(model_dir)
        manifest = Manifest.load(model_dir)
        name, version = manifest.name, manifest.version
    builder = RowBuilder(fields, labels, name, version, scores_object=kind == "jsonl", explain=args.explain)
    for file in files:
        names = input_columns(file, fields.text, fields.id) if file.kind in ("csv", "parquet") else None
        if names == [] and file.kind == "csv":
            raise UsageError(f"{file.path}: the file is empty (not even a header line)")
        if names is not None and fields.text not in names:
            raise UsageError(
                f"{file.path}: no {fields.text!r} column (columns: {_shown(names)}); "
                "name the text column with --text-field"
            )

    counts = [count_records(file, fields.documents) for file in files]
    if not any(counts):
        inputs = _shown(str(file.path) for file in files)
        raise UsageError(f"no rows to label in {inputs}: the input is empty")
    if args.engine == "local" and labeler is None:
        from model.labeler import Labeler

        # Loaded before any output file exists, so a bad model leaves nothing behind to clean up.
        labeler = cast(LabelerLike, Labeler(model_dir, backend=args.backend))
    settings = _settings(files, fields, kind, errors_path, name, version, args.explain)
    checkpoint = _resume_state(args, output, errors_path, settings)
    plan = Plan(
        files,
        counts,
        output,
        kind,
        errors_path,
        fields,
        args.chunk_size,
        progress=not args.quiet and sys.stderr.isatty(),
    )
    model = f"{name} {version}"
    if checkpoint is None:
        output.parent.mkdir(parents=True, exist_ok=True)
        checkpoint = Checkpoint(settings, _columns(files, builder, kind))
        checkpoint.save(plan.sidecar)
    elif checkpoint.complete:
        shutil.rmtree(parts_dir(output), ignore_errors=True)
        if not args.quiet:
            print(f"stance label: {output} is already complete", file=sys.stderr)
            print(summary(plan, checkpoint, labels, model), file=sys.stderr)
        return EXIT_ROW_ERRORS if checkpoint.errors else EXIT_OK

    sink = Sink(plan, checkpoint, builder)
    try:
        if args.engine == "local":
            assert labeler is not None
            run_local(plan, labeler, sink)
            model += f" ({getattr(labeler, 'backend', '?')})"
        else:
            try:
                from batch.ray_engine import run_ray
            except ImportError as error:
                raise UsageError(f"--engine ray needs Ray: pip install 'ray[data]' ({error})") from error
            run_ray(plan, sink, model_dir, args.backend, args.address, args.num_actors)
        sink.finish()
    finally:
        sink.close()
    state = sink.checkpoint
    if not args.quiet:
        print(
            summary(plan, state, labels, model, sink.session_rows, sink.session_paragraphs, sink.seconds),
            file=sys.stderr,
        )
    elif state.errors:
        print(f"stance label: {state.errors:,} rows could not be labeled: see {errors_path}", file=sys.stderr)
    return EXIT_ROW_ERRORS if state.errors else EXIT_OK
