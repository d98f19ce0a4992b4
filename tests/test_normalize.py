"""Tests for linkaudit.clean.keys: the spec's duplicate and distinct pairs, keys, locale keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from linkaudit.clean.keys import keys, locale_variant_key
from linkaudit.clean.rules import load_rules
from linkaudit.config import CleaningConfig

RULES = load_rules(CleaningConfig(), Path("."))
SPEC: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parent / "spec_cases.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("first", "second", "level"), SPEC["duplicates"])
def test_spec_duplicates_share_a_key(first: str, second: str, level: str) -> None:
    """Spec duplicates are equal at their level, and a safe duplicate is also aggressive."""
    a, b = keys(first, RULES), keys(second, RULES)
    if level == "safe":
        assert a.check_key == b.check_key
        assert a.citation_key == b.citation_key
    assert a.aggressive_key == b.aggressive_key


@pytest.mark.parametrize(("first", "second", "why"), SPEC["distinct"])
def test_spec_distinct_pairs_never_share_a_key(first: str, second: str, why: str) -> None:
    """Spec distinct pairs differ at every level; a fragment-only difference is one page
    (one check) but two citations."""
    a, b = keys(first, RULES), keys(second, RULES)
    assert a.citation_key != b.citation_key
    if why.startswith("same resource"):
        assert a.check_key == b.check_key
    else:
        assert a.check_key != b.check_key
        assert a.aggressive_key != b.aggressive_key


@pytest.mark.parametrize(("url", "check_key"), [
    ("HTTP://User@Example.COM:80/", "http://User@example.com/"),
    ("https://example.com:8443", "https://example.com:8443/"),
    ("https://example.com:/x", "https://example.com/x"),
    ("https://example.com/a/b/../../..", "https://example.com/"),
    ("https://example.com/%7ea/%2fb/%41", "https://example.com/~a/%2Fb/A"),
    ("https://example.com/?q=%7e%2f", "https://example.com/?q=%7E%2F"),
    ("https://example.com/straße?q=ü", "https://example.com/stra%C3%9Fe?q=%C3%BC"),
    ("https://[2001:DB8::1]:443/x", "https://[2001:db8::1]/x"),
    ("https://BÜCHER.example/", "https://xn--bcher-kva.example/"),
    ("https://example.com/?", "https://example.com/"),
])
def test_safe_normalisation(url: str, check_key: str) -> None:
    """Safe keys follow RFC 3986 §6.2.2–6.2.3: case, default port, dot segments, escapes, IDNA,
    reserved escapes and path case kept, the query only case-normalised."""
    assert keys(url, RULES).check_key == check_key


def test_check_key_drops_the_fragment_and_citation_key_keeps_it() -> None:
    """The fragment is part of the citation, not of the request."""
    result = keys("https://example.com/p?x=1#Sec%c3%a9", RULES)
    assert result.check_key == "https://example.com/p?x=1"
    assert result.citation_key == "https://example.com/p?x=1#Sec%C3%A9"


def test_keys_are_computed_after_safe_cleaning() -> None:
    """Tracking never separates two citations of one page."""
    assert keys("https://example.com/a?utm_source=x&id=1", RULES).check_key == \
        "https://example.com/a?id=1"


def test_aggressive_heuristics_are_named_in_order() -> None:
    """Each aggressive step that changed the URL is reported by name."""
    result = keys("http://www.en.m.example.org/wiki/x/?b=1&a=2&ref=z#f", RULES)
    assert result.aggressive_key == "https://en.example.org/wiki/x?a=2&b=1"
    assert result.heuristics == ("aggressive-params", "https", "www", "mobile",
                                 "trailing-slash", "query-order")
    assert keys("https://example.com/x", RULES).heuristics == ()


def test_redirect_wrapper_is_unwrapped_for_the_aggressive_key() -> None:
    """The aggressive key of a wrapper is its target's; the safe key stays the wrapper's."""
    result = keys("https://www.google.com/url?sa=t&url=https%3A%2F%2Fwww.example.com%2Fa", RULES)
    assert result.check_key.startswith("https://www.google.com/url?")
    assert result.aggressive_key == "https://example.com/a"
    assert result.heuristics == ("redirect-wrapper", "www")


def test_unusable_wrapper_target_falls_back_to_the_wrapper() -> None:
    """A wrapper whose target is itself malformed keys on the wrapper, not a broken target."""
    result = keys("https://www.google.com/url?url=https%3A%2F%2Fexa%20mple.com%2F", RULES)
    assert result.malformed is None
    assert result.aggressive_key.startswith("https://google.com/url?")


@pytest.mark.parametrize(("url", "problem"), [
    ("https://[::1/x", "cannot be parsed"),
    ("https://example.com:http/", "cannot be parsed"),
    ("https://example.com:99999/", "cannot be parsed"),
    ("https://exa mple.com/", "whitespace"),
    ("https://example.com/\u200bx", "U+200B"),
    ("https://example.com/\x07", "U+0007"),
    ("https:///path", "no host"),
    ("https:example.com", "no host"),
    ("https://a..b.ü/", "invalid host name"),
    ("https://exa<mple.com/", "invalid character in host"),
    ("https://exa%mple.com/", "invalid character in host"),
    ("https://a,b.example/", "invalid character in host"),
    ("https://xn--.com/", "invalid internationalised label 'xn--'"),
    ("ftp://example.com/file", "unsupported scheme 'ftp'"),
    ("javascript:alert(1)", "unsupported scheme 'javascript'"),
])
def test_malformed_urls_are_values(url: str, problem: str) -> None:
    """A malformed URL gets a reason, uncheckable keys equal to the URL, and no exception."""
    result = keys(url, RULES)
    assert result.malformed is not None
    assert problem in result.malformed
    assert not result.checkable
    assert result.check_key == result.citation_key == result.aggressive_key == url


@pytest.mark.parametrize("url", ["mailto:someone@example.com", "tel:+4930123", "/about/",
                                 "../other-note.md", "#section"])
def test_mailto_tel_and_relative_links_are_valid_but_not_checkable(url: str) -> None:
    """mailto:, tel: and relative links are not malformed; there is just nothing to request."""
    result = keys(url, RULES)
    assert result.malformed is None
    assert not result.checkable
    assert result.check_key == url


@pytest.mark.parametrize(("first", "second"), [
    ("https://docs.python.org/3/library/os.html", "https://docs.python.org/ja/3/library/os.html"),
    ("https://learn.microsoft.com/en-us/azure/", "https://learn.microsoft.com/de-DE/azure"),
    ("https://www.alibabacloud.com/help/en/oss/", "https://www.alibabacloud.com/help/zh/oss/"),
    ("https://docs.example.com/zh-hant/guide", "https://docs.example.com/guide"),
    ("https://support.google.com/a/answer/1?hl=en", "https://support.google.com/a/answer/1?hl=ja"),
    ("https://example.com/p?lang=fr&id=2", "https://example.com/p?id=2&locale=de"),
])
def test_locale_variants_share_a_variant_key(first: str, second: str) -> None:
    """Language path segments and hl/lang/locale parameters do not separate a source."""
    assert locale_variant_key(first) == locale_variant_key(second)


@pytest.mark.parametrize(("first", "second"), [
    ("https://de.wikipedia.org/wiki/Qwen", "https://en.wikipedia.org/wiki/Qwen"),
    ("https://example.com/js/app", "https://example.com/app"),
    ("https://example.com/a/b/en/c", "https://example.com/a/b/c"),
    ("https://example.com/p?id=1&hl=en", "https://example.com/p?id=2&hl=en"),
])
def test_other_differences_keep_variant_keys_apart(first: str, second: str) -> None:
    """Language subdomains, non-language segments and deep segments are different sources."""
    assert locale_variant_key(first) != locale_variant_key(second)


def test_locale_variant_key_of_an_unusable_url_is_the_url() -> None:
    """An unusable URL is its own variant key rather than an error."""
    assert locale_variant_key("mailto:a@example.com") == "mailto:a@example.com"


# ---------------------------------------------------------------- properties

_SETTINGS = settings(max_examples=200, deadline=None)
_URL_TEXT = st.one_of(
    st.text(max_size=60),
    st.builds(lambda host, rest: f"https://{host}{rest}",
              st.text(max_size=15), st.text(max_size=30)),
)


@_SETTINGS
@given(_URL_TEXT)
def test_keys_never_raise(url: str) -> None:
    """Any string at all gets keys (or a malformed reason), never an exception."""
    result = keys(url, RULES)
    assert (result.malformed is None) or not result.checkable
    assert isinstance(locale_variant_key(url), str)


@_SETTINGS
@given(st.sampled_from(["https://example.com/a", "http://WWW.example.com/a/b/?x=1",
                        "https://example.com/?utm_source=q&y=%7e"]),
       st.text(alphabet="abc%20-_~:?/#", max_size=10))
def test_check_key_ignores_the_fragment(url: str, fragment: str) -> None:
    """Adding any fragment leaves the check and aggressive keys unchanged."""
    plain, with_fragment = keys(url, RULES), keys(f"{url}#{fragment}", RULES)
    assert with_fragment.check_key == plain.check_key
    assert with_fragment.aggressive_key == plain.aggressive_key


@_SETTINGS
@given(st.sampled_from(["https://Example.com/%7ea/./b/../c?Q=%2f", "http://www.m.example.org/x/",
                        "https://bücher.example:443/p?b=2&a=1"]))
def test_keys_are_fixed_points(url: str) -> None:
    """A key, normalised again, is itself: keys are stable identifiers."""
    result = keys(url, RULES)
    assert keys(result.check_key, RULES).check_key == result.check_key
    assert keys(result.aggressive_key, RULES).aggressive_key == result.aggressive_key


_INVISIBLE = st.sampled_from(["\u00a0", "\u3000", "\u2028", "\u0085", "\u200b", "\ufeff",
                              "\u00ad", "\x7f", "\x1f", "\ud800", " ", "\t"])
_VISIBLE = st.text(alphabet="abc/?=&%é中-", max_size=12)


@_SETTINGS
@given(_VISIBLE, st.lists(st.tuples(_INVISIBLE, _VISIBLE), min_size=1, max_size=3))
def test_first_invisible_character_is_named_with_its_position(path: str, rest: list[tuple[
        str, str]]) -> None:
    """The first whitespace, control, format or surrogate character makes a URL malformed, and
    the reason names it and its 1-based position, whatever visible text surrounds it."""
    prefix = f"https://example.com/{path}"
    url = prefix + "".join(invisible + visible for invisible, visible in rest)
    first = rest[0][0]
    result = keys(url, RULES)
    assert result.malformed is not None
    assert f"(U+{ord(first):04X}) at position {len(prefix) + 1}" in result.malformed


def test_locale_variant_key_is_remembered() -> None:
    """A check key seen again gets the same variant key object back, computed once."""
    url = "https://example.com/ja/docs?hl=ja&id=7"
    assert locale_variant_key(url) is locale_variant_key(url)
    assert locale_variant_key(url) == "https://example.com/docs?id=7"


@pytest.mark.parametrize("url", [
    "https://example.com/ja/docs?hl=ja&id=7",
    "http://www.www.example.com/en/a/",  # the aggressive steps would strip www again
    "http://m.m.example.com/fr/",
    "http://example.com:443/de/a",  # https://example.com:443 read back has no port
    "https://user:pw@example.com/ja/x",  # user info is kept as written
    "https://[::1]:8080/en/?lang=en&b=2&a=1",
    "https://bücher.example/zh-hans/p?hl=de",
])
def test_variant_key_with_the_keys_is_the_locale_variant_key(url: str) -> None:
    """The variant key worked out with a URL's keys is ``locale_variant_key`` of its
    aggressive key, however that key reads back."""
    result = keys(url, RULES)
    assert result.variant_key == locale_variant_key.__wrapped__(result.aggressive_key)


@_SETTINGS
@given(st.sampled_from(["http", "https", "HTTP"]),
       st.sampled_from(["", "u@", "www.", "www.www.", "m.", "mobile.m."]),
       st.sampled_from(["example.com", "EXAMPLE.org.", "127.0.0.1", "[::1]"]),
       st.sampled_from(["", ":80", ":443", ":8080"]),
       st.text(alphabet="ab/.%7eEnjaz-_~?=&#hl", max_size=24))
def test_variant_key_agrees_with_reading_the_aggressive_key(
        scheme: str, prefix: str, host: str, port: str, rest: str) -> None:
    """Whatever the URL, the variant key with the keys equals the one read from the key."""
    result = keys(f"{scheme}://{prefix}{host}{port}/{rest}", RULES)
    if result.checkable:
        assert result.variant_key == locale_variant_key.__wrapped__(result.aggressive_key)
    else:
        assert result.variant_key is None
