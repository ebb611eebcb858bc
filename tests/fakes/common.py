"""What the provider fakes share: the recorded request, the answer, injected failures and the
HTTP server that hands each request to `FakeProviders` (see `providers.py`)."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import urlsplit

Provider = Literal["twilio", "sendgrid"]


class Responder(Protocol):
    def _handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Reply: ...


@dataclass
class RecordedRequest:
    """One request as the fake received it, and what the fake answered.

    `form` is set for `application/x-www-form-urlencoded` bodies and `json` for JSON bodies;
    both keep what the client sent (repeated form keys stay lists). `response_status` is None
    when the connection was dropped on purpose (`drop_next`).
    """

    provider: Provider
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    form: dict[str, list[str]] | None
    json: Any | None
    raw: bytes
    response_status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""

    def header(self, name: str) -> str | None:
        """A request header, looked up case-insensitively as HTTP wants."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)

    def form_value(self, name: str) -> str | None:
        """The first value of a form field, or None."""
        values = (self.form or {}).get(name)
        return values[0] if values else None

    @property
    def response_json(self) -> Any | None:
        """The answer's JSON body, or None when it had none."""
        return json.loads(self.response_body) if self.response_body else None


@dataclass
class Reply:
    status: int
    body: Any | None = None  # JSON-serialisable; None → empty body
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


class Fail(Exception):
    """Raised inside a handler to answer with `reply` at once."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


@dataclass
class Injected:
    status: int
    code: int | None
    message: str | None
    retry_after: int | None
    method: str | None
    remaining: int
    after_processing: bool = False  # do the work first (accept the message), then fail


@dataclass
class Drop:
    after_processing: bool
    method: str | None
    remaining: int


Queued = TypeVar("Queued", Injected, Drop)


def take(queue: list[Queued], method: str) -> Queued | None:
    """Consume one use of the first queued item that applies to `method` (caller holds lock)."""
    for item in queue:
        if item.method is None or item.method == method:
            item.remaining -= 1
            if item.remaining <= 0:
                queue.remove(item)
            return item
    return None


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def is_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


class Server(ThreadingHTTPServer):
    """Tracks open connections so `stop()` can close keep-alive sockets held by clients."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # the stdlib's 5 resets bursts of concurrent clients

    def __init__(self, address: tuple[str, int], fake: Responder) -> None:
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real APIs (requests pools connections)
    server: Server

    def _dispatch(self) -> None:
        raw = self._read_body()
        headers = {key: value for key, value in self.headers.items()}
        reply = self.server.fake._handle(self.command, self.path, headers, raw)
        if reply.drop:
            self.close_connection = True
            return
        body = reply.encoded()
        self.send_response(reply.status)
        if reply.body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the stdlib's per-request stderr line; `on_request` is the hook for logging."""


def json_type(value: Any) -> str:
    """A parsed JSON value's type by JSON Schema's names, as both providers' errors say it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
