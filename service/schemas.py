"""Request and response bodies of the API (they also make the OpenAPI schema at /docs)."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.settings import Settings

# "Holds a character that is not whitespace", with whitespace spelled out as exactly the characters Python's
# `str.isspace` (and so `str.strip`) calls whitespace: `\s` means different sets in Python, ECMA-262 and Rust
# regexes, and a client validating against this schema must reach the same verdict as the server.
HAS_WORDS = r"[^\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"

Overall = Literal["realist", "liberal_internationalist", "neither", "mixed"]


EXPLAIN_DESCRIPTION = (
    "Also measure which sentences each label rests on: every result then carries `explanation` and "
    "`explanation_capped`. Costs one more model read of a paragraph per sentence (limit: "
    "`max_explain_chars`)."
)


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    texts: list[Annotated[str, Field(min_length=1, pattern=HAS_WORDS)]] = Field(
        min_length=1,
        description="Paragraphs to label, each holding a non-whitespace character. Results come back in the "
        "same order. Over `maxItems` texts, or a text over `maxLength` characters, is a 413.",
    )
    explain: bool = Field(default=False, description=EXPLAIN_DESCRIPTION)


class DocumentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(
        min_length=1,
        pattern=HAS_WORDS,
        description="A whole document; paragraphs are separated by blank lines. Over `maxLength` characters "
        "is a 413.",
    )
    explain: bool = Field(default=False, description=EXPLAIN_DESCRIPTION)


class ModelRef(BaseModel):
    name: str
    version: str


def _absent_if_none(value: object) -> bool:
    return value is None


class SentenceEffect(BaseModel):
    start: int = Field(description="Offset of the sentence's first character in the text sent.")
    end: int = Field(description="Offset just past its last character: `text[start:end]` is the sentence.")
    effect: float | None = Field(
        description="How much `label`'s probability drops when the sentence is left out (0.25: 25 points); "
        "negative when leaving it out makes `label` more likely. null when not measured: the paragraph "
        "is one sentence, or the sentence is past the bound (`explanation_capped`)."
    )


class Result(BaseModel):
    label: str = Field(description="The most probable label.")
    score: float = Field(description="Calibrated probability of `label`.")
    scores: dict[str, float] = Field(description="Calibrated probability of every label (they sum to 1).")
    n_tokens: int = Field(description="Word-piece tokens in the text.")
    n_windows: int = Field(description="Model windows the text was read in (long texts take several).")
    truncated: bool = Field(description="True when the text was too long and its tail was not read.")
    # Present only when the request asked for `explain`, so answers without it stay as they were.
    explanation: list[SentenceEffect] | None = Field(
        default=None,
        exclude_if=_absent_if_none,
        description="With `explain`: every sentence of the text, in order, with its effect on `label`.",
    )
    explanation_capped: bool | None = Field(
        default=None,
        exclude_if=_absent_if_none,
        description="With `explain`: true when the text had more sentences than are measured (24); "
        "the later ones have effect null.",
    )


class ClassifyResponse(BaseModel):
    model: ModelRef
    results: list[Result]


class ParagraphResult(Result):
    index: int = Field(description="Position of the paragraph in the document, from 0.")
    start: int = Field(description="Offset of the paragraph's first character: `text[start:end]` is it.")
    end: int = Field(description="Offset just past the paragraph's last character.")
    text: str
    heading: bool = Field(
        description="Reads like a heading: at most 20 words on lines none of which ends like a sentence "
        "(titles, subheads, bylines, datelines, short captions). Labeled `neither` by rule, with "
        "probability 1, not by the model."
    )


class ShareInterval(BaseModel):
    share: float = Field(description="Estimated share of the document's paragraphs with this label.")
    low: float = Field(description="Lower end of the 95% interval.")
    high: float = Field(description="Upper end of the 95% interval.")


class CorrectedShares(BaseModel):
    method: str | None = Field(
        description="How the shares are corrected for the model's known errors (`composite`: counting moved "
        "towards adjusted classify and count as far as their difference stands out of its noise; see "
        "docs/batch.md); null when the model directory has no error rates."
    )
    shares: dict[str, ShareInterval] | None = Field(
        description="Every label's corrected share of the document's paragraphs with a 95% interval that "
        "covers both which paragraphs the document happens to have and the uncertainty of the error "
        "rates; null without error rates."
    )
    short: bool = Field(
        description="True when the model read fewer than 20 paragraphs: the intervals are then wide, and the "
        "shares say little about the document."
    )
    note: str = Field(description="What the shares rest on, in words (and that they are wide, when short).")


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
    mixed_threshold: float = Field(
        description="The share of stance mass a side needs for `overall` to name it."
    )
    corrected_shares: CorrectedShares = Field(
        description="Each label's share of the paragraphs, corrected for the model's error rates on real "
        "text, with 95% intervals: what to cite rather than `counts`."
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
    "explained": {
        "summary": "One paragraph, with the effect of each sentence on its label",
        "value": {
            "texts": [
                "Great powers will always compete for security. Alliances last only while interests align. "
                "Treaties cannot change that."
            ],
            "explain": True,
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
    "article, explained": {
        "summary": "The same article, with the sentences each label rests on",
        "value": {
            "text": "By A. Writer\n\nThe balance of power in Asia is shifting. Washington must hedge.\n\n"
            "Only a rules-based order can keep the peace. It needs the UN and open trade behind it.",
            "explain": True,
        },
    },
}

# Real output of the shipped model (2.0.0) for the request in docs/api.md's `explain` example.
CLASSIFY_RESPONSE_EXAMPLE: dict[str, Any] = {
    "model": {"name": "stance-minilm", "version": "2.0.0"},
    "results": [
        {
            "label": "realist",
            "score": 0.920672,
            "scores": {"realist": 0.920672, "liberal_internationalist": 0.07514, "neither": 0.004188},
            "n_tokens": 50,
            "n_windows": 1,
            "truncated": False,
            "explanation": [
                {"start": 0, "end": 44, "effect": -0.004995},
                {"start": 45, "end": 170, "effect": 0.037272},
                {"start": 171, "end": 227, "effect": 0.384156},
            ],
            "explanation_capped": False,
        }
    ],
}


def declare_limits(schema: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Write the configured size limits into an OpenAPI document, in place.

    They come from the settings of the running app, so the static request models cannot carry them; the
    routes enforce the same three settings (with a 413, as the descriptions say).
    """
    models = schema["components"]["schemas"]
    texts = models["ClassifyRequest"]["properties"]["texts"]
    texts["maxItems"] = settings.max_texts
    texts["items"]["maxLength"] = settings.max_text_chars
    models["DocumentRequest"]["properties"]["text"]["maxLength"] = settings.max_document_chars
    return schema
