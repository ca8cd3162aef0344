"""The self-describing model directory: what each file is, and how the manifest is read and written.

config.json          transformers config, with `id2label`/`label2id` (the label order)
model.safetensors    weights (torch backend)
model.int8.onnx      optional int8 ONNX graph (default backend when present, or rebuilt and
                     verified from `int8_sha256` in the manifest: `model.export`)
tokenizer.json ...   tokenizer
stance.json          manifest: name, version, base model, corpus hash, windowing
calibration.json     temperature fitted on the real dev set
metrics.json         evaluation per split
README.md            model card
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from model.encoding import WindowConfig

MANIFEST = "stance.json"
CALIBRATION = "calibration.json"
METRICS = "metrics.json"
CARD = "README.md"
ONNX_INT8 = "model.int8.onnx"


@dataclass(frozen=True)
class Manifest:
    """What a model is: shown by `GET /v1/model` and written into every prediction."""

    name: str
    version: str
    base_model: str = ""
    corpus_sha256: str = ""
    trained_at: str = ""
    window: WindowConfig = field(default_factory=WindowConfig)
    int8_sha256: str = ""  # the gated int8 graph, when it is rebuilt rather than shipped

    def save(self, directory: Path) -> None:
        (directory / MANIFEST).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, directory: Path) -> "Manifest":
        data = read_json(directory / MANIFEST, default={"name": directory.name, "version": "unversioned"})
        data["window"] = WindowConfig(**data.get("window", {}))
        return cls(**data)


def read_json(path: Path, default: Any = None) -> Any:
    """Read a JSON file, or return `default` when it does not exist."""
    if not path.exists():
        return default
    return json.loads(path.read_text())


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def read_labels(directory: Path) -> tuple[str, ...]:
    """The label order, from `config.json`'s `id2label`: the only source of it."""
    config = read_json(directory / "config.json")
    if config is None:
        raise FileNotFoundError(f"{directory} is not a model directory: it has no config.json")
    id2label = {int(k): v for k, v in config["id2label"].items()}
    return tuple(id2label[i] for i in range(len(id2label)))


def read_temperature(directory: Path) -> float:
    """The calibration temperature; 1.0 (no calibration) when none was fitted."""
    return float(read_json(directory / CALIBRATION, default={}).get("temperature", 1.0))


def default_model_dir() -> Path:
    """The shipped model (`models/default` in the repo), unless STANCE_MODEL_DIR points elsewhere."""
    import os

    override = os.environ.get("STANCE_MODEL_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[1] / "models" / "default"
