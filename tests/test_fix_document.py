"""What a plan says about links left alone, and the plan as plain data for JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from linkaudit.clean.keys import clean_links
from linkaudit.clean.rules import load_rules
from linkaudit.config import CleaningConfig, DeadAfterConfig, Duration, FixConfig, ScanConfig
from linkaudit.fix import SKIP_KINDS, plan_document, plan_edits
from linkaudit.history.store import Confirmation
from linkaudit.models import CheckResult, CleanedLink, Note, Verdict
from linkaudit.scan.note import parse_note

RULES = load_rules(CleaningConfig(), Path("."))
DAY = 86400.0
GONE = "https://x.example/gone"


def items(text: str, path: str = "notes/n.md") -> list[tuple[Note, Sequence[CleanedLink]]]:
    note = parse_note(Path(path), text, ScanConfig())
    return [(note, clean_links(note.links, RULES, "safe"))]


def test_failing_link_not_yet_dead_is_named_with_how_far_it_is() -> None:
    """A link failing 1 of 3 checks is left alone and the plan says when it would be dead."""
    failing = Confirmation("failing", 1, 3, 1000.0, 1000.0)
    plan = plan_edits(items(f"[1]: {GONE}\n"), options=FixConfig(), unconfirmed={GONE: failing})
    assert plan.edits == ()
    assert [(s.kind, s.message) for s in plan.skipped] == [(
        "not-confirmed-dead",
        "dead link not confirmed yet; 1 failed check since 1970-01-01; called dead after 3 "
        "failed checks spanning 3 days, or now with --confirm-now; left as is")]


def test_enough_failures_too_close_together_say_over_how_long() -> None:
    """Three failures within two days of a one-week rule: the message says the span is missing."""
    failing = Confirmation("failing", 3, 3, 0.0, 1.5 * DAY)
    plan = plan_edits(items(f"[1]: {GONE}\n"), options=FixConfig(),
                      unconfirmed={GONE: failing},
                      dead_after=DeadAfterConfig(failures=3, days=Duration(7 * DAY)))
    assert "3 failed checks since 1970-01-01; called dead once the failures span 7 days" in \
        plan.skipped[0].message


def test_unconfirmed_link_still_loses_its_tracking() -> None:
    """Waiting for the dead rule does not stop the tracking edit on the same link."""
    failing = Confirmation("failing", 1, 3, 0.0, 0.0)
    plan = plan_edits(items(f"[1]: {GONE}?utm_source=a\n"), options=FixConfig(),
                      unconfirmed={GONE: failing})
    assert [(e.reason, e.new) for e in plan.edits] == [("tracking", GONE)]
    assert [s.kind for s in plan.skipped] == ["not-confirmed-dead"]


def test_archive_off_says_nothing_about_unconfirmed_links() -> None:
    """With archive replacements off, a failing link is no replacement left undone."""
    failing = Confirmation("failing", 1, 3, 0.0, 0.0)
    plan = plan_edits(items(f"[1]: {GONE}\n"), options=FixConfig(archive=False),
                      unconfirmed={GONE: failing})
    assert plan.skipped == ()


def test_plan_document_lists_edits_and_left_alone_as_json_data() -> None:
    """Each edit with file, line, column, old, new, reason; each skip with its tag and why."""
    text = "\ufeffIntro.\r\n\r\n[1]: https://x.example/a?utm_source=z\r\n[2]: " + GONE + "\r\n"
    found = items(text, "posts/n.md")
    plan = plan_edits(found, options=FixConfig(), dead={GONE},
                      archive_missing={GONE: "no snapshot"})
    document = plan_document(plan, {found[0][0].path: text})
    assert json.loads(json.dumps(document)) == document
    assert document["edits"] == [{
        "file": "posts/n.md", "line": 3, "column": 6, "old": "https://x.example/a?utm_source=z",
        "new": "https://x.example/a", "reason": "tracking"}]
    assert document["left_alone"] == [{
        "file": "posts/n.md", "line": 4, "column": 6, "url": GONE, "kind": "no-archived-copy",
        "reason": "confirmed dead, no archived copy (no snapshot); left as is"}]


def test_every_skip_carries_a_known_tag() -> None:
    """Soft 404s, unfit targets and hand merges are tagged with one of SKIP_KINDS."""
    def moved(url: str, final: str) -> CheckResult:
        return CheckResult(key=url, url=url, verdict=Verdict.REDIRECTED, detail="301",
                           final_url=final, permanent=True, final_verdict=Verdict.OK)

    text = ("[x][3]\n\n[1]: https://a.example/deep\n[2]: https://b.example/deep\n"
            "[3]: https://a.example/deep\n  'title on its own line'\n")
    plan = plan_edits(items(text), options=FixConfig(), results={
        "https://a.example/deep": moved("https://a.example/deep", "https://a.example/"),
        "https://b.example/deep": moved("https://b.example/deep", "javascript:alert(1)")})
    assert sorted(s.kind for s in plan.skipped) == ["merge-by-hand", "soft-404", "soft-404",
                                                    "unfit-url"]
    assert {s.kind for s in plan.skipped} <= set(SKIP_KINDS)
