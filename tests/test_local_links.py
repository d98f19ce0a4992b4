"""Local links: relative and root-relative paths, post_url tags and #fragments, offline."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from linkaudit.audit.local_links import is_local
from linkaudit.cli.main import main
from linkaudit.config import Config, SiteConfig, load_config
from linkaudit.errors import ConfigError
from linkaudit.models import Finding
from linkaudit.run.scan import scan_tree
from linkaudit.scan.site import Site, Sites, permalink_regex

SITE = Path(__file__).resolve().parent / "fixtures" / "site"
LOCAL_KINDS = {"local-missing", "local-outside", "anchor-missing"}

# (line, kind) of every broken link in notes/broken.md, one per line.
BROKEN = [
    (7, "local-missing"),  # ../docs/nope.md
    (8, "local-missing"),  # image ../assets/nope.png
    (9, "local-missing"),  # /assets/missing.png
    (10, "local-missing"),  # a post's URL with the wrong day
    (11, "local-missing"),  # {% post_url %} naming no post
    (12, "local-outside"),  # ../../../../../../etc/passwd
    (13, "anchor-missing"),  # no such heading in another note
    (14, "anchor-missing"),  # a repeated heading numbered once too often
    (15, "anchor-missing"),  # no such heading in this note
    (16, "anchor-missing"),  # the ASCII-folded id kramdown (not kramdown-gfm) would make
    (17, "anchor-missing"),  # no such heading in a post reached by its URL
    (18, "local-missing"),  # <a href="missing.html">
    (20, "anchor-missing"),  # no such heading in a post reached by post_url
    (21, "anchor-missing"),  # a "heading" inside a code fence
    (23, "local-missing"),  # reference definition [gone]: ./gone.md
]


def local_findings(paths: list[Path], config: Config | None = None) -> list[Finding]:
    outcome = scan_tree(paths, config or Config())
    return [f for f in outcome.findings if f.kind in LOCAL_KINDS]


def test_fixture_site_every_broken_link_found_and_no_working_one() -> None:
    """On the fixture site each broken link is one finding and the working ones are silent."""
    found = local_findings([SITE])
    assert [(f.path.name, f.line, f.kind) for f in found] == \
        [("broken.md", line, kind) for line, kind in BROKEN]


def test_findings_say_what_is_wrong() -> None:
    """Messages name the target looked for, and suggest a close id for a missing anchor."""
    by_line = {f.line: f for f in local_findings([SITE / "notes" / "broken.md"])}
    assert by_line[7].message == "../docs/nope.md does not exist (looked for docs/nope.md)"
    assert by_line[7].column == 16 and by_line[7].url == "../docs/nope.md"
    assert by_line[9].message == "no file or page of the site is served at /assets/missing.png"
    assert by_line[11].message.startswith("post_url names no post")
    assert "leads outside the site root" in by_line[12].message
    assert by_line[14].message == ("#getting-started-2 matches no heading or id in "
                                   "docs/guide.md (did you mean #getting-started-1?)")
    assert by_line[15].message == "#nowhere matches no heading or id in this note"
    assert by_line[16].message.endswith("(did you mean #café-crème?)")


def test_findings_go_through_severity_and_suppression_policy(tmp_path: Path) -> None:
    """Configured severities apply, and a linkaudit-ignore comment silences a local link."""
    note = tmp_path / "note.md"
    note.write_text("[a](gone.md) <!-- linkaudit-ignore-line -->\n[b](also-gone.md)\n",
                    encoding="utf-8")
    config = load_config(overrides={"report.severities": {"local-missing": "warning"}},
                         environ={}, search_from=tmp_path)
    found = local_findings([tmp_path], config)
    assert [(f.line, str(f.severity), f.suppressed is not None) for f in found] == \
        [(1, "warning", True), (2, "warning", False)]


def test_switched_off_by_config(tmp_path: Path) -> None:
    """site.local_links: false leaves local links alone."""
    (tmp_path / "note.md").write_text("[a](gone.md)\n", encoding="utf-8")
    config = dataclasses.replace(Config(), site=SiteConfig(local_links=False))
    assert local_findings([tmp_path], config) == []


def test_cli_scan_fails_on_the_broken_note_and_passes_the_working_one(
        capsys: pytest.CaptureFixture[str]) -> None:
    """The gate catches local links offline: exit 1 with findings, 0 for a clean note."""
    assert main(["scan", str(SITE / "notes" / "working.md")]) == 0
    assert main(["scan", "--format", "json", str(SITE / "notes" / "broken.md")]) == 1
    assert '"kind": "local-outside"' in capsys.readouterr().out


@pytest.mark.parametrize("url", ["https://x.org/a", "mailto:a@b.c", "//cdn.x.org/a.js",
                                 "{{ site.baseurl }}/a.png", "", "javascript:void(0)",
                                 "C:/files/x.md"])
def test_not_local(url: str) -> None:
    """Anything with a scheme, a host, Liquid to expand, or nothing at all is not local."""
    assert not is_local(url)


@pytest.mark.parametrize("url", ["a.md", "../a.md#x", "/assets/a.png", "#top", "a%20b.md"])
def test_local(url: str) -> None:
    """Relative paths, root-relative paths and bare fragments are local."""
    assert is_local(url)


@pytest.mark.parametrize(("pattern", "url", "matches"), [
    ("date", "/2024/05/01/slug.html", True),
    ("date", "/news/tech/2024/05/01/slug.html", True),
    ("date", "/2024/05/01/slug", True),
    ("date", "/2024/5/1/slug.html", False),
    ("pretty", "/2024/05/01/slug/", True),
    ("pretty", "/2024/05/01/slug/index.html", True),
    ("pretty", "/2024/05/01/slug", True),
    ("none", "/slug.html", True),
    ("/blog/:year/:title/", "/blog/2024/slug/", True),
    ("/blog/:year/:title/", "/2024/slug/", False),
    ("/:categories/:i_month/:title:output_ext", "/a/5/slug.html", True),
])
def test_permalink_patterns(pattern: str, url: str, matches: bool) -> None:
    """Jekyll's permalink styles and custom patterns, categories optional."""
    assert (permalink_regex(pattern).fullmatch(url) is not None) is matches


def make_site(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_pretty_permalink_baseurl_and_categories(tmp_path: Path) -> None:
    """The site's _config.yml permalink and baseurl are used when linkaudit's are left."""
    make_site(tmp_path, {
        "_config.yml": "permalink: pretty\nbaseurl: /blog\n",
        "_posts/2024-05-01-slug.md": "# Post\n",
        "tech/_posts/2023-01-02-other.markdown": "# Other\n",
        "note.md": "[a](/blog/2024/05/01/slug/) [b](/blog/tech/2023/01/02/other/#other)\n"
                   "[c](/2024/05/01/slug/) [d](/blog/2024/05/01/other/)\n",
    })
    found = local_findings([tmp_path / "note.md"])
    assert [(f.line, f.column, f.kind) for f in found] == [(2, 5, "local-missing"),
                                                           (2, 28, "local-missing")]
    assert found[0].message.endswith("(the site is served under its baseurl /blog)")


def test_hugo_content_and_static(tmp_path: Path) -> None:
    """Hugo: /posts/slug/ is content/posts/slug.md or its bundle; /img/x.png is static/."""
    make_site(tmp_path, {
        "hugo.toml": "title = 'x'\n",
        "content/posts/slug.md": "# Slug\n",
        "content/posts/bundle/index.md": "## Part\n",
        "static/img/x.png": "png",
        "content/note.md": "[a](/posts/slug/) [b](/posts/bundle/#part) ![c](/img/x.png)\n"
                           "[d](/posts/none/)\n",
    })
    found = local_findings([tmp_path / "content"])
    assert [(f.line, f.kind) for f in found] == [(2, "local-missing")]


def test_front_matter_permalink_and_page_names(tmp_path: Path) -> None:
    """A page's permalink: is where it is served; so may be a collection page by its name."""
    make_site(tmp_path, {
        "_config.yml": "title: x\n",
        "_pages/about.md": "---\npermalink: /about-me/\n---\n# About\n",
        "_notes/en/2025-11-07-tcp-en.md": "# TCP\n",
        "note.md": "[a](/about-me/) [b](/about-me/#about) [c](/notes/2025-11-07-tcp-en/)\n"
                   "[d](/about-you/)\n",
    })
    found = local_findings([tmp_path / "note.md"])
    assert [(f.line, f.kind) for f in found] == [(2, "local-missing")]


def test_post_url_in_code_and_with_folders(tmp_path: Path) -> None:
    """post_url tags in code are text; a tag may name the post's folder inside _posts."""
    make_site(tmp_path, {
        "_config.yml": "title: x\n",
        "_posts/en/2024-05-01-slug-en.md": "# Post\n",
        "note.md": "{% post_url en/2024-05-01-slug-en %} {%post_url 2024-05-01-slug-en%}\n"
                   "`{% post_url 2000-01-01-none %}`\n\n~~~\n{% post_url 2000-01-01-none %}\n"
                   "~~~\n{% post_url fr/2024-05-01-slug-en %}\n",
    })
    found = local_findings([tmp_path / "note.md"])
    assert [(f.line, f.column, f.kind) for f in found] == [(7, 1, "local-missing")]


def test_outside_the_root_is_never_read(tmp_path: Path) -> None:
    """A link out of the site, or a symbolic link out of it, is not opened for its ids."""
    site, secret = tmp_path / "site", tmp_path / "secret.md"
    secret.write_text("# Hidden\n", encoding="utf-8")
    make_site(site, {"_config.yml": "title: x\n",
                     "note.md": "[a](../secret.md#hidden) [b](linked.md#anything)\n"})
    os.symlink(secret, site / "linked.md")
    found = local_findings([site / "note.md"])
    assert [f.kind for f in found] == ["local-outside"]


def test_root_relative_links_cannot_climb_out(tmp_path: Path) -> None:
    """/../ in a URL path stops at the site root, as browsers resolve it."""
    make_site(tmp_path, {"_config.yml": "", "a.png": "png",
                         "note.md": "![a](/../../a.png) [b](/../../etc/passwd)\n"})
    found = local_findings([tmp_path / "note.md"])
    assert [(f.column, f.kind) for f in found] == [(24, "local-missing")]


def test_site_root_from_config_marker_or_scanned_folder(tmp_path: Path) -> None:
    """Configured root first; else the nearest marker folder; else the scanned folder."""
    make_site(tmp_path, {"blog/_config.yml": "", "blog/_posts/a.md": "", "plain/n/a.md": ""})
    sites = Sites(Config(), [tmp_path / "plain"])
    assert sites.for_note(tmp_path / "blog" / "_posts" / "a.md").root == str(tmp_path / "blog")
    assert sites.for_note(tmp_path / "plain" / "n" / "a.md").root == str(tmp_path / "plain")
    configured = load_config(overrides={"site.root": str(tmp_path / "plain")}, environ={},
                             search_from=tmp_path)
    assert Sites(configured).for_note(tmp_path / "blog" / "a.md").root == str(tmp_path / "plain")


def test_existence_is_asked_once_per_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A target cited by many links is looked up on disk once per run."""
    make_site(tmp_path, {"a.md": "# A\n"})
    site = Site(str(tmp_path), "date", "")
    calls: list[str] = []
    real = os.path.isfile
    monkeypatch.setattr(os.path, "isfile", lambda p: calls.append(p) or real(p))
    for _ in range(100):
        assert site.source(str(tmp_path / "a.md")) == str(tmp_path / "a.md")
    assert calls == [str(tmp_path / "a.md")]


def test_engine_is_validated() -> None:
    """An unknown site.engine is a config error naming the choices."""
    with pytest.raises(ConfigError, match="is not one of kramdown-gfm, kramdown, github"):
        load_config(overrides={"site.engine": "pandoc"}, environ={})


def test_post_url_positions_with_crlf_and_code_spans_on_one_line(tmp_path: Path) -> None:
    """post_url lines count CRLF and CR as the scanner does; backticks before a tag hide it."""
    make_site(tmp_path, {"_config.yml": ""})
    (tmp_path / "note.md").write_bytes(
        b"# T\r\n\r\n`{% post_url 2000-01-01-a %}` {% post_url 2000-01-01-b %}\r"
        b"x {% post_url 2000-01-01-c %}\n")
    found = local_findings([tmp_path / "note.md"])
    assert [(f.line, f.column, f.url) for f in found] == [
        (3, 31, "{% post_url 2000-01-01-b %}"), (4, 3, "{% post_url 2000-01-01-c %}")]


def test_engine_from_the_sites_config_unless_set(tmp_path: Path) -> None:
    """A _config.yml with kramdown input: kramdown switches the id rule; site.engine wins."""
    make_site(tmp_path, {"_config.yml": "markdown: kramdown\nkramdown:\n  input: kramdown\n",
                         "note.md": "## Café crème\n\n[a](#caf-crme) [b](#café-crème)\n"})
    found = local_findings([tmp_path / "note.md"])
    assert [(f.column, f.kind) for f in found] == [(20, "anchor-missing")]
    configured = load_config(overrides={"site.engine": "github"}, environ={},
                             search_from=tmp_path)
    found = local_findings([tmp_path / "note.md"], configured)
    assert [(f.column, f.kind) for f in found] == [(5, "anchor-missing")]
