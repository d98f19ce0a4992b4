"""Where a local link's target lives on disk: the site root, its pages, posts and permalinks.

A note links to files (``../img/x.png``), to pages by the URL the site will serve them at
(``/2024/05/01/slug.html``, ``/about/``) and to posts by name (``{% post_url … %}``). This
module turns each into the source file it means, or says there is none. It answers from
the file system inside one site root only: paths are resolved as strings, so a link
climbing out of the root is recognised without touching anything outside it, and every
existence test and folder listing is made once per run. Rules: docs/local-links.md.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from linkaudit.config import Config

# Jekyll's built-in permalink styles (jekyllrb.com/docs/permalinks).
PERMALINK_STYLES = {
    "date": "/:categories/:year/:month/:day/:title:output_ext",
    "pretty": "/:categories/:year/:month/:day/:title/",
    "ordinal": "/:categories/:year/:y_day/:title:output_ext",
    "weekdate": "/:categories/:year/W:week/:short_day/:title:output_ext",
    "none": "/:categories/:title:output_ext",
}
SITE_MARKERS = ("_config.yml", "_config.yaml", "_config.toml", "hugo.toml", "hugo.yaml",
                "hugo.json", "config.toml", ".git")
PAGE_SUFFIXES = (".md", ".markdown", ".mdown", ".html", ".htm")
_MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdown")
_INDEX_FILES = ("index.md", "index.markdown", "index.html", "index.htm", "_index.md",
                "README.md")
_SKIPPED_FOLDERS = frozenset({"_site", "node_modules", "vendor", "public", "resources"})
_POST_NAME = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})-(.+)")
_PLACEHOLDER = re.compile(r":([a-z_]+)")
_PLACEHOLDER_REGEX = {
    "year": r"(?P<year>\d{4})", "month": r"(?P<month>\d{2})", "i_month": r"(?P<month>\d{1,2})",
    "day": r"(?P<day>\d{2})", "i_day": r"(?P<day>\d{1,2})", "short_year": r"\d{2}",
    "title": r"(?P<title>[^/]+?)", "slug": r"(?P<title>[^/]+?)", "name": r"(?P<title>[^/]+?)",
    "output_ext": r"(?:\.html)?",
}
_GROUP_NAME = re.compile(r"\(\?P<(\w+)>")
_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)^---[ \t]*$", re.MULTILINE | re.DOTALL)
_PERMALINK_KEY = re.compile(r"^(?:permalink|url):[ \t]*['\"]?([^'\"\r\n#]+?)['\"]?[ \t]*$",
                            re.MULTILINE)
_HEAD_BYTES = 8192  # front matter looked at per page when listing permalinks
_MAX_PAGES = 100_000  # pages listed at most for permalinks and names
_MAX_SITE_CONFIG = 1 << 20


def permalink_regex(pattern: str) -> re.Pattern[str]:
    """A regex matching URL paths made by a Jekyll permalink pattern (style names allowed).

    ``:categories`` may be empty or several folders (front matter sets them, and this
    module does not read every post to know); ``:output_ext`` may be left off (servers
    answer ``/slug`` for ``/slug.html``); a trailing ``/`` may be ``/index.html``.
    """
    pattern = PERMALINK_STYLES.get(pattern, pattern)
    parts: list[str] = []
    named: set[str] = set()
    position = 0
    for match in _PLACEHOLDER.finditer(pattern):
        parts.append(re.escape(pattern[position:match.start()]))
        name = match.group(1)
        if name == "categories":
            if parts[-1].endswith("/"):
                parts[-1] = parts[-1][:-1]
                parts.append(r"(?:/[^?#]+?)?")
            else:
                parts.append(r"(?:[^?#]+?)?")
        else:
            regex = _PLACEHOLDER_REGEX.get(name, r"[^/]+?")
            group = _GROUP_NAME.search(regex)
            if group is not None and group.group(1) in named:
                regex = _GROUP_NAME.sub("(?:", regex)  # :slug after :title, say
            elif group is not None:
                named.add(group.group(1))
            parts.append(regex)
        position = match.end()
    parts.append(re.escape(pattern[position:]))
    regex = "".join(parts)
    if regex.endswith("/"):
        return re.compile(regex[:-1] + r"(?:/(?:index\.html)?)?")
    return re.compile(regex + "/?")


@dataclass(frozen=True, slots=True)
class Post:
    """A Jekyll post file, by what its URL and post_url tags are made of."""

    path: str
    year: int
    month: int
    day: int
    slug: str


@dataclass
class _Listing:
    """Everything found by walking the root once: posts, pages' permalinks, page names."""

    posts: dict[tuple[int, int, int, str], list[Post]] = field(
        default_factory=lambda: defaultdict(list))
    post_names: dict[str, list[Post]] = field(default_factory=lambda: defaultdict(list))
    permalinks: dict[str, str] = field(default_factory=dict)
    page_names: dict[str, str] = field(default_factory=dict)


class Site:
    """One site root. Paths are strings, made absolute and normalised, never resolved."""

    def __init__(self, root: str, permalink: str, baseurl: str,
                 engine: str = "kramdown-gfm") -> None:
        self.root = root
        self.engine = engine  # whose heading ids #fragments must match
        self._prefix = root.rstrip(os.sep) + os.sep
        self.real_root = os.path.realpath(root).rstrip(os.sep)  # symbolic links followed
        self.permalink = permalink_regex(permalink)
        self.baseurl = "/" + baseurl.strip("/") if baseurl.strip("/") else ""
        self._is_file: dict[str, bool] = {}
        self._is_dir: dict[str, bool] = {}
        self._listing: _Listing | None = None

    def inside(self, path: str) -> bool:
        return path == self.root or path.startswith(self._prefix)

    def is_file(self, path: str) -> bool:
        known = self._is_file.get(path)
        if known is None:
            known = self._is_file[path] = os.path.isfile(path)
        return known

    def is_dir(self, path: str) -> bool:
        known = self._is_dir.get(path)
        if known is None:
            known = self._is_dir[path] = os.path.isdir(path)
        return known

    def source(self, path: str) -> str | None:
        """The file a link to ``path`` reaches: itself, a folder's index, or a page's source.

        A folder without an index counts as found (repository viewers list it); so does
        ``x.html`` when ``x.md`` exists (the page it is rendered from) and ``x`` or ``x/``
        when ``x.md`` or ``x.html`` exists (pretty URLs).
        """
        if self.is_file(path):
            return path
        if self.is_dir(path):
            for name in _INDEX_FILES:
                index = os.path.join(path, name)
                if self.is_file(index):
                    return index
            return path
        stem, suffix = os.path.splitext(path)
        if suffix.lower() in (".html", ".htm"):
            return next((stem + s for s in _MARKDOWN_SUFFIXES if self.is_file(stem + s)), None)
        if not suffix or not os.path.basename(path):
            bare = path.rstrip(os.sep)
            return next((bare + s for s in PAGE_SUFFIXES if self.is_file(bare + s)), None)
        return None

    def url(self, url_path: str) -> str | None:
        """The source file serving a ``/root-relative`` URL path (already percent-decoded).

        Tried in order: a post whose date and slug the permalink pattern puts there; the
        file or page at that path (also under Hugo's ``static/`` and ``content/``); a page
        whose front matter sets that ``permalink:``; a page (not a post) whose file name,
        date prefix dropped, is the URL's last part, since collections and site settings
        this module does not read could serve it there.
        """
        url_path = posixpath.normpath("/" + url_path.lstrip("/")) + \
            ("/" if url_path.endswith("/") and url_path.strip("/") else "")
        if self.baseurl:
            if url_path != self.baseurl and not url_path.startswith(self.baseurl + "/"):
                return None  # served under baseurl, nothing is at a path without it
            url_path = url_path[len(self.baseurl):] or "/"
        relative = url_path.strip("/").replace("/", os.sep)
        if not relative:
            return self.source(self.root)
        match = self.permalink.fullmatch(url_path)
        if match is not None and "title" in match.groupdict():
            fields = match.groupdict()
            for post in self.listing().post_names.get(fields["title"], ()):
                if all(fields.get(key) is None or int(fields[key]) == getattr(post, key)
                       for key in ("year", "month", "day")):
                    return post.path
        suffix = os.sep if url_path.endswith("/") else ""
        for base in ("", "static", "content"):
            found = self.source(os.path.join(self.root, base, relative) + suffix)
            if found is not None:
                return found
        listing = self.listing()
        key = _url_key(url_path)
        if key in listing.permalinks:
            return listing.permalinks[key]
        return listing.page_names.get(_strip_date(key.rsplit("/", 1)[-1]))

    def post(self, name: str) -> str | None:
        """The post a ``{% post_url name %}`` tag names (``2024-05-01-slug``, or with folders)."""
        name = name.strip("/")
        base = name.rsplit("/", 1)[-1]
        match = _POST_NAME.fullmatch(base)
        if match is None:
            return None
        for post in self.listing().post_names.get(match.group(4), ()):
            stem = os.path.splitext(post.path)[0]
            if (post.year, post.month, post.day) == tuple(int(g) for g in match.groups()[:3]) \
                    and stem.endswith(os.sep + name.replace("/", os.sep)):
                return post.path
        return None

    def listing(self) -> _Listing:
        """Posts, permalinks and page names, from one walk of the root the first time."""
        if self._listing is None:
            self._listing = _Listing()
            for count, path in enumerate(self._pages()):
                if count >= _MAX_PAGES:
                    break
                self._add(path)
        return self._listing

    def _pages(self) -> Iterator[str]:
        for folder, subfolders, files in os.walk(self.root):
            subfolders[:] = sorted(name for name in subfolders
                                   if not name.startswith(".") and name not in _SKIPPED_FOLDERS)
            for name in sorted(files):
                if name.lower().endswith(PAGE_SUFFIXES):
                    yield os.path.join(folder, name)

    def _add(self, path: str) -> None:
        assert self._listing is not None
        stem = os.path.splitext(os.path.basename(path))[0]
        parts = path[len(self._prefix):].split(os.sep)
        dated = _POST_NAME.fullmatch(stem)
        if "_posts" in parts[:-1] and dated is not None:
            post = Post(path, int(dated.group(1)), int(dated.group(2)), int(dated.group(3)),
                        dated.group(4))
            self._listing.post_names[post.slug].append(post)
        else:
            self._listing.page_names.setdefault(stem, path)
            self._listing.page_names.setdefault(_strip_date(stem), path)
        permalink = _front_matter_permalink(path)
        if permalink is not None and ":" not in permalink:
            self._listing.permalinks.setdefault(_url_key(permalink), path)


def _strip_date(name: str) -> str:
    dated = _POST_NAME.fullmatch(name)
    return dated.group(4) if dated else name


def _url_key(url_path: str) -> str:
    """A URL path without what servers treat alike: ``index.html``, ``.html``, end slash."""
    key = url_path.strip()
    key = key.removesuffix("index.html").removesuffix(".html").rstrip("/")
    return "/" + key.lstrip("/")


def _front_matter_permalink(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            head = handle.read(_HEAD_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None
    block = _FRONT_MATTER.match(head)
    if block is None:
        return None
    found = _PERMALINK_KEY.search(block.group(1))
    return found.group(1) if found else None


class Sites:
    """The site each note belongs to, found once per folder; one ``Site`` per root."""

    def __init__(self, config: Config, scanned: Sequence[Path] = ()) -> None:
        self._config = config
        self._configured = (os.path.abspath(config.resolve(config.site.root))
                            if config.site.root else None)
        self._scanned = [os.path.abspath(p if p.is_dir() else p.parent) for p in scanned]
        self._base = os.path.abspath(config.base_dir)
        self._by_folder: dict[str, Site] = {}
        self._by_root: dict[str, Site] = {}

    def for_note(self, path: Path) -> Site:
        folder = os.path.dirname(os.path.abspath(path))
        site = self._by_folder.get(folder)
        if site is None:
            site = self._by_folder[folder] = self._site(self._root(folder))
        return site

    def _root(self, folder: str) -> str:
        """Configured root; else the nearest folder holding a site marker; else the widest
        scanned folder holding the note; else the configuration's folder; else the note's."""
        if self._configured is not None:
            return self._configured
        current = folder
        while True:
            if any(os.path.exists(os.path.join(current, m)) for m in SITE_MARKERS):
                return current
            parent = os.path.dirname(current)
            if parent == current:
                break
            current = parent
        holding = [root for root in self._scanned
                   if folder == root or folder.startswith(root.rstrip(os.sep) + os.sep)]
        if holding:
            return min(holding, key=len)
        if folder == self._base or folder.startswith(self._base.rstrip(os.sep) + os.sep):
            return self._base
        return folder

    def _site(self, root: str) -> Site:
        site = self._by_root.get(root)
        if site is None:
            wanted = self._config.site
            jekyll = _jekyll_settings(root)  # used where linkaudit's are left at defaults
            site = self._by_root[root] = Site(
                root,
                jekyll.get("permalink", wanted.permalink) if wanted.permalink == "date"
                else wanted.permalink,
                wanted.baseurl or jekyll.get("baseurl", ""),
                jekyll.get("engine", wanted.engine) if wanted.engine == "kramdown-gfm"
                else wanted.engine)
        return site


def _jekyll_settings(root: str) -> dict[str, str]:
    """``permalink``, ``baseurl`` and the engine from the site's ``_config.yml``."""
    for name in ("_config.yml", "_config.yaml"):
        path = os.path.join(root, name)
        try:
            with open(path, "rb") as handle:
                data = yaml.safe_load(handle.read(_MAX_SITE_CONFIG).decode("utf-8", "replace"))
        except (OSError, yaml.YAMLError):
            continue
        if not isinstance(data, dict):
            return {}
        found = {key: data[key] for key in ("permalink", "baseurl")
                 if isinstance(data.get(key), str) and data[key]}
        kramdown = data.get("kramdown")
        if str(data.get("markdown", "kramdown")).lower() == "kramdown" \
                and isinstance(kramdown, dict) \
                and str(kramdown.get("input", "GFM")).lower() == "kramdown":
            found["engine"] = "kramdown"
        return found
    return {}
