"""The Labeler: loads a model directory and labels paragraphs. The only inference path."""

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from model.bag_of_words import BagOfWords
from model.directory import ONNX_INT8, Manifest, read_json, read_labels, read_temperature
from model.encoding import encode, length_buckets, load_tokenizer, pad
from model.explain import MAX_SENTENCES, Explained, explain_texts

Backend = Literal["auto", "onnx", "torch"]


@dataclass(frozen=True)
class Prediction:
    """One paragraph's label with calibrated probabilities for every label."""

    label: str
    score: float
    scores: dict[str, float]
    n_tokens: int
    n_windows: int
    truncated: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Runner(Protocol):
    def many(self, batches: Sequence[dict[str, np.ndarray]]) -> list[np.ndarray]: ...


def available_cores() -> int:
    """Cores this process may use (respects CPU affinity and container limits)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class _TorchRunner:
    def __init__(self, directory: Path, threads: int) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification
        from transformers.utils import logging as hf_logging

        if not any(directory.glob("*.safetensors")):
            raise FileNotFoundError(
                f"{directory} has no torch weights (*.safetensors), only the int8 ONNX graph; use the "
                "default backend, or `make train` for a directory with both"
            )
        torch.set_num_threads(threads)
        hf_logging.disable_progress_bar()  # would interleave with the batch script's progress bar
        self._torch = torch
        # Weights may be stored in fp16 to keep the shipped model small; compute in fp32 on CPU.
        self.model = AutoModelForSequenceClassification.from_pretrained(directory, dtype=torch.float32)
        self.model.eval()

    def many(self, batches: Sequence[dict[str, np.ndarray]]) -> list[np.ndarray]:
        """Logits of each padded batch, one after another (torch spreads each over the cores)."""
        with self._torch.inference_mode():
            return [
                self.model(**{k: self._torch.from_numpy(v) for k, v in inputs.items()}).logits.float().numpy()
                for inputs in batches
            ]


class _OnnxRunner:
    """The int8 graph, which gets one window per call (see `Labeler`).

    One window is too little work to split well over the cores, so with `parallel` several windows
    run at once, each on one core (measured on 2 cores, 600 SOTU paragraphs: 133 windows/s against
    100 for one call at a time on both cores, with bit-identical logits). A lone window still gets
    every core.
    """

    def __init__(self, path: Path, threads: int, parallel: bool = True) -> None:
        import onnxruntime as ort

        def session(intra_op_threads: int) -> Any:
            options = ort.SessionOptions()
            options.intra_op_num_threads = intra_op_threads
            options.inter_op_num_threads = 1
            return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

        self.session = session(threads)
        parallel = parallel and threads > 1
        self.one_core = session(1) if parallel else self.session
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="stance-onnx") if parallel else None
        self.input_names = {i.name for i in self.session.get_inputs()}

    def _run(self, session: Any, inputs: dict[str, np.ndarray]) -> np.ndarray:
        feed = {k: v for k, v in inputs.items() if k in self.input_names}
        return np.asarray(session.run(["logits"], feed)[0], dtype=np.float32)

    def many(self, batches: Sequence[dict[str, np.ndarray]]) -> list[np.ndarray]:
        if self.pool is None or len(batches) < 2:
            return [self._run(self.session, inputs) for inputs in batches]
        # onnxruntime releases the GIL while it runs, so the pool's threads use the cores in parallel.
        return list(self.pool.map(lambda inputs: self._run(self.one_core, inputs), batches))


class Labeler:
    """Label paragraphs with a model directory.

    Long paragraphs are windowed (see `model.encoding`) and their window logits averaged; batches
    are formed by length so padding costs little; probabilities are temperature-calibrated. When the
    directory also holds a bag-of-words member (`model.bag_of_words`), the transformer's and the
    bag of words' probabilities are averaged with the member's stored weight before calibration.
    A paragraph's result never depends on the other paragraphs it is labeled with.

    `parallel_windows` runs the int8 graph's windows several at once, one per core: the batch path's
    choice. A server, whose requests already come several at once, gets more from running each call's
    windows one after another on every core (measured with 32 clients: 104 against 76 paragraphs/s).
    """

    def __init__(
        self,
        directory: str | Path,
        backend: Backend = "auto",
        token_budget: int = 8192,
        # 16 windows per call: measured 13% faster than 64 with torch and 8% with int8 ONNX on 2 cores
        # (600 SOTU paragraphs, length-bucketed): past 16, bigger batches only cost more per paragraph.
        max_batch: int = 16,
        threads: int | None = None,
        parallel_windows: bool = True,
    ) -> None:
        self.directory = Path(directory)
        if not (self.directory / "config.json").exists():
            raise FileNotFoundError(f"no model directory at {self.directory} (config.json missing)")
        self.labels = read_labels(self.directory)
        self.manifest = Manifest.load(self.directory)
        self.temperature = read_temperature(self.directory)
        # The Rust tokenizer's own thread pool fights torch/ORT for the same cores.
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self.tokenizer = load_tokenizer(self.directory, self.manifest.window)
        self.pad_id = int(read_json(self.directory / "config.json").get("pad_token_id") or 0)
        threads = threads or available_cores()
        onnx_path = self.directory / ONNX_INT8
        if backend != "torch" and not onnx_path.exists() and self.manifest.int8_sha256:
            from model.export import derived_int8_graph

            onnx_path = derived_int8_graph(self.directory, self.manifest.int8_sha256) or onnx_path
        if backend == "onnx" or (backend == "auto" and onnx_path.exists()):
            self.backend: str = "onnx"
            self._runner: _Runner = _OnnxRunner(onnx_path, threads, parallel_windows)
            # Dynamic int8 quantises each call's activations with one scale for the whole batch, so a
            # window's logits would move with its batch-mates: the graph runs one window at a time
            # (measured 112 paragraphs/s against 118 batched on 2 cores).
            max_batch = 1
        else:
            self.backend = "torch"
            self._runner = _TorchRunner(self.directory, threads)
        self.bag_of_words = BagOfWords.load(self.directory)
        if self.bag_of_words is not None and self.bag_of_words.labels != self.labels:
            raise ValueError(
                f"{self.directory}: bag-of-words labels {self.bag_of_words.labels} != {self.labels}"
            )
        self.token_budget = token_budget
        self.max_batch = max_batch

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> str:
        return self.manifest.version

    def logits(self, texts: Sequence[str]) -> tuple[np.ndarray, list[int], list[int], list[bool]]:
        """Uncalibrated paragraph logits, token counts, window counts, truncation.

        The transformer's logits are the mean over a paragraph's windows. With a bag-of-words member
        they are the log of the two members' weighted average probability (logits up to a constant).
        """
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"text {i} is empty or not a string; every paragraph needs words")
        encoded = encode(self.tokenizer, texts, self.manifest.window)
        window_logits = np.zeros((len(encoded.windows), len(self.labels)), dtype=np.float32)
        lengths = [len(w) for w in encoded.windows]
        batches = list(length_buckets(lengths, self.token_budget, self.max_batch))
        padded = [pad([encoded.windows[i] for i in batch], self.pad_id) for batch in batches]
        for batch, logits in zip(batches, self._runner.many(padded), strict=True):
            window_logits[batch] = logits
        sums = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        np.add.at(sums, np.asarray(encoded.owner, dtype=np.int64), window_logits)
        paragraph_logits = sums / np.maximum(np.asarray(encoded.n_windows, dtype=np.float32), 1)[:, None]
        if self.bag_of_words is not None:
            weight = self.bag_of_words.weight
            mixed = (1 - weight) * softmax(paragraph_logits) + weight * self.bag_of_words.probabilities(texts)
            paragraph_logits = np.log(np.maximum(mixed, 1e-12)).astype(np.float32)
        return paragraph_logits, encoded.n_tokens, encoded.n_windows, encoded.truncated

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated probabilities: softmax of logits divided by the fitted temperature."""
        return softmax(logits / self.temperature)

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """Label each text; raises ValueError on empty text rather than guessing."""
        if not texts:
            return []
        logits, n_tokens, n_windows, truncated = self.logits(texts)
        probs = self.probabilities(logits)
        predictions = []
        for i, row in enumerate(probs):
            best = int(row.argmax())
            predictions.append(
                Prediction(
                    label=self.labels[best],
                    score=round(float(row[best]), 6),
                    scores={label: round(float(p), 6) for label, p in zip(self.labels, row, strict=True)},
                    n_tokens=n_tokens[i],
                    n_windows=n_windows[i],
                    truncated=truncated[i],
                )
            )
        return predictions

    def explain(self, text: str, max_sentences: int = MAX_SENTENCES) -> Explained:
        """Label `text` and measure each sentence's effect on its label (see `model.explain`)."""
        return explain_texts(self.predict, [text], max_sentences)[0]


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)
