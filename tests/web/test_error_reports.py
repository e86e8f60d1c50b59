"""Error reports reach Sentry without content: a real sentry-sdk client sends to a local
HTTP server standing in for Sentry's ingestion endpoint."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sentry_sdk
from litestar import post

from luotsi.platform.errorreports import scrub_event
from luotsi.platform.logs import configure_logging
from luotsi.web.deps import Req
from tests.conftest import Backend, Client, start_app
from tests.factories import Firms

MARKER = "luottamuksellinen-merkki-7c1e"  # in the note's text, the form and a local variable
NOTE = f"Ohjattava kertoi esihenkilöstään: {MARKER}"


@dataclass
class Ingest:
    """What arrived at the fake ingestion endpoint: (path, decompressed body) pairs."""

    port: int
    received: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.port}/1"

    def events(self) -> list[dict[str, Any]]:
        """The event items of every envelope (a header line, then item header and payload)."""
        found = []
        for _, body in self.received:
            lines = body.split(b"\n")
            for header, payload in zip(lines[1::2], lines[2::2], strict=False):
                if json.loads(header).get("type") == "event":
                    found.append(json.loads(payload))
        return found


@pytest.fixture
def ingest() -> Iterator[Ingest]:
    received: list[tuple[str, bytes]] = []

    class Endpoint(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            if self.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            received.append((self.path, body))
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Ingest(server.server_address[1], received)
    server.shutdown()
    server.server_close()


@pytest.fixture
async def reporting(clean_db: Backend, ingest: Ingest) -> AsyncIterator[Client]:
    """The app reporting errors to ``ingest``, with a route that fails holding content."""

    @post("/_test/notes", name="test_failing_note")
    async def save_note(request: Req) -> None:
        form = await request.form()
        note = str(form["note"])  # a local variable holding content
        raise ValueError(f"could not save the note {note!r}")

    app, end = await start_app(replace(clean_db.settings, sentry_dsn=ingest.dsn))
    app.register(save_note)
    yield Client(app)
    await end()
    sentry_sdk.init()  # no DSN: reporting off again for the rest of the suite
    configure_logging(clean_db.settings)


async def test_an_error_reaches_sentry_without_its_content(
    reporting: Client, ingest: Ingest, firms: Firms, capsys: pytest.CaptureFixture[str]
) -> None:
    await reporting.login(firms.a.supervisor.user.email)
    response = await reporting.post("/_test/notes", {"note": NOTE})
    assert response.status_code == 500
    assert MARKER not in response.text
    sentry_sdk.flush(timeout=10)

    assert ingest.received, "no envelope arrived"
    assert all(path == "/api/1/envelope/" for path, _ in ingest.received)
    for _, body in ingest.received:
        assert MARKER.encode() not in body
        assert b"Ohjattava" not in body
    (event,) = ingest.events()
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "ValueError" and "value" not in exception
    frames = exception["stacktrace"]["frames"]
    assert any(frame["function"] == "save_note" for frame in frames)  # still worth reading
    assert all("vars" not in frame for frame in frames)
    assert event["tags"] == {
        "event": "request.failed",
        "request_id": response.headers["x-request-id"],
        "user_id": str(firms.a.supervisor.user_id),
        "route": "/_test/notes",
        "method": "POST",
    }
    for absent in ("request", "user", "extra", "message", "logentry", "transaction"):
        assert absent not in event

    logged = capsys.readouterr().out
    assert "request.failed" in logged and "ValueError" in logged
    assert MARKER not in logged


def test_the_scrubber_keeps_only_what_names_no_content() -> None:
    """Whatever a library or a later change puts on an event, only the allowlist leaves."""
    event: dict[str, Any] = {
        "event_id": "e1",
        "level": "error",
        "message": NOTE,
        "logentry": {"message": NOTE, "params": [NOTE]},
        "request": {"data": NOTE, "cookies": {"luotsi_session": MARKER}, "headers": {}},
        "user": {"email": f"{MARKER}@example.fi"},
        "extra": {"note": NOTE},
        "transaction": f"/pay/alfa/{MARKER}",
        "tags": {"route": "/notes", "note": NOTE},
        "contexts": {"runtime": {"name": "CPython"}, "note": {"text": NOTE}},
        "breadcrumbs": {
            "values": [
                {"category": "log", "message": NOTE, "data": {"note": NOTE}, "level": "info"}
            ]
        },
        "exception": {
            "values": [
                {
                    "type": "ValueError",
                    "value": NOTE,
                    "mechanism": {"type": "generic", "handled": True, "data": {"n": NOTE}},
                    "stacktrace": {
                        "frames": [{"function": "save", "lineno": 3, "vars": {"note": NOTE}}]
                    },
                }
            ]
        },
        "threads": {
            "values": [
                {"id": 1, "stacktrace": {"frames": [{"function": "f", "vars": {"n": NOTE}}]}}
            ]
        },
    }
    scrubbed = scrub_event(event, {})  # type: ignore[arg-type]
    assert MARKER not in json.dumps(scrubbed)
    assert scrubbed["tags"] == {"route": "/notes"}
    assert scrubbed["contexts"] == {"runtime": {"name": "CPython"}}
    assert scrubbed["breadcrumbs"] == {"values": [{"category": "log", "level": "info"}]}
    frame = scrubbed["exception"]["values"][0]["stacktrace"]["frames"][0]
    assert frame == {"function": "save", "lineno": 3}
