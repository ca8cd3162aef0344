"""The OpenAPI document says exactly what the server does: schemathesis against a real uvicorn server.

Every check is on, in positive and negative mode: no 5xx; no schema-valid request refused and no
schema-invalid one accepted; every status, content type, header and body as documented.
"""

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.main import create_app
from service.schemas import HAS_WORDS
from tests.service.helpers import live_server, ready_url, tiny_settings

# Small limits keep every schema-valid body far below the 2 MiB body limit (which a JSON schema cannot
# express) and the generated texts cheap to label.
LIMITS = {"max_texts": 8, "max_text_chars": 400, "max_document_chars": 4000}
# A refused size limit is a 413: schema-invalid data, rejected on purpose.
CONFIG = """
[checks.negative_data_rejection]
expected-statuses = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429, "5xx"]
"""
MIN_CASES = 1000


@pytest.fixture(scope="module")
def base_url(tiny_model_dir: Path) -> Iterator[str]:
    with live_server(create_app(tiny_settings(tiny_model_dir, **LIMITS))) as url:
        ready_url(url)
        yield url


def test_the_schema_declares_every_limit(base_url: str) -> None:
    models = httpx.get(f"{base_url}/openapi.json").json()["components"]["schemas"]
    texts = models["ClassifyRequest"]["properties"]["texts"]
    assert (texts["minItems"], texts["maxItems"]) == (1, LIMITS["max_texts"])
    assert texts["items"] == {
        "type": "string",
        "minLength": 1,
        "maxLength": LIMITS["max_text_chars"],
        "pattern": HAS_WORDS,
    }
    text = models["DocumentRequest"]["properties"]["text"]
    assert (text["minLength"], text["maxLength"]) == (1, LIMITS["max_document_chars"])
    assert text["pattern"] == HAS_WORDS


@pytest.mark.slow
def test_schemathesis_finds_nothing(base_url: str, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    report = tmp_path / "report.json"
    command = [
        *(str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(config), "run"),
        f"{base_url}/openapi.json",
        *("--checks", "all", "--mode", "all", "--seed", "20261206", "--max-examples", "500"),
        *("--workers", "1", "--generation-database", "none", "--report", "json"),
        *("--report-json-path", str(report)),
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    summary = json.loads(report.read_text())
    assert summary["failures"] == [] and summary["errors"] == [], run.stdout[-5000:]
    assert run.returncode == 0, run.stdout[-5000:]
    assert summary["operations"]["tested"] == summary["operations"]["total"] == 5
    assert summary["test_cases"]["generated"] >= MIN_CASES
