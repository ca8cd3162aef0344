"""Request and response bodies of the API (they also make the OpenAPI schema at /docs)."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Overall = Literal["realist", "liberal_internationalist", "neither", "mixed"]


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    texts: list[str] = Field(
        description="Paragraphs to label, each non-empty. Results come back in the same order.",
    )


class DocumentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(description="A whole document; paragraphs are separated by blank lines.")


class ModelRef(BaseModel):
    name: str
    version: str


class Result(BaseModel):
    label: str = Field(description="The most probable label.")
    score: float = Field(description="Calibrated probability of `label`.")
    scores: dict[str, float] = Field(description="Calibrated probability of every label (they sum to 1).")
    n_tokens: int = Field(description="Word-piece tokens in the text.")
    n_windows: int = Field(description="Model windows the text was read in (long texts take several).")
    truncated: bool = Field(description="True when the text was too long and its tail was not read.")


class ClassifyResponse(BaseModel):
    model: ModelRef
    results: list[Result]


class ParagraphResult(Result):
    index: int = Field(description="Position of the paragraph in the document, from 0.")
    start: int = Field(description="Offset of the paragraph's first character: `text[start:end]` is it.")
    end: int = Field(description="Offset just past the paragraph's last character.")
    text: str


class Summary(BaseModel):
    counts: dict[str, int] = Field(description="Paragraphs per predicted label (every label present).")
    paragraphs: int
    stance_paragraphs: int = Field(description="Paragraphs labeled realist or liberal_internationalist.")
    realist_share: float | None = Field(
        description="Share of stance paragraphs labeled realist; null if none."
    )
    liberal_internationalist_share: float | None = Field(
        description="Share of stance paragraphs labeled liberal_internationalist; null if none."
    )
    realist_mass_share: float | None = Field(
        description="realist probability mass / (realist + liberal_internationalist mass) over stance "
        "paragraphs: what `overall` is decided on; null if no stance paragraphs."
    )
    overall: Overall = Field(
        description="`neither` with no stance paragraphs; a side when it holds at least the threshold "
        "(default 2/3) of the stance probability mass; else `mixed`."
    )


class DocumentResponse(BaseModel):
    model: ModelRef
    paragraphs: list[ParagraphResult]
    summary: Summary


class ModelInfo(BaseModel):
    name: str
    version: str
    labels: list[str]
    base_model: str
    corpus_sha256: str
    trained_at: str
    backend: str = Field(description="`onnx` or `torch`.")
    calibration_temperature: float = Field(description="Logits are divided by this before the softmax.")
    window: dict[str, int] = Field(description="How long paragraphs are cut into model windows.")
    metrics: dict[str, dict[str, Any]] | None = Field(
        description="Headline evaluation per split from the model directory's metrics.json "
        "(macro_f1, accuracy, ece, n); null when the directory has none."
    )


class Status(BaseModel):
    status: str
    model: ModelRef | None = None


CLASSIFY_EXAMPLES: dict[str, Any] = {
    "two paragraphs": {
        "summary": "Two paragraphs",
        "value": {
            "texts": [
                "Great powers will always compete for security; alliances last only while interests align.",
                "Open markets and strong international institutions make cooperation the rational choice.",
            ]
        },
    },
}

DOCUMENT_EXAMPLES: dict[str, Any] = {
    "article": {
        "summary": "A short article",
        "value": {
            "text": "By A. Writer\n\nThe balance of power in Asia is shifting, and Washington must hedge.\n\n"
            "Only a rules-based order, backed by the UN and open trade, can keep the peace.\n\n"
            "Subscribe to our newsletter"
        },
    },
}
