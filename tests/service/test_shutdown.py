"""SIGTERM drains a real `stance serve` process: in-flight requests finish, then it exits by itself."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.service.helpers import wait_ready

REPO = Path(__file__).resolve().parents[2]
GRACE = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def slow_server(model_dir: Path, delay: float, grace: float) -> Iterator[tuple[subprocess.Popen, str]]:
    port = free_port()
    env = {**os.environ, "STANCE_SHUTDOWN_GRACE_SECONDS": str(grace), "STANCE_LOG_LEVEL": "warning"}
    command = [sys.executable, "-m", "tests.service.slow_server", str(model_dir), str(port), str(delay)]
    process = subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "the server never answered"
                try:
                    http.get("/health")
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            wait_ready(http.get)
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def queue_depth(http: httpx.Client) -> float:
    match = re.search(r"^stance_queue_depth_paragraphs (\S+)$", http.get("/metrics").text, re.MULTILINE)
    assert match is not None
    return float(match.group(1))


@pytest.mark.slow
def test_sigterm_finishes_every_request_in_flight_then_exits(tiny_model_dir: Path) -> None:
    clients = 6
    with slow_server(tiny_model_dir, delay=1.0, grace=GRACE) as (process, url):

        def classify(i: int) -> httpx.Response:
            with httpx.Client(base_url=url, timeout=60) as http:
                return http.post("/v1/classify", json={"texts": [f"Power decides, {i} times over."]})

        with ThreadPoolExecutor(clients) as pool, httpx.Client(base_url=url, timeout=30) as http:
            answers = [pool.submit(classify, i) for i in range(clients)]
            deadline = time.monotonic() + 30
            while queue_depth(http) < clients:  # every request accepted and waiting on the slow model
                assert time.monotonic() < deadline
                time.sleep(0.02)
            signalled = time.monotonic()
            process.send_signal(signal.SIGTERM)
            # Draining: the instance says it is going, and takes no new work...
            ready = http.get("/ready")
            assert ready.status_code == 503
            assert ready.json()["error_type"] == "shutting_down"
            refused = http.post("/v1/classify", json={"texts": ["One more."]})
            assert refused.status_code == 503
            assert refused.json()["error_type"] == "shutting_down"
            assert refused.headers["retry-after"] == "1"
            assert http.get("/health").status_code == 200
            assert process.poll() is None  # ...while what it had accepted is still being labeled.
            statuses = [answer.result(timeout=60).status_code for answer in answers]
        assert statuses == [200] * clients
        # Then it exits by itself, well within the grace period (0: a clean exit, not the re-raised signal).
        assert process.wait(timeout=GRACE) == 0
        assert time.monotonic() - signalled < GRACE
        _, log = process.communicate()
        assert "Traceback" not in log, log


@pytest.mark.slow
def test_the_grace_period_bounds_a_request_that_takes_too_long(tiny_model_dir: Path) -> None:
    grace = 2.0
    with (
        slow_server(tiny_model_dir, delay=8.0, grace=grace) as (process, url),
        ThreadPoolExecutor(1) as pool,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        answer = pool.submit(http.post, "/v1/classify", json={"texts": ["Too slow."]})
        deadline = time.monotonic() + 30
        while queue_depth(http) < 1:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        # The model call outlives the grace period: the process does not wait for it.
        assert process.wait(timeout=grace + 3) == 0
        assert time.monotonic() - signalled < grace + 3
        late = answer.result(timeout=30)  # answered, with the service's own error
        assert late.status_code == 503
        assert late.json()["error_type"] == "shutting_down"
