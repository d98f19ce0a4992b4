"""Tests for linkaudit.check.verdicts: the pure rules, shared by the checker and fix."""

from __future__ import annotations

import pytest

from linkaudit.check.verdicts import (
    Response,
    lands_on_site_root,
    page_heading,
    response_verdict,
    says_not_found,
    soft_404_redirect,
)
from linkaudit.models import Verdict


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


@pytest.mark.parametrize("title", [
    "404", "404 Not Found", "Not Found", "Page not found", "Page Not Found – My Blog",
    "404 - Page not found | Example", "Error 404", "Oops! Page not found.",
    "The page you requested could not be found", "This page does not exist",
    "Seite nicht gefunden", "Fehler 404 - Seite nicht gefunden", "Page introuvable",
    "Erreur 404 : page introuvable", "Página no encontrada", "Pagina non trovata",
    "Página não encontrada", "Pagina niet gevonden", "ページが見つかりません",
    "お探しのページは見つかりませんでした｜サイト", "页面不存在", "找不到页面",
    "페이지를 찾을 수 없습니다", "Страница не найдена", "Ошибка 404",
])
def test_not_found_titles_in_several_languages(title: str) -> None:
    """A title (or a part of it between separators) that is a "not found" message says so."""
    assert says_not_found(title)


@pytest.mark.parametrize("title", [
    "How to fix a 404 error", "Why 404 pages matter", "HTTP 404 - Wikipedia",
    "Not Found (album) - Wikipedia", "Lost and found", "Error handling in Rust",
    "404 ways to cook rice", "Error", "Page not found errors explained",
    "Fixing “Not Found” errors in nginx", "ページの作り方", "页面设计指南",
    "Warum die Seite nicht gefunden wird: ein Leitfaden",
])
def test_titles_that_only_mention_404_are_ordinary(title: str) -> None:
    """A title that talks about 404 or "not found" without being the message is no soft 404."""
    assert not says_not_found(title)


def _page(title: str, body: str) -> Response:
    html = f"<html><head><title>{title}</title></head><body>{body}</body></html>"
    return Response(200, {"content-type": "text/html"}, html.encode())


def test_a_not_found_heading_under_a_plain_title_is_a_soft_404() -> None:
    """A 200 page titled with the site's name whose main heading says "not found" is dead."""
    verdict, reason, detail = response_verdict(
        _page("Example Blog", '<nav>menu</nav><h1 class="t"><span>404</span> Not Found</h1>'))
    assert (verdict, reason) == (Verdict.DEAD, "soft-404")
    assert "heading" in detail


def test_an_article_about_404_pages_is_ok() -> None:
    """An article whose text and heading discuss 404 errors is an ordinary page."""
    body = ("<h1>How to design a 404 page</h1><p>A 404 Not Found answer means the page "
            "was not found. Page not found! Seite nicht gefunden.</p>")
    assert response_verdict(_page("Designing 404 pages | Blog", body))[0] is Verdict.OK


def test_a_challenge_page_stays_blocked() -> None:
    """A bot challenge is blocked, whatever its heading says."""
    response = Response(403, {"cf-mitigated": "challenge"}, b"<h1>Not found</h1>")
    assert response_verdict(response)[:2] == (Verdict.BLOCKED, "bot-challenge")


def test_the_heading_text_is_read_without_its_tags() -> None:
    """The first h1's text comes without markup; an <h1x> or <header> is no heading."""
    assert page_heading(b"<header>x</header><h1 id=a>A <b>bold</b> &amp; title</h1>") == (
        "A bold & title")
    assert page_heading(b"<h1x>no</h1x>") is None


def test_a_digest_keeps_what_the_verdict_reads() -> None:
    """A response's digest is cut after its title and heading and reads to the same verdict."""
    response = _page("Example", "<h1>Page not found</h1>" + "<p>text</p>" * 1000)
    digest = response.digest()
    assert len(digest.body) < 200
    assert (digest.title, digest.heading) == (response.title, response.heading)
    assert response_verdict(digest) == response_verdict(response)
    assert Response(200, {}, b"no markup").digest().body == b""
