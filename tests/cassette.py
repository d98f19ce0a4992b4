"""Record and replay HTTP exchanges, errors and timeouts included, as small YAML files.

vcrpy cannot record connection errors or timeouts and buffers whole bodies; this
transport records each exchange (or the exception a request raised, with the OS-level
cause the checker reads) and answers from the file later, so checker tests run without
a network. Real hosts can be rewritten to stable placeholders (``127.0.0.1:41234`` to
``ok.test``) so a re-recording against a loopback server produces the same file.
"""

from __future__ import annotations

import base64
import socket
import ssl
from collections import defaultdict, deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import httpx
import yaml

CASSETTE_VERSION = 1
KEPT_REQUEST_HEADERS = ("authorization", "cookie", "user-agent")  # recorded as present/absent
VOLATILE_RESPONSE_HEADERS = frozenset({"date", "server"})  # dropped: they change every run
# OS-level causes worth recreating on replay: the checker's verdict depends on them.
_CAUSES: dict[str, type[BaseException]] = {
    "gaierror": socket.gaierror,
    "ConnectionRefusedError": ConnectionRefusedError,
    "ConnectionResetError": ConnectionResetError,
    "SSLCertVerificationError": ssl.SSLCertVerificationError,
    "SSLError": ssl.SSLError,
}


class CassetteMiss(LookupError):
    """A replayed request that the cassette has no (more) recorded answers for."""


def _error_class(name: str) -> type[httpx.TransportError]:
    found = getattr(httpx, name, None)
    if isinstance(found, type) and issubclass(found, httpx.TransportError):
        return found
    raise ValueError(f"cassette names an unknown httpx error {name!r}")


def _cause_name(exc: BaseException) -> str | None:
    """The first known OS-level cause on the exception's __cause__/__context__ chain."""
    stack: list[BaseException] = [exc]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        for name, kind in _CAUSES.items():
            if type(current) is kind:
                return name
        stack.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return None


class CassetteTransport(httpx.AsyncBaseTransport):
    """``mode="record"``: pass through ``inner`` and keep every exchange; ``"replay"``: answer
    from ``path`` in recorded order per (method, URL), raising recorded errors again."""

    def __init__(
        self,
        path: Path,
        mode: Literal["record", "replay"],
        *,
        inner: httpx.AsyncBaseTransport | None = None,
        hosts: Mapping[str, str] | None = None,
        body_cap: int = 65536,
    ) -> None:
        self.path = path
        self.mode = mode
        self._inner = inner
        self._hosts = dict(hosts or {})
        self._body_cap = body_cap
        self._recorded: list[dict[str, Any]] = []
        self._answers: defaultdict[tuple[str, str], deque[dict[str, Any]]] = defaultdict(deque)
        if mode == "record" and inner is None:
            raise ValueError("record mode needs the inner transport that really sends")
        if mode == "replay":
            self._load()

    def _load(self) -> None:
        try:
            data = yaml.safe_load(self.path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"{self.path}: cannot read cassette: {exc}") from None
        if not isinstance(data, dict) or data.get("version") != CASSETTE_VERSION:
            raise ValueError(f"{self.path}: not a version {CASSETTE_VERSION} cassette")
        for entry in data.get("interactions") or []:
            request = entry["request"]
            self._answers[(request["method"], request["url"])].append(entry)

    def _placeholder(self, url: str) -> str:
        """``url`` with a recorded real host:port replaced by its placeholder."""
        for real, placeholder in self._hosts.items():
            for scheme in ("http://", "https://"):
                if url.startswith(scheme + real):
                    return scheme + placeholder + url[len(scheme + real):]
        return url

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.mode == "replay":
            return self._replay(request)
        assert self._inner is not None
        entry: dict[str, Any] = {"request": {
            "method": request.method,
            "url": self._placeholder(str(request.url)),
            "headers": sorted(h for h in KEPT_REQUEST_HEADERS if h in request.headers),
        }}
        self._recorded.append(entry)
        try:
            response = await self._inner.handle_async_request(request)
        except httpx.TransportError as exc:
            entry["error"] = {"type": type(exc).__name__, "message": str(exc),
                              "cause": _cause_name(exc)}
            raise
        body = bytearray()
        try:
            async for chunk in response.aiter_raw():
                body += chunk
                if len(body) >= self._body_cap:
                    break
        finally:
            await response.aclose()
        headers = [[k, self._placeholder(v) if k.lower() == "location" else v]
                   for k, v in response.headers.multi_items()
                   if k.lower() not in VOLATILE_RESPONSE_HEADERS]
        entry["response"] = {"status": response.status_code, "headers": headers,
                             **_encode_body(bytes(body[: self._body_cap]))}
        return _build_response(entry["response"], request)

    def _replay(self, request: httpx.Request) -> httpx.Response:
        key = (request.method, self._placeholder(str(request.url)))
        queue = self._answers.get(key)
        if not queue:
            raise CassetteMiss(f"{self.path.name}: no recorded answer for {key[0]} {key[1]}")
        entry = queue.popleft()
        error = entry.get("error")
        if error is not None:
            exc = _error_class(error["type"])(error["message"], request=request)
            cause = _CAUSES.get(error.get("cause") or "")
            if cause is not None:
                raise exc from cause(error["message"])
            raise exc
        return _build_response(entry["response"], request)

    def save(self) -> None:
        """Write what was recorded (record mode) to ``path``."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump({"version": CASSETTE_VERSION, "interactions": self._recorded},
                              sort_keys=False, allow_unicode=True, width=100)
        self.path.write_text(text, encoding="utf-8")

    async def aclose(self) -> None:
        if self.mode == "record":
            self.save()
            assert self._inner is not None
            await self._inner.aclose()


def _encode_body(body: bytes) -> dict[str, str]:
    try:
        return {"body": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"body_base64": base64.b64encode(body).decode("ascii")}


def _build_response(recorded: Mapping[str, Any], request: httpx.Request) -> httpx.Response:
    if "body_base64" in recorded:
        body = base64.b64decode(recorded["body_base64"])
    else:
        body = str(recorded.get("body", "")).encode("utf-8")
    headers = [(str(k), str(v)) for k, v in recorded.get("headers", [])
               if str(k).lower() != "content-length"]
    headers.append(("content-length", str(len(body))))
    return httpx.Response(int(recorded["status"]), headers=headers, content=body,
                          request=request)
