"""Tests for linkaudit.check.decoding: content codings undone without passing the cap."""

from __future__ import annotations

import gzip
import zlib

import pytest

from linkaudit.check.decoding import MAX_LAYERS, BoundedDecoder, UnsupportedCoding
from tests.loopback import gzip_bomb

PAGE = b"<html><title>Fine</title>" + b"<p>x</p>" * 5000


def _deflate(data: bytes, wbits: int) -> bytes:
    squeeze = zlib.compressobj(6, zlib.DEFLATED, wbits)
    return squeeze.compress(data) + squeeze.flush()


def _decode_all(encoding: str, body: bytes, chunk: int = 1000) -> bytes:
    decoder = BoundedDecoder(encoding)
    out = bytearray()
    for start in range(0, len(body), chunk):
        decoder.feed(body[start:start + chunk])
        out += decoder.read(10 * len(PAGE))
    return bytes(out)


@pytest.mark.parametrize(("encoding", "body"), [
    ("", PAGE),
    ("identity", PAGE),
    ("gzip", gzip.compress(PAGE)),
    ("x-gzip", gzip.compress(PAGE)),
    ("GZIP, gzip", gzip.compress(gzip.compress(PAGE))),
    ("deflate", _deflate(PAGE, zlib.MAX_WBITS)),
    ("deflate", _deflate(PAGE, -zlib.MAX_WBITS)),
    ("deflate, gzip", gzip.compress(_deflate(PAGE, zlib.MAX_WBITS))),
])
def test_codings_are_undone_in_order(encoding: str, body: bytes) -> None:
    """gzip, deflate (wrapped or raw) and stacks of them decode to the page, chunk by chunk."""
    assert _decode_all(encoding, body) == PAGE


@pytest.mark.parametrize("encoding", ["br", "zstd", "gzip, br", ", ".join(["gzip"] * 5)])
def test_codings_it_cannot_bound_are_refused(encoding: str) -> None:
    """Codings without a bounded decoder here, or more layers than any server uses, refused."""
    assert MAX_LAYERS < 5
    with pytest.raises(UnsupportedCoding):
        BoundedDecoder(encoding)


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_a_bomb_is_decoded_only_as_far_as_asked(layers: int) -> None:
    """A few KB expanding to 64 MiB yield exactly what each read asks for, no more, and
    the stream goes on where it stopped."""
    decoder = BoundedDecoder(", ".join(["gzip"] * layers))
    decoder.feed(gzip_bomb(64, layers))
    first, second = decoder.read(65536), decoder.read(1000)
    assert len(first) == 65536 and len(second) == 1000
    assert (first + second).startswith(b"<p><p>")


def test_corrupt_data_raises_zlib_error() -> None:
    """Data that is not what the coding says is an error the caller turns into a value."""
    decoder = BoundedDecoder("gzip")
    decoder.feed(b"not gzip at all")
    with pytest.raises(zlib.error):
        decoder.read(100)
