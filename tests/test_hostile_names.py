"""Every output survives every name: undecodable bytes, control characters, bidi
overrides and workflow commands in file names, URLs and messages (issue 11).

What each format promises (``linkaudit.textsafe``): JSON is exact (``\\uNNNN`` escapes,
a name's undecodable bytes as lone surrogates that ``os.fsencode`` turns back into the
bytes); SARIF URIs are exact (percent-encoded bytes); GitHub carries CR and LF with its
own escapes; everything else is a readable backslash escape. No line of any output, nor
of the ``fix`` diff, starts a workflow command that linkaudit did not write itself.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote_to_bytes

import pytest

from linkaudit.models import (
    CheckResult,
    Finding,
    Hop,
    LinkKind,
    LinkRecord,
    Report,
    Severity,
    Verdict,
)
from linkaudit.report import REPORTERS, render
from linkaudit.textsafe import UNSAFE, backslash_escaped, without_commands
from tests.cli_support import clear_environment, run

HOSTILE_NAMES = [
    os.fsdecode(b"notes/caf\xe9.md"),
    os.fsdecode(b"notes/\x9b31m\xff\xfe.md"),
    "notes/a\n::error::b.md",
    "notes/a\r::warning file=x::b.md",
    "::error::at-the-start.md",
    " \u00a0::notice::after-spaces.md",
    "notes/##[error]legacy.md",
    "notes/esc\x1b[2Jclear.md",
    "notes/bell\x07\x7f.md",
    "notes/bidi\u202egnp.exe\u202c.md",
    "notes/isolate\u2066x\u2069.md",
    "notes/sep\u2028para\u2029.md",
    "notes/nul\x00tab\t.md",
    "notes/back\\slash%25,comma:colon.md",
]
HOSTILE_URLS = [
    "https://example.com/\x1b]8;;https://evil/\x07click",
    "https://example.com/a\n::error::injected",
    "https://example.com/" + os.fsdecode(b"\xe9\x9b"),
    "javascript:alert(1)//\u202e",
    "https://example.com/##[error]x%0A::error::y",
]
HOSTILE_MESSAGES = [
    "dead\n::error file=a.md::fake",
    "\r\n::set-output name=x::1",
    "bell\x07 and C1 \x85\x9b",
    "rtl \u202e and \u2067",
]
CASES = [(name, url, message) for name, url, message in zip(
    HOSTILE_NAMES, (HOSTILE_URLS * 3)[:len(HOSTILE_NAMES)],
    (HOSTILE_MESSAGES * 4)[:len(HOSTILE_NAMES)], strict=True)]
# What each format may hold raw besides LF: XML and HTML carry tabs and CRs as text.
RAW_ALLOWED = {"html": "\t\r", "junit": "\t\r"}


def hostile_report(name: str, url: str, message: str) -> Report:
    """A report whose every piece of outside text is hostile."""
    path = Path(name)
    link = LinkRecord(path=path, line=3, column=1, kind=LinkKind.INLINE, url=url,
                      clean_url=url, check_key=url, family=name, lang=None, label=message)
    findings = (
        Finding("dead", Severity.ERROR, path, 3, 1, message, url=url),
        Finding("tracking", Severity.WARNING, path, 4, 2, message, url=url,
                clean_url=url + "\x1b"),
        Finding("duplicate", Severity.INFO, path, 5, 1, message, url=url, suppressed=message),
    )
    result = CheckResult(url, url, Verdict.DEAD, message, reason="404", status=404,
                         chain=(Hop(url, 404),), final_url=url + "\n::error::x")
    return Report(command="check", notes_scanned=1, links=(link,), findings=findings,
                  results=(result,))


def _lines(output: str) -> list[str]:
    """Lines as a CI runner reads them (it breaks on CR as well as LF)."""
    return re.split(r"\r\n|\r|\n", output)


def assert_safe(fmt: str, output: str, own_commands: int = 0) -> None:
    """No raw control character, no foreign workflow command, and valid UTF-8 (a diff
    keeps CRLF line endings, harmless at the end of a line)."""
    output.encode("utf-8")
    if fmt == "diff":
        output = output.replace("\r\n", "\n")
    allowed = "\n" + RAW_ALLOWED.get(fmt, "")
    raw = {char for char in UNSAFE.findall(output) if char not in allowed}
    assert not raw, f"{fmt}: raw {sorted(raw)!r}"
    commands = [line for line in _lines(output) if line.lstrip().startswith("::")]
    assert len(commands) == own_commands, commands
    assert "##[" not in output


def assert_parses(fmt: str, output: str) -> None:
    if fmt in ("json", "sarif"):
        json.loads(output)
    elif fmt == "junit":
        ET.fromstring(output)
    elif fmt == "html":
        parser = HTMLParser()
        parser.feed(output)
        parser.close()


@pytest.mark.parametrize("fmt", sorted(REPORTERS))
@pytest.mark.parametrize(("name", "url", "message"), CASES)
def test_every_format_survives_every_name(fmt: str, name: str, url: str, message: str) -> None:
    """Each format renders hostile names, URLs and messages to valid, inert UTF-8."""
    output = render(hostile_report(name, url, message), fmt)
    assert_safe(fmt, output, own_commands=2 if fmt == "github" else 0)
    assert_parses(fmt, output)


@pytest.mark.parametrize(("name", "url", "message"), CASES)
def test_json_round_trips_names_urls_and_messages(name: str, url: str, message: str) -> None:
    """JSON gives back the exact name (its bytes through os.fsencode), URL and message."""
    document = json.loads(render(hostile_report(name, url, message), "json"))
    finding = document["findings"][0]
    assert os.fsencode(finding["file"]) == os.fsencode(name)
    assert (finding["url"], finding["message"]) == (url, message)
    assert document["results"][0]["chain"][0]["url"] == url


@pytest.mark.parametrize(("name", "url", "message"), CASES)
def test_sarif_uri_round_trips_the_name_bytes(name: str, url: str, message: str) -> None:
    """A SARIF artifact URI percent-decodes to the file name's exact bytes."""
    document = json.loads(render(hostile_report(name, url, message), "sarif"))
    location = document["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert unquote_to_bytes(location["artifactLocation"]["uri"]) == os.fsencode(name)


def _unescape_property(value: str) -> str:
    """What the Actions runner makes of an escaped command property."""
    for escaped, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","),
                          ("%25", "%")):
        value = value.replace(escaped, char)
    return value


@pytest.mark.parametrize(("name", "url", "message"), CASES)
def test_github_file_property_decodes_to_the_shown_name(name: str, url: str,
                                                       message: str) -> None:
    """The runner decodes the file property to the name, other controls shown escaped."""
    output = render(hostile_report(name, url, message), "github")
    first = output.splitlines()[0]
    properties = first.split(" ", 1)[1].split("::", 1)[0]
    file_value = dict(item.split("=", 1) for item in properties.split(","))["file"]
    assert _unescape_property(file_value) == without_commands(backslash_escaped(name,
                                                                                keep="\r\n"))


def test_text_shows_undecodable_bytes_as_backslash_escapes() -> None:
    """The text format shows byte 0xe9 of a name as \\xe9 and ESC as \\x1b."""
    name = os.fsdecode(b"notes/caf\xe9\x1b.md")
    output = render(hostile_report(name, "https://example.com/", "m"), "text")
    assert "notes/caf\\xe9\\x1b.md:3:1" in output


# ------------------------------------------------------------ the command line


def _write_tree(root: Path) -> list[bytes]:
    """Notes whose names are hostile bytes, each citing a tracked URL (a finding)."""
    names = [b"caf\xe9.md", b"a\n::error::b.md", b"esc\x1b[31m.md", b"bidi\xe2\x80\xae.md",
             b"cr\r##[error]x.md"]
    notes = root / "notes"
    notes.mkdir()
    for name in names:
        body = (b"# t\n\n[a](https://example.com/?utm_source=x\x1b)\n"
                b"::error::in the body\n[b]: https://example.org/?utm_medium=y\n\n[b]\n")
        with open(os.path.join(os.fsencode(notes), name), "wb") as note:
            note.write(body)
    return names


@pytest.fixture
def hostile_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    clear_environment(monkeypatch)
    monkeypatch.chdir(tmp_path)
    _write_tree(tmp_path)
    return tmp_path


@pytest.mark.parametrize("fmt", sorted(REPORTERS))
def test_output_file_survives_undecodable_names(hostile_tree: Path, fmt: str) -> None:
    """`scan --output` writes every format for a tree of hostile names, inert and valid."""
    target = hostile_tree / f"report.{fmt}"
    code, _, err = run("scan", "notes", "--format", fmt, "--output", str(target))
    assert code in (0, 1), err
    assert "Traceback" not in err
    output = target.read_bytes().decode("utf-8")
    assert_safe(fmt, output, own_commands=len(output.splitlines()) if fmt == "github" else 0)
    assert_parses(fmt, output)
    assert_safe("text", err)


def test_fix_diff_starts_no_workflow_command(hostile_tree: Path) -> None:
    """The fix dry-run diff of hostile names and bodies has no raw control, no command."""
    code, out, err = run("fix", "notes")
    assert code == 0, err
    assert out.count("+++ b/notes/") == 5
    assert "--- a/notes/a\\x0a::error::b.md" in out
    assert_safe("diff", out)
    assert_safe("text", err)


def test_fix_write_keeps_hostile_names(hostile_tree: Path) -> None:
    """fix --write rewrites notes with hostile names in place, under their own names."""
    before = sorted(os.listdir(os.fsencode(hostile_tree / "notes")))
    code, _, err = run("fix", "notes", "--write")
    assert code == 0, err
    assert sorted(os.listdir(os.fsencode(hostile_tree / "notes"))) == before
    assert_safe("text", err)
    code, out, _ = run("fix", "notes")
    assert (code, out) == (0, "")
