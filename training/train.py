"""Fine-tuning: corpus -> windows -> Trainer -> a self-describing model directory with its report."""

import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from datasets import Dataset
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    EarlyStoppingCallback,
    EvalPrediction,
    Trainer,
    TrainingArguments,
    set_seed,
)

from model.bag_of_words import BagOfWords
from model.directory import CALIBRATION, METRICS, ONNX_INT8, Manifest, write_json
from model.encoding import WindowConfig, encode, load_tokenizer
from model.export import export_onnx
from model.labeler import Labeler, softmax
from model.labels import ID2LABEL, LABEL2ID, LABELS
from model.quantify import CV_PREDICTIONS
from training.calibration import fit_temperature, negative_log_likelihood
from training.card import write_card
from training.config import TrainConfig
from training.corpus import load_training_data
from training.evaluate import BASELINES, compare_backends, evaluate, resolve_base
from training.metrics import classification_report, expected_calibration_error


@dataclass(frozen=True)
class TrainResult:
    output_dir: Path
    losses: list[float]
    seconds: float
    report: dict[str, Any]


def windows_dataset(
    directory: Path, rows: Sequence[dict], window: WindowConfig
) -> tuple[Dataset, np.ndarray]:
    """One training example per window (the Labeler's own encoding), and each window's paragraph.

    A window's label is its paragraph's class id, or, when rows carry a `target` (distillation),
    that probability vector.
    """
    encoded = encode(load_tokenizer(directory, window), [row["text"] for row in rows], window)
    soft = "target" in rows[0] if rows else False
    labels = [rows[i]["target"] if soft else LABEL2ID[rows[i]["label"]] for i in encoded.owner]
    dataset = Dataset.from_dict({"input_ids": encoded.windows, "labels": labels})
    return dataset, np.asarray(encoded.owner)


def paragraph_macro_f1(
    owner: np.ndarray, rows: Sequence[dict]
) -> Callable[[EvalPrediction], dict[str, float]]:
    """A `compute_metrics` that averages window logits per paragraph, as the Labeler does."""

    def compute(prediction: EvalPrediction) -> dict[str, float]:
        logits = np.asarray(prediction.predictions)
        sums = np.zeros((len(rows), logits.shape[1]))
        np.add.at(sums, owner, logits)
        predicted = [LABELS[i] for i in sums.argmax(axis=1)]
        report = classification_report([r["label"] for r in rows], predicted, None, LABELS)
        return {"macro_f1": report["macro_f1"], "accuracy": report["accuracy"]}

    return compute


class WeightedLossTrainer(Trainer):
    """Cross-entropy with per-class weights, so the rarest label costs as much to miss as the others."""

    def __init__(self, *args: Any, class_weights: torch.Tensor | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.class_weights = class_weights

    def _get_eval_sampler(self, eval_dataset: Any) -> torch.utils.data.Sampler | None:
        # Paragraph metrics rebuild paragraphs from window order; transformers' length grouping
        # also applies to evaluation and would shuffle that order.
        return torch.utils.data.SequentialSampler(eval_dataset)

    def compute_loss(
        self,
        model: torch.nn.Module,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: torch.Tensor | int | None = None,
    ) -> torch.Tensor | tuple[torch.Tensor, Any]:
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        if labels.is_floating_point():  # soft targets (distillation): cross-entropy against a distribution
            log_probs = torch.nn.functional.log_softmax(outputs.logits, dim=-1)
            weights = (
                self.class_weights if self.class_weights is not None else torch.ones(log_probs.shape[-1])
            )
            loss = -(labels * log_probs * weights).sum(dim=-1).mean()
        else:
            loss = torch.nn.functional.cross_entropy(outputs.logits, labels, weight=self.class_weights)
        return (loss, outputs) if return_outputs else loss


def fine_tune(
    config: TrainConfig,
    train_rows: Sequence[dict],
    output_dir: Path,
    select_rows: Sequence[dict] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Fine-tune the base model on `train_rows` and save weights and tokenizer to `output_dir`.

    With `select_rows`, the checkpoint with the best paragraph macro-F1 on them is kept (with early
    stopping); without, training runs its full length and the last weights are kept, which is what
    cross-validation folds do (their test rows must not choose anything).
    """
    set_seed(config.train.seed)
    base_dir = resolve_base(config.model.base)
    window = WindowConfig(config.model.max_length, config.model.stride, config.model.max_windows)
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    train_set, _ = windows_dataset(base_dir, train_rows, window)
    dropout = {
        key: value
        for key, value in (
            ("attention_probs_dropout_prob", config.model.attention_dropout),
            ("hidden_dropout_prob", config.model.hidden_dropout),
        )
        if value is not None
    }
    model = AutoModelForSequenceClassification.from_pretrained(
        base_dir, num_labels=len(LABELS), id2label=ID2LABEL, label2id=LABEL2ID, dtype=torch.float32, **dropout
    )
    # A soft target counts toward its most probable class.
    classes = np.asarray(train_set["labels"])
    classes = classes.argmax(axis=1) if classes.ndim == 2 else classes
    counts = np.bincount(classes, minlength=len(LABELS)).astype(float)
    weights = torch.tensor(counts.sum() / (len(LABELS) * np.maximum(counts, 1)), dtype=torch.float32)

    steps_per_epoch = max(1, -(-len(train_set) // config.train.batch_size))
    eval_steps = max(1, steps_per_epoch // config.train.evals_per_epoch)
    checkpoints = output_dir.parent / f".{output_dir.name}-checkpoints"
    selection: dict[str, Any] = {"eval_strategy": "no", "save_strategy": "no"}
    extra: dict[str, Any] = {}
    if select_rows is not None:
        select_set, select_owner = windows_dataset(base_dir, select_rows, window)
        selection = {
            "eval_strategy": "steps",
            "eval_steps": eval_steps,
            "save_strategy": "best",
            "save_only_model": True,
            "save_total_limit": 1,
            "load_best_model_at_end": True,
            "metric_for_best_model": "macro_f1",
            "greater_is_better": True,
        }
        extra = {
            "eval_dataset": select_set,
            "compute_metrics": paragraph_macro_f1(select_owner, select_rows),
            "callbacks": [EarlyStoppingCallback(config.train.early_stopping_patience)],
        }
    args = TrainingArguments(
        output_dir=str(checkpoints),
        seed=config.train.seed,
        num_train_epochs=config.train.epochs,
        max_steps=config.train.max_steps,
        learning_rate=config.train.learning_rate,
        per_device_train_batch_size=config.train.batch_size,
        per_device_eval_batch_size=64,
        weight_decay=config.train.weight_decay,
        warmup_steps=int(config.train.warmup_ratio * steps_per_epoch * config.train.epochs),
        logging_steps=max(1, eval_steps // 5),
        train_sampling_strategy="group_by_length",  # similar lengths per batch: less padding
        report_to="none",
        disable_tqdm=not progress,
        use_cpu=True,
        dataloader_num_workers=0,
        **selection,
    )
    trainer = WeightedLossTrainer(
        model=model,
        args=args,
        train_dataset=train_set,
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        class_weights=weights if config.train.class_weights else None,
        **extra,
    )
    trainer.train()
    if output_dir.exists():
        shutil.rmtree(output_dir)
    dtype = torch.float16 if config.model.save_dtype == "float16" else torch.float32
    model.to(dtype).save_pretrained(output_dir)  # with selection: the best checkpoint, reloaded at the end
    tokenizer.save_pretrained(output_dir)
    shutil.rmtree(checkpoints, ignore_errors=True)
    return {
        "train_paragraphs": len(train_rows),
        "train_windows": len(train_set),
        "steps": trainer.state.global_step,
        "best_step": _best_step(trainer),
        "best_real_dev_macro_f1": trainer.state.best_metric,
        "losses": [entry["loss"] for entry in trainer.state.log_history if "loss" in entry],
        "threads": torch.get_num_threads(),
    }


def train(
    config: TrainConfig, root: Path = Path(), progress: bool = True, live_rows: Sequence[dict] = ()
) -> TrainResult:
    """Train, calibrate and evaluate; write the model directory named in the config."""
    started = time.perf_counter()
    sets, corpus_hash = load_training_data(config.data, root)
    output_dir = root / config.train.output_dir
    selection = sets["real_dev"] if config.train.checkpoint_selection == "real_dev" else None
    rows, distillation = student_rows(config, sets["train"], never_read=sets["real_dev"], root=root)
    training = fine_tune(config, rows, output_dir, select_rows=selection, progress=progress)
    losses = training.pop("losses")
    if distillation is not None:  # the pool is counted there; `train_paragraphs` stays the labeled rows
        training = {**training, "train_paragraphs": len(sets["train"]), "distillation": distillation}
    window = WindowConfig(config.model.max_length, config.model.stride, config.model.max_windows)
    Manifest(
        name=config.model.name,
        version=config.model.version,
        base_model=config.model.base,
        corpus_sha256=corpus_hash,
        trained_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        window=window,
    ).save(output_dir)
    seconds = round(time.perf_counter() - started, 1)
    training = {**training, "seconds": seconds}
    report = finalize(output_dir, config, sets, training, live_rows)
    return TrainResult(output_dir, losses, seconds, report)


def student_rows(
    config: TrainConfig,
    rows: list[dict],
    never_read: Sequence[dict],
    exclude_years: frozenset[str] = frozenset(),
    root: Path = Path(),
) -> tuple[list[dict], dict[str, Any] | None]:
    """The rows the transformer learns from: `rows` as they are, or with a `[distill]` section, the
    teacher's soft targets on them plus an unlabeled SOTU pool (`training.distill`)."""
    if config.distill is None:
        return rows, None
    from training.distill import with_soft_targets

    encoder = resolve_base(config.distill.encoder)
    cache = root / config.distill.cache
    never_pooled: list[dict] = []
    if config.data.random_sample:  # the error-rate sample: the model must never have read it
        from training.rates import read_random_sample

        never_pooled = read_random_sample(root / config.data.random_sample)
    return with_soft_targets(
        config.distill, rows, never_read, set(exclude_years), encoder, cache, config.train.seed, never_pooled
    )


def add_bag_of_words(output_dir: Path, rows: Sequence[dict], weight: float | None) -> None:
    """Fit the TF-IDF + LR member on the transformer's own training rows and store it beside it.

    With no weight, any member already there is removed: the directory holds what the config says.
    """
    from model.bag_of_words import BagOfWords
    from training.evaluate import tfidf_pipeline

    if weight is None:
        BagOfWords.remove(output_dir)
        return
    pipeline = tfidf_pipeline().fit([row["text"] for row in rows], [row["label"] for row in rows])
    BagOfWords.from_sklearn(pipeline, LABELS, weight).save(output_dir)


def finalize(
    output_dir: Path,
    config: TrainConfig,
    sets: dict[str, list[dict]],
    training: dict[str, Any],
    live_rows: Sequence[dict] = (),
) -> dict[str, Any]:
    """Everything after the weights: int8 export and its gate, calibration, evaluation, card.

    The card also carries the recipe's cross-validation (`data.cv_summary`, written by `stance cv`)
    and, when the live op-ed texts are supplied, the live check. Also run alone
    (`stance train --finalize-only`) to redo these steps on trained weights.
    """
    eval_sets = {name: sets[name] for name in ("real_dev", "team_dev", "team_test") if sets[name]}
    # The member and its weight come after the weights: `--finalize-only` applies a weight `stance cv`
    # chose after training without retraining the transformer.
    add_bag_of_words(output_dir, sets["train"], config.model.bag_of_words_weight)
    gate = None
    cv_summary = json.loads(Path(config.data.cv_summary).read_text()) if config.data.cv_summary else None
    if config.model.onnx_int8:
        export_onnx(output_dir)
        gate = int8_gate(
            output_dir, {s: eval_sets[s] for s in ("real_dev", "team_test") if s in eval_sets}, cv_summary
        )
        if not gate["passed"]:
            # The int8 graph would change what users get by more than the gate allows: keep fp32.
            (output_dir / ONNX_INT8).unlink()
    # Fit the temperature on the logits of the backend users get by default.
    calibrate(output_dir, sets["real_dev"])
    labeler = Labeler(output_dir)
    report = evaluate(
        labeler, eval_sets, sets["train"], resolve_base(config.model.base), BASELINES, figures_dir=output_dir
    )
    report["backend"] = labeler.backend
    if gate is not None:
        report["int8_gate"] = gate
    if config.data.cv_summary:
        summary = Path(config.data.cv_summary)
        report["cv"] = cv_summary
        # The shipped system's out-of-fold predictions (and its predictions on the random sample):
        # the error rates `stance summarize` corrects with.
        if (summary.parent / CV_PREDICTIONS).exists():
            rates = json.loads((summary.parent / CV_PREDICTIONS).read_text())
            if config.data.random_sample:
                from training.rates import read_random_sample, with_random_sample

                texts = {row["id"]: row["text"] for row in sets["train"]}
                sample = read_random_sample(Path(config.data.random_sample))
                rates = with_random_sample(rates, texts, labeler, sample)
            (output_dir / CV_PREDICTIONS).write_text(json.dumps(rates, separators=(",", ":")) + "\n")
    if live_rows:
        report["live_oped"] = live_report(labeler, list(live_rows), sets["train"])
    report["training"] = training
    if gate is not None and gate["passed"] and not config.model.ship_int8_graph:
        record_int8_graph(output_dir)
    write_json(output_dir / METRICS, report)
    write_card(output_dir, config, report)
    # safetensors writes through a private temporary file (mode 0600); the service may run as
    # another user (the container's is unprivileged), so every file is made readable.
    for path in output_dir.iterdir():
        if path.is_file():
            path.chmod(0o644)
    return report


def record_int8_graph(output_dir: Path) -> None:
    """Keep the gated graph out of the directory: record its hash, and cache it for this machine."""
    from model.export import cache_dir, sha256_of

    graph = output_dir / ONNX_INT8
    manifest = Manifest.load(output_dir)
    sha256 = sha256_of(graph)
    replace(manifest, int8_sha256=sha256).save(output_dir)
    cache_dir().mkdir(parents=True, exist_ok=True)
    shutil.move(graph, cache_dir() / f"model.int8.{sha256}.onnx")


def live_report(labeler: Labeler, rows: list[dict], train_rows: Sequence[dict]) -> dict[str, Any]:
    """The live op-ed check for the shipped system, each of its members alone, and TF-IDF."""
    import copy

    from training.evaluate import baseline_predictions
    from training.live import report

    texts = [row["text"] for row in rows]
    systems = {"shipped": labeler.probabilities(labeler.logits(texts)[0])}
    if labeler.bag_of_words is not None:
        transformer = copy.copy(labeler)
        transformer.bag_of_words = None
        systems["transformer alone"] = softmax(transformer.logits(texts)[0])
    systems["TF-IDF + LR (same rows)"] = baseline_predictions(
        "tfidf_logreg", train_rows, {"live": rows}, Path()
    )["live"][1]
    return report(rows, systems)


# Batch independence (one window per int8 call) makes label agreement a matter of quality, not of
# noise: the gate asks that int8 lose at most this much macro-F1 against fp32 on every split.
INT8_MAX_F1_DROP = 0.01


def int8_gate(
    model_dir: Path, splits: dict[str, list[dict]], cv_summary: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Compare the int8 graph with fp32 torch; it becomes the default only within the limit.

    With the recipe's CV summary, the fold models' int8 graphs are judged on the held-out SOTU rows
    too (the shipped system: with the bag-of-words member when the recipe has one).
    """
    comparison = compare_backends(
        Labeler(model_dir, backend="torch"), Labeler(model_dir, backend="onnx"), splits
    )
    systems = (cv_summary or {}).get("systems", {})
    member = "+tfidf" if BagOfWords.load(model_dir) is not None else ""
    fp32, int8 = f"model{member}", f"model_int8{member}"
    if fp32 in systems and int8 in systems:
        f1 = systems[fp32]["cv"]["macro_f1"], systems[int8]["cv"]["macro_f1"]
        comparison[f"cv ({fp32})"] = {
            "macro_f1_torch": f1[0],
            "macro_f1_onnx": f1[1],
            "macro_f1_drop": round(f1[0] - f1[1], 4),
        }
    passed = all(c["macro_f1_drop"] <= INT8_MAX_F1_DROP for c in comparison.values())
    return {
        "max_macro_f1_drop": INT8_MAX_F1_DROP,
        "splits": comparison,
        "passed": passed,
    }


def _best_step(trainer: Trainer) -> int | None:
    checkpoint = trainer.state.best_model_checkpoint
    return int(checkpoint.rsplit("-", 1)[-1]) if checkpoint else None


def calibrate(model_dir: Path, rows: Sequence[dict]) -> dict[str, Any]:
    """Fit the temperature on the real dev set and write `calibration.json` into the model directory."""
    labeler = Labeler(model_dir)
    logits, *_ = labeler.logits([row["text"] for row in rows])
    gold = np.array([labeler.labels.index(row["label"]) for row in rows])
    temperature = fit_temperature(logits, gold)

    def ece(t: float) -> float:
        probs = softmax(logits / t)
        return expected_calibration_error(probs.max(axis=1), (probs.argmax(axis=1) == gold).astype(float))

    calibration: dict[str, Any] = {
        "temperature": temperature,
        "fitted_on": "real_dev",
        "n": len(rows),
        "nll_before": round(negative_log_likelihood(logits, gold, 1.0), 4),
        "nll_after": round(negative_log_likelihood(logits, gold, temperature), 4),
        "ece_before": round(ece(1.0), 4),
        "ece_after": round(ece(temperature), 4),
    }
    write_json(model_dir / CALIBRATION, calibration)
    return calibration
