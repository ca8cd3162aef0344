import pytest

from model.labeler import Prediction
from model.segment import as_heading, is_heading, split_paragraphs, split_sentences


def test_offsets_index_the_original_document() -> None:
    document = "  Title line\n\nFirst paragraph\nwraps here.\n \t\nSecond one.\r\n\r\nThird.  \n"
    paragraphs = split_paragraphs(document)
    assert [p.text for p in paragraphs] == [
        "Title line",
        "First paragraph\nwraps here.",
        "Second one.",
        "Third.",
    ]
    assert [p.index for p in paragraphs] == [0, 1, 2, 3]
    for p in paragraphs:
        assert document[p.start : p.end] == p.text


@pytest.mark.parametrize("document", ["", "   ", "\n\n\n", "\t \n \n"])
def test_blank_documents_have_no_paragraphs(document: str) -> None:
    assert split_paragraphs(document) == []


def test_unicode_survives_segmentation() -> None:
    document = "السلام عليكم 👋\n\nCafe\u0301 \x00 niño"
    paragraphs = split_paragraphs(document)
    assert len(paragraphs) == 2
    assert all(document[p.start : p.end] == p.text for p in paragraphs)


def test_sentences_know_abbreviations_and_index_the_text() -> None:
    text = (
        "The U.S. Navy said Mr. Smith had left.  “We will not yield,” he said. Is that wise?\n"
        "Prices rose 3.5 per cent; No. 10 Downing St. replied... Then 🌍 peace!"
    )
    sentences = split_sentences(text)
    assert [text[s.start : s.end] for s in sentences] == [
        "The U.S. Navy said Mr. Smith had left.",
        "“We will not yield,” he said.",
        "Is that wise?",
        "Prices rose 3.5 per cent; No. 10 Downing St. replied...",
        "Then 🌍 peace!",
    ]


def test_a_soft_wrap_does_not_end_a_sentence() -> None:
    text = "Treaties bind only\nwhile interests align. Power decides."
    assert [text[s.start : s.end] for s in split_sentences(text)] == [
        "Treaties bind only\nwhile interests align.",
        "Power decides.",
    ]


@pytest.mark.parametrize(
    ("text", "heading"),
    [
        ("What the Strait Crisis Asks of Us", True),
        ("By Miriam Okafor, Contributing Editor\n14 May 2026", True),
        ("Toward a law of nations", True),
        ("Subscribe to our newsletter", True),
        ("Photo: Soldiers at the border. (Agency photo)", True),
        ("No leader starts a war he might not survive.", False),  # a sentence: it may argue
        ("Is NATO obsolete?", False),
        ("The choices before us:", False),
        ("- Expand the alliance to deter aggression", False),  # a list item
        ("2) Keep the sea lanes open", False),
        ("1914", False),  # no words
        (" ".join(["word"] * 21), False),  # too long for a heading
    ],
)
def test_headings(text: str, heading: bool) -> None:
    assert is_heading(text) is heading
    assert split_paragraphs(f"Intro.\n\n{text}")[1].heading is heading


def test_a_heading_is_neither_with_certainty() -> None:
    prediction = Prediction(
        "realist", 0.5, {"realist": 0.5, "liberal_internationalist": 0.2, "neither": 0.3}, 7, 1, False
    )
    ruled = as_heading(prediction)
    assert (ruled.label, ruled.score) == ("neither", 1.0)
    assert ruled.scores == {"realist": 0.0, "liberal_internationalist": 0.0, "neither": 1.0}
    assert (ruled.n_tokens, ruled.n_windows, ruled.truncated) == (7, 1, False)
