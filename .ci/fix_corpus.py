"""CI: `linkaudit fix --write` on a copy of the corpus changes only what it should.

After the fix, a new scan must report no tracking parameters and no duplicates, a second
fix must change nothing, and every byte outside the planned spans must be identical to
the original: each changed region of a file must lie inside a link's URL, a reference
label, or a whole reference-definition line of the original.
"""

from __future__ import annotations

import difflib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from linkaudit.config import ScanConfig
from linkaudit.models import LinkKind, Note
from linkaudit.scan import read_note

LINKAUDIT = str(Path(sys.executable).with_name("linkaudit"))


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LINKAUDIT, *args], cwd=cwd, capture_output=True, text=True,
                          check=False)


def allowed_regions(note: Note) -> list[tuple[int, int]]:
    regions = [(link.span.start, link.span.end) for link in note.links]
    regions += [(use.span.start - 1, use.span.end + 3) for use in note.references]
    for link in note.links:
        if link.kind is LinkKind.DEFINITION:
            start = note.text.rfind("\n", 0, link.span.start) + 1
            end = note.text.find("\n", link.span.end)
            regions.append((max(start - 2, 0), len(note.text) if end < 0 else end + 1))
    return regions


def check_file(original: Path, fixed: Path) -> list[str]:
    before = read_note(original, ScanConfig())
    if not isinstance(before, Note):
        return []
    after_text = fixed.read_bytes().decode("utf-8")
    regions = allowed_regions(before)
    problems = []
    matcher = difflib.SequenceMatcher(None, before.text, after_text, autojunk=False)
    for tag, i1, i2, _j1, _j2 in matcher.get_opcodes():
        if tag != "equal" and not any(lo <= i1 and i2 <= hi for lo, hi in regions):
            problems.append(f"{original}: changed outside any link at offset {i1}-{i2}: "
                            f"{before.text[max(i1 - 20, 0):i2 + 20]!r}")
    return problems


def main(corpus: Path) -> int:
    if not corpus.is_dir():
        print(f"fix_corpus: {corpus} not found; skipped")
        return 0
    with tempfile.TemporaryDirectory() as work:
        copy = Path(work) / "corpus"
        shutil.copytree(corpus, copy)
        for path in copy.rglob("*"):
            path.chmod(0o644 if path.is_file() else 0o755)
        fixed = run("fix", "--write", str(copy), cwd=Path(work))
        if fixed.returncode != 0:
            print(fixed.stdout, fixed.stderr, sep="\n")
            return 1
        print(fixed.stderr.strip())
        scan = run("scan", str(copy), "--format", "json", cwd=Path(work))
        kinds = [f["kind"] for f in json.loads(scan.stdout)["findings"]]
        left = [k for k in kinds if k in ("tracking", "duplicate")]
        problems = [f"after fix, scan still reports: {', '.join(left)}"] if left else []
        again = run("fix", str(copy), cwd=Path(work))
        if again.stdout:
            problems.append(f"a second fix would still change:\n{again.stdout[:2000]}")
        changed = 0
        for original in sorted(corpus.rglob("*.md")):
            target = copy / original.relative_to(corpus)
            if original.read_bytes() != target.read_bytes():
                changed += 1
                problems += check_file(original, target)
        print(f"fix_corpus: {changed} files changed; {len(problems)} problems")
        for problem in problems:
            print(problem)
        return 1 if problems or changed == 0 else 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1])))
