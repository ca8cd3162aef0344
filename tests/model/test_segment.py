import pytest

from model.segment import split_paragraphs


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
