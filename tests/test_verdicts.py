"""Tests for linkaudit.check.verdicts: the pure rules, shared by the checker and fix."""

from __future__ import annotations

import pytest

from linkaudit.check.verdicts import lands_on_site_root, soft_404_redirect


@pytest.mark.parametrize(("first", "final", "expected"), [
    ("https://x.com/a/b", "https://x.com/", True),
    ("https://x.com/a/b", "https://x.com", True),
    ("https://x.com/?p=12", "https://x.com/", True),
    ("https://x.com/", "https://www.x.com/", False),
    ("https://x.com/a", "https://x.com/?lang=en", False),
    ("https://x.com/a", "https://x.com/b", False),
])
def test_lands_on_site_root(first: str, final: str, expected: bool) -> None:
    """Only a deep page (a path or a query) landing on the bare root is a soft 404."""
    assert lands_on_site_root(first, final) is expected


@pytest.mark.parametrize(("first", "final", "expected"), [
    ("https://x.com/a", "https://x.com/", "redirects to the site root"),
    ("https://x.com/a", "https://x.com/404.html", "redirects to a not-found page"),
    ("https://x.com/a", "https://x.com/page-not-found/", "redirects to a not-found page"),
    ("https://x.com/404", "https://x.com/404.html", None),
    ("https://x.com/a", "https://x.com/b", None),
])
def test_soft_404_redirects(first: str, final: str, expected: str | None) -> None:
    """A redirect to the root or to a not-found path reads as a disguised "not found"."""
    assert soft_404_redirect(first, final) == expected
