"""`stance summarize OUT [--by COLUMN ...]`: label shares of a labeled file, corrected for the model's errors.

Reads `stance label` output (.jsonl, .csv or .parquet) and writes, for the whole file (group `all`) and
for each value of each `--by` column, every label's count share, mean calibrated probability and
corrected share with a 95% interval (`model.quantify`), as a CSV and a PNG. The error rates come from
the model directory's `cv_predictions.json`; without it the shares are raw counts, and it says so.
With hand labels of some rows (`--truth COLUMN` of OUT, or `--hand-labels` of a sheet that `--draw N`
drew at random) it also prints how far every method is from the true shares of those rows: the rates
come from presidential addresses, and other writing may not share them. `--method ppi` corrects with
those hand labels instead of the rates.

Exit codes: 0 done; 2 unusable arguments or input.
"""

import argparse
import csv
import glob
import json
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from batch.inputs import UsageError
from model.directory import read_json
from model.labels import LABELS
from model.prediction_powered import prediction_powered
from model.quantify import (
    CV_PREDICTIONS,
    DEFAULT_METHOD,
    METHOD_NAMES,
    METHODS,
    REPLICATES,
    STRATA,
    Corrector,
    Estimate,
    Method,
    Sample,
    comparison_replicates,
    raw_estimate,
    stratum,
)

EXIT_OK, EXIT_USAGE = 0, 2
CSV_COLUMNS = ("group", "label", "n", "count_share", "mean_probability", "corrected_share", "low", "high")
DOCUMENT_COLUMN = "document_id"  # what `stance label --documents` names each paragraph's document
TEXT_COLUMN = "text"  # the paragraph, kept from the input: its vocabulary stratum picks its error rates
MISSING = "(missing)"
# `--draw` writes a sheet of rows to hand-label, and `--hand-labels` reads it back by id.
SHEET_SUFFIX, HAND_LABEL, ID_COLUMN = ".to_label.csv", "hand_label", "id"
# The team's labeled rows behind the shipped model's CV predictions; their `confidence` is sure or lean.
ANNOTATIONS = ("data/sotu_train/*.jsonl", "data/sotu_random/*.jsonl")
# Okabe-Ito colours, and a marker per label: told apart in greyscale print and by colour-blind readers.
STYLES = [("#D55E00", "s"), ("#0072B2", "o"), ("#000000", "^"), ("#009E73", "D"), ("#CC79A7", "v")]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add `stance summarize`'s arguments to its subparser."""
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "output", nargs="?", metavar="OUT", help="`stance label` output: .jsonl, .csv or .parquet"
    )
    parser.add_argument(
        "--by",
        nargs="+",
        action="extend",
        default=[],
        metavar="COLUMN",
        help="also summarise each value of these columns (any column of the labeled input)",
    )
    parser.add_argument(
        "--model",
        default=None,
        metavar="DIR",
        help="the model directory that labeled OUT, for its error rates (default: the shipped model)",
    )
    parser.add_argument("--csv", default=None, metavar="PATH", help="default: OUT.summary.csv")
    parser.add_argument("--plot", default=None, metavar="PATH", help="default: OUT.summary.png")
    parser.add_argument(
        "--document-column",
        default=None,
        metavar="COLUMN",
        help=f"the column naming each row's document, the bootstrap's unit (default: {DOCUMENT_COLUMN} "
        "when OUT has it; else each paragraph is a unit)",
    )
    parser.add_argument(
        "--method",
        default=DEFAULT_METHOD,
        choices=(*METHODS, "ppi"),
        help=f"correction (default: {DEFAULT_METHOD}); ppi needs --truth or --hand-labels: hand labels of a "
        "random sample of the rows, instead of the model's error rates on State of the Union paragraphs",
    )
    parser.add_argument("--replicates", type=int, default=REPLICATES, help="bootstrap replicates")
    parser.add_argument(
        "--truth",
        default=None,
        metavar="COLUMN",
        help="a column of hand labels (of some or all rows): also print how far each method's shares "
        "of those rows are from their true shares, to check the correction on your own kind of text",
    )
    parser.add_argument(
        "--draw",
        type=int,
        default=None,
        metavar="N",
        help=f"instead of summarising: write a random N of OUT's rows, in random order, to OUT{SHEET_SUFFIX} "
        f"with an empty `{HAND_LABEL}` column to fill in (label from the top and stop anywhere: any top "
        "part is a random sample too), for --hand-labels",
    )
    parser.add_argument("--seed", type=int, default=0, help="with --draw: the random draw's seed")
    parser.add_argument(
        "--hand-labels",
        default=None,
        metavar="PATH",
        help=f"like --truth, with the hand labels in the `{HAND_LABEL}` column of a file (a filled-in --draw "
        "sheet), joined to OUT by `id`",
    )
    parser.add_argument(
        "--compare-methods",
        action="store_true",
        help="instead: measure how well each method recovers known shares of held-out CV folds",
    )
    parser.add_argument(
        "--annotations",
        nargs="+",
        default=list(ANNOTATIONS),
        metavar="GLOB",
        help="with --compare-methods: the labeled rows behind the CV predictions, for how sure the team "
        "was of each label (`confidence`); they add the clarity-shift cases (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        if args.compare_methods:
            return _compare(args)
        return _draw(args) if args.draw is not None else _summarize(args)
    except UsageError as error:
        print(f"stance summarize: {error}", file=sys.stderr)
        return EXIT_USAGE


def _corrector(model_dir: Path, labeled: "Labeled", method: Method, replicates: int) -> Corrector | None:
    """The model's rates for `method`: one pooled set when the file has no text, whose strata are unknown."""
    from model.quantify import load_corrector

    try:
        corrector = load_corrector(model_dir, labeled.labels, method, replicates)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if corrector is not None and corrector.n_strata > 1 and labeled.strata is None:
        return corrector.pooled()
    return corrector


def _compare(args: argparse.Namespace) -> int:
    from model.directory import default_model_dir, read_temperature
    from model.quantify import compare_methods, comparison_markdown, load_cv_predictions

    model_dir = Path(args.model) if args.model else default_model_dir()
    try:
        cv = load_cv_predictions(model_dir, read_temperature(model_dir))
    except ValueError as error:
        raise UsageError(str(error)) from None
    if cv is None:
        raise UsageError(f"{model_dir} has no cv_predictions.json: nothing to compare the methods on")
    sure = annotator_sure(model_dir, args.annotations)
    if sure is None:
        print(
            f"no `confidence` for every CV row in {' '.join(args.annotations)}: "
            "the clarity-shift cases are left out",
            file=sys.stderr,
        )
    print(comparison_markdown(compare_methods(cv, METHODS, args.replicates, sure=sure)))
    return EXIT_OK


def annotator_sure(model_dir: Path, patterns: Sequence[str]) -> np.ndarray | None:
    """Per CV row of the model directory: whether the team marked its label `sure` (not `lean`), read
    from the labeled rows by id; None unless every row is found with a confidence."""
    ids = (read_json(model_dir / CV_PREDICTIONS) or {}).get("ids", [])
    confidence: dict[str, Any] = {}
    for path in sorted({Path(path) for pattern in patterns for path in glob.glob(pattern)}):
        rows = _read_columns(path, [ID_COLUMN, "confidence"])
        if ID_COLUMN in rows and "confidence" in rows:
            confidence |= dict(zip(rows[ID_COLUMN], rows["confidence"], strict=True))
    if not ids or any(confidence.get(i) not in ("sure", "lean") for i in ids):
        return None
    return np.array([confidence[i] == "sure" for i in ids])


@dataclass(frozen=True)
class Labeled:
    """What summarising needs of a labeled file."""

    labels: tuple[str, ...]
    probs: np.ndarray  # (n, k) calibrated probabilities
    ruled: np.ndarray  # (n,) labeled by rule (headings), not by the model
    units: np.ndarray | None  # (n,) each row's document, or None: each row is its own unit
    strata: np.ndarray | None  # (n,) each row's vocabulary stratum, or None without a text column
    unit_column: str | None
    groups: dict[str, np.ndarray]  # --by column -> (n,) values as text
    model: str  # "name version" from the rows
    truth: np.ndarray | None = None  # (n,) index of each row's hand label, -1 where it has none


def _read_columns(path: Path, wanted: Sequence[str]) -> dict[str, list[Any]]:
    """The `wanted` columns of a .jsonl, .csv or .parquet file that has them (others are skipped)."""
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    try:
        return _columns(path, wanted)
    except (OSError, ValueError) as error:
        raise UsageError(f"{path} could not be read: {error}") from None


def _columns(path: Path, wanted: Sequence[str]) -> dict[str, list[Any]]:
    kind = path.suffix.lower()
    if kind == ".jsonl":
        rows = []
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    row = json.loads(line)
                    rows.append({name: row[name] for name in wanted if name in row})
        present = [name for name in wanted if any(name in row for row in rows)]
        return {name: [row.get(name) for row in rows] for name in present}
    if kind == ".csv":
        import pandas as pd

        with path.open(encoding="utf-8-sig", newline="") as handle:
            present = [name for name in next(csv.reader(handle), []) if name in wanted]
        frame = pd.read_csv(path, usecols=present, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        return {name: frame[name].tolist() for name in present}
    if kind == ".parquet":
        import pyarrow.parquet as pq

        present = [name for name in pq.read_schema(path).names if name in wanted]
        return pq.read_table(path, columns=present).to_pydict()
    raise UsageError(f"{path}: unknown extension {path.suffix!r}; expected .jsonl, .csv or .parquet")


def _truthy(value: Any) -> bool:
    # CSV output writes booleans as true/false.
    return value is True or (isinstance(value, str) and value.lower() == "true")


def read_labeled(
    path: Path,
    labels: Sequence[str],
    by: Sequence[str],
    document_column: str | None,
    truth_column: str | None = None,
    hand_labels: Path | None = None,
) -> Labeled:
    """Read the columns of `stance label` output that summarising needs; UsageError if it lacks them.

    Hand labels come from OUT's `truth_column`, or from the `hand_label` column of the file
    `hand_labels`, joined by id."""
    score_columns = [f"score_{label}" for label in labels]
    unit_column = document_column or DOCUMENT_COLUMN
    wanted = [*score_columns, "heading", unit_column, "model_name", "model_version", TEXT_COLUMN, *by]
    wanted += [truth_column] if truth_column else []
    wanted += [ID_COLUMN] if hand_labels else []
    columns = _read_columns(path, wanted)
    required = [*score_columns, *by, *([truth_column] if truth_column else [])]
    required += [ID_COLUMN] if hand_labels else []
    missing = [name for name in required if name not in columns]
    if document_column and document_column not in columns:
        missing.append(document_column)
    if missing:
        raise UsageError(
            f"{path} has no {', '.join(repr(m) for m in missing)} column: is it `stance label` output "
            f"(and were those columns in its input)?"
        )
    try:
        probs = np.column_stack([np.asarray(columns[name], dtype=np.float64) for name in score_columns])
    except (TypeError, ValueError) as error:
        raise UsageError(f"{path}: a score column holds something that is not a number ({error})") from None
    if len(probs) == 0:
        raise UsageError(f"{path} holds no labeled rows")
    if not np.isfinite(probs).all():
        raise UsageError(f"{path}: some rows have no score; only `stance label` output can be summarised")
    n = len(probs)
    ruled = np.asarray([_truthy(v) for v in columns.get("heading", [False] * n)], dtype=bool)
    has_units = unit_column in columns
    units = np.asarray([str(v) for v in columns[unit_column]]) if has_units else None
    texts = columns.get(TEXT_COLUMN)
    strata = None if texts is None else np.asarray([stratum(str(text or "")) for text in texts])
    groups = {
        column: np.asarray([MISSING if v is None or v == "" else str(v) for v in columns[column]])
        for column in by
    }
    truth = None if truth_column is None else _truth(path, columns[truth_column], labels, truth_column)
    if hand_labels is not None:
        truth = _truth(hand_labels, _joined(path, columns[ID_COLUMN], hand_labels), labels, HAND_LABEL)
    names = {
        f"{a} {b}"
        for a, b in zip(columns.get("model_name", []), columns.get("model_version", []), strict=False)
    }
    return Labeled(
        tuple(labels),
        probs,
        ruled,
        units,
        strata,
        unit_column if has_units else None,
        groups,
        ", ".join(sorted(names)),
        truth,
    )


def _truth(path: Path, values: Sequence[Any], labels: Sequence[str], column: str) -> np.ndarray:
    """Hand labels as indices into `labels`, -1 for rows without one; UsageError for anything else."""
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted({str(v) for v in values if v not in (None, "") and v not in index})
    if unknown:
        raise UsageError(
            f"{path}: column {column!r} holds {', '.join(repr(u) for u in unknown[:5])}, not labels; "
            f"expected {', '.join(labels)} (or empty where a row has no hand label)"
        )
    truth = np.asarray([index.get(v, -1) if v not in (None, "") else -1 for v in values], dtype=np.int64)
    if (truth < 0).all():
        raise UsageError(f"{path}: column {column!r} has no hand label on any row")
    return truth


def _joined(path: Path, ids: Sequence[Any], hand_labels: Path) -> list[Any]:
    """The `hand_label` of each of OUT's rows from the file `hand_labels` (None where it has none)."""
    sheet = _read_columns(hand_labels, [ID_COLUMN, HAND_LABEL])
    missing = [name for name in (ID_COLUMN, HAND_LABEL) if name not in sheet]
    if missing:
        raise UsageError(f"{hand_labels} has no {' or '.join(repr(m) for m in missing)} column")
    keys = _unique_ids(path, ids)
    given = {str(i): label for i, label in zip(sheet[ID_COLUMN], sheet[HAND_LABEL], strict=True)}
    unknown = sorted(set(given) - set(keys))
    if unknown:
        raise UsageError(
            f"{hand_labels}: {len(unknown)} id(s) are not rows of {path} ({', '.join(unknown[:3])}): "
            "was the sheet drawn from another file?"
        )
    return [given.get(key) for key in keys]


def _unique_ids(path: Path, ids: Sequence[Any]) -> list[str]:
    """OUT's ids as text; UsageError if any repeats, since hand labels are joined to rows by id."""
    keys = [str(i) for i in ids]
    if len(set(keys)) < len(keys):
        raise UsageError(f"{path}: ids repeat, so hand labels cannot be joined to its rows by id")
    return keys


@dataclass(frozen=True)
class Group:
    name: str
    column: str | None  # None for `all`
    value: str
    estimate: Estimate
    units: int


def summarize(
    labeled: Labeled, corrector: Corrector | None, prediction_powered_replicates: int = 0
) -> list[Group]:
    """The estimate for the whole file, then for each value of each --by column (in order of appearance).

    With `prediction_powered_replicates`, shares are corrected by the hand labels (`--method ppi`)."""
    selections: list[tuple[str | None, str, np.ndarray]] = [(None, "all", np.ones(len(labeled.probs), bool))]
    for by, values in labeled.groups.items():
        selections += [(by, value, values == value) for value in dict.fromkeys(values.tolist())]
    results = []
    for column, value, mask in selections:
        units = labeled.units[mask] if labeled.units is not None else None
        strata = labeled.strata[mask] if labeled.strata is not None else None
        sample = Sample.of(labeled.probs[mask], units, labeled.ruled[mask], strata)
        if prediction_powered_replicates:
            estimate = _prediction_powered(labeled, mask, units, sample, prediction_powered_replicates)
        else:
            estimate = corrector.estimate(sample) if corrector else raw_estimate(sample)
        name = "all" if column is None else f"{column}={value}"
        results.append(Group(name, column, value, estimate, sample.units))
    return results


def _prediction_powered(
    labeled: Labeled, mask: np.ndarray, units: np.ndarray | None, sample: Sample, replicates: int
) -> Estimate:
    """`--method ppi` for one group: uncorrected when the group has no hand-labeled row."""
    assert labeled.truth is not None
    raw = raw_estimate(sample)
    result = prediction_powered(labeled.probs[mask], labeled.truth[mask], units, replicates)
    if result is None:
        return raw
    point, low, high = result
    return Estimate(raw.n, raw.count_share, raw.mean_probability, "ppi", point, low, high)


def _fraction(value: float | None) -> str:
    return "" if value is None or not np.isfinite(value) else f"{value:.4f}"


def write_csv(path: Path, groups: Sequence[Group], labels: Sequence[str]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for group in groups:
            e = group.estimate
            for i, label in enumerate(labels):
                corrected = [None if a is None else float(a[i]) for a in (e.corrected, e.low, e.high)]
                writer.writerow(
                    [group.name, label, e.n, _fraction(e.count_share[i]), _fraction(e.mean_probability[i])]
                    + [_fraction(v) for v in corrected]
                )


def note(
    corrector: Corrector | None,
    model_dir: Path,
    labeled: Labeled,
    method: str = DEFAULT_METHOD,
    replicates: int = REPLICATES,
) -> str:
    """What the corrected shares rest on, or that there are none."""
    unit = (
        f"documents (`{labeled.unit_column}`)"
        if labeled.unit_column
        else "paragraphs (no document column: pass --document-column if rows share documents, or the "
        "interval is too narrow)"
    )
    if method == "ppi" and labeled.truth is not None:
        return (
            f"corrected share: {METHOD_NAMES[method]}: the mean calibrated probability over every row plus "
            f"the mean of (hand label - probability) over the {int((labeled.truth >= 0).sum()):,} rows "
            "hand-labeled, which must be a random sample of the rows (of each group; --draw draws one); "
            f"95% interval from {replicates:,} bootstrap replicates over {unit}. No error rates from the "
            "model directory are used; a group without a hand-labeled row is not corrected."
        )
    if corrector is None:
        return (
            f"NO CORRECTION: {model_dir} has no cv_predictions.json (the model's cross-validated error "
            "rates), so only raw count shares are given; corrected_share, low and high are empty."
        )
    sampled = (
        f" and {corrector.n_sampled:,} predictions on a weighted random sample of unlabeled paragraphs"
        if corrector.n_sampled
        else ""
    )
    if corrector.n_strata > 1:
        by = f", measured separately for paragraphs with {', '.join(STRATA)}"
    elif corrector.stratified_file:
        by = (
            f" (one set for all paragraphs: the file has no `{TEXT_COLUMN}` column, so the paragraphs' "
            "vocabulary strata are unknown; keep the text for rates by stratum)"
        )
    else:
        by = ""
    return (
        f"corrected share: {METHOD_NAMES[corrector.method]} with error rates from {corrector.n_rows:,} "
        f"cross-validated predictions ({corrector.system or 'unnamed system'}, {corrector.n_groups} "
        f"addresses' years){sampled}{by}; 95% interval from {corrector.replicates:,} bootstrap replicates "
        f"over {unit} and over those predictions' years"
        + (
            ", with the drift of each group's documents' own error rates, year by year and era by era."
            if labeled.unit_column
            else "."
        )
        + " These rates are measured on State of the Union paragraphs and may not hold for other writing"
        " (on op-eds they did not: docs/batch.md); draw a random sample of yours with --draw N, hand-label"
        " it, and pass --hand-labels to check, or --method ppi --hand-labels to correct with your labels"
        " instead."
    )


def table(groups: Sequence[Group], labels: Sequence[str]) -> str:
    """The printed summary: a block of rows per group."""
    name_width = min(40, max(len(group.name) for group in groups))
    width = max(len(label) for label in labels)
    lines = [
        f"{'group':<{name_width}}  {'label':<{width}}  {'n':>7}  count  mean p  corrected [95% interval]"
    ]
    for group in groups:
        e = group.estimate
        for i, label in enumerate(labels):
            corrected = (
                f"{e.corrected[i]:6.1%}  [{e.low[i]:5.1%}, {e.high[i]:5.1%}]"
                if e.corrected is not None and e.low is not None and e.high is not None
                else "     -"
            )
            name, n = (group.name[:name_width], f"{e.n:,}") if i == 0 else ("", "")
            lines.append(
                f"{name:<{name_width}}  {label:<{width}}  {n:>7}  {e.count_share[i]:5.1%}  "
                f"{e.mean_probability[i]:6.1%}  {corrected}"
            )
    return "\n".join(lines)


@dataclass(frozen=True)
class Check:
    """Each method's shares of the hand-labeled rows against their true shares."""

    source: str  # where the hand labels are: "in `COLUMN`", or in a file's column
    rows: int
    truth: np.ndarray  # (k,) true shares
    estimates: dict[str, Estimate]  # method -> estimate of the same rows


def check_against_truth(labeled: Labeled, correctors: dict[str, Corrector], source: str) -> Check:
    """Estimate the hand-labeled rows' shares by every method and measure them against the hand labels.

    The error rates come from presidential addresses; on other writing they may not hold (docs/batch.md
    measures op-eds), and a hand-labeled sample of the user's own text is the only way to know.
    """
    assert labeled.truth is not None
    rows = labeled.truth >= 0
    units = labeled.units[rows] if labeled.units is not None else None
    strata = labeled.strata[rows] if labeled.strata is not None else None
    sample = Sample.of(labeled.probs[rows], units, labeled.ruled[rows], strata)
    truth = np.bincount(labeled.truth[rows], minlength=len(labeled.labels)) / rows.sum()
    estimates = {method: corrector.estimate(sample) for method, corrector in correctors.items()}
    if not estimates:  # no error rates: counting is all there is to check
        estimates = {"cc": raw_estimate(sample)}
    return Check(source, int(rows.sum()), truth, estimates)


def check_table(check: Check, labels: Sequence[str]) -> str:
    """The check as a markdown table: each method's shares, their errors in points, and interval coverage."""
    header = [f"`{label}`" for label in labels]
    lines = [
        f"check against the hand labels {check.source} ({check.rows:,} rows): each method's shares "
        "of those rows, (its error in points), and whether its 95% interval covers the true share",
        "",
        f"| method | {' | '.join(header)} | mean error, points | intervals cover |",
        "|---|" + "---|" * (len(labels) + 2),
        f"| true share | {' | '.join(f'{t:.1%}' for t in check.truth)} | | |",
    ]
    first = next(iter(check.estimates.values()))
    mean = 100 * (first.mean_probability - check.truth)
    cells = [f"{p:.1%} ({d:+.1f})" for p, d in zip(first.mean_probability, mean, strict=True)]
    lines.append(f"| mean calibrated probability | {' | '.join(cells)} | {np.abs(mean).mean():.1f} | |")
    for method, e in check.estimates.items():
        point = e.corrected if e.corrected is not None else e.count_share
        errors = 100 * (point - check.truth)
        cells = [f"{p:.1%} ({d:+.1f})" for p, d in zip(point, errors, strict=True)]
        covers = (
            f"{int(((e.low <= check.truth) & (check.truth <= e.high)).sum())} of {len(labels)}"
            if e.low is not None and e.high is not None
            else ""
        )
        lines.append(
            f"| {METHOD_NAMES[method]} | {' | '.join(cells)} | {np.abs(errors).mean():.1f} | {covers} |"
        )
    return "\n".join(lines)


def plot(path: Path, groups: Sequence[Group], labels: Sequence[str], title_note: str, model: str) -> None:
    """Shares with interval bars, one panel per grouping; hollow markers are the raw count shares."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels: dict[str | None, list[Group]] = {}
    for group in groups:
        panels.setdefault(group.column, []).append(group)
    if len(panels) > 1:
        del panels[None]  # `all` is in the CSV and the printout; the panels compare groups
    widest = max(len(p) for p in panels.values())
    figure, axes = plt.subplots(
        len(panels),
        1,
        figsize=(max(6.0, 0.55 * widest * len(labels) / 2 + 2.5), 3.6 * len(panels) + 0.8),
        squeeze=False,
    )
    offsets = np.linspace(-0.25, 0.25, len(labels))
    for axis, (column, members) in zip(axes[:, 0], panels.items(), strict=True):
        x = np.arange(len(members))
        for i, label in enumerate(labels):
            colour, marker = STYLES[i % len(STYLES)]
            raw = [g.estimate.count_share[i] for g in members]
            axis.scatter(
                x + offsets[i], raw, marker=marker, facecolors="none", edgecolors=colour, s=28, zorder=2
            )
            # Groups without a correction (no rates, or no hand label under `--method ppi`) show counts only.
            shown = [j for j, g in enumerate(members) if g.estimate.corrected is not None]
            if shown:
                point = np.array([members[j].estimate.corrected[i] for j in shown])  # type: ignore[index]
                low = np.array([members[j].estimate.low[i] for j in shown])  # type: ignore[index]
                high = np.array([members[j].estimate.high[i] for j in shown])  # type: ignore[index]
                axis.errorbar(
                    x[shown] + offsets[i],
                    point,
                    yerr=[point - low, high - point],
                    fmt=marker,
                    color=colour,
                    markersize=6,
                    capsize=3,
                    linewidth=1.2,
                    label=label.replace("_", " "),
                    zorder=3,
                )
            else:
                axis.scatter([], [], marker=marker, color=colour, label=label.replace("_", " "))
        axis.set_xticks(x, [f"{g.value}\nn={g.estimate.n:,}" for g in members], fontsize=8)
        if len(members) > 8:
            axis.tick_params(axis="x", labelrotation=90)
        axis.set_ylim(0, 1)
        axis.set_ylabel("share of paragraphs")
        axis.grid(axis="y", color="#dddddd", linewidth=0.6)
        axis.set_axisbelow(True)
        axis.set_title(f"by {column}" if column else "whole file", fontsize=10, loc="left")
    axes[0, 0].legend(
        loc="lower left", bbox_to_anchor=(0, 1.08), ncol=len(labels) + 1, fontsize=8, frameon=False
    )
    # Wrapped to the figure's width (about 13 characters an inch at this size): a narrow plot cut it off.
    wrapped = textwrap.fill(title_note, max(40, int(13 * figure.get_figwidth())))
    figure.suptitle(wrapped, fontsize=9, x=0.01, ha="left")
    figure.text(0.99, 0.005, f"model: {model}; hollow markers: raw count shares", ha="right", fontsize=7)
    figure.tight_layout(rect=(0, 0.02, 1, 0.97))
    figure.savefig(path, dpi=130)
    plt.close(figure)


def _summarize(args: argparse.Namespace) -> int:
    from model.directory import Manifest, default_model_dir, read_labels

    if not args.output:
        raise UsageError("name the labeled file to summarise (OUT), or pass --compare-methods")
    if args.replicates < 10:
        raise UsageError("--replicates must be at least 10")
    path = Path(args.output)
    model_dir = Path(args.model) if args.model else default_model_dir()
    if not (model_dir / "config.json").exists():
        raise UsageError(f"no model at {model_dir} (config.json missing): pass --model DIR")
    labels = read_labels(model_dir)
    if args.truth and args.hand_labels:
        raise UsageError("pass the hand labels once: --truth COLUMN or --hand-labels PATH, not both")
    hand_labels = Path(args.hand_labels) if args.hand_labels else None
    labeled = read_labeled(path, labels, args.by, args.document_column, args.truth, hand_labels)
    ppi = args.method == "ppi"
    if ppi and labeled.truth is None:
        raise UsageError(
            "--method ppi corrects with hand labels of a random sample of the rows: pass --truth COLUMN "
            "naming them, or --hand-labels PATH (draw the sample with --draw N)"
        )
    corrector = None if ppi else _corrector(model_dir, labeled, args.method, args.replicates)
    manifest = Manifest.load(model_dir)
    expected = f"{manifest.name} {manifest.version}"
    if corrector is not None and labeled.model and labeled.model != expected:
        raise UsageError(
            f"{path} was labeled by {labeled.model} but {model_dir} holds {expected}: its error rates "
            "would correct another model's errors; pass --model with the directory that labeled the file"
        )
    groups = summarize(labeled, corrector, args.replicates if ppi else 0)
    csv_path = Path(args.csv) if args.csv else path.with_name(path.name + ".summary.csv")
    plot_path = Path(args.plot) if args.plot else path.with_name(path.name + ".summary.png")
    write_csv(csv_path, groups, labels)
    message = note(corrector, model_dir, labeled, args.method, args.replicates)
    title = (
        f"Label shares, corrected for the model's errors ({METHOD_NAMES[args.method]}), with 95% intervals"
        if corrector or ppi
        else "Label shares as counted: NOT corrected (the model directory has no error rates)"
    )
    plot(plot_path, groups, labels, title, labeled.model or expected)
    print(table(groups, labels))
    print(f"\n{message}\nwrote {csv_path} and {plot_path}")
    if labeled.truth is not None:
        print("\n" + check_table(_check(args, model_dir, labeled), labels))
    return EXIT_OK


def _draw(args: argparse.Namespace) -> int:
    """`--draw N`: a sheet of N random rows of OUT to hand-label, in the draw's (random) order."""
    if not args.output:
        raise UsageError("name the labeled file to draw rows from (OUT)")
    path = Path(args.output)
    sheet = path.with_name(path.name + SHEET_SUFFIX)
    if sheet.exists():  # it may hold hand labels: never overwrite them
        raise UsageError(f"{sheet} exists (it may hold your hand labels): move it away to draw again")
    unit_column = args.document_column or DOCUMENT_COLUMN
    columns = _read_columns(path, [ID_COLUMN, unit_column, *args.by, TEXT_COLUMN])
    required = [ID_COLUMN, TEXT_COLUMN, *args.by, *([args.document_column] if args.document_column else [])]
    missing = [name for name in required if name not in columns]
    if missing:
        raise UsageError(
            f"{path} has no {', '.join(repr(m) for m in missing)} column: is it `stance label` output?"
        )
    n = len(_unique_ids(path, columns[ID_COLUMN]))
    if not 0 < args.draw <= n:
        raise UsageError(f"--draw must be between 1 and the {n:,} rows of {path}")
    # Uniform over every row, headings too: the hand-labeled rows must be a random sample of the rows
    # the shares are of, for PPI's correction to be unbiased (a heading's hand label is `neither`).
    drawn = np.random.default_rng(args.seed).permutation(n)[: args.draw]
    names = [
        name for name in dict.fromkeys((ID_COLUMN, unit_column, *args.by, TEXT_COLUMN)) if name in columns
    ]
    # With a byte-order mark, spreadsheets open the text as UTF-8; reading it back skips the mark.
    with sheet.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*names, HAND_LABEL])
        writer.writerows([*(columns[name][row] for name in names), ""] for row in drawn)
    print(
        f"wrote {args.draw:,} of {n:,} rows, drawn at random (seed {args.seed}), to {sheet}: fill in "
        f"`{HAND_LABEL}` with {', '.join(LABELS)} by docs/labeling-guide.md, from the top (any top "
        f"part is a random sample too), then: stance summarize {path} --method ppi --hand-labels {sheet}"
    )
    return EXIT_OK


def _check(args: argparse.Namespace, model_dir: Path, labeled: Labeled) -> Check:
    """`--truth`: every method on the hand-labeled rows (counting alone when the model has no rates)."""
    correctors: dict[str, Corrector] = {}
    for method in METHODS:
        corrector = _corrector(model_dir, labeled, method, comparison_replicates(method, args.replicates))
        if corrector is None:
            break
        correctors[method] = corrector
    return check_against_truth(labeled, correctors, _truth_source(args))


def _truth_source(args: argparse.Namespace) -> str:
    """Where the hand labels are, for the printout."""
    return f"in `{args.truth}`" if args.truth else f"in `{HAND_LABEL}` of {args.hand_labels}"
