"""Grouped cross-validation over the team-labeled SOTU rows: the signal recipe choices are made on.

The 119 real dev paragraphs give intervals about 15 points wide, too coarse to choose anything with.
The ~4,700 odd-year SOTU rows the team labeled are real text too. Each fold holds out whole years of
addresses: `sotu` holds some addresses twice under two ids (1945-Roosevelt-1 and -2) and a year's two
addresses (outgoing and incoming president) can share text, so grouping by address id alone would
leak. A fold's model trains on the corpus train split and every other fold's SOTU rows, for the
configured number of epochs with no checkpoint selection (its test rows must choose nothing), and
predicts its held-out rows; the pooled out-of-fold predictions are scored against TF-IDF + LR trained
on exactly the same rows, with a paired bootstrap that resamples whole years.
"""

import hashlib
import json
import shutil
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model.labels import LABELS
from training.config import TrainConfig
from training.corpus import expand, load_corpus, load_rows, split_rows
from training.metrics import bootstrap_macro_f1, classification_report, weighted_macro_f1

FOLDS_FILE = "data/cv_folds.json"
# Every team-labeled SOTU row is held out once, whatever a recipe trains on.
SOTU_ROWS = "data/sotu_train/*.jsonl"
K = 5


def group_of(row_id: str) -> str:
    """The CV group of a SOTU row: the year of its address (ids look like `1947-Truman-1#12`)."""
    return row_id.split("-", 1)[0]


def assign_folds(rows: Sequence[dict], k: int = K) -> dict[str, int]:
    """Deterministic year -> fold map with folds of near-equal row counts.

    Years go largest first (ties broken by a hash of the year, not by chronology, so no fold is one
    era) to the fold with the fewest rows so far.
    """
    sizes = Counter(group_of(row["id"]) for row in rows)
    order = sorted(sizes, key=lambda g: (-sizes[g], hashlib.sha256(g.encode()).hexdigest()))
    load = [0] * k
    folds: dict[str, int] = {}
    for group in order:
        fold = min(range(k), key=lambda i: (load[i], i))
        folds[group] = fold
        load[fold] += sizes[group]
    return dict(sorted(folds.items()))


@dataclass(frozen=True)
class CvData:
    """The rows a cross-validation run uses; `sotu` is what folds split, the rest is fixed."""

    corpus_train: list[dict]
    sotu: list[dict]
    sotu_trained: set[str]  # ids of the SOTU rows the recipe trains on (when not held out)
    folds: dict[str, int]
    reports: dict[str, list[dict]]  # scored by every fold model, never trained on

    def fold_rows(self, fold: int) -> tuple[list[dict], list[dict]]:
        """(train rows, held-out SOTU rows) of one fold."""
        held_out = [r for r in self.sotu if self.folds[group_of(r["id"])] == fold]
        kept = [
            r for r in self.sotu if self.folds[group_of(r["id"])] != fold and r["id"] in self.sotu_trained
        ]
        return self.corpus_train + kept, held_out


def load_cv_data(
    config: TrainConfig, root: Path = Path(), extra_reports: Mapping[str, list[dict]] | None = None
) -> CvData:
    """The corpus train split, every SOTU row, the committed folds and the report sets.

    Every recipe is scored on the same held-out rows, so recipes that train on fewer SOTU files
    (`extra_train`) stay comparable; they simply train on fewer of the other folds' rows.
    """
    corpus = load_corpus(expand(config.data.corpus, root))
    parts = split_rows(corpus, json.loads((root / config.data.splits).read_text()))
    sotu = load_rows(expand([SOTU_ROWS], root))
    extra = load_rows(expand(config.data.extra_train, root)) if config.data.extra_train else []
    trained = {r["id"] for r in extra}
    folds = {str(g): int(f) for g, f in json.loads((root / FOLDS_FILE).read_text()).items()}
    missing = sorted({group_of(r["id"]) for r in sotu} - set(folds))
    if missing:
        raise ValueError(f"years {missing[:5]} have no fold in {FOLDS_FILE}: run `stance cv --write-folds`")
    reports = {
        "team_dev": parts["dev"],
        "team_test": parts["test"],
        "real_dev": load_rows([root / config.data.real_dev]),
        **(extra_reports or {}),
    }
    return CvData(parts["train"], sotu, trained, folds, {k: v for k, v in reports.items() if v})


# A predictor trains on a fold and returns {system: {split: probabilities}}: one training can yield
# several systems (the fine-tuned model and its int8 graph).
Predictor = Callable[[TrainConfig, list[dict], dict[str, list[dict]], Path], dict[str, dict[str, np.ndarray]]]


def predict_tfidf(
    config: TrainConfig, train: list[dict], splits: dict[str, list[dict]], workdir: Path
) -> dict[str, dict[str, np.ndarray]]:
    from training.evaluate import baseline_predictions

    predictions = baseline_predictions("tfidf_logreg", train, splits, workdir)
    return {"tfidf": {split: probs for split, (_, probs) in predictions.items()}}


def predict_model(
    config: TrainConfig, train: list[dict], splits: dict[str, list[dict]], workdir: Path
) -> dict[str, dict[str, np.ndarray]]:
    """Fine-tune on `train` with the config's recipe (no checkpoint selection) and predict every split.

    With `onnx_int8` in the config, the fold's int8 graph predicts too (`model_int8`), so the int8
    backend is judged on cross-validation like everything else.
    """
    from model.directory import ONNX_INT8, Manifest
    from model.encoding import WindowConfig
    from model.export import export_onnx
    from model.labeler import Labeler
    from training.train import fine_tune, student_rows

    directory = workdir / "model"
    # A distilled student's pool skips every scored paragraph and every held-out year.
    held_out_years = frozenset(group_of(row["id"]) for row in splits["cv"])
    rows, _ = student_rows(config, train, [r for s in splits.values() for r in s], held_out_years)
    fine_tune(config, rows, directory, select_rows=None)
    window = WindowConfig(config.model.max_length, config.model.stride, config.model.max_windows)
    Manifest(name=config.model.name, version="cv-fold", base_model=config.model.base, window=window).save(
        directory
    )
    backends = {"model": "torch"}
    if config.model.onnx_int8:
        export_onnx(directory)
        backends["model_int8"] = "onnx"
    out = {}
    for system, backend in backends.items():
        labeler = Labeler(directory, backend=backend)  # type: ignore[arg-type]
        out[system] = {
            split: labeler.probabilities(labeler.logits([r["text"] for r in rows])[0])
            for split, rows in splits.items()
        }
    # The weights stay with the fold's predictions (`run_fold`): a quantisation or calibration variant can
    # then be judged on CV without retraining. The int8 graph is rebuilt from them in a minute.
    (directory / ONNX_INT8).unlink(missing_ok=True)
    return out


PREDICTORS: dict[str, Predictor] = {"tfidf": predict_tfidf, "model": predict_model}


def run_fold(config: TrainConfig, data: CvData, fold: int, trainer: str, out_dir: Path) -> list[Path]:
    """Train one fold and save each resulting system's probabilities for every split.

    Skipped when already saved, so an interrupted run resumes where it stopped.
    """
    done = out_dir / f"fold{fold}.{trainer}.done"
    if done.exists():
        return [out_dir / name for name in done.read_text().split()]
    train, held_out = data.fold_rows(fold)
    splits = {"cv": held_out, **data.reports}
    started = time.perf_counter()
    workdir = out_dir / f".fold{fold}.{trainer}"
    workdir.mkdir(parents=True, exist_ok=True)
    systems = PREDICTORS[trainer](config, train, splits, workdir)
    if (workdir / "model").exists():
        weights = out_dir / f"fold{fold}.{trainer}.weights"
        shutil.rmtree(weights, ignore_errors=True)
        (workdir / "model").rename(weights)
    shutil.rmtree(workdir, ignore_errors=True)
    seconds = round(time.perf_counter() - started, 1)
    paths = []
    for system, probs in systems.items():
        record = {
            "fold": fold,
            "system": system,
            "train_rows": len(train),
            "seconds": seconds,
            "splits": {
                split: {"ids": [r["id"] for r in rows], "probs": np.round(probs[split], 6).tolist()}
                for split, rows in splits.items()
            },
        }
        path = out_dir / f"fold{fold}.{system}.json"
        path.write_text(json.dumps(record) + "\n")
        paths.append(path)
    # Written last: a fold is either saved whole or redone.
    done.write_text(" ".join(p.name for p in paths) + "\n")
    return paths


BLEND_GRID = np.round(np.arange(0.0, 1.0001, 0.05), 2)


def _best_weight(oof: Mapping[int, tuple[np.ndarray, np.ndarray, np.ndarray]], folds: Sequence[int]) -> float:
    """The TF-IDF weight on the grid with the best pooled macro-F1 over `folds` (ties: nearest 0.5)."""
    model, bow, gold = (np.concatenate([oof[f][k] for f in folds]) for k in range(3))

    def score(weight: float) -> float:
        predicted = ((1 - weight) * model + weight * bow).argmax(axis=1)
        # One unit per row: the bootstrap's macro-F1, evaluated once.
        return float(
            weighted_macro_f1(np.ones((1, len(gold))), gold[:, None], predicted[:, None], len(LABELS))[0]
        )

    return float(max(BLEND_GRID, key=lambda w: (score(w), -abs(w - 0.5))))


def write_blends(
    data: CvData, out_dir: Path, members: Sequence[str] = ("model", "model_int8")
) -> dict[str, Any]:
    """Average each transformer system's probabilities with TF-IDF's, the weight chosen by CV.

    Nested, so the blend's CV score is honest: fold f uses the weight that scores best on the other
    folds' out-of-fold rows. The weight a shipped model takes is the best over all folds' rows.
    Writes `fold{f}.{member}+tfidf.json` records and returns {member: chosen weight}.
    """
    gold_index = {r["id"]: LABELS.index(r["label"]) for r in data.sotu}
    tfidf = {rec["fold"]: rec for rec in load_predictions(out_dir, "tfidf")}
    chosen: dict[str, Any] = {}
    for member in members:
        records = {rec["fold"]: rec for rec in load_predictions(out_dir, member) if rec["fold"] in tfidf}
        if not records:
            continue
        oof = {
            f: (np.asarray(rec["splits"]["cv"]["probs"]), np.asarray(tfidf[f]["splits"]["cv"]["probs"]),
                np.array([gold_index[i] for i in rec["splits"]["cv"]["ids"]]))
            for f, rec in records.items()
        }  # fmt: skip

        for fold, rec in records.items():
            others = [f for f in records if f != fold]
            weight = _best_weight(oof, others) if others else 0.5
            splits = {}
            for split, content in rec["splits"].items():
                mixed = (1 - weight) * np.asarray(content["probs"]) + weight * np.asarray(
                    tfidf[fold]["splits"][split]["probs"]
                )
                splits[split] = {"ids": content["ids"], "probs": np.round(mixed, 6).tolist()}
            blended = {**rec, "system": f"{member}+tfidf", "tfidf_weight": weight, "splits": splits}
            (out_dir / f"fold{fold}.{member}+tfidf.json").write_text(json.dumps(blended) + "\n")
        chosen[member] = _best_weight(oof, sorted(records))
    (out_dir / "blend.json").write_text(json.dumps({"tfidf_weight": chosen}, indent=2) + "\n")
    return chosen


def write_cv_predictions(data: CvData, out_dir: Path, system: str, path: Path) -> None:
    """Every held-out row's gold label and the system's probabilities, for error-rate corrections.

    Shipped inside the model directory (`cv_predictions.json`): `stance summarize` corrects label
    shares with the confusion rates these out-of-fold predictions measure on real text.
    """
    gold = {r["id"]: r["label"] for r in data.sotu}
    records = load_predictions(out_dir, system)
    ids = [i for rec in records for i in rec["splits"]["cv"]["ids"]]
    content = {
        "labels": list(LABELS),
        "system": system,
        "ids": ids,
        "groups": [group_of(i) for i in ids],
        "folds": [rec["fold"] for rec in records for _ in rec["splits"]["cv"]["ids"]],
        "gold": [gold[i] for i in ids],
        "probs": [p for rec in records for p in rec["splits"]["cv"]["probs"]],
    }
    path.write_text(json.dumps(content, separators=(",", ":")) + "\n")


def load_predictions(out_dir: Path, system: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(out_dir.glob(f"fold*.{system}.json"))]


def out_of_fold(records: Sequence[dict]) -> tuple[list[str], np.ndarray]:
    """Pooled held-out ids and probabilities across folds."""
    ids = [i for rec in records for i in rec["splits"]["cv"]["ids"]]
    probs = np.concatenate([np.asarray(rec["splits"]["cv"]["probs"]) for rec in records])
    return ids, probs


def _macro_f1(split: dict[str, Any], gold: Mapping[str, str]) -> float:
    """Macro-F1 of one saved split's argmax labels."""
    predicted = [LABELS[i] for i in np.asarray(split["probs"]).argmax(axis=1)]
    return float(classification_report([gold[i] for i in split["ids"]], predicted, None, LABELS)["macro_f1"])


def summarize(data: CvData, out_dir: Path, systems: Sequence[str]) -> dict[str, Any]:
    """Pooled CV macro-F1 per system, per-fold spread, report splits, and the paired interval vs TF-IDF."""
    gold = {r["id"]: r["label"] for rows in [data.sotu, *data.reports.values()] for r in rows}
    summary: dict[str, Any] = {"systems": {}, "folds_done": {}}
    predicted: dict[str, dict[str, str]] = {}
    for system in systems:
        records = load_predictions(out_dir, system)
        summary["folds_done"][system] = sorted(rec["fold"] for rec in records)
        if not records:
            continue
        ids, probs = out_of_fold(records)
        labels = [LABELS[i] for i in probs.argmax(axis=1)]
        predicted[system] = dict(zip(ids, labels, strict=True))
        truth = [gold[i] for i in ids]
        entry: dict[str, Any] = {
            "cv": {
                **classification_report(truth, labels, probs, LABELS),
                **bootstrap_macro_f1(truth, labels, LABELS, groups=[group_of(i) for i in ids]),
            },
            "cv_per_fold": [_macro_f1(rec["splits"]["cv"], gold) for rec in records],
            "seconds": sum(rec["seconds"] for rec in records),
        }
        for split in data.reports:
            scores = [_macro_f1(rec["splits"][split], gold) for rec in records if split in rec["splits"]]
            if scores:
                entry[split] = {"mean_macro_f1": round(float(np.mean(scores)), 4), "per_fold": scores}
        summary["systems"][system] = entry
    for system in [s for s in predicted if s != "tfidf"]:
        if "tfidf" not in predicted:
            break
        common = sorted(set(predicted[system]) & set(predicted["tfidf"]))
        summary.setdefault("versus_tfidf", {})[system] = {
            "rows": len(common),
            **bootstrap_macro_f1(
                [gold[i] for i in common],
                [predicted[system][i] for i in common],
                LABELS,
                reference=[predicted["tfidf"][i] for i in common],
                groups=[group_of(i) for i in common],
            ),
        }
    return summary


def markdown(summary: dict[str, Any]) -> str:
    """The CV table `stance cv` prints."""
    lines = [
        "| system | folds | CV macro-F1 (pooled) | 95% CI (years resampled) | per fold | team dev "
        "| real dev |",
        "|---|---|---|---|---|---|---|",
    ]
    for system, entry in summary["systems"].items():
        cv = entry["cv"]
        per_fold = ", ".join(f"{x:.3f}" for x in entry["cv_per_fold"])
        cells = [entry.get(s, {}).get("mean_macro_f1") for s in ("team_dev", "real_dev")]
        shown = [f"{c:.3f}" if c is not None else "" for c in cells]
        lines.append(
            f"| {system} | {len(entry['cv_per_fold'])} | {cv['macro_f1']:.3f} | "
            f"{cv['macro_f1_ci95'][0]:.3f}-{cv['macro_f1_ci95'][1]:.3f} | {per_fold} | "
            f"{shown[0]} | {shown[1]} |"
        )
    for system, gap in summary.get("versus_tfidf", {}).items():
        low, high = gap["difference_ci95"]
        verdict = "above zero" if low > 0 else ("below zero" if high < 0 else "straddles zero")
        lines += [
            "",
            f"{system} - TF-IDF on the same {gap['rows']} held-out rows: {gap['difference']:+.3f} "
            f"(paired 95% CI {low:+.3f} to {high:+.3f}, {verdict})",
        ]
    return "\n".join(lines)
