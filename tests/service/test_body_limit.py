"""Oversized bodies get their 413 every time, over a real socket to a real uvicorn server."""

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from service.main import create_app
from tests.service.helpers import live_server, ready_url, tiny_settings

BODY = json.dumps({"texts": ["x" * (3 * 1024 * 1024)]}).encode()  # 3 MB, over the default 2 MiB limit


@pytest.fixture(scope="module")
def address(tiny_model_dir: Path) -> Iterator[tuple[str, int]]:
    with live_server(create_app(tiny_settings(tiny_model_dir))) as url:
        ready_url(url)
        parts = urlsplit(url)
        assert parts.hostname is not None and parts.port is not None
        yield parts.hostname, parts.port


def post(address: tuple[str, int], extra_headers: str = "") -> tuple[int, dict]:
    """POST the 3 MB body and read the answer, as a client that sends it all before it reads.

    A small send buffer keeps the client sending while the server answers, and `Connection: close` (what
    urllib sends) makes the server close after its answer: before the body was drained, the client's
    kernel then saw a reset and threw the unread 413 away.
    """
    head = (
        "POST /v1/classify HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(BODY)}\r\nConnection: close\r\n{extra_headers}\r\n"
    )
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        sock.settimeout(30)
        sock.connect(address)
        sock.sendall(head.encode() + BODY)
        answer = b""
        while data := sock.recv(65536):
            answer += data
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


def test_a_3mb_body_gets_its_413_fifty_times_in_fifty(address: tuple[str, int]) -> None:
    answers = [post(address) for _ in range(50)]  # a reset raises ConnectionResetError here
    assert [status for status, _ in answers] == [413] * 50
    assert {body["error_type"] for _, body in answers} == {"too_large"}


def test_a_client_waiting_for_100_continue_is_answered_at_once(address: tuple[str, int]) -> None:
    head = (
        "POST /v1/classify HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(BODY)}\r\nExpect: 100-continue\r\n\r\n"
    )
    with socket.create_connection(address, timeout=30) as sock:
        sock.sendall(head.encode())  # and no body: the server must not wait for it
        answer = b""
        while not answer.endswith(b"}"):  # the connection stays open: read up to the end of the JSON
            answer += sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413")
    assert b'"too_large"' in answer
