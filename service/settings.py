"""Service settings: every knob is an environment variable with the `STANCE_` prefix."""

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PositiveFloat, PositiveInt, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from model.directory import default_model_dir


class Settings(BaseSettings):
    """What `stance serve` runs with; `STANCE_PORT=9000` sets `port`, and so on."""

    model_config = SettingsConfigDict(env_prefix="STANCE_", extra="ignore")

    host: str = Field(default="127.0.0.1", description="Interface to listen on (0.0.0.0 in a container).")
    port: int = Field(default=8000, ge=0, le=65535, description="TCP port.")
    model_dir: Path = Field(default_factory=default_model_dir, description="Model directory to serve.")
    backend: Literal["auto", "onnx", "torch"] = Field(
        default="auto",
        description="Inference backend; auto = ONNX int8 when the model directory has it, else torch.",
    )
    threads: PositiveInt | None = Field(
        default=None, description="Inference threads; default: every available core."
    )
    max_texts: PositiveInt = Field(
        default=256, description="Most texts in one /v1/classify request (else 413)."
    )
    max_text_chars: PositiveInt = Field(
        default=20_000, description="Longest text in /v1/classify, in characters (else 413)."
    )
    max_body_bytes: PositiveInt = Field(
        default=2 * 1024 * 1024, description="Largest request body in bytes (else 413)."
    )
    max_document_chars: PositiveInt = Field(
        default=500_000, description="Longest /v1/documents text, in characters (else 413)."
    )
    max_explain_chars: PositiveInt = Field(
        # About 10 s on 2 cores: the 13,000-word 1881 address explained whole reads 193,934 characters
        # (10.3 s, against 4.8 s without explain).
        default=200_000,
        description="With `explain`, most characters the model may read for one request: every paragraph "
        "once, plus once per measured sentence without that sentence (else 413).",
    )
    batch_window_ms: float = Field(
        # 0: an idle model starts at once, and requests arriving while it runs form the next batch.
        # Measured with one client on 2 cores: p50 26.7 ms at 0 vs 33.5 ms at 5, same throughput under load.
        default=0.0,
        ge=0,
        description="Extra wait for more requests before running a batch (0: none, batch what is queued).",
    )
    batch_token_budget: PositiveInt = Field(
        default=16_384,
        description="Approximate tokens (characters / 4) after which a batch runs without waiting.",
    )
    queue_size: PositiveInt = Field(
        default=1024, description="Paragraphs waiting or being labeled before new requests get 429."
    )
    retry_after_seconds: PositiveInt = Field(
        default=1, description="Retry-After sent with 429 and 503 answers."
    )
    mixed_threshold: float = Field(
        default=2 / 3,
        gt=0.5,
        le=1.0,
        description="Share of stance probability mass one side needs for a document's `overall` to name it.",
    )
    shutdown_grace_seconds: PositiveFloat = Field(
        default=30.0,
        description="On SIGTERM, how long in-flight requests may take to finish before the server exits.",
    )
    api_key: SecretStr | None = Field(
        default=None,
        description="When set, every /v1/* request needs `Authorization: Bearer <key>` (else 401); "
        "/health, /ready and /metrics stay open. Unset or empty: no key needed.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated origins allowed to call the API from a browser (`*` for any); "
        "empty: no CORS headers at all.",
    )
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        default="info", description="Log level of the server and uvicorn."
    )

    @field_validator("api_key", mode="before")
    @classmethod
    def _empty_key_is_none(cls, value: Any) -> Any:
        # `STANCE_API_KEY=` (set but empty) means no key, not a key that every empty header matches.
        if value == "":
            return None
        if isinstance(value, str) and not (value.isascii() and value.isprintable() and " " not in value):
            # What a client can put in an HTTP header, byte for byte.
            raise ValueError("the API key must be printable ASCII without spaces")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()
