"""Tests for linkaudit.clean.strip: spec cases, string-level removal, protections, properties."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from linkaudit.clean.keys import LinkCleaner, clean_links, keys
from linkaudit.clean.rules import load_rules
from linkaudit.clean.strip import CleanResult, clean_url, clean_url_at_both_levels, query_pieces
from linkaudit.config import CleaningConfig
from linkaudit.models import CleanedLink, Link, LinkKind, Protection, Span

RULES = load_rules(CleaningConfig(), Path("."))
SPEC: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parent / "spec_cases.yaml").read_text(encoding="utf-8"))
CASES = [pytest.param(case, level, id=f"{level}:{case['input'][:70]}")
         for case in SPEC["cleaning"] for level in ("safe", "aggressive")]


@pytest.mark.parametrize(("case", "level"), CASES)
def test_spec_cleaning_case(case: dict[str, str], level: str) -> None:
    """Each spec case cleans to its expected URL at each level, flagging what the spec flags."""
    expected = case["input"] if case[level] == "=" else case[level]
    result = clean_url(case["input"], RULES, level)
    assert result.url == expected
    if "flag" in case:
        assert result.protection is not None
        assert result.protection.value == case["flag"]


def test_removed_names_are_decoded_and_in_order() -> None:
    """Removed names are reported percent-decoded, in the order they were written."""
    result = clean_url("https://example.com/?utm%5Fmedium=a&id=1&FBCLID=x&utm_source=b", RULES)
    assert result.url == "https://example.com/?id=1"
    assert result.removed == ("utm_medium", "FBCLID", "utm_source")


def test_plus_in_a_name_is_a_space() -> None:
    """A ``+`` in a key decodes to a space, so ``utm+x`` is not ``utm_x`` and stays."""
    url = "https://example.com/?utm+x=1"
    assert clean_url(url, RULES).url == url


def test_semicolon_is_part_of_the_piece() -> None:
    """``;`` does not separate parameters: a piece is judged by the name before its ``=``."""
    assert clean_url("https://example.com/?a=1;utm_source=x", RULES).removed == ()
    assert clean_url("https://example.com/?utm_source=x;a=1&b=2", RULES).url == \
        "https://example.com/?b=2"


def test_empty_pieces_are_kept_as_written() -> None:
    """Empty pieces between ``&`` survive untouched; an all-empty query loses its ``?``."""
    assert clean_url("https://example.com/?a=1&&utm_source=x&b=2", RULES).url == \
        "https://example.com/?a=1&&b=2"
    assert clean_url("https://example.com/p?&utm_source=x", RULES).url == \
        "https://example.com/p"


def test_query_after_the_fragment_is_not_a_query() -> None:
    """A ``?`` inside the fragment is fragment text, never cleaned."""
    url = "https://example.com/p#frag?utm_source=x"
    assert clean_url(url, RULES).url == url


def test_fragment_is_kept_when_the_query_empties() -> None:
    """Dropping the whole query keeps the fragment exactly as written."""
    assert clean_url("https://example.com/p?utm_source=x#Top%20", RULES).url == \
        "https://example.com/p#Top%20"


def test_unparseable_url_is_left_alone() -> None:
    """A URL urlsplit cannot parse comes back unchanged instead of raising."""
    url = "https://[broken/?utm_source=x"
    assert clean_url(url, RULES) == clean_url(url, RULES, "aggressive")
    assert clean_url(url, RULES).url == url


def test_unknown_level_is_a_programming_error() -> None:
    """Only the two documented levels exist (config validation guarantees it for users)."""
    with pytest.raises(ValueError, match="unknown cleaning level"):
        clean_url("https://example.com/", RULES, "extreme")


@pytest.mark.parametrize(("url", "protection"), [
    ("https://acct.blob.core.windows.net/c/f.pdf?sv=2022-11-02&se=2025&sig=abc&utm_source=x",
     Protection.SIGNED),
    ("https://d1.cloudfront.net/f?Expires=1&Signature=abc&Key-Pair-Id=K&utm_source=x",
     Protection.SIGNED),
    ("https://storage.googleapis.com/b/o?x-goog-signature=ab&utm_source=x", Protection.SIGNED),
    ("https://archive.ph/abcde?utm_source=x", Protection.ARCHIVE),
    ("https://webcache.googleusercontent.com/search?q=cache:x&utm_source=x", Protection.ARCHIVE),
    ("https://urldefense.com/v3/__https://example.com/?utm_source=x__;!!abc$",
     Protection.REDIRECT_WRAPPER),
    ("https://urldefense.proofpoint.com/v2/url?u=https-3A__example.com&d=x&utm_source=x",
     Protection.REDIRECT_WRAPPER),
])
def test_protected_urls_are_never_rewritten(url: str, protection: Protection) -> None:
    """Signed, archive and wrappers without a readable target stay as written at every level."""
    for level in ("safe", "aggressive"):
        result = clean_url(url, RULES, level)
        assert result == type(result)(url, (), protection, None)


def test_partial_signature_names_do_not_protect() -> None:
    """A lone ``Signature`` (without CloudFront's other names) is not a signed URL."""
    result = clean_url("https://example.com/?Signature=x&utm_source=y", RULES)
    assert result.protection is None
    assert result.url == "https://example.com/?Signature=x"


def test_safelinks_wrapper_unwraps_and_cleans_its_target() -> None:
    """At aggressive an Outlook safelink becomes its target, itself cleaned of tracking."""
    url = ("https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fexample.com"
           "%2Fa%3Futm_source%3Dmail%26id%3D2&data=05&reserved=0")
    result = clean_url(url, RULES, "aggressive")
    assert result.unwrapped == "https://example.com/a?utm_source=mail&id=2"
    assert result.url == "https://example.com/a?id=2"
    assert result.removed == ("utm_source",)
    assert result.protection is Protection.REDIRECT_WRAPPER


def test_nested_wrappers_unwrap_to_the_innermost_target() -> None:
    """A wrapper around a wrapper is unwrapped all the way at aggressive."""
    inner = "https://l.facebook.com/l.php?u=https%3A%2F%2Fexample.com%2Fz&h=AT0"
    outer = "https://www.google.com/url?q=" + inner.replace("%", "%25").replace(
        ":", "%3A").replace("/", "%2F").replace("?", "%3F").replace("&", "%26").replace(
        "=", "%3D")
    assert clean_url(outer, RULES, "aggressive").url == "https://example.com/z"


def test_wrapper_without_a_web_target_is_kept() -> None:
    """A google.com/url whose q is a search text, not a URL, is kept as written."""
    url = "https://www.google.com/url?q=hello+world&sa=t"
    result = clean_url(url, RULES, "aggressive")
    assert result.url == url
    assert result.unwrapped is None


def _link(url: str) -> Link:
    return Link(LinkKind.DEFINITION, url, Span(0, len(url)), line=1, column=1, label="1")


def test_clean_links_carries_cleaning_and_keys() -> None:
    """clean_links gives each link its cleaned URL, removed names, keys and protection."""
    tracked, signed = clean_links(
        [_link("https://WWW.Example.com/a/?utm_source=x#s"),
         _link("https://b.s3.amazonaws.com/f?X-Amz-Signature=1&utm_source=x")], RULES, "safe")
    assert tracked.clean_url == "https://WWW.Example.com/a/#s"
    assert tracked.removed == ("utm_source",)
    assert tracked.check_key == "https://www.example.com/a/"
    assert tracked.citation_key == "https://www.example.com/a/#s"
    assert tracked.aggressive_key == "https://example.com/a"
    assert tracked.heuristics == ("www", "trailing-slash")
    assert signed.protection is Protection.SIGNED
    assert signed.clean_url == signed.url


def test_clean_links_leaves_malformed_urls_as_written() -> None:
    """A malformed URL is reported, not rewritten, even if it carries tracking."""
    (link,) = clean_links([_link("https://exa mple.com/?utm_source=x")], RULES, "aggressive")
    assert link.malformed is not None
    assert link.clean_url == link.url
    assert link.removed == ()


# ---------------------------------------------------------------- properties

_NAMES = st.sampled_from(["utm_source", "UTM_Medium", "utm%5Fcampaign", "fbclid", "ref", "si",
                          "t", "v", "id", "q", "spm", "_p_lc", "as", "a+b", "", "x;y"])
_VALUES = st.text(alphabet="abc%2F3D+=;/?:@ ", max_size=8)
_PIECES = st.one_of(
    st.builds(lambda n, v: f"{n}={v}", _NAMES, _VALUES),
    _NAMES,
)
_URLS = st.builds(
    lambda scheme, host, path, pieces, fragment: (
        f"{scheme}://{host}{path}" + ("?" + "&".join(pieces) if pieces is not None else "")
        + fragment),
    st.sampled_from(["https", "http", "HTTPS"]),
    st.sampled_from(["example.com", "www.youtube.com", "github.com", "x.com", "x.company.com",
                     "www.alibabacloud.com", "www.google.com", "web.archive.org"]),
    st.sampled_from(["", "/", "/url", "/web/2020/https://a.b/", "/p%2F/x"]),
    st.none() | st.lists(_PIECES, max_size=6),
    st.sampled_from(["", "#", "#top", "#:~:text=utm_source", "#a?utm_source=x"]),
)
_SETTINGS = settings(max_examples=200, deadline=None)


@_SETTINGS
@given(st.text(max_size=60), st.sampled_from(["safe", "aggressive"]))
def test_cleaning_never_raises_on_any_text(url: str, level: str) -> None:
    """Any string at all cleans to a result, never an exception."""
    assert isinstance(clean_url(url, RULES, level).url, str)


@_SETTINGS
@given(_URLS, st.sampled_from(["safe", "aggressive"]))
def test_cleaning_is_idempotent(url: str, level: str) -> None:
    """Cleaning a cleaned URL changes nothing more."""
    once = clean_url(url, RULES, level).url
    assert clean_url(once, RULES, level).url == once


@_SETTINGS
@given(_URLS, st.sampled_from(["safe", "aggressive"]))
def test_cleaned_url_is_the_input_minus_some_pieces(url: str, level: str) -> None:
    """Without unwrapping, the cleaned URL keeps base and fragment and a subsequence of the
    query pieces, each verbatim and in order."""
    result = clean_url(url, RULES, level)
    if result.unwrapped is not None:
        return
    before, after = query_pieces(url), query_pieces(result.url)
    if before is None:
        assert result.url == url
        return
    base, query, fragment = before
    if after is None:
        assert result.url == base + fragment
        return
    assert (after[0], after[2]) == (base, fragment)
    remaining = iter(query.split("&"))
    assert all(piece in remaining for piece in after[1].split("&"))
    assert len(result.removed) == len(query.split("&")) - len(after[1].split("&"))


@_SETTINGS
@given(_URLS | st.text(max_size=40))
def test_cleaning_at_both_levels_is_cleaning_at_each(url: str) -> None:
    """Cleaning at both levels at once gives what cleaning at each level alone gives."""
    assert clean_url_at_both_levels(url, RULES) == (
        clean_url(url, RULES, "safe"), clean_url(url, RULES, "aggressive"))


def _cleaned_one_by_one(link: Link, level: str) -> CleanedLink:
    """clean_links's contract, computed afresh for one link (no memo, no sharing)."""
    url_keys = keys(link.url, RULES)
    result = clean_url(link.url, RULES, level) if url_keys.malformed is None \
        else CleanResult(link.url)
    return CleanedLink(
        link=link, clean_url=result.url, removed=result.removed,
        check_key=url_keys.check_key, citation_key=url_keys.citation_key,
        aggressive_key=url_keys.aggressive_key, heuristics=url_keys.heuristics,
        protection=result.protection, malformed=url_keys.malformed)


@_SETTINGS
@given(st.lists(_URLS | st.sampled_from(["mailto:a@b.c", "/rel?utm_source=x", "https://a b/"]),
                max_size=8),
       st.sampled_from(["safe", "aggressive"]), st.integers(min_value=1, max_value=3))
def test_remembered_cleaning_equals_fresh_cleaning(urls: list[str], level: str,
                                                   max_urls: int) -> None:
    """A cleaner's memo, however small, never changes an answer: each link, repeated or
    not, is cleaned exactly as it would be alone."""
    links = [_link(url) for url in urls + urls]
    cleaner = LinkCleaner(RULES, level, max_urls=max_urls)
    expected = tuple(_cleaned_one_by_one(link, level) for link in links)
    assert cleaner.clean(links) == expected
    assert clean_links(links, RULES, level) == expected


def test_equal_urls_share_their_keys() -> None:
    """Equal URLs in different notes of one run get the very same key strings (one copy)."""
    url = "https://example.com/a?utm_source=chatgpt.com"
    cleaner = LinkCleaner(RULES, "safe")
    first, second = (cleaner.clean([_link("".join(list(url)))])[0] for _ in range(2))
    assert first.url is not second.url
    assert first.check_key is second.check_key
    assert first.clean_url is second.clean_url


def test_a_cleaner_remembers_a_bounded_number_of_urls() -> None:
    """The memo forgets the oldest URL beyond its bound, so memory stays flat on any tree."""
    cleaner = LinkCleaner(RULES, "safe", max_urls=2)
    urls = [f"https://example.com/{n}?utm_source=x" for n in range(5)]
    cleaned = cleaner.clean([_link(url) for url in urls])
    assert [link.clean_url for link in cleaned] == [url.partition("?")[0] for url in urls]
    assert len(cleaner) == 2


def test_unknown_level_is_refused() -> None:
    """A level other than safe or aggressive is a programming error, raised at once."""
    with pytest.raises(ValueError, match="unknown cleaning level 'strict'"):
        clean_links([], RULES, "strict")
