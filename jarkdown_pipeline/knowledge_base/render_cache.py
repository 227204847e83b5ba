"""Rendering an issue file only when what it is rendered from changed: the options, the renderer's
fingerprint, the record kept in the state store."""

import functools
import hashlib
import importlib
import importlib.metadata
import os
import re
import sys
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jarkdown_pipeline._json import dump_json, load_json
from jarkdown_pipeline.exceptions import IssueError, describe_error
from jarkdown_pipeline.issue_keys import is_issue_key
from jarkdown_pipeline.key_sets import IssueKeySet
from jarkdown_pipeline.knowledge_base.files import _updated_of, write_text_if_changed
from jarkdown_pipeline.knowledge_base.layout import ATTACHMENTS_DIR
from jarkdown_pipeline.knowledge_base.links import candidate_link_targets, is_relative_link
from jarkdown_pipeline.markdown.frontmatter import scalar_as_written
from jarkdown_pipeline.markdown.history import check_history_mode, history_file_name
from jarkdown_pipeline.markdown.index import INDEX_ROW_FIELDS
from jarkdown_pipeline.markdown.issue import RenderedIssue, render_issue_document, render_issue_history

# The interface module only: the state_store package imports this package (see ``KnowledgeBase.store``).
from jarkdown_pipeline.state_store.interface import IssueRecord, RenderedFile

if TYPE_CHECKING:
    from jarkdown_pipeline.knowledge_base.storage import KnowledgeBase


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
        # A backfill's window is tens of thousands of keys, held by the run and the render process alike.
        self.arriving = arriving if isinstance(arriving, IssueKeySet) else IssueKeySet(arriving)
        self._stored: dict[str, bool] = {}
        self._pattern: re.Pattern[bytes] | None = None

    def __contains__(self, key: object) -> bool:
        if key in self.arriving:
            return True
        if not isinstance(key, str) or not is_issue_key(key):
            return False
        found = self._stored.get(key)
        if found is None:
            found = self.kb.has_raw_issue(key)
            if len(self._stored) < _KNOWN_LOOKUPS_MAX:
                self._stored[key] = found
        return found

    def among(self, keys: Iterable[str]) -> frozenset[str]:
        return frozenset(key for key in keys if key in self)

    def gone(self) -> set[str]:
        """Keys taken as known whose raw JSON is not stored now (vanished, failed, or moved away meanwhile)."""
        gone = {key for key in self.arriving if not self.kb.has_raw_issue(key)}
        return gone | {key for key, found in self._stored.items() if found and not self.kb.has_raw_issue(key)}

    @property
    def pattern(self) -> re.Pattern[bytes]:
        """Matches every key of a project the knowledge base or the window has (and maybe more)."""
        if self._pattern is None:
            projects = self.arriving.projects() | set(self.kb.store.project_counts())
            self._pattern = project_mention_pattern(projects)
        return self._pattern


# The distributions whose code renders an issue (besides this package's own sources).
_RENDERER_DISTRIBUTIONS = ("PyYAML", "jira2markdown", "pyparsing", "markdownify", "beautifulsoup4", "markdown-it-py")


# The package's modules whose code decides an issue file's bytes: the renderer and the key rules it uses.
_RENDERER_MODULES = ("jarkdown_pipeline.markdown", "jarkdown_pipeline.issue_keys", "jarkdown_pipeline.sizes")


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
    history: str = "inline"  # inline | separate (KEY.history.md) | omit

    @classmethod
    def of(
        cls,
        field_definitions: Iterable[Mapping[str, Any]] = (),
        base_url: str = "",
        include_custom_fields: Iterable[str] | None = None,
        exclude_custom_fields: Iterable[str] = (),
        history: str = "inline",
    ) -> "RenderOptions":
        include = None if include_custom_fields is None else tuple(include_custom_fields)
        return cls(
            tuple(field_definitions), base_url, include, tuple(exclude_custom_fields), check_history_mode(history)
        )

    @classmethod
    def coerce(cls, options: "RenderOptions | Mapping[str, Any]") -> "RenderOptions":
        return options if isinstance(options, RenderOptions) else cls.of(**options)

    def keys(self) -> tuple[str, ...]:
        return ("field_definitions", "base_url", "include_custom_fields", "exclude_custom_fields", "history")

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
                          list(self.exclude_custom_fields), ATTACHMENTS_DIR, self.history])  # fmt: skip
        return hashlib.blake2b(renderer_fingerprint() + data, digest_size=16).hexdigest()


def _frontmatter_facts(frontmatter: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """(the index fields, the parent) of the frontmatter a file was just written from, as the file's
    YAML reads back (``scalar_as_written``: no parse of the text just written): the index fields None
    when they are not JSON scalars; the parent is ``parent``, else ``epic``."""
    data = {name: scalar_as_written(frontmatter.get(name)) for name in (*INDEX_ROW_FIELDS, "parent", "epic")}
    parent = next((value for value in (data["parent"], data["epic"]) if is_issue_key(value)), None)
    if parent == data["key"]:
        parent = None
    row = {name: data[name] for name in INDEX_ROW_FIELDS}
    if not all(value is None or isinstance(value, (str, int, float, bool)) for value in row.values()):
        return None, parent
    return row, parent


def content_digest(raw: bytes, manifest: bytes | None, mentioned: Sequence[str], children: bytes = b"") -> str:
    """The digest of an issue's own render inputs: its raw JSON, its manifest, the known keys it
    mentions, its children in the store (``children_stamp``)."""
    digest = hashlib.blake2b(digest_size=20)
    for part in (raw, b"-" if manifest is None else manifest, "\n".join(mentioned).encode(), children):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def child_refs(children: Sequence[tuple[str, Mapping[str, Any] | None]]) -> list[dict[str, Any]]:
    """The store's children of an issue (key, index row) as Jira writes an issue reference."""
    refs = []
    for key, row in children:
        row = row or {}
        fields: dict[str, Any] = {"summary": row.get("summary")}
        for name, field_name in (("status", "status"), ("type", "issuetype")):
            if row.get(name) is not None:
                fields[field_name] = {"name": row[name]}
        refs.append({"key": key, "fields": fields})
    return refs


def children_stamp(refs: Sequence[Mapping[str, Any]]) -> bytes:
    """The children a file lists from the store, as bytes for its render inputs (empty: none)."""
    return dump_json(list(refs)) if refs else b""


def render_stamps(file_stamps: str, children: Sequence[Mapping[str, Any]]) -> str:
    """A file's stamps as its render record keeps them: its raw JSON's and manifest's (size and mtime),
    then a digest of the children the store gives it ("-": none)."""
    digest = hashlib.blake2b(children_stamp(children), digest_size=8).hexdigest() if children else "-"
    return f"{file_stamps},{digest}"


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
    "local_links", "jira_links", "parent_key",
)  # fmt: skip
"""What ``render_issue_file`` records in the state store after writing a file (state: it is live)."""


def _rendered_record(key: str, issue: Any, inputs: str, rendered: RenderedIssue, stat: os.stat_result) -> IssueRecord:
    """What the store keeps of a file just rendered: the checks and the index use it while the file is as written."""
    from jarkdown_pipeline.state_store import outgoing_issue_links

    issue_id = issue.get("id") if isinstance(issue, Mapping) else None
    updated = _updated_of(issue)
    text = rendered.text
    local, jira = outgoing_issue_links(key, text)
    index_row, parent = _frontmatter_facts(rendered.frontmatter)
    return IssueRecord(
        key=key,
        issue_id=None if issue_id is None else str(issue_id),
        updated=updated if isinstance(updated, str) else None,
        render_inputs=inputs,
        markdown_size=stat.st_size,
        markdown_mtime_ns=stat.st_mtime_ns,
        index_row=index_row,
        link_targets=tuple(sorted({target for target in candidate_link_targets(text) if is_relative_link(target)})),
        local_links=local,
        jira_links=jira,
        parent_key=parent,
    )


class RenderingMixin:
    """Renders issue files for KnowledgeBase (uses its paths and store)."""

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

    def current_issue_files(
        self, keys: Sequence[str], options: RenderOptions, *, known_issue_keys: "Iterable[str] | KnownKeys"
    ) -> set[str]:
        """Those of ``keys`` whose file ``render_issue_file`` would leave as it is, decided from the
        store's records alone (one query for all of them, stats per file); the others may or may not
        need writing (``render_issue_file`` decides). For a window's many unchanged issues."""
        known, _ = self._known(known_issue_keys)
        current = set()
        records = self._current_records(keys)
        children = self.store.children_of(list(records)) if records else {}
        for key, record in records.items():
            file_stamps = self._input_stamps(key)
            if file_stamps is None:
                continue
            stamps = render_stamps(file_stamps, child_refs(children.get(key, [])))
            if RenderInputs.parse(record.render_inputs).is_current(options.context_digest, stamps, known):
                current.add(key)
        return current

    def _render_issue_file(self, key: str, options: RenderOptions, known_issue_keys: Iterable[str]) -> bool:
        known, pattern = self._known(known_issue_keys)
        file_stamps = self._input_stamps(key)
        if file_stamps is None:
            raise IssueError(key, f"no stored issue JSON for {key}: {self.relative(self.raw_path(key))}")
        # The mirrored issues naming this one as their parent (Cloud's epics do not list theirs).
        children = child_refs(self.store.children_of([key]).get(key, []))
        children_bytes = children_stamp(children)
        stamps = render_stamps(file_stamps, children)
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
            content_digest(raw, manifest, mentioned, children_bytes),
            mentioned,
            candidates - {*mentioned},
        )
        if current is not None and recorded.same_content(inputs):
            if recorded != inputs:  # copied or touched, same bytes: the next run decides from the record
                self.store.upsert_issues([IssueRecord(key, render_inputs=inputs.text)], fields={"render_inputs"})
            return False
        self.checked(self.markdown_path(key), key)  # before any work: it may not be written through a link
        issue = load_json(raw)
        rendered = render_issue_document(
            issue,
            field_definitions=options.field_definitions,
            attachments=load_json(manifest) if manifest is not None else [],
            base_url=options.base_url,
            # The renderer links only keys the issue mentions, and its children in the store (all mirrored).
            known_issue_keys=frozenset(mentioned).union(child["key"] for child in children),
            include_custom_fields=options.include_custom_fields,
            exclude_custom_fields=options.exclude_custom_fields,
            attachments_dir=ATTACHMENTS_DIR,
            history=options.history,
            children=children,
        )
        written = self.write_markdown(key, rendered.text)
        written = self._write_history_file(key, issue, options) or written
        stat = self.markdown_path(key).stat()
        record = _rendered_record(key, issue, inputs.text, rendered, stat)
        self.store.upsert_issues([record], fields=RENDER_RECORD_FIELDS)
        return written

    def _write_history_file(self, key: str, issue: Any, options: RenderOptions) -> bool:
        """``KEY.history.md`` when the history goes to its own file; an earlier one removed otherwise."""
        path = self.issue_dir(key) / history_file_name(key)
        if options.history != "separate":
            # One lstat when there is none (the usual case), not a check of every folder on the way.
            if not os.path.lexists(path) or not self.checked(path, key).is_file():
                return False
            path.unlink()
            return True
        path = self.checked(path, key)
        return write_text_if_changed(path, render_issue_history(issue, field_definitions=options.field_definitions))

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

    def _current_records(self, keys: Sequence[str]) -> dict[str, RenderedFile]:
        """What the store recorded of those ``keys``' files as rendered, for the files still as
        ``render_issue_file`` wrote them (size and mtime as recorded); one query for all of them,
        then a stat per file."""
        current = {}
        for key, record in self.store.rendered_files(keys).items():
            try:
                stat = os.stat(self.markdown_file_name(key))
            except (FileNotFoundError, NotADirectoryError):
                continue
            if (record.markdown_size, record.markdown_mtime_ns) == (stat.st_size, stat.st_mtime_ns):
                current[key] = record
        return current
