"""``linkaudit init``: a minimal commented ``linkaudit.yaml`` and what to git-ignore.

Never overwrites: an existing file is the user's work, and a configuration discovery
already finds (``.linkaudit.yaml``, ``[tool.linkaudit]``, one higher up in the repository)
is never shadowed by a new file. The notes folder is guessed from what the folder holds
(Jekyll's ``_posts``, Hugo's ``content``), else the folder itself.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from linkaudit.cli.output import Console
from linkaudit.config_files import CONFIG_NAMES, find_config
from linkaudit.errors import ExitCode, LinkauditError, UsageError
from linkaudit.scan.files import GitIgnore

NOTE_FOLDERS = ("_posts", "content", "posts", "notes", "docs")  # first found is the root
IGNORED = ".linkaudit/"

TEMPLATE = """\
# linkaudit configuration. Every key is optional: what is left out takes its default.
# The reference, with every key commented, is config.yaml in linkaudit's repository.
# Precedence: command-line flag > LINKAUDIT_<SECTION>__<KEY> variable > this file > default.

scan:
  # Folders with notes, relative to this file.
  roots: [{root}]

report:
  # Lowest severity that fails a run (exit 1): error | warning | info | never.
  fail_on: error

dead_after:
  # A link is called dead after this many failed checks spread over at least `days` days;
  # before that it is "failing", a warning. `linkaudit check --confirm-now` skips the wait.
  failures: 3
  days: 3

# The history of checks lives in .linkaudit/history.sqlite beside this file (store.path).
# It is this machine's memory, not the site's: git-ignore .linkaudit/ and, in CI, keep it
# in the cache.
"""


def guess_root(folder: Path) -> str:
    """The first usual notes folder present, else ``.``."""
    return next((name for name in NOTE_FOLDERS if (folder / name).is_dir()), ".")


def cmd_init(args: argparse.Namespace, console: Console) -> ExitCode:
    folder = Path.cwd()
    present = [name for name in CONFIG_NAMES if (folder / name).exists()]
    if present:
        raise UsageError(f"{present[0]} already exists; not overwritten")
    found = find_config(folder)
    if found is not None:
        raise UsageError(f"{found} already configures linkaudit here; a new {CONFIG_NAMES[0]} "
                         "would take its place (edit that one instead)")
    target = folder / CONFIG_NAMES[0]
    root = guess_root(folder)
    try:
        with open(target, "x", encoding="utf-8") as stream:  # "x": never overwrite
            stream.write(TEMPLATE.format(root=root))
    except FileExistsError:
        raise UsageError(f"{target.name} already exists; not overwritten") from None
    except OSError as exc:
        raise LinkauditError(f"cannot write {target.name}: {exc.strerror or exc}") from None
    console.stdout.write(f"wrote {target.name} (notes in {root})\n")
    console.stdout.write(_ignore_advice(folder))
    return ExitCode.OK


def _ignore_advice(folder: Path) -> str:
    """Whether git ignores the store here, by every ignore file of the repository."""
    rules = GitIgnore.for_folder(folder)
    if rules is not None:
        rules.add_file(folder / ".gitignore", "")
        if rules.ignored(IGNORED):
            return f"{IGNORED} is already git-ignored\n"
    return f"git-ignore the history store: add this line to .gitignore\n  {IGNORED}\n"
