"""`stance`: train, evaluate, export, label files, and serve. Each subcommand is thin over its package."""

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from training.config import TrainConfig

# Nothing here may reach a model hub: the base model ships inside a pip package.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def _train(args: argparse.Namespace) -> int:
    from training.config import ConfigError, load_config
    from training.corpus import CorpusError
    from training.evaluate import markdown_table
    from training.train import train

    try:
        config = load_config(args.config)
        live_rows = _live_rows(args.live_text)
        if args.finalize_only:
            return _finalize(config, live_rows)
        result = train(config, progress=not args.quiet, live_rows=live_rows)
    except (ConfigError, CorpusError) as error:
        print(f"stance train: {error}", file=sys.stderr)
        return 2
    print(f"model written to {result.output_dir} in {result.seconds:.0f} s\n")
    print(markdown_table(result.report))
    return 0


def _live_rows(path: str | None) -> list[dict]:
    """The live op-ed check's agreed rows with their text, when a text file is given."""
    if not path:
        return []
    from training.live import load_live_rows

    return load_live_rows(Path(path))


def _finalize(config: "TrainConfig", live_rows: list[dict]) -> int:
    """Redo export, int8 gate, calibration and report on the trained weights in the output directory."""
    from model.directory import METRICS, read_json
    from training.corpus import load_training_data
    from training.evaluate import markdown_table
    from training.train import finalize

    output_dir = Path(config.train.output_dir)
    previous = read_json(output_dir / METRICS, default={})
    if not any(output_dir.glob("*.safetensors")) or "training" not in previous:
        print(f"stance train: {output_dir} holds no trained weights and report to finalize", file=sys.stderr)
        return 2
    report = finalize(output_dir, config, load_training_data(config.data)[0], previous["training"], live_rows)
    print(markdown_table(report))
    return 0


def _export(args: argparse.Namespace) -> int:
    """Copy a model directory and add the int8 graph, with its agreement against fp32 measured."""
    import shutil

    from model.directory import METRICS, default_model_dir, read_json, write_json
    from model.export import export_onnx
    from training.config import ConfigError, load_config
    from training.corpus import CorpusError, load_training_data
    from training.train import int8_gate

    source, target = Path(args.model) if args.model else default_model_dir(), Path(args.output)
    if target.exists():
        print(f"stance export: {target} exists; name a new directory", file=sys.stderr)
        return 2
    try:
        sets = load_training_data(load_config(args.config).data)[0]
    except (ConfigError, CorpusError, FileNotFoundError) as error:
        print(f"stance export: {error}", file=sys.stderr)
        return 2
    shutil.copytree(source, target)
    export_onnx(target)
    gate = int8_gate(target, {split: sets[split] for split in ("real_dev", "team_test") if sets[split]})
    # The copy's report says which backend it serves by default and how far that is from fp32.
    report = read_json(target / METRICS, default={})
    write_json(target / METRICS, {**report, "backend": "onnx", "int8_gate": gate})
    print(f"wrote {target} (int8 ONNX, the default backend there)\n")
    print("| split | label agreement with fp32 | macro-F1 fp32 | macro-F1 int8 |\n|---|---|---|---|")
    for split, c in gate["splits"].items():
        print(f"| {split} | {c['agreement']:.1%} | {c['macro_f1_torch']:.3f} | {c['macro_f1_onnx']:.3f} |")
    verdict = "passes" if gate["passed"] else "does NOT pass"
    print(
        f"\nThe int8 graph {verdict} the gate (macro-F1 drop <= "
        f"{gate['max_macro_f1_drop']:.2f} on every split)."
    )
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from model.labeler import Labeler
    from training.config import ConfigError, load_config
    from training.corpus import CorpusError, load_rows, load_training_data
    from training.evaluate import evaluate, markdown_table, resolve_base

    try:
        config = load_config(args.config)
        splits = {Path(path).stem: load_rows([Path(path)]) for path in args.data}
        train_rows = load_training_data(config.data)[0]["train"] if args.baselines else None
    except (ConfigError, CorpusError, FileNotFoundError) as error:
        print(f"stance evaluate: {error}", file=sys.stderr)
        return 2
    from model.directory import default_model_dir

    labeler = Labeler(args.model or default_model_dir(), backend=args.backend)
    figures = Path(args.figures) if args.figures else None
    if figures:
        figures.mkdir(parents=True, exist_ok=True)
    report = evaluate(
        labeler, splits, train_rows, resolve_base(config.model.base), args.baselines, figures_dir=figures
    )
    print(markdown_table(report))
    for split, pairs in report["contrast_pairs"].items():
        print(f"\ncontrast pairs in {split}: {pairs}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


def _cv(args: argparse.Namespace) -> int:
    """Grouped cross-validation: run the folds not yet saved, then print the pooled scores."""
    from training.config import ConfigError, load_config
    from training.corpus import CorpusError, expand, load_rows
    from training.cv import (
        FOLDS_FILE,
        SOTU_ROWS,
        assign_folds,
        load_cv_data,
        markdown,
        run_fold,
        summarize,
        write_blends,
        write_cv_predictions,
    )

    try:
        config = load_config(args.config)
        if args.write_folds:
            folds = assign_folds(load_rows(expand([SOTU_ROWS])), args.k)
            Path(FOLDS_FILE).write_text(json.dumps(folds, indent=0) + "\n")
            print(f"wrote {FOLDS_FILE}: {len(folds)} years in {args.k} folds")
            return 0
        live_rows = _live_rows(args.live_text)
        data = load_cv_data(config, extra_reports={"live_oped": live_rows} if live_rows else None)
    except (ConfigError, CorpusError, ValueError, FileNotFoundError) as error:
        print(f"stance cv: {error}", file=sys.stderr)
        return 2
    out_dir = Path(args.out or f"runs/cv/{Path(args.config).stem}")
    k = len(set(data.folds.values()))
    for fold in args.folds if args.folds is not None else range(k):
        for trainer in args.systems:
            paths = run_fold(config, data, fold, trainer, out_dir)
            print(f"fold {fold} {trainer}: {', '.join(map(str, paths))}", flush=True)
    weights = write_blends(data, out_dir)
    systems = sorted({p.name.split(".")[1] for p in out_dir.glob("fold*.json")}, key=lambda s: s != "tfidf")
    summary = summarize(data, out_dir, systems)
    summary["tfidf_weight_for_shipping"] = weights
    print(markdown(summary))
    for member, weight in weights.items():
        print(
            f"\n{member}+tfidf: TF-IDF weight {weight} for a shipped model (best on all out-of-fold rows; "
            "each fold's score above used the weight best on the other folds)"
        )
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    for system in summary["systems"]:
        write_cv_predictions(data, out_dir, system, out_dir / f"cv_predictions.{system}.json")
    # The system this recipe ships is what `stance train` copies into the model directory.
    shipped = "model+tfidf" if config.model.bag_of_words_weight is not None else "model"
    if shipped in summary["systems"]:
        write_cv_predictions(data, out_dir, shipped, out_dir / "cv_predictions.json")
    return 0


def _live(args: argparse.Namespace) -> int:
    """Score a model, TF-IDF on the same data, and their average on the live op-ed paragraphs."""
    from model.directory import default_model_dir
    from model.labeler import Labeler
    from training.config import ConfigError, load_config
    from training.corpus import CorpusError, load_training_data
    from training.evaluate import baseline_predictions, resolve_base
    from training.live import load_live_rows, markdown, report

    try:
        rows = load_live_rows(Path(args.text))
        config = load_config(args.config)
        train_rows = load_training_data(config.data)[0]["train"]
    except (ConfigError, CorpusError, FileNotFoundError) as error:
        print(f"stance live: {error}", file=sys.stderr)
        return 2
    labeler = Labeler(args.model or default_model_dir(), backend=args.backend)
    texts = [r["text"] for r in rows]
    model = labeler.probabilities(labeler.logits(texts)[0])
    tfidf = baseline_predictions("tfidf_logreg", train_rows, {"live": rows}, resolve_base(config.model.base))
    probabilities = {
        f"{labeler.name} {labeler.version}": model,
        f"TF-IDF + LR ({Path(args.config).stem})": tfidf["live"][1],
        "average of the two": (model + tfidf["live"][1]) / 2,
    }
    results = report(rows, probabilities)
    print(markdown(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


def _label(args: argparse.Namespace) -> int:
    from batch.command import run

    return run(args)


def _summarize(args: argparse.Namespace) -> int:
    from batch.summarize import run

    return run(args)


def _serve(args: argparse.Namespace) -> int:
    from service.main import serve

    serve(host=args.host, port=args.port, model_dir=args.model)
    return 0


def _splits(args: argparse.Namespace) -> int:
    from training.corpus import assign_splits, expand, load_corpus

    rows = load_corpus(expand(["data/corpus/*.jsonl"]))
    splits = assign_splits(rows)
    text = json.dumps(dict(sorted(splits.items())), indent=0) + "\n"
    path = Path("data/splits.json")
    if args.check:
        if not path.exists() or path.read_text() != text:
            print("data/splits.json is out of date: run `stance splits`", file=sys.stderr)
            return 1
        return 0
    path.write_text(text)
    counts = {name: list(splits.values()).count(name) for name in ("train", "dev", "test")}
    print(f"wrote {path}: {counts}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from batch.command import configure as configure_label
    from batch.summarize import configure as configure_summarize
    from training.cv import K as CV_FOLDS
    from training.evaluate import BASELINES

    parser = argparse.ArgumentParser(prog="stance", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="fine-tune, calibrate and evaluate a model")
    train.add_argument("--config", default="training/configs/default.toml")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument(
        "--live-text", default=None, help="live op-ed texts (url, position, text) for the card"
    )
    train.add_argument(
        "--finalize-only",
        action="store_true",
        help="keep the trained weights; redo int8 export and gate, calibration, report and card",
    )
    train.set_defaults(func=_train)

    evaluate = commands.add_parser("evaluate", help="score a model (and baselines) on labeled JSONL files")
    evaluate.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    evaluate.add_argument("--data", nargs="+", required=True, help="labeled JSONL files (id, text, label)")
    evaluate.add_argument(
        "--config", default="training/configs/default.toml", help="for baseline training data"
    )
    evaluate.add_argument("--baselines", nargs="*", default=list(BASELINES), choices=BASELINES)
    evaluate.add_argument("--backend", default="auto", choices=["auto", "onnx", "torch"])
    evaluate.add_argument("--figures", help="directory for confusion/reliability PNGs")
    evaluate.add_argument("--json", help="write the full report here")
    evaluate.set_defaults(func=_evaluate)

    export = commands.add_parser(
        "export", help="copy a model directory with an int8 ONNX graph added (faster, slightly different)"
    )
    export.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    export.add_argument("--output", required=True, help="new directory to write")
    export.add_argument("--config", default="training/configs/default.toml", help="for the gate's data")
    export.set_defaults(func=_export)

    cv = commands.add_parser(
        "cv", help="grouped cross-validation over the labeled SOTU rows: the model against TF-IDF"
    )
    cv.add_argument("--config", default="training/configs/default.toml", help="recipe and data to validate")
    cv.add_argument("--systems", nargs="+", default=["tfidf", "model"], choices=["tfidf", "model"])
    cv.add_argument("--folds", nargs="*", type=int, default=None, help="run only these folds (default: all)")
    cv.add_argument("--out", default=None, help="prediction directory (default runs/cv/<config name>)")
    cv.add_argument("--live-text", default=None, help="live op-ed texts (url, position, text) to score too")
    cv.add_argument("--write-folds", action="store_true", help="(re)write data/cv_folds.json and stop")
    cv.add_argument("--k", type=int, default=CV_FOLDS, help="folds, with --write-folds")
    cv.set_defaults(func=_cv)

    live = commands.add_parser("live", help="score a model on the live op-ed check (you supply the text)")
    live.add_argument("--text", required=True, help="JSONL of url, position, text for data/live_oped/")
    live.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    live.add_argument("--config", default="training/configs/default.toml", help="TF-IDF training data")
    live.add_argument("--backend", default="auto", choices=["auto", "onnx", "torch"])
    live.add_argument("--json", help="write the full report here")
    live.set_defaults(func=_live)

    label = commands.add_parser("label", help="label files of paragraphs or documents")
    configure_label(label)
    label.set_defaults(func=_label)

    summarize = commands.add_parser(
        "summarize", help="label shares of a labeled file, corrected for the model's errors, by any column"
    )
    configure_summarize(summarize)
    summarize.set_defaults(func=_summarize)

    serve = commands.add_parser("serve", help="serve the REST API")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--model", default=None, help="model directory (default: the shipped model)")
    serve.set_defaults(func=_serve)

    splits = commands.add_parser("splits", help="(re)write data/splits.json from the corpus")
    splits.add_argument("--check", action="store_true", help="exit 1 if the committed file is stale")
    splits.set_defaults(func=_splits)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
