"""Which URLs are asked with HEAD, and what a host's HEAD answers teach.

A page is asked with GET (its first bytes read, for the soft-404 rules); only a URL whose
path names a file no "not found" page can hide behind — a PDF, an image, an archive, by
its extension (``wants_head``) — is asked with HEAD, which saves its bytes.

HEAD is cheap but some servers refuse it or answer it wrongly. Each host keeps a
``HeadKnowledge`` for the run: a HEAD 405/501 sends its later URLs straight to GET, and
a HEAD 403/404 that a GET confirmed makes that host's next HEAD 404s final (see
docs/checking.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

from linkaudit.check.fetch import Attempt, is_htmlish

# Paths ending in these name a file that is not a page: HEAD tells whether it is there
# without its bytes, and a server answering it with its HTML "not found" page is caught
# by the Content-Type (``needs_get``).
NOT_PAGE_EXTENSIONS = frozenset({
    "pdf", "ps", "epub", "djvu",
    "png", "jpg", "jpeg", "gif", "webp", "avif", "bmp", "tif", "tiff", "ico", "svg",
    "zip", "gz", "tgz", "bz2", "xz", "zst", "7z", "rar", "tar", "jar", "whl",
    "deb", "rpm", "dmg", "iso", "exe", "msi", "apk",
    "mp3", "mp4", "m4a", "m4v", "ogg", "oga", "ogv", "opus", "wav", "flac", "webm",
    "mov", "avi", "mkv",
    "doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods", "odp",
    "csv", "tsv", "parquet", "woff", "woff2", "ttf", "otf",
})

# A HEAD answered with one of these may be a server that does not do HEAD: ask with GET.
HEAD_REFUSED_STATUSES = frozenset({403, 404, 405, 501})
HEAD_REFUSED_REASONS = frozenset({"reset", "protocol"})
# HEAD "method not allowed / not implemented": the host's later URLs go straight to GET.
HEAD_UNSUPPORTED_STATUSES = frozenset({405, 501})
# A HEAD refusal that a GET can confirm (same status) or contradict: how a host's HEAD is
# learnt to be reliable. 5xx are left out: HEAD 503 then GET 200 is a transient, not a lie.
HEAD_CONFIRMABLE_STATUSES = frozenset({403, 404})
# Once a host's HEAD agreed with GET this often (and never lied), its HEAD 404 is final.
# One pair: each host's first dead link then costs 2 requests, later ones 1.
HEAD_TRUSTED_AFTER = 1


def wants_head(url: httpx.URL) -> bool:
    """Whether ``url`` names a file rather than a page, by its path's extension."""
    extension = posixpath.splitext(url.path)[1][1:].lower()
    return extension in NOT_PAGE_EXTENSIONS


@dataclass(eq=False)
class HeadKnowledge:
    """One host's HEAD record this run."""

    supported: bool = True  # False after HEAD 405/501: GET only from then on
    agreements: int = 0  # HEAD 403/404 confirmed by the same status from GET
    lies: bool = False  # a GET contradicted a HEAD 403/404: never trust its HEAD
    confirming: asyncio.Event | None = None  # set when the GET checking a HEAD 403/404 ends

    def needs_get(self, head: Attempt) -> bool:
        """Whether a HEAD answer must be asked again with GET before it is believed."""
        if head.response is None:
            return head.reason in HEAD_REFUSED_REASONS
        status = head.response.status
        if status == 404 and self.trusted:
            return False
        if 200 <= status < 300 and is_htmlish(head.response.headers):
            return True  # a page where a file was named: maybe a "not found" page
        return status in HEAD_REFUSED_STATUSES or status >= 500

    @property
    def trusted(self) -> bool:
        return not self.lies and self.agreements >= HEAD_TRUSTED_AFTER

    def pending_confirmation(self, head: Attempt) -> asyncio.Event | None:
        """For a HEAD 404 while another URL's GET is testing this host's HEAD: that test's
        end, worth waiting for rather than asking GET at once."""
        if (head.response is None or head.response.status != 404 or self.lies
                or self.trusted):
            return None
        return self.confirming

    @contextlib.contextmanager
    def confirmation(self, head: Attempt) -> Iterator[None]:
        """Around the GET that follows a HEAD 403/404: the first such GET of a host is the
        one its other HEAD 404s wait for (``pending_confirmation``)."""
        status = head.response.status if head.response is not None else None
        if self.confirming is not None or status not in HEAD_CONFIRMABLE_STATUSES:
            yield
            return
        event = self.confirming = asyncio.Event()
        try:
            yield
        finally:
            self.confirming = None
            event.set()

    def learn_head(self, head: Attempt) -> None:
        """A HEAD 405/501 sends the host's later URLs straight to GET (told at once, so
        URLs starting while this one's GET runs do not ask HEAD in vain)."""
        if head.response is not None and head.response.status in HEAD_UNSUPPORTED_STATUSES:
            self.supported = False

    def learn_get(self, head: Attempt, get: Attempt) -> None:
        """Count a GET agreeing with a HEAD 403/404; one disagreement distrusts HEAD for good."""
        if head.response is None or get.response is None:
            return
        status = head.response.status
        if status in HEAD_CONFIRMABLE_STATUSES:
            if get.response.status == status:
                self.agreements += 1
            else:
                self.lies = True
