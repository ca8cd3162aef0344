"""What one app holds at run time: its settings, metrics, and (once loaded) the Labeler and batcher."""

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from model.directory import METRICS, Manifest, read_json
from model.quantify import Corrector, load_corrector
from service.batcher import MicroBatcher
from service.memory import returning_memory
from service.metrics import Metrics
from service.schemas import ModelInfo, ModelRef
from service.settings import Settings

if TYPE_CHECKING:
    from model.labeler import Prediction

log = logging.getLogger("stance.service")

# One short prediction after loading pays for lazy initialisation (kernels, allocator) before /ready says yes.
WARMUP_TEXT = "The balance of power shapes what states can do; institutions shape what they choose to do."

_HEADLINE_KEYS = ("macro_f1", "accuracy", "ece", "n")


class LabelerLike(Protocol):
    """What the service needs of `model.labeler.Labeler` (tests may wrap one)."""

    directory: Path
    manifest: Manifest
    temperature: float
    backend: str

    @property
    def labels(self) -> Sequence[str]: ...

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...

    def predict(self, texts: Sequence[str]) -> "list[Prediction]": ...


Loader = Callable[[Settings], LabelerLike]


def load_labeler(settings: Settings) -> LabelerLike:
    """The real loader: a Labeler for `settings.model_dir`.

    Imported here, not at the top, so that importing the service stays cheap.
    """
    from model.labeler import Labeler

    # Requests arrive several at once: each call's windows go one after another on every core.
    return Labeler(
        settings.model_dir, backend=settings.backend, threads=settings.threads, parallel_windows=False
    )


def headline_metrics(directory: Path) -> dict[str, dict[str, Any]] | None:
    """`report["model"][split]`'s headline numbers from metrics.json; None when there is no usable file."""
    try:
        report = read_json(directory / METRICS)
    except (OSError, ValueError) as error:
        log.warning("ignoring unreadable %s: %s", directory / METRICS, error)
        return None
    if not isinstance(report, dict) or not isinstance(report.get("model"), dict):
        return None
    return {
        split: {key: result[key] for key in _HEADLINE_KEYS if key in result}
        for split, result in report["model"].items()
        if isinstance(result, dict)
    }


def load_rates(labeler: LabelerLike) -> tuple[Corrector | None, str]:
    """The model's error rates for corrected shares, or None and why (a broken file is logged, not fatal)."""
    from service.summary import NO_RATES

    try:
        corrector = load_corrector(labeler.directory, labeler.labels)
    except ValueError as error:
        log.warning("serving without corrected shares: %s", error)
        return None, f"Not corrected: the model's error rates could not be read ({error})."
    return corrector, "" if corrector else NO_RATES


def describe(labeler: LabelerLike) -> ModelInfo:
    manifest = labeler.manifest
    window = manifest.window
    return ModelInfo(
        name=labeler.name,
        version=labeler.version,
        labels=list(labeler.labels),
        base_model=manifest.base_model,
        corpus_sha256=manifest.corpus_sha256,
        trained_at=manifest.trained_at,
        backend=labeler.backend,
        calibration_temperature=labeler.temperature,
        window={"max_length": window.max_length, "stride": window.stride, "max_windows": window.max_windows},
        metrics=headline_metrics(labeler.directory),
    )


@dataclass
class Runtime:
    """Everything that exists only once the model is ready."""

    labeler: LabelerLike
    batcher: "MicroBatcher[Prediction]"
    info: ModelInfo
    corrector: Corrector | None = None  # None: the model directory has no usable error rates
    no_rates: str = ""  # why not, for the answers' `corrected_shares.note`

    @property
    def ref(self) -> ModelRef:
        return ModelRef(name=self.info.name, version=self.info.version)


@dataclass
class ServiceState:
    settings: Settings
    loader: Loader = load_labeler
    metrics: Metrics = field(default_factory=Metrics)
    runtime: Runtime | None = None
    load_error: str | None = None
    draining: bool = False  # shutting down: /ready and new /v1 work answer 503 while in-flight work finishes

    async def load(self) -> None:
        """Load the model off the event loop, start the batcher and warm the model up on the batcher's
        thread (the thread every later prediction runs on): then the app is ready."""
        batcher: MicroBatcher[Prediction] | None = None
        try:
            labeler = await asyncio.to_thread(self.loader, self.settings)
            batcher = MicroBatcher(
                returning_memory(labeler.predict),  # else memory grows under load: see service/memory.py
                window_s=self.settings.batch_window_ms / 1000,
                token_budget=self.settings.batch_token_budget,
                capacity=self.settings.queue_size,
                on_batch=self.metrics.observe_batch,
                on_depth=self.metrics.queue_depth.set,
            )
            batcher.start()
            await batcher.warm_up([WARMUP_TEXT])
            info = await asyncio.to_thread(describe, labeler)
            corrector, no_rates = await asyncio.to_thread(load_rates, labeler)
            self.runtime = Runtime(labeler, batcher, info, corrector, no_rates)
        except Exception as error:
            self.load_error = f"{type(error).__name__}: {error}"
            log.exception("the model at %s failed to load", self.settings.model_dir)
            return
        finally:
            if self.runtime is None and batcher is not None:  # failed, or stopped while loading
                await batcher.close()
        self.metrics.ready.set(1)
        log.info("model %s %s ready (%s backend)", info.name, info.version, info.backend)

    def start_draining(self) -> None:
        self.draining = True
        self.metrics.ready.set(0)

    async def close(self) -> None:
        self.start_draining()
        if self.runtime is not None:
            await self.runtime.batcher.close()
