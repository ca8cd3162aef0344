"""Fixtures for the service tests."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.main import create_app
from tests.service.helpers import ready_client, tiny_settings


@pytest.fixture(scope="module")
def client(tiny_model_dir: Path) -> Iterator[TestClient]:
    """A ready app on the tiny model with default limits, shared by one test module."""
    with ready_client(create_app(tiny_settings(tiny_model_dir))) as test_client:
        yield test_client


EXPLAIN_LIMIT = 3000  # characters the model may read for one explained request


@pytest.fixture(scope="module")
def decisive_client(decisive_model_dir: Path) -> Iterator[TestClient]:
    """A ready app on the tiny model whose probabilities move with the text, with a low explain limit."""
    settings = tiny_settings(decisive_model_dir, max_explain_chars=EXPLAIN_LIMIT)
    with ready_client(create_app(settings)) as test_client:
        yield test_client
