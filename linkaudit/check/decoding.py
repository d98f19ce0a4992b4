"""Content codings undone with bounded output: a body is never decoded past its cap.

httpx's decoders inflate each received chunk whole: one 64 KiB chunk of a gzip bomb
becomes 64 MB, and under ``Content-Encoding: gzip, gzip`` the second layer turns that
into gigabytes before a caller can stop. Here every layer produces at most what the
next one asks for (zlib's ``max_length``), so memory stays near the cap whatever the
stacking. gzip, deflate (zlib-wrapped or raw) and identity are decoded; other codings
(br, zstd: not asked for, since the client offers only gzip and deflate) are refused.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence

# More stacked codings than this is no real server: refused rather than decoded.
MAX_LAYERS = 4
_STEP = 16 * 1024  # bytes a layer asks of the one before it at a time
_WBITS = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16,
          "deflate": zlib.MAX_WBITS}

Source = Callable[[int], bytes]


class UnsupportedCoding(ValueError):
    """A Content-Encoding this module does not decode (or too many of them)."""


class _Layer:
    """One gzip or deflate coding, inflated on demand."""

    def __init__(self, coding: str) -> None:
        self._coding = coding
        self._inflate = zlib.decompressobj(_WBITS[coding])
        self._pending = b""  # input taken from upstream, not yet inflated
        self._fresh = True  # nothing inflated yet: "deflate" may still turn out raw

    def pull(self, upstream: Source, limit: int) -> bytes:
        """Up to ``limit`` decoded bytes, asking ``upstream`` for input as needed."""
        out = bytearray()
        while len(out) < limit and not self._inflate.eof:
            if not self._pending:
                self._pending = upstream(_STEP)
                if not self._pending:
                    break
            out += self._decompress(limit - len(out))
            self._pending = self._inflate.unconsumed_tail
        return bytes(out)

    def _decompress(self, limit: int) -> bytes:
        try:
            chunk = self._inflate.decompress(self._pending, limit)
        except zlib.error:
            if not (self._fresh and self._coding == "deflate"):
                raise
            # Some servers send raw deflate without the zlib wrapper (as browsers accept).
            self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            chunk = self._inflate.decompress(self._pending, limit)
        self._fresh = False
        return chunk


class BoundedDecoder:
    """Undo a response's content codings, never producing more than asked for.

    ``feed`` a raw chunk, then ``read(limit)``: at most ``limit`` decoded bytes of what
    has been fed so far. Raises ``zlib.error`` on corrupt data.
    """

    def __init__(self, content_encoding: str) -> None:
        codings = [c.strip().lower() for c in content_encoding.split(",")]
        codings = [c for c in codings if c and c != "identity"]
        unknown = [c for c in codings if c not in _WBITS]
        if unknown or len(codings) > MAX_LAYERS:
            raise UnsupportedCoding(content_encoding)
        # Codings are listed in the order applied: undone last first.
        self._layers: Sequence[_Layer] = [_Layer(c) for c in reversed(codings)]
        self._raw = b""

    def feed(self, chunk: bytes) -> None:
        self._raw += chunk

    def read(self, limit: int) -> bytes:
        source: Source = self._take_raw
        for layer in self._layers:
            source = _bound(layer, source)
        return source(limit)

    def _take_raw(self, limit: int) -> bytes:
        taken, self._raw = self._raw[:limit], self._raw[limit:]
        return taken


def _bound(layer: _Layer, upstream: Source) -> Source:
    return lambda limit: layer.pull(upstream, limit)
