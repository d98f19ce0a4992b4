"""Tests for linkaudit.clean.rules: the built-in data file, config additions, ClearURLs files."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from linkaudit.clean.rules import NameSet, Place, load_clearurls, load_rules
from linkaudit.clean.strip import clean_url
from linkaudit.config import CleaningConfig, SiteRule
from linkaudit.errors import ConfigError
from linkaudit.hosts import HostIndex, host_matches, host_suffixes

REAL_CLEARURLS = Path("/work/shared/rules/clearurls-data.min.json")


def _rules(tmp_path: Path, **cleaning: Any) -> Any:
    return load_rules(CleaningConfig(**cleaning), tmp_path)


def _write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _provider(**fields: Any) -> dict[str, Any]:
    return {"urlPattern": r"^https?://(?:[a-z0-9-]+\.)*?example\.org", **fields}


@pytest.mark.parametrize(("host", "rule", "expected"), [
    ("x.com", "x.com", True),
    ("a.x.com", "x.com", True),
    ("a.b.x.com", "x.com", True),
    ("x.company.com", "x.com", False),
    ("ax.com", "x.com", False),
    ("x.com.evil.net", "x.com", False),
])
def test_host_matches_on_label_boundaries(host: str, rule: str, expected: bool) -> None:
    """A site rule covers its host and subdomains, never hosts that merely share characters."""
    assert host_matches(host, rule) is expected


_HOSTS = st.lists(st.sampled_from(["x", "com", "a", "", "x.com", "www"]), min_size=1,
                  max_size=5).map(".".join)


@settings(max_examples=200, deadline=None)
@given(host=_HOSTS, rule=_HOSTS)
def test_host_suffixes_are_exactly_the_rule_hosts_that_match(host: str, rule: str) -> None:
    """Looking a host up by its label suffixes finds a rule host exactly when it matches."""
    assert (rule in set(host_suffixes(host))) is host_matches(host, rule)


@settings(max_examples=200, deadline=None)
@given(host=_HOSTS, rule_hosts=st.lists(_HOSTS, max_size=6))
def test_host_index_finds_what_a_scan_finds_in_order(host: str, rule_hosts: list[str]) -> None:
    """A host index returns the matching items of a linear scan, in the order they were given."""
    index = HostIndex((rule_host, order) for order, rule_host in enumerate(rule_hosts))
    expected = [order for order, rule_host in enumerate(rule_hosts)
                if host_matches(host, rule_host)]
    assert list(index.lookup(host)) == expected


def test_archive_and_wrapper_lookup_check_host_and_path(tmp_path: Path) -> None:
    """Archive and wrapper places match their host's subdomains and their path prefix only."""
    rules = _rules(tmp_path)
    assert rules.archive_at("web.archive.org", "/web/2020/https://x.com/") == \
        Place("web.archive.org", "/web/")
    assert rules.archive_at("web.archive.org", "/about/") is None
    assert rules.archive_at("archive.ph", "/abc") is not None
    wrapper = rules.wrapper_at("www.google.com", "/url")
    assert wrapper is not None and wrapper.place.host == "google.com"
    assert rules.wrapper_at("www.google.com", "/search") is None
    assert rules.wrapper_at("notgoogle.com", "/url") is None


def test_sites_for_keeps_the_order_of_the_rules(tmp_path: Path) -> None:
    """Built-in site rules come before config ones, parent and subdomain rules alike."""
    rules = _rules(tmp_path, sites=MappingProxyType({
        "docs.github.com": SiteRule(params=("a",)), "github.com": SiteRule(params=("b",))}))
    hosts = [site.host for site in rules.sites_for("x.docs.github.com")]
    assert hosts == ["github.com", "docs.github.com", "github.com"]


def test_name_set_wildcards_are_case_insensitive_and_whole_name() -> None:
    """``utm_*`` matches any utm_ name in any case, and patterns match whole names only."""
    names = NameSet.of(["utm_*", "fbclid"])
    assert names.matches("utm_source")
    assert names.matches("UTM_Medium")
    assert names.matches("FBCLID")
    assert not names.matches("xutm_source")
    assert not names.matches("fbclid2")
    assert not NameSet.of([]).matches("anything")


def test_builtin_rules_load_with_their_site_rules(tmp_path: Path) -> None:
    """The packaged data file gives universal names, site rules and protections."""
    rules = _rules(tmp_path)
    assert rules.tracking.matches("utm_campaign")
    assert rules.tracking.matches("gclid")
    assert not rules.tracking.matches("mc")
    assert rules.referral.matches("ref")
    github = rules.sites_for("api.github.com")
    assert [site.host for site in github] == ["github.com"]
    assert github[0].keep.matches("ref")
    assert rules.sites_for("x.company.com") == ()
    assert frozenset({"x-amz-signature"}) in rules.signed
    assert rules.clearurls == ()


def test_config_add_params_are_removed_at_safe(tmp_path: Path) -> None:
    """Names added in config.yaml (wildcards included) are tracking on every host."""
    rules = _rules(tmp_path, add_params=("campaign_*", "trk"))
    result = clean_url("https://example.com/a?campaign_id=4&trk=1&id=2", rules)
    assert result.url == "https://example.com/a?id=2"
    assert result.removed == ("campaign_id", "trk")


def test_config_remove_params_stop_builtin_removal(tmp_path: Path) -> None:
    """A name listed in remove_params is no longer removed, even if a built-in rule names it."""
    rules = _rules(tmp_path, remove_params=("utm_campaign",))
    result = clean_url("https://example.com/?utm_campaign=a&utm_source=b", rules)
    assert result.url == "https://example.com/?utm_campaign=a"


def test_config_site_rules_add_params_aggressive_and_keep(tmp_path: Path) -> None:
    """A config site rule removes its params at safe, its aggressive ones at aggressive only,
    and its keep names win over universal rules."""
    sites = MappingProxyType({"Shop.Example": SiteRule(params=("src",), aggressive=("cmp",),
                                                       keep=("utm_content",))})
    rules = _rules(tmp_path, sites=sites)
    url = "https://www.shop.example/p?src=nl&cmp=7&utm_content=x&utm_source=y"
    assert clean_url(url, rules, "safe").url == "https://www.shop.example/p?cmp=7&utm_content=x"
    assert clean_url(url, rules, "aggressive").url == "https://www.shop.example/p?utm_content=x"
    assert clean_url("https://other.example/p?src=nl", rules).removed == ()


def test_clearurls_file_is_resolved_against_base_dir(tmp_path: Path) -> None:
    """A relative clearurls_file is read from the config's folder."""
    _write_json(tmp_path / "rules.json",
                {"providers": {"example": _provider(rules=["sessionid"])}})
    rules = _rules(tmp_path, clearurls_file="rules.json")
    assert clean_url("https://example.org/a?sessionid=9&x=1", rules).url == \
        "https://example.org/a?x=1"


def test_clearurls_rules_referral_and_exceptions(tmp_path: Path) -> None:
    """ClearURLs rules remove at safe, referralMarketing only at aggressive, and an
    exception URL is left to the built-in rules."""
    path = _write_json(tmp_path / "rules.json", {"providers": {"example": _provider(
        rules=["sid_[a-z]+"], referralMarketing=["aff"],
        exceptions=[r"^https?://example\.org/login"])}})
    rules = _rules(tmp_path, clearurls_file=str(path))
    url = "https://example.org/a?SID_abc=1&aff=me&k=v"
    assert clean_url(url, rules, "safe").url == "https://example.org/a?aff=me&k=v"
    assert clean_url(url, rules, "aggressive").url == "https://example.org/a?k=v"
    assert clean_url("https://example.org/login?sid_x=1&utm_source=a", rules).url == \
        "https://example.org/login?sid_x=1"


def test_builtin_keep_wins_over_clearurls(tmp_path: Path) -> None:
    """A built-in keep name (GitHub's ref) survives even a ClearURLs rule that names it."""
    path = _write_json(tmp_path / "rules.json", {"providers": {"gh": {
        "urlPattern": r"^https?://github\.com", "rules": ["ref", "utm_[a-z]+"]}}})
    rules = _rules(tmp_path, clearurls_file=str(path))
    result = clean_url("https://github.com/a/b/tree?ref=main&utm_source=x", rules)
    assert result.url == "https://github.com/a/b/tree?ref=main"


def test_clearurls_redirection_is_a_redirect_wrapper(tmp_path: Path) -> None:
    """A ClearURLs redirection marks a wrapper: kept at safe, replaced by its target at
    aggressive."""
    path = _write_json(tmp_path / "rules.json", {"providers": {"out": {
        "urlPattern": r"^https?://out\.example", "redirections": [r"[?&]to=([^&]+)"]}}})
    rules = _rules(tmp_path, clearurls_file=str(path))
    url = "https://out.example/go?to=https%3A%2F%2Fexample.com%2Fdoc%3Fa%3D1"
    assert clean_url(url, rules, "safe").url == url
    assert clean_url(url, rules, "aggressive").url == "https://example.com/doc?a=1"


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not valid JSON"),
    ("[]", "expected an object with a 'providers' object"),
    ('{"providers": []}', "expected an object with a 'providers' object"),
    ('{"providers": {"p": 3}}', "provider 'p': expected an object"),
    ('{"providers": {"p": {}}}', "provider 'p': 'urlPattern' must be a string"),
    ('{"providers": {"p": {"urlPattern": ".*", "rules": "utm"}}}',
     "provider 'p': 'rules' must be a list of strings"),
    ('{"providers": {"p": {"urlPattern": ".*", "exceptions": [1]}}}',
     "provider 'p': 'exceptions' must be a list of strings"),
    ('{"providers": {"broken": {"urlPattern": ".*", "rules": ["(unclosed"]}}}',
     "provider 'broken': rules: bad regular expression '(unclosed'"),
    ('{"providers": {"broken": {"urlPattern": "[a-"}}}',
     "provider 'broken': urlPattern: bad regular expression"),
])
def test_bad_clearurls_files_are_config_errors(tmp_path: Path, content: str, message: str
                                               ) -> None:
    """Every kind of bad ClearURLs file is a ConfigError naming the file and the problem."""
    path = tmp_path / "rules.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_clearurls(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_missing_or_unreadable_clearurls_file_is_a_config_error(tmp_path: Path) -> None:
    """A missing or non-UTF-8 ClearURLs file is a ConfigError, not a traceback."""
    with pytest.raises(ConfigError, match="ClearURLs rules file not found"):
        _rules(tmp_path, clearurls_file="absent.json")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe{}")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_clearurls(binary)


@pytest.mark.skipif(not REAL_CLEARURLS.is_file(), reason="shared ClearURLs file not present")
def test_real_clearurls_file_loads_and_cleans(tmp_path: Path) -> None:
    """The real ClearURLs data loads; it strips Amazon tracking, and its GitHub exemption
    does not stop the built-in utm_* removal."""
    rules = _rules(tmp_path, clearurls_file=str(REAL_CLEARURLS))
    assert len(rules.clearurls) > 100
    amazon = clean_url("https://www.amazon.com/dp/B000?utm_source=x&th=1&psc=1", rules)
    assert amazon.url == "https://www.amazon.com/dp/B000?psc=1"
    assert amazon.removed == ("utm_source", "th")
    github = clean_url("https://github.com/lycheeverse/lychee/issues/1248?utm_source=chatgpt.com"
                       "&plain=1", rules, "aggressive")
    assert github.url == "https://github.com/lycheeverse/lychee/issues/1248?plain=1"


def test_every_builtin_site_rule_has_a_spec_case() -> None:
    """Each site rule of the data file (hosts sharing one rule count once) is exercised by
    a spec cleaning case on one of its hosts, showing what goes and what stays."""
    data = yaml.safe_load(resources.files("linkaudit.data").joinpath("tracking.yaml")
                          .read_text(encoding="utf-8"))
    spec = yaml.safe_load((Path(__file__).parent / "spec_cases.yaml").read_text(encoding="utf-8"))
    case_hosts = {urlsplit(case["input"]).hostname or "" for case in spec["cleaning"]}
    bodies: list[tuple[dict[str, Any], list[str]]] = []
    for host, body in data["sites"].items():
        same = next((hosts for known, hosts in bodies if known == body), None)
        if same is None:
            bodies.append((body, [host]))
        else:
            same.append(host)
    untested = [hosts for _body, hosts in bodies
                if not any(host_matches(case, host) for case in case_hosts for host in hosts)]
    assert untested == []
