"""A scripted SPARQL endpoint: a real HTTP server on 127.0.0.1 that answers what a test tells it to."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

OK_BODY = json.dumps({"head": {"vars": ["x"]}, "results": {"bindings": [{"x": {"type": "literal", "value": "1"}}]}})


@dataclass
class Answer:
    """One scripted HTTP answer; ``delay_s`` holds it back (a hanging endpoint)."""

    body: str = OK_BODY
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/sparql-results+json"
    delay_s: float = 0.0


class FakeEndpoint:
    """Answers POSTs from ``script`` (:class:`Answer` fields as dicts) in order; the last answer repeats.
    ``requests`` counts the requests it got."""

    def __init__(self) -> None:
        self.script: list[dict[str, Any]] = [{}]
        self.requests = 0
        self.stop = threading.Event()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                endpoint.requests += 1
                answer = Answer(**(endpoint.script.pop(0) if len(endpoint.script) > 1 else endpoint.script[0]))
                if answer.delay_s and endpoint.stop.wait(answer.delay_s):
                    return
                data = answer.body.encode()
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", answer.content_type)
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in answer.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up first
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sparql"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_sparql() -> Iterator[FakeEndpoint]:
    endpoint = FakeEndpoint()
    yield endpoint
    endpoint.close()
