"""The scan stage: a tree of files to ``Note`` values with their links.

Entry points: ``scan_paths`` (every note under some paths, one at a time),
``iter_note_paths`` (which files are notes: ``files``), ``read_note`` and ``parse_note``
(one note: ``note``), ``family_key`` (translation families: ``families``) and ``extract``
(Markdown text to links: the ``markdown`` package, one module per pass). For local links:
``site`` (where a link's target lives on disk) and ``anchors`` (the ids a page has).
"""

from linkaudit.scan.families import family_key
from linkaudit.scan.files import iter_note_paths
from linkaudit.scan.markdown import Extraction, extract
from linkaudit.scan.note import parse_note, read_note, scan_paths

__all__ = [
    "Extraction",
    "extract",
    "family_key",
    "iter_note_paths",
    "parse_note",
    "read_note",
    "scan_paths",
]
