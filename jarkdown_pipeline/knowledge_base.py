"""The knowledge base on disk: every read and write of the output folder, and its verification.

Layout (see docs/ARCHITECTURE.md)::

    index.md                          one row per issue
    ABC-1/ABC-1.md                    the issue
    ABC-1/attachments/<local name>    its attachments
    .jarkdown/fields.json             field definitions (/rest/api/3/field)
    .jarkdown/raw/ABC-1.json          the complete issue JSON as fetched
    .jarkdown/attachments/ABC-1.json  manifest of its downloaded attachments
    .jarkdown/runs/<run id>/<stage>.json  what each stage of a run did (passed between processes)
    _removed/...                      issues no longer in scope, same layout

Every write is atomic (temporary file in the same folder, then ``os.replace``) and happens only when
the content differs, so re-running an unchanged partition rewrites nothing. No Dagster import: the
Dagster layer calls in here, and these functions are tested on their own.
"""

import contextlib
import functools
import hashlib
import importlib.metadata
import itertools
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from markdown_it import MarkdownIt

from jarkdown_pipeline._files import (
    TEMP_SUFFIXES,
    SymlinkRefusedError,
    check_no_symlink,
    remove_stale_temp_files,
    symlink_on_the_way,
    write_atomically,
)
from jarkdown_pipeline._json import dump_json, load_json
from jarkdown_pipeline.exceptions import IssueError, describe_error
from jarkdown_pipeline.issue_keys import ISSUE_KEY_PATTERN, check_issue_key, is_issue_key, issue_sort_key
from jarkdown_pipeline.markdown import render_issue
from jarkdown_pipeline.markdown.frontmatter import FrontmatterError, parse_frontmatter
from jarkdown_pipeline.markdown.index import INDEX_DIR, INDEX_FILE, INDEX_ROW_FIELDS

# The interface module only: the state_store package imports this module (see ``store``).
from jarkdown_pipeline.state_store.interface import IssueRecord, StateStore

if TYPE_CHECKING:
    from jarkdown_pipeline.index_update import IndexUpdate

try:  # POSIX: advisory locks shared by every process on the machine (and over NFSv4)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

STATE_DIR = ".jarkdown"
REMOVED_DIR = "_removed"
ATTACHMENTS_DIR = "attachments"

# Jira issue keys: a project key (letter, then letters, digits, underscores) and a number. Checked
# before a key becomes a path, so a hostile key can never escape the output folder.
_INDEX_LINK_RE = re.compile(r"\]\((?:\.\./)*(" + ISSUE_KEY_PATTERN + r")/\1\.md\)")
_URL_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_HTML_URL_ATTR_RE = re.compile(r"""\b(?:href|src)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
# Only the manifest fields that describe the attachment, not what one run did with it, so the
# manifest of an unchanged issue stays byte-identical across runs.
_MANIFEST_FIELDS = ("attachment_id", "filename", "original_filename", "mime_type", "size")
# Raw issues whose ``updated`` one KnowledgeBase remembers having written: read back while the
# window records their attachments, shortly after; a backfill must not keep one entry per issue.
_UPDATED_MEMO_MAX = 4096


# Anything in an issue's JSON that could be another issue's key (a superset: the renderer links only
# keys it finds there, so only these members of the known keys can change an issue's file).
_MENTIONED_KEY_RE = re.compile(rb"[A-Za-z][A-Za-z0-9_]*-[0-9]+")
# Up to this many projects, mentions are searched by the known projects' keys: 3.6x faster than
# the generic pattern, which stops at every word of a 30 KB issue.
_MAX_PROJECTS_IN_MENTION_PATTERN = 200


def mention_pattern(known_issue_keys: Iterable[str]) -> re.Pattern[bytes]:
    """A pattern whose matches include every known issue key written in a text (and maybe more)."""
    return project_mention_pattern({key.rpartition("-")[0] for key in known_issue_keys})


def project_mention_pattern(projects: Iterable[str]) -> re.Pattern[bytes]:
    """A pattern whose matches include every key of these projects written in a text (and maybe more)."""
    projects = set(projects)
    if not projects or len(projects) > _MAX_PROJECTS_IN_MENTION_PATTERN:
        return _MENTIONED_KEY_RE
    alternatives = b"|".join(re.escape(project.encode("utf-8")) for project in sorted(projects))
    return re.compile(rb"(?:" + alternatives + rb")-[0-9]+")


# Keys a KnownKeys remembers having looked up (a window renders a few thousand issues; a backfill's
# are in its arriving keys): bounded, so a backfill never holds one entry per issue twice.
_KNOWN_LOOKUPS_MAX = 50_000


class KnownKeys:
    """The issue keys a window renders links with: ``arriving`` (the window's own, on their way) and
    every key whose raw JSON the knowledge base holds, looked up when asked (one stat) rather than
    listed, so a window of 10 issues in a mirror of 100,000 never lists the mirror."""

    def __init__(self, kb: "KnowledgeBase", arriving: Iterable[str] = ()) -> None:
        self.kb = kb
        self.arriving = frozenset(arriving)
        self._stored: dict[str, bool] = {}
        self._pattern: re.Pattern[bytes] | None = None

    def __contains__(self, key: object) -> bool:
        if key in self.arriving:
            return True
        if not isinstance(key, str) or not is_issue_key(key):
            return False
        found = self._stored.get(key)
        if found is None:
            found = self.kb.raw_path(key).is_file()
            if len(self._stored) < _KNOWN_LOOKUPS_MAX:
                self._stored[key] = found
        return found

    def among(self, keys: Iterable[str]) -> frozenset[str]:
        return frozenset(key for key in keys if key in self)

    def gone(self) -> set[str]:
        """Keys taken as known whose raw JSON is not stored now (vanished, failed, or moved away meanwhile)."""
        taken = self.arriving | {key for key, found in self._stored.items() if found}
        return {key for key in taken if not self.kb.raw_path(key).is_file()}

    @property
    def pattern(self) -> re.Pattern[bytes]:
        """Matches every key of a project the knowledge base or the window has (and maybe more)."""
        if self._pattern is None:
            projects = {key.rpartition("-")[0] for key in self.arriving} | set(self.kb.store.project_counts())
            self._pattern = project_mention_pattern(projects)
        return self._pattern


# The distributions whose code renders an issue (besides this package's own sources).
_RENDERER_DISTRIBUTIONS = ("PyYAML", "jira2markdown", "pyparsing", "markdownify", "beautifulsoup4", "markdown-it-py")
# The package's modules whose code decides an issue file's bytes: the renderer and the key rules it uses.
_RENDERER_MODULES = ("jarkdown_pipeline.markdown", "jarkdown_pipeline.issue_keys")
RENDER_RECORD_VERSION = 2
"""Raise when what ``render_issue_file`` records of a file (index row, link targets) is computed
differently: every file's record is then made again (its file is rewritten only if its bytes change)."""


def _module_sources(name: str) -> list[Path]:
    module = importlib.import_module(name)
    path = Path(module.__file__ or "")
    return sorted(path.parent.glob("*.py")) if path.name == "__init__.py" else [path]


@functools.cache
def renderer_fingerprint() -> bytes:
    """Changes whenever the code that turns an issue into Markdown may have changed: the sources of
    the renderer's modules (``_RENDERER_MODULES``), its libraries' versions, Python's, the record's
    version. Storage code is not part of it: editing it re-renders nothing."""
    digest = hashlib.blake2b(digest_size=16)
    for path in [source for name in _RENDERER_MODULES for source in _module_sources(name)]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for distribution in _RENDERER_DISTRIBUTIONS:
        try:
            version = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            version = "-"
        digest.update(f"{distribution}={version};".encode())
    digest.update(f"{sys.version};record={RENDER_RECORD_VERSION}".encode())
    return digest.digest()


@dataclass(frozen=True)
class RenderOptions:
    """Everything besides the issue's own data and the known keys that shapes its file: one value,
    the same for a whole run, passed as is to ``KnowledgeBase.render_issue_file`` and (as JSON) to
    the render process. Also a mapping of its fields, so ``**options`` still gives keywords."""

    field_definitions: tuple[Mapping[str, Any], ...] = ()
    base_url: str = ""
    include_custom_fields: tuple[str, ...] | None = None
    exclude_custom_fields: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        field_definitions: Iterable[Mapping[str, Any]] = (),
        base_url: str = "",
        include_custom_fields: Iterable[str] | None = None,
        exclude_custom_fields: Iterable[str] = (),
    ) -> "RenderOptions":
        include = None if include_custom_fields is None else tuple(include_custom_fields)
        return cls(tuple(field_definitions), base_url, include, tuple(exclude_custom_fields))

    @classmethod
    def coerce(cls, options: "RenderOptions | Mapping[str, Any]") -> "RenderOptions":
        return options if isinstance(options, RenderOptions) else cls.of(**options)

    def keys(self) -> tuple[str, ...]:
        return ("field_definitions", "base_url", "include_custom_fields", "exclude_custom_fields")

    def __getitem__(self, name: str) -> Any:
        if name not in self.keys():
            raise KeyError(name)
        return getattr(self, name)

    def as_json(self) -> dict[str, Any]:
        return {name: self[name] for name in self.keys()}

    @functools.cached_property
    def context_digest(self) -> str:
        """The renderer's code and these options: what every file of a run is rendered with."""
        data = dump_json([list(self.field_definitions), self.base_url, self.include_custom_fields,
                          list(self.exclude_custom_fields), ATTACHMENTS_DIR])  # fmt: skip
        return hashlib.blake2b(renderer_fingerprint() + data, digest_size=16).hexdigest()


@dataclass(frozen=True)
class BrokenLink:
    file: str
    """The Markdown file, relative to the knowledge base root."""
    target: str
    """The link as written."""
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.target} ({self.reason})"


@dataclass(frozen=True)
class FrontmatterProblem:
    file: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}: {self.problem}"


def write_bytes_if_changed(path: Path, data: bytes) -> bool:
    """Atomically write ``data`` unless ``path`` already holds exactly it; True when written."""
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    write_atomically(path, data)
    return True


def write_text_if_changed(path: Path, text: str) -> bool:
    return write_bytes_if_changed(path, text.encode("utf-8"))


parse_frontmatter_block = parse_frontmatter
"""The one frontmatter parser (``markdown.frontmatter.parse_frontmatter``), under its older name."""


@functools.cache
def _markdown_parser() -> MarkdownIt:
    # CommonMark plus GFM tables: what GitHub renders. Links inside code are not links.
    return MarkdownIt("commonmark").enable("table")


def markdown_link_targets(text: str) -> list[str]:
    """Every link and image target of a Markdown document, as written (percent-encoding kept).

    Parsed, not grepped, so code blocks and escaped brackets are not mistaken for links. Also the
    ``href``/``src`` of inline HTML (``<a>``, ``<img>``), which GitHub renders.
    """
    targets: list[str] = []
    for token in _markdown_parser().parse(text):
        children = token.children or []
        if token.type in ("html_block",):
            targets.extend(a or b for a, b in _HTML_URL_ATTR_RE.findall(token.content))
        for child in children:
            if child.type == "link_open":
                targets.append(str(child.attrGet("href") or ""))
            elif child.type == "image":
                targets.append(str(child.attrGet("src") or ""))
            elif child.type == "html_inline":
                targets.extend(a or b for a, b in _HTML_URL_ATTR_RE.findall(child.content))
    return targets


# Every place a Markdown or HTML link target can start: after "](" (inline links and images), after
# "]:" (reference definitions), and in href/src attributes. Over-matches on purpose (see broken_links).
# Two patterns: one anchored on "]" scans fast; the attribute one only runs on text that has one.
_CANDIDATE_MARKDOWN_TARGET_RE = re.compile(r"""\](?:\(\s*<([^>\n]*)>|\(\s*([^\s)]*)|:\s*<?([^\s>]*))""")
_CANDIDATE_HTML_TARGET_RE = re.compile(r"""\b(?:href|src)\s*=\s*["']?([^"'\s>]*)""", re.IGNORECASE)
_HTML_LINK_ATTRIBUTE_RE = re.compile(r"href|src", re.IGNORECASE)


def candidate_link_targets(text: str) -> list[str]:
    """Strings that may be link targets: a superset of what a CommonMark parser finds."""
    targets = [
        next(group for group in match.groups() if group is not None)
        for match in _CANDIDATE_MARKDOWN_TARGET_RE.finditer(text)
    ]
    if _HTML_LINK_ATTRIBUTE_RE.search(text):
        targets += _CANDIDATE_HTML_TARGET_RE.findall(text)
    return targets


def is_relative_link(target: str) -> bool:
    return bool(target) and not (target.startswith(("#", "/", "?")) or _URL_SCHEME_RE.match(target))


@dataclass
class _LockDepth:
    """How many ``KnowledgeBase.lock()`` one thread holds on one object (0: it does not hold it)."""

    depth: int = 0


class KnowledgeBase:
    """The output folder. Cheap to construct; creates folders only when it writes."""

    def __init__(self, root: str | os.PathLike[str], *, state_dsn: str | None = None) -> None:
        self.root = Path(root).resolve()
        self.state_dsn = state_dsn
        """PostgreSQL DSN of the state store; None: SQLite in ``.jarkdown/state.sqlite3``."""
        self._store: StateStore | None = None
        self._lock_holders = threading.local()
        self.state_dir = self.root / STATE_DIR
        self.raw_dir = self.state_dir / "raw"
        self.manifest_dir = self.state_dir / "attachments"
        self.runs_dir = self.state_dir / "runs"
        self.rendered_dir = self.state_dir / "rendered"
        self._mention_pattern: tuple[frozenset[str], re.Pattern[bytes]] | None = None
        # key -> ((inode, mtime_ns, size) of the raw JSON this object wrote, its fields.updated)
        self._stored_updated: dict[str, tuple[tuple[int, int, int], str | None]] = {}
        self.fields_path = self.state_dir / "fields.json"
        self.index_path = self.root / INDEX_FILE
        self.index_dir = self.root / INDEX_DIR
        self.removed_dir = self.root / REMOVED_DIR

    def __repr__(self) -> str:
        return f"KnowledgeBase({str(self.root)!r})"

    @property
    def store(self) -> StateStore:
        """The knowledge base's state store, opened on first use (built from the files the first time)."""
        if self._store is None:
            from jarkdown_pipeline.state_store import STATE_FILE, open_state_store

            if self.state_dsn is None:  # SQLite's file is written: never through a symbolic link
                self.checked(self.state_dir / STATE_FILE)
            self._store = open_state_store(self.root, dsn=self.state_dsn, lock=self.lock)
        return self._store

    def close(self) -> None:
        """Close the state store's connection, if it was opened."""
        store, self._store = self._store, None
        if store is not None:
            store.close()

    # -- paths ---------------------------------------------------------------------------------
    def issue_dir(self, key: str) -> Path:
        return self.root / check_issue_key(key)

    def markdown_path(self, key: str) -> Path:
        return self.issue_dir(key) / f"{key}.md"

    def attachments_dir(self, key: str) -> Path:
        return self.issue_dir(key) / ATTACHMENTS_DIR

    def raw_path(self, key: str) -> Path:
        return self.raw_dir / f"{check_issue_key(key)}.json"

    def manifest_path(self, key: str) -> Path:
        return self.manifest_dir / f"{check_issue_key(key)}.json"

    def rendered_record_path(self, key: str) -> Path:
        """The sidecar-file version's render record of ``KEY/KEY.md`` (now in the state store): read
        only when the store is built from the files, moved with the issue."""
        return self.rendered_dir / f"{check_issue_key(key)}.json"

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def checked(self, path: Path, key: str | None = None) -> Path:
        """``path``, when nothing on the way from the root to it is a symbolic link (which could lead
        a write, replace or delete out of the knowledge base). Else IssueError naming ``key`` (that
        issue's problem), or SymlinkRefusedError for a file of the whole knowledge base."""
        try:
            return check_no_symlink(self.root, path)
        except SymlinkRefusedError as error:
            if key is None:
                raise
            raise IssueError(key, str(error)) from None

    def remove_stale_temp_files(self, key: str | None = None) -> list[str]:
        """Remove the temporary files a killed run left (untouched for ``STALE_TEMP_FILE_SECONDS``)
        in one issue's folders, or (no key) in the folders every issue shares; their paths.

        A folder reached through a symbolic link is left alone (the issue's writes report it).
        """
        if key is not None:
            folders = [self.issue_dir(key), self.attachments_dir(key)]
        else:
            folders = [self.root, self.state_dir, self.raw_dir, self.manifest_dir, self.rendered_dir]
        removed = []
        for folder in folders:
            if symlink_on_the_way(self.root, folder) is None:
                removed += [self.relative(folder / name) for name in remove_stale_temp_files(folder)]
        return removed

    # -- field definitions ---------------------------------------------------------------------
    def write_fields(self, fields: Sequence[Mapping[str, Any]]) -> bool:
        ordered = sorted(fields, key=lambda field: str(field.get("id", "")))
        return write_bytes_if_changed(self.checked(self.fields_path), dump_json(ordered))

    def read_fields(self) -> list[dict[str, Any]] | None:
        try:
            return load_json(self.fields_path.read_bytes())
        except FileNotFoundError:
            return None

    # -- raw issues ----------------------------------------------------------------------------
    def write_raw_issue(self, issue: Mapping[str, Any]) -> bool:
        """Store the complete issue JSON under its key; True when the stored copy changed.

        A copy older than the stored one (by ``fields.updated``) is not written: a slow run that
        fetched before an edit must not undo a faster run that fetched after it.
        """
        path = self.raw_path(issue["key"])
        data = dump_json(issue)
        # The stored copy is read once, for both the equality and the age test (issues can be MBs).
        try:
            stored_data = path.read_bytes()
        except FileNotFoundError:
            stored_data = None
        if stored_data == data:
            self._remember_updated(path, issue)  # the stored copy is this very issue: no need to read it again
            return False
        if stored_data is not None:
            stored_at = parse_jira_timestamp(_updated_of(_loaded_or_none(stored_data)))
            incoming_at = parse_jira_timestamp(_updated_of(issue))
            if stored_at is not None and incoming_at is not None and incoming_at < stored_at:
                return False
        write_atomically(self.checked(path, issue["key"]), data)
        self._remember_updated(path, issue)
        return True

    def _remember_updated(self, path: Path, issue: Mapping[str, Any]) -> None:
        try:
            stat = path.stat()
        except FileNotFoundError:
            return
        memo = self._stored_updated
        memo.pop(path.stem, None)
        memo[path.stem] = ((stat.st_ino, stat.st_mtime_ns, stat.st_size), _updated_of(issue))
        if len(memo) > _UPDATED_MEMO_MAX:  # the oldest: its attachments were recorded long ago
            del memo[next(iter(memo))]

    def read_raw_issue(self, key: str) -> dict[str, Any] | None:
        try:
            return load_json(self.raw_path(key).read_bytes())
        except FileNotFoundError:
            return None

    def stored_updated(self, key: str) -> str | None:
        """The ``fields.updated`` of the stored raw issue, or None when there is none.

        Without reading the raw JSON when this object wrote it itself and it is still that file
        (same inode, time and size: a writer elsewhere replaces it with a new inode), or when the
        store's render record was made from the very file there now (its size and mtime); else
        the file is read.
        """
        path = self.raw_path(key)
        remembered = self._stored_updated.get(key)
        if remembered is not None:
            try:
                stat = path.stat()
            except FileNotFoundError:
                return None
            if remembered[0] == (stat.st_ino, stat.st_mtime_ns, stat.st_size):
                return remembered[1]
        record = self.store.get_issues([key]).get(key)
        if record is not None and record.updated is not None:
            stamps = self._input_stamps(key)
            if stamps is not None and RenderInputs.parse(record.render_inputs).raw_stamp == stamps.partition(",")[0]:
                return record.updated
        try:
            issue = self.read_raw_issue(key)
        except (ValueError, RecursionError):  # unreadable (cut, or nested too deep): fetched again and replaced
            return None
        return None if issue is None else _updated_of(issue)

    def raw_issue_keys(self) -> set[str]:
        if not self.raw_dir.is_dir():
            return set()
        return {path.stem for path in self.raw_dir.iterdir() if path.suffix == ".json" and is_issue_key(path.stem)}

    # -- attachments ---------------------------------------------------------------------------
    def write_attachment_manifest(self, key: str, infos: Iterable[Mapping[str, Any]], *, complete: bool = True) -> bool:
        """Write the manifest if it changed. ``complete=False`` (some downloads failed): marked so,
        and the next run downloads the issue's attachments again even if the issue is unchanged."""
        path = self.checked(self.manifest_path(key), key)
        written = write_bytes_if_changed(path, dump_json(self.normalize_manifest(key, infos)))
        marker = self.checked(self.incomplete_marker_path(key), key)
        if complete:
            marker.unlink(missing_ok=True)
        else:
            write_bytes_if_changed(marker, b"")
        return written

    def incomplete_marker_path(self, key: str) -> Path:
        return self.manifest_dir / f"{check_issue_key(key)}.incomplete"

    def normalize_manifest(self, key: str, infos: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """What describes each attachment (not what a run did with it), path relative to the issue."""
        entries = []
        for info in infos:
            entry = {name: info.get(name) for name in _MANIFEST_FIELDS}
            entry["attachment_id"] = str(entry["attachment_id"])
            entry["path"] = f"{ATTACHMENTS_DIR}/{info['filename']}"
            entries.append(entry)
        return sorted(entries, key=lambda entry: (entry["filename"], entry["attachment_id"]))

    def read_attachment_manifest(self, key: str) -> list[dict[str, Any]]:
        try:
            return load_json(self.manifest_path(key).read_bytes())
        except FileNotFoundError:
            return []

    def attachments_in_place(self, key: str) -> list[dict[str, Any]] | None:
        """The manifest's entries when every file it lists is in the issue's attachments folder with
        its size (nothing to download for an unchanged issue); None when one is not, or there is no
        manifest. Reads the small manifest and stats the files, never the raw JSON."""
        try:
            entries = self.read_attachment_manifest_strict(key)
        except (ValueError, RecursionError):
            return None
        if entries is None or self.incomplete_marker_path(key).exists():
            return None
        folder = self.attachments_dir(key)
        for entry in entries:
            try:
                size = (folder / str(entry["filename"])).stat().st_size
            except (OSError, KeyError, TypeError):
                return None
            if isinstance(entry.get("size"), int) and size != entry["size"]:
                return None
        return entries

    def read_attachment_manifest_strict(self, key: str) -> list[dict[str, Any]] | None:
        """The manifest's entries; None when there is none or it is not a list of objects."""
        try:
            entries = load_json(self.manifest_path(key).read_bytes())
        except FileNotFoundError:
            return None
        if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
            return None
        return entries

    def prune_attachments(self, key: str, keep: Iterable[str]) -> list[str]:
        """Delete files in the issue's attachments folder that Jira no longer has; returns their names.

        Hidden files and ``*.tmp``/``*.part`` (downloads in progress) are left alone. A symbolic
        link (the folder, or a file to delete) is refused: IssueError, nothing deleted through it.
        """
        folder = self.checked(self.attachments_dir(key), key)
        if not folder.is_dir():
            return []
        keep_names = set(keep)
        removed = []
        for path in folder.iterdir():
            name = path.name
            if name in keep_names or name.startswith(".") or name.endswith(TEMP_SUFFIXES):
                continue
            if path.is_symlink():
                reason = f"refused: {self.relative(path)} is a symbolic link (nothing is deleted through links)"
                raise IssueError(key, reason)
            if not path.is_file():
                continue
            path.unlink()
            removed.append(name)
        return sorted(removed)

    # -- Markdown ------------------------------------------------------------------------------
    def write_markdown(self, key: str, text: str) -> bool:
        return write_text_if_changed(self.checked(self.markdown_path(key), key), text)

    def render_issue_file(
        self,
        key: str,
        options: RenderOptions | None = None,
        *,
        known_issue_keys: "Iterable[str] | KnownKeys",
        **option_fields: Any,
    ) -> bool:
        """Render ``KEY/KEY.md`` from the stored raw issue and attachment manifest; True when written.

        ``options`` (or its fields as keywords): see RenderOptions. Not rendered at all when the
        file is as this method last wrote it and nothing it was rendered from changed: raw JSON,
        manifest, options, the renderer's code (``RenderOptions.context_digest``), the known keys
        the issue mentions. While the raw JSON and manifest are the very files rendered then (same
        size and mtime) and the file's links still agree with the known keys, that is decided from
        the store's record without reading the raw JSON.

        Whatever goes wrong with this one issue (its JSON unreadable or of the wrong shape, nested
        too deep, a symbolic link on the way, a file that cannot be written) raises IssueError.
        """
        chosen = options if options is not None else RenderOptions.of(**option_fields)
        try:
            return self._render_issue_file(key, chosen, known_issue_keys)
        except IssueError as error:
            if error.key == key:
                raise
            # The renderer names what it read (e.g. "<no key>" for stored JSON that is not an issue).
            raise IssueError(key, error.reason) from error
        except Exception as error:
            raise IssueError(key, describe_error(error)) from error

    def _known(self, known_issue_keys: "Iterable[str] | KnownKeys") -> tuple[Any, re.Pattern[bytes]]:
        """The known keys (a frozenset, or KnownKeys as is) and their mention pattern, made once per
        window (the same object each time)."""
        if isinstance(known_issue_keys, KnownKeys):
            return known_issue_keys, known_issue_keys.pattern
        if self._mention_pattern is None or self._mention_pattern[0] is not known_issue_keys:
            known = known_issue_keys if isinstance(known_issue_keys, frozenset) else frozenset(known_issue_keys)
            self._mention_pattern = (known, mention_pattern(known))
        return self._mention_pattern

    def _render_issue_file(self, key: str, options: RenderOptions, known_issue_keys: Iterable[str]) -> bool:
        known, pattern = self._known(known_issue_keys)
        stamps = self._input_stamps(key)
        if stamps is None:
            raise IssueError(key, f"no stored issue JSON for {key}: {self.relative(self.raw_path(key))}")
        current = self._current_records([key]).get(key)
        recorded = RenderInputs.parse(current.render_inputs if current is not None else None)
        if current is not None and recorded.is_current(options.context_digest, stamps, known):
            return False  # nothing read but the record: the raw JSON and manifest are the files rendered then
        raw = self.raw_path(key).read_bytes()
        manifest = self._read_or_none(self.manifest_path(key))
        candidates = {text for text in {match.decode("utf-8") for match in pattern.findall(raw)} if is_issue_key(text)}
        mentioned = sorted(key for key in candidates if key in known)
        inputs = RenderInputs.of(
            options.context_digest,
            stamps,
            content_digest(raw, manifest, mentioned),
            mentioned,
            candidates - {*mentioned},
        )
        if current is not None and recorded.same_content(inputs):
            if recorded != inputs:  # copied or touched, same bytes: the next run decides from the record
                self.store.upsert_issues([IssueRecord(key, render_inputs=inputs.text)], fields={"render_inputs"})
            return False
        self.checked(self.markdown_path(key), key)  # before any work: it may not be written through a link
        issue = load_json(raw)
        text = render_issue(
            issue,
            field_definitions=options.field_definitions,
            attachments=load_json(manifest) if manifest is not None else [],
            base_url=options.base_url,
            known_issue_keys=frozenset(mentioned),  # the renderer links only keys the issue mentions
            include_custom_fields=options.include_custom_fields,
            exclude_custom_fields=options.exclude_custom_fields,
            attachments_dir=ATTACHMENTS_DIR,
        )
        written = self.write_markdown(key, text)
        stat = self.markdown_path(key).stat()
        self.store.upsert_issues([_rendered_record(key, issue, inputs.text, text, stat)], fields=RENDER_RECORD_FIELDS)
        return written

    @staticmethod
    def _read_or_none(path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def _input_stamps(self, key: str) -> str | None:
        """Size and mtime of the issue's raw JSON and manifest ("-" for none); None without raw JSON."""
        parts = []
        for path in (self.raw_path(key), self.manifest_path(key)):
            try:
                stat = path.stat()
            except FileNotFoundError:
                parts.append("-")
                continue
            parts.append(f"{stat.st_size}.{stat.st_mtime_ns}")
        return None if parts[0] == "-" else ",".join(parts)

    def markdown_issue_keys(self) -> list[str]:
        """Keys with a ``KEY/KEY.md`` in the live knowledge base, sorted."""
        try:
            entries = os.scandir(self.root)
        except (FileNotFoundError, NotADirectoryError):
            return []
        with entries:  # scandir knows folders without a stat each; the name test comes first
            keys = [
                entry.name
                for entry in entries
                if is_issue_key(entry.name)
                and entry.is_dir()
                and os.path.isfile(os.path.join(entry.path, f"{entry.name}.md"))
            ]
        return sorted(keys, key=issue_sort_key)

    # -- index ---------------------------------------------------------------------------------
    def index_rows(self) -> tuple[list[dict[str, Any]], list[FrontmatterProblem]]:
        """The index fields of every issue file's frontmatter, sorted by key; files that do not parse
        are reported.

        A file still as ``render_issue_file`` wrote it (size and mtime in its store record) gives
        the row recorded then; any other is read and parsed (a YAML parse per file is most of the
        cost of rebuilding the index of a big knowledge base).
        """
        rows, problems = [], []
        for keys in batched(self.markdown_issue_keys(), STORE_BATCH):
            records = self._current_records(keys)
            for key in keys:
                record = records.get(key)
                if record is not None and isinstance(record.index_row, Mapping):
                    rows.append(dict(record.index_row))
                    continue
                path = self.markdown_path(key)
                try:
                    data = parse_frontmatter_block(path.read_text(encoding="utf-8"))
                except (FrontmatterError, UnicodeDecodeError) as error:
                    problems.append(FrontmatterProblem(self.relative(path), str(error)))
                    continue
                rows.append({name: data.get(name) for name in INDEX_ROW_FIELDS})
        return rows, problems

    def _current_records(self, keys: Sequence[str]) -> dict[str, IssueRecord]:
        """The store's records of those ``keys`` whose file is still as ``render_issue_file`` wrote it
        (size and mtime as recorded); one query for all of them, then a stat per file."""
        current = {}
        for key, record in self.store.get_issues(keys).items():
            try:
                stat = self.markdown_path(key).stat()
            except (FileNotFoundError, NotADirectoryError):
                continue
            if (record.markdown_size, record.markdown_mtime_ns) == (stat.st_size, stat.st_mtime_ns):
                current[key] = record
        return current

    def index_files(self) -> list[Path]:
        """``index.md`` and the pages under ``_index/`` as they are on disk, sorted."""
        pages = sorted(self.index_dir.rglob("*.md")) if self.index_dir.is_dir() else []
        return [self.index_path, *pages] if self.index_path.is_file() else pages

    @staticmethod
    def issues_listed_in(index_files: Iterable[Path]) -> set[str]:
        """The keys whose issue file a link of these index files points to (one pass over each)."""
        listed: set[str] = set()
        for path in index_files:
            listed.update(_INDEX_LINK_RE.findall(path.read_text(encoding="utf-8")))
        return listed

    def write_index(self, files: Mapping[str, str], *, delete: Iterable[str] | None = None) -> bool:
        """Write the index's files whose bytes changed and delete the pages it no longer has: every
        page not in ``files``, or (``delete`` given) just those. ``files`` maps paths relative to the
        root (``index.md``, ``_index/...``) to their text."""
        changed = False
        for relative, text in sorted(files.items()):
            changed |= write_text_if_changed(self.checked(self.root / relative), text)
        wanted = {self.root / relative for relative in files}
        unwanted = self.index_files() if delete is None else [self.root / relative for relative in delete]
        for page in unwanted:
            if page not in wanted and page.exists():
                self.checked(page).unlink(missing_ok=True)
                changed = True
        for folder in sorted(self.index_dir.glob("*/"), reverse=True) if self.index_dir.is_dir() else []:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only an emptied project folder goes
        return changed

    def rebuild_index(self) -> "IndexUpdate":
        """Bring the index up to date in one critical section, so the last of two overlapping updates
        never misses the other's files: only the pages of what changed in the state store since the
        last update, or (no saved index state, a rebuilt store, new index code) every issue file
        (``index_update``). Unpacks as (listed, problems, written); ``len(listed)``: issues listed."""
        from jarkdown_pipeline.index_update import update_index

        with self.lock():
            return update_index(self)

    # -- cross-process lock --------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self):
        """Exclusive lock over the knowledge base for stages that read it and then write from what
        they read (Markdown with its links, the index, reconciliation). Reentrant per object and
        thread: an inner ``with kb.lock()`` of the thread holding it is a no-op (opening the state
        store may take it). The outermost call opens the lock file anew, so other threads, objects
        and processes exclude each other.
        """
        holder = self._lock_holder()  # this thread's, kept: the exit may run in another thread
        if holder.depth:
            holder.depth += 1
            try:
                yield
            finally:
                holder.depth -= 1
            return
        lock_path = self.checked(self.state_dir / "lock")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "a+b") as handle:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            holder.depth = 1
            try:
                yield
            finally:
                holder.depth = 0
                if fcntl is not None:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _lock_holder(self) -> "_LockDepth":
        holder = getattr(self._lock_holders, "holder", None)
        if holder is None:
            holder = self._lock_holders.holder = _LockDepth()
        return holder

    def stored_since(self, key: str, moment: float) -> bool:
        """Whether anything of ``key`` (raw JSON, Markdown) was written at or after ``moment``."""
        for path in (self.raw_path(key), self.markdown_path(key)):
            try:
                if path.stat().st_mtime >= moment:
                    return True
            except FileNotFoundError:
                continue
        return False

    # -- run records (what one stage of a run did, read by the next stage in another process) -------
    def run_record_path(self, run_id: str, stage: str) -> Path:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", run_id) or not re.fullmatch(r"[a-z_]+", stage):
            raise ValueError(f"bad run id or stage: {run_id!r}, {stage!r}")
        return self.runs_dir / run_id / f"{stage}.json"

    def write_run_record(self, run_id: str, stage: str, record: Mapping[str, Any]) -> None:
        write_atomically(self.checked(self.run_record_path(run_id, stage)), dump_json(record))

    def read_run_record(self, run_id: str, stage: str) -> dict[str, Any] | None:
        try:
            return load_json(self.run_record_path(run_id, stage).read_bytes())
        except FileNotFoundError:
            return None

    def prune_run_records(self, max_age_seconds: float, now: float | None = None) -> int:
        """Delete run records older than ``max_age_seconds``; returns how many runs were pruned."""
        if not self.checked(self.runs_dir).is_dir():
            return 0
        cutoff = (time.time() if now is None else now) - max_age_seconds
        pruned = 0
        for run_dir in self.runs_dir.iterdir():
            if run_dir.is_dir() and run_dir.stat().st_mtime < cutoff:
                shutil.rmtree(run_dir, ignore_errors=True)
                pruned += 1
        return pruned

    # -- reconciliation ------------------------------------------------------------------------
    def live_issue_keys(self) -> set[str]:
        """Every key the live knowledge base holds anything of (Markdown or raw JSON)."""
        return set(self.markdown_issue_keys()) | self.raw_issue_keys()

    def _removed_paths(self, key: str) -> list[tuple[Path, Path]]:
        """(live path, removed path) pairs of everything stored for ``key``; IssueError when a
        symbolic link is on the way to either (a move could take files out of the knowledge base)."""
        pairs = []
        for live in (self.issue_dir(key), self.raw_path(key), self.manifest_path(key), self.rendered_record_path(key)):
            removed = self.removed_dir / live.relative_to(self.root)
            pairs.append((self.checked(live, key), self.checked(removed, key)))
        return pairs

    def move_to_removed(self, key: str) -> bool:
        """Move everything of ``key`` under ``_removed/`` (same layout); True when anything moved.

        An older copy already in ``_removed/`` is replaced by this newer one.
        """
        moved = False
        for live, removed in self._removed_paths(key):
            if not live.exists():
                continue
            removed.parent.mkdir(parents=True, exist_ok=True)
            if removed.is_dir():
                shutil.rmtree(removed)
            os.replace(live, removed)
            moved = True
        if moved:
            self.store.upsert_issues([IssueRecord(key, state="removed")], fields={"state"})
        return moved

    def restore_from_removed(self, key: str) -> bool:
        """Bring an issue back from ``_removed/`` (it is in scope again); True when anything moved.

        Its attachments come back with it, so they need not be downloaded again.
        """
        if not self.removed_dir.is_dir():
            return False  # the usual case, asked for every stored issue: one stat, not four
        restored = False
        for live, removed in self._removed_paths(key):
            if not removed.exists() or live.exists():
                continue
            live.parent.mkdir(parents=True, exist_ok=True)
            os.replace(removed, live)
            restored = True
        if restored:
            self.store.upsert_issues([IssueRecord(key, state="live")], fields={"state"})
        return restored

    def keys_rendered_since(self, revision: int) -> set[str]:
        """Issues whose store record changed after ``revision`` (rendered, moved, removed): one query, no listing."""
        return self.store.keys_changed_since(revision)

    def files_linking_to(self, keys: Iterable[str], *, kind: str = "local", skip: Iterable[str] = ()) -> list[str]:
        """Keys of live issue files (but ``skip``) that link to any of ``keys``: to their files
        (``kind="local"``) or in Jira (``"jira"``, ``.../browse/KEY``), in issue order, to re-render them.

        From the links the store recorded when each file was rendered: no file is read.
        """
        wanted = {check_issue_key(key) for key in keys}
        if not wanted:
            return []
        skipped = frozenset(skip)
        return [key for key in self.store.files_linking_to(wanted, kind=kind) if key not in skipped]

    def files_linking_to_jira(self, keys: Iterable[str], *, skip: Iterable[str] = ()) -> list[str]:
        """Keys of live issue files (but ``skip``) that link to any of ``keys`` in Jira (``.../browse/KEY``).

        When those issues arrive in the knowledge base, such files are re-rendered so their links
        point to the local files instead.
        """
        return self.files_linking_to(keys, kind="jira", skip=skip)

    # -- verification (what the asset checks call) ----------------------------------------------
    def missing_issue_files(self, keys: Iterable[str]) -> list[str]:
        """Keys whose ``KEY/KEY.md`` does not exist."""
        return sorted((key for key in keys if not self.markdown_path(key).is_file()), key=issue_sort_key)

    def _link_problem(self, path: Path, target: str) -> str | None:
        """Why a link target written in ``path`` is broken, or None when it is fine or not relative."""
        if not is_relative_link(target):
            return None
        local = unquote(target.split("#", 1)[0].split("?", 1)[0])
        # Lexically (one stat, not one per folder of the path): the knowledge base makes no symlinks.
        resolved = os.path.normpath(os.path.join(path.parent, local))
        root = str(self.root)
        if resolved != root and not resolved.startswith(root.rstrip(os.sep) + os.sep):
            return "points outside the knowledge base"
        if not os.path.exists(resolved):
            return "no such file"
        return None

    def broken_links(self, paths: Iterable[Path]) -> list[BrokenLink]:
        """Relative links in the given Markdown files that do not resolve to a file in the knowledge base.

        Fast path: a regex finds every string that could be a link target (a superset: it also sees
        "links" in code). If all of those resolve, so do the real links, and the file needs no parse.
        Otherwise the file is parsed as CommonMark to report exactly the real links that are broken.
        """
        broken = []
        for path in paths:
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                broken.append(BrokenLink(self.relative(path), "", "the file itself is missing"))
                continue
            broken += self._broken_links_in(path, text)
        return broken

    def _broken_links_in(self, path: Path, text: str) -> list[BrokenLink]:
        if all(self._link_problem(path, target) is None for target in candidate_link_targets(text)):
            return []
        shown = self.relative(path)
        return [
            BrokenLink(shown, target, problem)
            for target in markdown_link_targets(text)
            if (problem := self._link_problem(path, target)) is not None
        ]

    def frontmatter_problems(self, keys: Iterable[str]) -> list[FrontmatterProblem]:
        """Issue files whose frontmatter does not parse or whose ``key`` is not the file's key."""
        return self._verify(keys, links=False, trust_render_record=False)[0]

    def _frontmatter_problem_in(self, key: str, path: Path, text: str) -> FrontmatterProblem | None:
        try:
            data = parse_frontmatter_block(text)
        except FrontmatterError as error:
            return FrontmatterProblem(self.relative(path), str(error))
        if data.get("key") != key:
            return FrontmatterProblem(self.relative(path), f"frontmatter key is {data.get('key')!r}, expected {key!r}")
        return None

    def verify_issue_files(self, keys: Iterable[str]) -> tuple[list[FrontmatterProblem], list[BrokenLink]]:
        """``frontmatter_problems(keys)`` and ``broken_links`` of their files, reading each file once.

        The frontmatter of a file still as ``render_issue_file`` wrote it was parsed then, from the
        very text written (its index row is in the record, with the key): only its links are read.
        """
        return self._verify(keys, links=True, trust_render_record=True)

    def _verify(
        self, keys: Iterable[str], *, links: bool, trust_render_record: bool
    ) -> tuple[list[FrontmatterProblem], list[BrokenLink]]:
        problems: list[FrontmatterProblem] = []
        broken: list[BrokenLink] = []
        for batch in batched(keys, STORE_BATCH):
            records = self._current_records(batch) if trust_render_record else {}
            for key in batch:
                self._verify_one(key, records.get(key), links, problems, broken)
        return problems, broken

    def _verify_one(
        self,
        key: str,
        record: IssueRecord | None,
        links: bool,
        problems: list[FrontmatterProblem],
        broken: list[BrokenLink],
    ) -> None:
        path = self.markdown_path(key)
        row = record.index_row if record is not None else None
        frontmatter_checked = isinstance(row, Mapping) and row.get("key") == key  # parsed when rendered
        if frontmatter_checked and record is not None:
            # As rendered: its frontmatter parsed then, and its candidate links were found then;
            # they are resolved now. The file is read only if one of them is broken.
            if not links or all(self._link_problem(path, target) is None for target in record.link_targets):
                return
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            problems.append(FrontmatterProblem(self.relative(path), "file is missing"))
            if links:
                broken.append(BrokenLink(self.relative(path), "", "the file itself is missing"))
            return
        except UnicodeDecodeError as error:
            problems.append(FrontmatterProblem(self.relative(path), str(error)))
            return
        problem = None if frontmatter_checked else self._frontmatter_problem_in(key, path, text)
        if problem is not None:
            problems.append(problem)
        if links:
            broken += self._broken_links_in(path, text)


def _index_row_of(text: str) -> dict[str, Any] | None:
    """The index fields of a rendered file's frontmatter; None when it does not parse or they are not JSON."""
    try:
        data = parse_frontmatter_block(text)
    except FrontmatterError:
        return None
    row = {name: data.get(name) for name in INDEX_ROW_FIELDS}
    if not all(value is None or isinstance(value, (str, int, float, bool)) for value in row.values()):
        return None  # e.g. a YAML date: kept as the file says by parsing the file
    return row


def content_digest(raw: bytes, manifest: bytes | None, mentioned: Sequence[str]) -> str:
    """The digest of an issue's own render inputs: its raw JSON, its manifest, the known keys it mentions."""
    digest = hashlib.blake2b(digest_size=20)
    for part in (raw, b"-" if manifest is None else manifest, "\n".join(mentioned).encode()):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


@dataclass(frozen=True)
class RenderInputs:
    """What a file was rendered from, as its store record keeps it (``render_inputs``):
    ``context/raw stamp,manifest stamp/content/known mentions;other mentions`` (stamps: size.mtime_ns
    or "-"; mentions: the keys the issue's JSON mentions that were known when it was rendered, and
    the others), so whether the known keys changed for it is decided without reading its JSON."""

    context: str = ""
    stamps: str = ""
    content: str = ""
    mentions: str = ""

    @classmethod
    def of(
        cls, context: str, stamps: str, content: str, known: Iterable[str], unknown: Iterable[str]
    ) -> "RenderInputs":
        return cls(context, stamps, content, ",".join(sorted(known)) + ";" + ",".join(sorted(unknown)))

    @property
    def text(self) -> str:
        return f"{self.context}/{self.stamps}/{self.content}/{self.mentions}"

    @property
    def raw_stamp(self) -> str:
        return self.stamps.partition(",")[0]

    @classmethod
    def parse(cls, text: str | None) -> "RenderInputs":
        parts = (text or "").split("/")
        return cls(*parts) if len(parts) == 4 else cls()  # an older record: never current

    def same_content(self, other: "RenderInputs") -> bool:
        return bool(self.content) and (self.context, self.content) == (other.context, other.content)

    def is_current(self, context: str, stamps: str, known: "Container[str]") -> bool:
        """Rendered with this context from the files there now, and the keys its JSON mentions known
        then are all known now, and none of the others is."""
        if not self.content or (self.context, self.stamps) != (context, stamps):
            return False
        was_known, _, was_unknown = self.mentions.partition(";")
        return all(key in known for key in filter(None, was_known.split(","))) and not any(
            key in known for key in filter(None, was_unknown.split(","))
        )


RENDER_RECORD_FIELDS = (
    "issue_id", "updated", "state", "render_inputs", "markdown_size", "markdown_mtime_ns", "index_row", "link_targets",
    "local_links", "jira_links",
)  # fmt: skip
"""What ``render_issue_file`` records in the state store after writing a file (state: it is live)."""
STORE_BATCH = 500
"""Keys per ``get_issues`` call when a whole list of issues is looked up."""


def batched(items: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _rendered_record(key: str, issue: Any, inputs: str, text: str, stat: os.stat_result) -> IssueRecord:
    """What the store keeps of a file just rendered: the checks and the index use it while the file is as written."""
    from jarkdown_pipeline.state_store import outgoing_issue_links

    issue_id = issue.get("id") if isinstance(issue, Mapping) else None
    updated = _updated_of(issue)
    local, jira = outgoing_issue_links(key, text)
    return IssueRecord(
        key=key,
        issue_id=None if issue_id is None else str(issue_id),
        updated=updated if isinstance(updated, str) else None,
        render_inputs=inputs,
        markdown_size=stat.st_size,
        markdown_mtime_ns=stat.st_mtime_ns,
        index_row=_index_row_of(text),
        link_targets=tuple(sorted({target for target in candidate_link_targets(text) if is_relative_link(target)})),
        local_links=local,
        jira_links=jira,
    )


def _updated_of(issue: Any) -> Any:
    fields = issue.get("fields") if isinstance(issue, Mapping) else None
    return fields.get("updated") if isinstance(fields, Mapping) else None


def _loaded_or_none(data: bytes) -> Any:
    """The JSON in ``data``, or None when it cannot be read (a copy cut short, or nested too deep)."""
    try:
        return load_json(data)
    except (ValueError, RecursionError):
        return None


def parse_jira_timestamp(value: Any) -> datetime | None:
    """Jira's ``2026-11-20T10:30:00.000+0100`` (or ISO with a colon in the offset); None if not one."""
    if not isinstance(value, str):
        return None
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(value, pattern)
        except ValueError:
            continue
    return None
