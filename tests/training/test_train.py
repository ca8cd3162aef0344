"""End-to-end smoke test: a few training steps of a tiny BERT on a few rows, then the saved directory."""

import json
from pathlib import Path

import pytest

from model.directory import read_labels
from model.labeler import Labeler
from model.labels import LABELS
from tests.conftest import build_tiny_model
from training.config import TrainConfig
from training.corpus import assign_splits
from training.metrics import classification_report
from training.train import train

TEXTS = {
    "realist": "Power and interest decide; deterrence and spheres of influence keep the peace, {}.",
    "liberal_internationalist": "Law, institutions and human rights bind nations in cooperation, {}.",
    "neither": "The school board met on Tuesday to discuss bus schedules and lunches, {}.",
}


def _rows(prefix: str, n: int, topic: str) -> list[dict]:
    return [
        {
            "id": f"{prefix}-{label}-{i}",
            "text": TEXTS[label].format(f"{prefix} item {i}"),
            "label": label,
            "topic": topic,
            "genre": "op_ed",
            "era": "1990s",
            "voice": "advocacy" if label != "neither" else "none",
        }
        for i in range(n)
        for label in LABELS
    ]


@pytest.mark.slow
def test_training_smoke(tmp_path: Path) -> None:
    base = build_tiny_model(tmp_path / "base")
    (tmp_path / "data/corpus").mkdir(parents=True)
    (tmp_path / "data/extra").mkdir()
    corpus = _rows("c", 8, "nato") + _rows("t", 2, "sanctions")
    (tmp_path / "data/corpus/a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in corpus))
    (tmp_path / "data/extra/s.jsonl").write_text(
        "".join(
            json.dumps({"id": r["id"], "text": r["text"], "label": r["label"]}) + "\n"
            for r in _rows("s", 4, "x")
        )
    )
    (tmp_path / "data/splits.json").write_text(json.dumps(assign_splits(corpus)))
    (tmp_path / "data/dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _rows("d", 2, "nato")))
    config = TrainConfig.model_validate(
        {
            "model": {
                "name": "smoke",
                "version": "0",
                "base": str(base),
                "max_length": 32,
                "stride": 8,
                "save_dtype": "float32",
                "onnx_int8": True,
                "attention_dropout": 0.0,
                "bag_of_words_weight": 0.3,
            },
            "data": {
                "corpus": ["data/corpus/*.jsonl"],
                "extra_train": ["data/extra/*.jsonl"],
                "splits": "data/splits.json",
                "real_dev": "data/dev.jsonl",
            },
            "train": {
                "output_dir": "out/model",
                "epochs": 8,
                "learning_rate": 2e-3,
                "batch_size": 8,
                "warmup_ratio": 0.0,
                "evals_per_epoch": 1,
                "early_stopping_patience": 50,
            },
            # The student learns from soft targets: the labeled rows' and 16 unlabeled SOTU paragraphs'.
            "distill": {"encoder": str(base), "embedding_weight": 0.5, "pool_size": 16, "teacher_folds": 2,
                        "cache": "runs/embeddings.npz"},
        }
    )  # fmt: skip

    result = train(config, root=tmp_path, progress=False)

    assert result.report["training"]["distillation"]["pool_paragraphs"] == 16
    assert len(result.losses) >= 4
    first, last = result.losses[:2], result.losses[-2:]
    assert sum(last) / 2 < sum(first) / 2, result.losses
    out = tmp_path / "out/model"
    for name in (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "stance.json",
        "calibration.json",
        "metrics.json",
        "README.md",
        "confusion_real_dev.png",
        "reliability_real_dev.png",
    ):
        assert (out / name).exists(), name
    assert read_labels(out) == LABELS
    # Readable by a service running as another user (safetensors alone writes 0600 files).
    assert all(p.stat().st_mode & 0o004 for p in out.iterdir() if p.is_file())
    assert (out / "bag_of_words.json").exists() and Labeler(out).bag_of_words is not None
    # The dropout override reaches the model; the unset one keeps the base model's value.
    saved, original = (json.loads((d / "config.json").read_text()) for d in (out, base))
    assert saved["attention_probs_dropout_prob"] == 0.0 != original["attention_probs_dropout_prob"]
    assert saved["hidden_dropout_prob"] == original["hidden_dropout_prob"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["baselines"]) == {"majority", "tfidf_logreg", "frozen_minilm_logreg"}
    assert "shortcut_probe" in metrics
    # The int8 graph is kept, and serves by default, exactly when it passes the gate.
    gate = metrics["int8_gate"]
    assert set(gate["splits"]) == {"real_dev", "team_test"}
    assert gate["passed"] == all(
        c["agreement"] >= 0.99 and c["macro_f1_drop"] <= 0.01 for c in gate["splits"].values()
    )
    assert (out / "model.int8.onnx").exists() == gate["passed"]
    assert metrics["backend"] == ("onnx" if gate["passed"] else "torch")
    # Reloading the directory reproduces the predictions the report was computed from.
    dev = [json.loads(line) for line in (tmp_path / "data/dev.jsonl").read_text().splitlines()]
    predicted = [p.label for p in Labeler(out).predict([r["text"] for r in dev])]
    again = classification_report([r["label"] for r in dev], predicted, None, LABELS)
    assert again["confusion"] == metrics["model"]["real_dev"]["confusion"]
    card = (out / "README.md").read_text()
    assert "smoke 0" in card and str(metrics["model"]["real_dev"]["macro_f1"])[:4] in card


def test_evaluation_keeps_window_order(tmp_path: Path) -> None:
    """Paragraph metrics depend on eval windows arriving in dataset order, whatever the train sampler."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, TrainingArguments

    from model.encoding import WindowConfig
    from training.train import WeightedLossTrainer, windows_dataset

    base = build_tiny_model(tmp_path / "base")
    tokenizer = AutoTokenizer.from_pretrained(base)
    rows = [{"text": "word " * n, "label": LABELS[n % 3]} for n in (50, 3, 120, 7, 90, 1, 60, 33)]
    dataset, owner = windows_dataset(base, rows, WindowConfig(32, 8, 8))
    args = TrainingArguments(
        output_dir=str(tmp_path / "x"),
        train_sampling_strategy="group_by_length",
        report_to="none",
        use_cpu=True,
    )
    model = AutoModelForSequenceClassification.from_pretrained(base)
    trainer = WeightedLossTrainer(model=model, args=args, processing_class=tokenizer)
    sampler = trainer._get_eval_sampler(dataset)
    assert sampler is not None and list(sampler) == list(range(len(owner)))


def test_onnx_export_fuses_attention(tmp_path: Path) -> None:
    """The int8 graph uses ORT's fused kernels, and labels like the torch model it came from."""
    import onnx

    from model.export import export_onnx

    directory = build_tiny_model(tmp_path / "m")
    graph = onnx.load(str(export_onnx(directory)))
    ops = {node.op_type for node in graph.graph.node}
    assert ops & {"Attention", "QAttention"}  # fused attention (quantised, it becomes QAttention)
    assert "SkipLayerNormalization" in ops
    texts = ["Deterrence rests on strength.", "The treaty binds all members.", "word " * 300]
    torch_scores = [p.scores for p in Labeler(directory, backend="torch").predict(texts)]
    onnx_scores = [p.scores for p in Labeler(directory, backend="onnx").predict(texts)]
    for a, b in zip(torch_scores, onnx_scores, strict=True):
        assert a == pytest.approx(b, abs=0.02)


def test_without_a_bag_of_words_weight_the_directory_holds_no_member(tmp_path: Path) -> None:
    """`--finalize-only` with a config that drops the member must not leave a stale one behind."""
    from model.bag_of_words import SETTINGS, WEIGHTS
    from training.train import add_bag_of_words

    for name in (SETTINGS, WEIGHTS):
        (tmp_path / name).write_text("stale")
    add_bag_of_words(tmp_path, [], None)
    assert list(tmp_path.iterdir()) == []
