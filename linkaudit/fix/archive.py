"""Wayback Machine lookups: an archived copy for each confirmed-dead URL.

The availability API answers with the snapshot closest to a timestamp; we ask for the
note's date and accept only a snapshot that worked (status 200) and is not newer than
the note, so the copy shows what the author cited. The snapshot URL
``https://web.archive.org/web/<timestamp>/<original>`` keeps the original URL visible
inside it. A failed lookup is a value (a reason), never an exception.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import httpx

from linkaudit.check.errors import REQUEST_ERRORS, TIMEOUT_REASONS, describe_error
from linkaudit.fix.target import parse_snapshot
from linkaudit.models import CleanedLink, Note

_LEADING_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?!\d)")
_TIMESTAMP = re.compile(r"^\d{8}")
DEFAULT_CONCURRENCY = 4


@dataclass(frozen=True, slots=True)
class Snapshots:
    """Per check key: the snapshot URL found, or why there is none."""

    found: Mapping[str, str]
    missing: Mapping[str, str]


def note_date(note: Note) -> date | None:
    """The note's date: front matter ``date``, else a ``YYYY-MM-DD-`` file name prefix."""
    value = note.metadata.get("date")
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    for candidate in (str(value) if value is not None else "", note.path.name):
        match = _LEADING_DATE.match(candidate)
        if match:
            try:
                return date(*(int(part) for part in match.groups()))
            except ValueError:
                continue
    return None


def snapshot_requests(
    items: Iterable[tuple[Note, Sequence[CleanedLink]]], dead: Collection[str]
) -> list[tuple[str, str, date | None]]:
    """One lookup per dead check key: its cleaned URL and the earliest note citing it."""
    urls: dict[str, str] = {}
    earliest: dict[str, date | None] = {}
    for note, cleaned in items:
        when = note_date(note)
        for item in cleaned:
            key = item.check_key
            if key not in dead or item.protection is not None:
                continue
            if key not in urls:
                urls[key], earliest[key] = item.clean_url.partition("#")[0], when
            elif when is not None:
                known = earliest[key]
                earliest[key] = when if known is None else min(known, when)
    return [(key, url, earliest[key]) for key, url in urls.items()]


async def find_snapshots(
    client: httpx.AsyncClient,
    endpoint: str,
    requests: Sequence[tuple[str, str, date | None]],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> Snapshots:
    """Look up every (key, url, note date) a few at a time; never raises for one URL."""
    gate = asyncio.Semaphore(concurrency)

    async def lookup(url: str, when: date | None) -> tuple[str | None, str]:
        async with gate:
            return await _lookup(client, endpoint, url, when)

    answers = await asyncio.gather(*(lookup(url, when) for _, url, when in requests))
    found: dict[str, str] = {}
    missing: dict[str, str] = {}
    for (key, _, _), (snapshot, reason) in zip(requests, answers, strict=True):
        if snapshot is not None:
            found[key] = snapshot
        else:
            missing[key] = reason
    return Snapshots(found, missing)


async def _lookup(
    client: httpx.AsyncClient, endpoint: str, url: str, when: date | None
) -> tuple[str | None, str]:
    params = {"url": url}
    if when is not None:
        params["timestamp"] = when.strftime("%Y%m%d")
    try:
        response = await client.get(endpoint, params=params)
        if response.status_code != 200:
            return None, f"archive unreachable: HTTP {response.status_code}"
        payload = response.json()
    except REQUEST_ERRORS as exc:
        reason, _ = describe_error(exc)
        what = "timed out" if reason in TIMEOUT_REASONS else type(exc).__name__
        return None, f"archive unreachable: {what}"
    except ValueError:
        return None, "archive unreachable: answer is not JSON"
    return _accept(payload, when)


def _accept(payload: object, when: date | None) -> tuple[str | None, str]:
    """The usable snapshot URL from an availability answer, or why there is none."""
    closest = _get(_get(payload, "archived_snapshots"), "closest")
    if not isinstance(closest, dict) or closest.get("available") is not True:
        return None, "no snapshot"
    snapshot, timestamp = closest.get("url"), closest.get("timestamp")
    if str(closest.get("status")) != "200" or not isinstance(snapshot, str):
        return None, "no working snapshot"
    if not isinstance(timestamp, str) or not _TIMESTAMP.match(timestamp):
        return None, "snapshot without a timestamp"
    if when is not None and timestamp[:8] > when.strftime("%Y%m%d"):
        return None, "only snapshots newer than the note"
    if snapshot.startswith("http://"):
        snapshot = "https://" + snapshot.removeprefix("http://")
    taken_apart = parse_snapshot(snapshot, host=None)
    if taken_apart is None or not snapshot.startswith("https://"):
        return None, "the archive's answer is not a snapshot address"
    if taken_apart.timestamp != timestamp:
        return None, "the archive's answer holds another snapshot time than it reported"
    return snapshot, "found"


def _get(value: object, key: str) -> object:
    return value.get(key) if isinstance(value, dict) else None
