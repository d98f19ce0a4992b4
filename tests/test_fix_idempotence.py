"""A second `fix` over what the first one wrote plans nothing, on any note."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from linkaudit.clean.keys import clean_links, keys
from linkaudit.clean.rules import load_rules
from linkaudit.clean.strip import clean_url
from linkaudit.config import CleaningConfig, FixConfig, ScanConfig
from linkaudit.fix.plan import Plan, plan_edits
from linkaudit.fix.rewrite import apply_edits
from linkaudit.models import CheckResult, CleanedLink, Note, Verdict
from linkaudit.scan.note import parse_note

RULES = load_rules(CleaningConfig(), Path("."))
PATH = Path("_posts/en/2025-10-22-note.md")
MOVED, GONE = "https://y.example/old", "https://y.example/gone"
RESULTS = {MOVED: CheckResult(key=MOVED, url=MOVED, verdict=Verdict.REDIRECTED, detail="301",
                              final_url="https://y.example/new?utm_medium=rss",
                              permanent=True, final_verdict=Verdict.OK)}
ARCHIVED = {GONE: f"https://web.archive.org/web/20190101000000/{GONE}"}


def note_of(text: str) -> Note:
    return parse_note(PATH, text, ScanConfig())


def cleaned(note: Note) -> list[tuple[Note, Sequence[CleanedLink]]]:
    return [(note, clean_links(note.links, RULES, "safe"))]


def plan(note: Note) -> Plan:
    return plan_edits(cleaned(note), options=FixConfig(), results=RESULTS, dead={GONE},
                      archived=ARCHIVED, clean=lambda url: clean_url(url, RULES).url,
                      citation_key=lambda url: keys(url, RULES).citation_key)


def fixed(text: str) -> tuple[str, Plan]:
    note = note_of(text)
    first = plan(note)
    return apply_edits(note.path, note.text, list(first.edits)), first


_labels = st.sampled_from(["1", "2", "3", "A", "a", "Foo Bar", "foo  bar", "ẞ", "ss"])
_urls = st.sampled_from([
    "https://x.example/a", "https://x.example/a?utm_source=chatgpt.com", "https://X.example/a",
    "https://x.example/a#f", "https://x.example/a?utm_source=a&id=1", "https://x.example/a?id=1",
    MOVED, GONE, GONE + "?utm_campaign=z",
])
_titles = st.sampled_from(["", ' "T"', " 'T'", " (T)", '\n  "T"', "\n'T\nU'"])


@st.composite
def plain_definitions(draw: st.DrawFn) -> str:
    """A one-line definition: the shape merges act on, so drawn half of the time."""
    return f"[{draw(_labels)}]: {draw(_urls)}"


@st.composite
def odd_definitions(draw: st.DrawFn) -> str:
    """A reference definition, in a container or not, with its title anywhere it may be."""
    label, url, title = draw(_labels), draw(_urls), draw(_titles)
    destination = draw(st.sampled_from([url, f"<{url}>"]))
    indent = draw(st.sampled_from(["", " ", "   "]))
    line = f"{indent}[{label}]:{draw(st.sampled_from([' ', '', chr(9), chr(10)]))}" \
           f"{destination}{title}"
    container = draw(st.sampled_from(["", "> ", "- ", "1. "]))
    if container:
        continuation = "> " if container == "> " else " " * len(container)
        line = container + line.replace("\n", "\n" + continuation)
    return line


@st.composite
def uses(draw: st.DrawFn) -> str:
    """A paragraph using labels in the three reference forms."""
    forms = st.sampled_from(["[t][{}]", "[{}][]", "[{}]", "[{}] [x]"])
    return " ".join(draw(forms).format(draw(_labels))
                    for _ in range(draw(st.integers(1, 4)))) + "."


@st.composite
def notes(draw: st.DrawFn) -> str:
    """Whole notes: front matter or not, BOM or not, LF or CRLF, blocks in any order."""
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    definitions = st.one_of(plain_definitions(), odd_definitions())
    fence = st.just(f"```\n[1]: {GONE}\n```")
    blocks = draw(st.lists(st.one_of(definitions, definitions, uses(), fence),
                           min_size=1, max_size=8))
    gaps = [draw(st.sampled_from(["\n", "\n\n"])) for _ in blocks]
    body = "".join(block + gap for block, gap in zip(blocks, gaps, strict=True))
    if not draw(st.booleans()):
        body = body.rstrip("\n")
    front = draw(st.sampled_from(["", "---\ntitle: x\n---\n"]))
    bom = draw(st.sampled_from(["", "\ufeff"]))
    return bom + (front + body).replace("\n", newline)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(notes())
@example("[1]: https://x.example/a\n[2]: https://x.example/a\n[A]: https://x.example/a\n"
         "[a]: https://x.example/b\n\n[t][a] [2] [A][].")
@example("[1]: https://x.example/a\n[2]: https://x.example/a\n[2]: https://x.example/a\n\n"
         "[t][2]")  # the second [2] wakes up when the first goes
@example(f"[1]: {MOVED}\n[2]: https://y.example/new\n\n[a][1] [b][2]")  # one after the move
@example("[2]: https://x.example/b\n[1]: https://x.example/a\n[2]: https://x.example/a\n"
         "[3]: https://x.example/b\n[3]: https://x.example/a\n\n[a][1] [b][2] [c][3]")
def test_second_run_plans_nothing(text: str) -> None:
    """Planning again on what every kind of fix wrote plans no edit."""
    once, first = fixed(text)
    again = plan(note_of(once))
    assert again.edits == (), (first.edits, again.edits)
