"""The stance classifier as a library: labels, segmentation, model directory, and the Labeler."""

from model.labeler import Labeler, Prediction
from model.labels import LABELS
from model.segment import Paragraph, split_paragraphs

__all__ = ["LABELS", "Labeler", "Paragraph", "Prediction", "split_paragraphs"]
