"""From input Records to things to label, and from predictions to output rows.

Shared by the local and the Ray engine, so both write the same schema.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from batch.inputs import EXCERPT, Record, UsageError
from model.explain import Explained
from model.segment import as_heading, split_paragraphs

DOCUMENT_COLUMNS = ("document_id", "paragraph_index", "start", "end", "heading")
RENAMED_PREFIX = "input_"


class Predicted(Protocol):
    """What the batch code needs of a `model.labeler.Prediction`."""

    @property
    def label(self) -> str: ...

    @property
    def score(self) -> float: ...

    @property
    def scores(self) -> dict[str, float]: ...

    @property
    def n_tokens(self) -> int: ...

    @property
    def truncated(self) -> bool: ...


@dataclass(frozen=True)
class Fields:
    """How input rows are read: which field holds the text and the id, and whether texts are documents."""

    text: str = "text"
    id: str = "id"
    documents: bool = False


@dataclass
class ErrorEntry:
    """One line of the errors file."""

    source: str
    row: int | None
    id: Any
    reason: str
    detail: str = ""
    excerpt: str | None = None

    def to_dict(self) -> dict[str, Any]:
        entry = {
            "source": self.source,
            "row": self.row,
            "id": self.id,
            "reason": self.reason,
            "detail": self.detail,
        }
        if self.excerpt is not None:
            entry["excerpt"] = self.excerpt
        return entry


@dataclass
class Item:
    """One paragraph to label and the output row it will fill (without the prediction columns).

    `offset`: where the text starts in its input row's text (explanation offsets index that); `heading`:
    with --documents, a paragraph that reads like a heading, labeled `neither` by rule.
    """

    row: dict[str, Any]
    text: str
    offset: int = 0
    heading: bool = False


@dataclass
class Unit:
    """One input row, prepared: its paragraphs (one unless --documents), or why it cannot be labeled."""

    source: str
    row: int | None
    id: Any
    items: list[Item]
    error: ErrorEntry | None = None

    def failed(self, detail: str) -> ErrorEntry:
        """The errors-file entry for a row the labeler itself rejected."""
        return ErrorEntry(self.source, self.row, self.id, "labeling_failed", detail[:EXCERPT])

    @property
    def weight(self) -> int:
        return max(1, len(self.items))


EXPLAIN_COLUMNS = ("explanation", "explanation_capped")


def prediction_columns(labels: Sequence[str], scores_object: bool, explain: bool = False) -> list[str]:
    """Columns every output row gets after the input's (`scores` only in JSONL, explanations if asked)."""
    columns = ["label", "score", *(f"score_{label}" for label in labels)]
    if scores_object:
        columns.append("scores")
    columns += ["n_tokens", "truncated", "model_name", "model_version"]
    return [*columns, *EXPLAIN_COLUMNS] if explain else columns


class RowBuilder:
    """Validates input rows into Units and turns predictions into output rows."""

    def __init__(
        self,
        fields: Fields,
        labels: Sequence[str],
        model_name: str,
        model_version: str,
        scores_object: bool,
        explain: bool = False,
    ) -> None:
        self.fields = fields
        self.labels = tuple(labels)
        self.model_name = model_name
        self.model_version = model_version
        self.scores_object = scores_object
        self.explain = explain
        added = prediction_columns(labels, scores_object=True, explain=explain)
        if fields.documents:
            added = [*DOCUMENT_COLUMNS, *added]
        # Input columns that share a name with an added one (a gold `label`, say) are kept, renamed.
        self.reserved = frozenset(added)
        for role, name in (("--text-field", fields.text), ("--id-field", fields.id)):
            if name in self.reserved:
                raise UsageError(f"{role} {name!r} is the name of an output column; pick another field")

    def column_name(self, key: str) -> str:
        return RENAMED_PREFIX + key if key in self.reserved else key

    def output_columns(self, input_keys: Sequence[str]) -> list[str]:
        """The fixed column list of a CSV or Parquet output, given the union of input keys."""
        columns = [] if self.fields.id in input_keys else [self.fields.id]
        columns += [self.column_name(key) for key in input_keys]
        if self.fields.documents:
            columns += DOCUMENT_COLUMNS
        added = prediction_columns(self.labels, self.scores_object, self.explain)
        return list(dict.fromkeys([*columns, *added]))

    def prepare(self, record: Record) -> Unit:
        """Check one row's text and id; split it into paragraphs with --documents."""
        if record.values is None:
            error = ErrorEntry(
                record.source,
                record.row,
                None,
                record.error or "unreadable_file",
                record.detail,
                record.excerpt,
            )
            return Unit(record.source, record.row, None, [], error)
        values = record.values
        text_field, id_field = self.fields.text, self.fields.id
        ident = values.get(id_field)
        provided = ident is not None and ident != ""

        def fail(reason: str, detail: str) -> Unit:
            shown = ident if provided else None
            return Unit(
                record.source,
                record.row,
                shown,
                [],
                ErrorEntry(record.source, record.row, shown, reason, detail),
            )

        text = values.get(text_field)
        if text_field not in values:
            return fail("missing_field", f"no {text_field!r} field")
        if text is None:
            return fail("missing_field", f"{text_field!r} is null")
        if not isinstance(text, str):
            return fail("non_string_text", f"{text_field!r} is a {type(text).__name__}, not a string")
        if not text.strip():
            return fail("empty_text", f"{text_field!r} is empty or blank")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return fail("undecodable", f"{text_field!r} holds lone surrogates, not valid Unicode")
        if not provided:
            ident = record.default_id
        row: dict[str, Any] = {} if id_field in values else {id_field: ident}
        for key, value in values.items():
            row[key if key == id_field else self.column_name(key)] = ident if key == id_field else value
        if not self.fields.documents:
            return Unit(record.source, record.row, ident, [Item(row, text)])
        paragraphs = split_paragraphs(text)
        items = []
        for paragraph in paragraphs:
            item_row = dict(row)
            item_row[id_field] = f"{ident}:{paragraph.index}"
            item_row[text_field] = paragraph.text
            item_row.update(
                document_id=ident,
                paragraph_index=paragraph.index,
                start=paragraph.start,
                end=paragraph.end,
                heading=paragraph.heading,
            )
            items.append(Item(item_row, paragraph.text, paragraph.start, paragraph.heading))
        return Unit(record.source, record.row, ident, items)

    def labeled(self, item: Item, result: Predicted | Explained) -> dict[str, Any]:
        """The output row: the input's columns, then the prediction's (and its explanation, if asked)."""
        prediction: Predicted
        if isinstance(result, Explained):
            explained, prediction = result, result.prediction
        else:
            explained, prediction = None, result
        if item.heading:
            prediction = as_heading(prediction)
        row = dict(item.row)
        row["label"] = prediction.label
        row["score"] = prediction.score
        for label in self.labels:
            row[f"score_{label}"] = prediction.scores[label]
        if self.scores_object:
            row["scores"] = dict(prediction.scores)
        row["n_tokens"] = prediction.n_tokens
        row["truncated"] = prediction.truncated
        row["model_name"] = self.model_name
        row["model_version"] = self.model_version
        if self.explain:
            if explained is None:
                raise TypeError("--explain rows need explanations, got a bare prediction")
            # Offsets into the input row's text, as /v1/documents gives; headings have nothing to explain.
            explanation = [] if item.heading else explained.explanation(item.offset)
            # JSONL keeps the list; CSV and Parquet cells hold it as JSON text.
            row["explanation"] = explanation if self.scores_object else json.dumps(explanation)
            row["explanation_capped"] = explained.capped and not item.heading
        return row
