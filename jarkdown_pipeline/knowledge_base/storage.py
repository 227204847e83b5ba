"""The output folder: paths, raw issues, attachments, Markdown, the index, run records, reconciliation moves."""

import contextlib
import os
import re
import shutil
import threading
import time
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jarkdown_pipeline._files import (
    TEMP_SUFFIXES,
    SymlinkRefusedError,
    check_no_symlink,
    replace_into,
    sweep_temp_files,
    symlink_on_the_way,
    write_atomically,
    write_temp_file,
)
from jarkdown_pipeline._json import dump_json, load_json
from jarkdown_pipeline.exceptions import IssueError
from jarkdown_pipeline.issue_keys import check_issue_key, is_issue_key, issue_sort_key
from jarkdown_pipeline.key_sets import IssueKeySet
from jarkdown_pipeline.knowledge_base.files import (
    STORE_BATCH,
    _loaded_or_none,
    _updated_of,
    batched,
    parse_frontmatter_block,
    parse_jira_timestamp,
    write_bytes_if_changed,
    write_text_if_changed,
)
from jarkdown_pipeline.knowledge_base.layout import ATTACHMENTS_DIR, REMOVED_DIR, STATE_DIR
from jarkdown_pipeline.knowledge_base.links import (
    _INDEX_LINK_RE,
)
from jarkdown_pipeline.knowledge_base.locking import LockingMixin
from jarkdown_pipeline.knowledge_base.render_cache import (
    RenderingMixin,
    RenderInputs,
)
from jarkdown_pipeline.knowledge_base.verification import FrontmatterProblem, VerificationMixin
from jarkdown_pipeline.markdown.frontmatter import FrontmatterError
from jarkdown_pipeline.markdown.index import INDEX_DIR, INDEX_FILE, INDEX_ROW_FIELDS

# The interface module only: the state_store package imports this package (see ``KnowledgeBase.store``).
from jarkdown_pipeline.state_store.interface import IssueRecord, StateStore

if TYPE_CHECKING:
    from jarkdown_pipeline.index_update import IndexUpdate


# Only the manifest fields that describe the attachment, not what one run did with it, so the
# manifest of an unchanged issue stays byte-identical across runs.
_MANIFEST_FIELDS = ("attachment_id", "filename", "original_filename", "mime_type", "size")


# Raw issues whose ``updated`` one KnowledgeBase remembers having written: read back while the
# window records their attachments, shortly after; a backfill must not keep one entry per issue.
_UPDATED_MEMO_MAX = 4096
# In ``temp_dir``: the shared folders hold no temporary file of an earlier version's any more.
LEGACY_TEMP_FILES_SWEPT = "legacy-temp-files-swept"


# Index fields whose values repeat across issues (a handful of statuses, types and people).
_SHARED_ROW_FIELDS = frozenset({"status", "type", "assignee"})
_ABSENT = object()


@dataclass(frozen=True)
class StagedRawIssue:
    """An issue's raw JSON written to a temporary file beside its stored copy, not yet in its place
    (``KnowledgeBase.stage_raw_issue``)."""

    issue: Mapping[str, Any]
    path: Path
    data: bytes
    temp_name: str


class IndexRow(Mapping[str, Any]):
    """One issue file's index fields (``INDEX_ROW_FIELDS``), read as the dict they were: a full
    rebuild holds every issue's row at once, and a dict of six costs over three times this."""

    __slots__ = INDEX_ROW_FIELDS

    def __init__(self, row: Mapping[str, Any], shared: dict[str, str]) -> None:
        for name in INDEX_ROW_FIELDS:
            value = row.get(name, _ABSENT)
            if name in _SHARED_ROW_FIELDS and isinstance(value, str):
                value = shared.setdefault(value, value)  # the same string for equal values
            setattr(self, name, value)

    def get(self, name: object, default: Any = None) -> Any:
        value = getattr(self, name, _ABSENT) if name in INDEX_ROW_FIELDS else _ABSENT  # type: ignore[arg-type]
        return default if value is _ABSENT else value

    def __getitem__(self, name: str) -> Any:
        value = self.get(name, _ABSENT)
        if value is _ABSENT:
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        return (name for name in INDEX_ROW_FIELDS if getattr(self, name) is not _ABSENT)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return f"IndexRow({dict(self)!r})"


def _index_row(row: Mapping[str, Any], shared: dict[str, str]) -> Mapping[str, Any]:
    """``row`` as an IndexRow; a row with other fields (not one this version recorded) as a dict."""
    return IndexRow(row, shared) if all(name in INDEX_ROW_FIELDS for name in row) else dict(row)


def _stat_or_none(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except FileNotFoundError:
        return None


class KnowledgeBase(RenderingMixin, VerificationMixin, LockingMixin):
    """The output folder. Cheap to construct; creates folders only when it writes."""

    def __init__(self, root: str | os.PathLike[str], *, state_dsn: str | None = None) -> None:
        self.root = Path(root).resolve()
        self._root_name = str(self.root)
        self.state_dsn = state_dsn
        """PostgreSQL DSN of the state store; None: SQLite in ``.jarkdown/state.sqlite3``."""
        self._store: StateStore | None = None
        self._lock_holders = threading.local()
        self.state_dir = self.root / STATE_DIR
        self.raw_dir = self.state_dir / "raw"
        self._raw_dir_name = str(self.raw_dir)
        self.manifest_dir = self.state_dir / "attachments"
        self.runs_dir = self.state_dir / "runs"
        self.rendered_dir = self.state_dir / "rendered"
        self.temp_dir = self.state_dir / "tmp"
        """Where the temporary files of the folders every issue shares (raw copies, manifests, the
        index) are made: a sweep for a killed run's leftovers lists it, not folders of an entry per issue."""
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

    def markdown_file_name(self, key: str) -> str:
        """``markdown_path(key)`` as a string, for the loops that stat or open one file per issue
        (the checks and the index over a backfill's keys): a Path per key costs several times the
        system call."""
        return os.path.join(self._root_name, check_issue_key(key), f"{key}.md")

    def has_issue_file(self, key: str) -> bool:
        """Whether ``KEY/KEY.md`` is a file."""
        return os.path.isfile(self.markdown_file_name(key))

    def attachments_dir(self, key: str) -> Path:
        return self.issue_dir(key) / ATTACHMENTS_DIR

    def raw_path(self, key: str) -> Path:
        return self.raw_dir / f"{check_issue_key(key)}.json"

    def has_raw_issue(self, key: str) -> bool:
        """Whether ``raw_path(key)`` is a file, on strings: the window asks it of each of its keys."""
        return os.path.isfile(os.path.join(self._raw_dir_name, f"{check_issue_key(key)}.json"))

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
        in one issue's folders, or (no key) in ``temp_dir`` and ``.jarkdown/``; their paths.

        A folder reached through a symbolic link is left alone (the issue's writes report it).
        """
        if key is not None:
            return self._sweep([self.issue_dir(key), self.attachments_dir(key)])[0]
        return self._sweep([self.state_dir, self.temp_dir])[0] + self._remove_legacy_temp_files()

    def _sweep(self, folders: Iterable[Path]) -> tuple[list[str], int]:
        """``sweep_temp_files`` in each folder not reached through a link: (the paths removed, how many fresh ones were left)."""
        removed, kept = [], 0
        for folder in folders:
            if symlink_on_the_way(self.root, folder) is None:
                swept = sweep_temp_files(folder)
                removed += [self.relative(folder / name) for name in swept.removed]
                kept += swept.kept
        return removed, kept

    def _remove_legacy_temp_files(self) -> list[str]:
        """Stale temporary files in the shared folders themselves, where versions before ``temp_dir``
        made them. Swept until a sweep finds none there, fresh or stale (a marker in ``temp_dir`` then
        says so): listing these folders costs as much as the mirror is large."""
        marker = self.temp_dir / LEGACY_TEMP_FILES_SWEPT
        if marker.exists():
            return []
        removed, kept = self._sweep([self.root, self.raw_dir, self.manifest_dir, self.rendered_dir])
        # None kept: no run of an earlier version is writing here, so none can be left any more.
        if not kept and symlink_on_the_way(self.root, marker) is None:
            write_atomically(marker, b"")
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
        return self.publish_raw_issue(self.stage_raw_issue(issue))

    def stage_raw_issue(self, issue: Mapping[str, Any]) -> "StagedRawIssue":
        """The first half of ``write_raw_issue``, which needs no lock: the issue encoded and written to
        a temporary file beside its raw JSON (the costly part: a file created, a page of them at once).
        ``publish_raw_issue`` (under the lock) decides whether it replaces the stored copy."""
        path = self.checked(self.raw_path(issue["key"]), issue["key"])
        data = dump_json(issue)
        return StagedRawIssue(
            issue, path, data, write_temp_file(path, data, temp_dir=self.shared_temp_dir(issue["key"]))
        )

    def shared_temp_dir(self, key: str | None = None) -> Path:
        """``temp_dir``, checked (IssueError naming ``key``, else SymlinkRefusedError, if a link is on the way)."""
        return self.checked(self.temp_dir, key)

    def publish_raw_issue(self, staged: "StagedRawIssue") -> bool:
        """The second half of ``write_raw_issue`` (the caller holds the lock): the staged copy replaces
        the stored one unless that is the same or newer; True when it did. The temporary file is gone
        either way."""
        issue, path = staged.issue, staged.path
        try:
            verdict = self._against_stored(path, issue, staged.data)
            if verdict == "newer":
                replace_into(staged.temp_name, self.checked(path, issue["key"]))
        except BaseException:
            self.discard_staged(staged)
            raise
        if verdict != "newer":
            self.discard_staged(staged)
        if verdict != "older":  # the stored copy is now this very issue: its `updated` need not be read again
            self._remember_updated(path, issue)
        return verdict == "newer"

    @staticmethod
    def _against_stored(path: Path, issue: Mapping[str, Any], data: bytes) -> str:
        """``data`` (``issue``) against the stored copy at ``path``: "same" bytes, "older" (by
        ``fields.updated``: not to be written), else "newer" (or none stored)."""
        # The stored copy is read once, for both the equality and the age test (issues can be MBs).
        try:
            stored_data = path.read_bytes()
        except FileNotFoundError:
            return "newer"
        if stored_data == data:
            return "same"
        stored_at = parse_jira_timestamp(_updated_of(_loaded_or_none(stored_data)))
        incoming_at = parse_jira_timestamp(_updated_of(issue))
        return "older" if stored_at is not None and incoming_at is not None and incoming_at < stored_at else "newer"

    def discard_staged(self, staged: "StagedRawIssue") -> None:
        """A staged copy that will not be published (its issue failed meanwhile): its temporary file removed."""
        Path(staged.temp_name).unlink(missing_ok=True)

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
        """The ``fields.updated`` of the stored raw issue, or None when there is none (``stored_updated_of``)."""
        return self.stored_updated_of([key])[key]

    def stored_updated_of(self, keys: Sequence[str]) -> dict[str, str | None]:
        """The ``fields.updated`` of each key's stored raw issue (None when there is none).

        Without reading the raw JSON when this object wrote it itself and it is still that file
        (same inode, time and size: a writer elsewhere replaces it with a new inode), or when the
        store's render record was made from the very file there now (its size and mtime; one query
        for all the keys); else the file is read.
        """
        found: dict[str, str | None] = {}
        unknown = []
        for key in keys:
            remembered = self._stored_updated.get(key)
            stat = _stat_or_none(self.raw_path(key)) if remembered is not None else None
            if remembered is not None and stat is None:
                found[key] = None
            elif (
                stat is not None
                and remembered is not None
                and remembered[0] == (stat.st_ino, stat.st_mtime_ns, stat.st_size)
            ):
                found[key] = remembered[1]
            else:
                unknown.append(key)
        records = self.store.get_issues(unknown) if unknown else {}
        for key in unknown:
            found[key] = self._recorded_updated(key, records.get(key))
        return found

    def _recorded_updated(self, key: str, record: IssueRecord | None) -> str | None:
        """The store's ``updated`` when its record was made from the raw file there now, else the file's."""
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
        temp_dir = self.shared_temp_dir(key)
        written = write_bytes_if_changed(path, dump_json(self.normalize_manifest(key, infos)), temp_dir)
        marker = self.checked(self.incomplete_marker_path(key), key)
        if complete:
            marker.unlink(missing_ok=True)
        else:
            write_bytes_if_changed(marker, b"", temp_dir)
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

    def issue_file_keys(self) -> list[str]:
        """``markdown_issue_keys`` but the notes left at the old paths of moved issues (``knowledge_base.moves``)."""
        keys = self.markdown_issue_keys()
        moved = set(self.store.issue_keys(state="moved")) if keys else set()
        return [key for key in keys if key not in moved] if moved else keys

    def markdown_issue_keys(self) -> list[str]:
        """Keys with a ``KEY/KEY.md`` in the live knowledge base, sorted (the notes of moved issues included)."""
        return self._markdown_keys_on_disk()

    def _markdown_keys_on_disk(self) -> list[str]:
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
    def index_rows(self) -> tuple[list[Mapping[str, Any]], list[FrontmatterProblem]]:
        """The index fields of every issue file's frontmatter, sorted by key; files that do not parse
        are reported.

        A file still as ``render_issue_file`` wrote it (size and mtime in its store record) gives
        the row recorded then; any other is read and parsed (a YAML parse per file is most of the
        cost of rebuilding the index of a big knowledge base).
        """
        rows, problems = [], []
        shared: dict[str, str] = {}  # one string per status, type or assignee, not one per row
        for keys in batched(self.issue_file_keys(), STORE_BATCH):
            records = self._current_records(keys)
            for key in keys:
                record = records.get(key)
                if record is not None and isinstance(record.index_row, Mapping):
                    rows.append(_index_row(record.index_row, shared))
                    continue
                path = self.markdown_path(key)
                try:
                    data = parse_frontmatter_block(path.read_text(encoding="utf-8"))
                except (FrontmatterError, UnicodeDecodeError) as error:
                    problems.append(FrontmatterProblem(self.relative(path), str(error)))
                    continue
                rows.append(_index_row({name: data.get(name) for name in INDEX_ROW_FIELDS}, shared))
        return rows, problems

    def index_files(self) -> list[Path]:
        """``index.md`` and the pages under ``_index/`` as they are on disk, sorted."""
        pages = sorted(self.index_dir.rglob("*.md")) if self.index_dir.is_dir() else []
        return [self.index_path, *pages] if self.index_path.is_file() else pages

    @staticmethod
    def issues_listed_in(index_files: Iterable[Path]) -> IssueKeySet:
        """The keys whose issue file a link of these index files points to (one pass over each)."""
        listed = IssueKeySet()
        for path in index_files:
            listed.update(_INDEX_LINK_RE.findall(path.read_text(encoding="utf-8")))
        return listed

    def write_index(self, files: Mapping[str, str], *, delete: Iterable[str] | None = None) -> bool:
        """Write the index's files whose bytes changed and delete the pages it no longer has: every
        page not in ``files``, or (``delete`` given) just those. ``files`` maps paths relative to the
        root (``index.md``, ``_index/...``) to their text."""
        changed, temp_dir = False, self.shared_temp_dir()
        for relative in sorted(files):  # a page's text is asked for as it is written (it may be rendered then)
            changed |= write_text_if_changed(self.checked(self.root / relative), files[relative], temp_dir)
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
    def live_issue_keys(self, *, with_move_notes: bool = False) -> set[str]:
        """Every key the live knowledge base holds anything of (Markdown or raw JSON); the notes of
        moved issues only ``with_move_notes``."""
        files = self.markdown_issue_keys() if with_move_notes else self.issue_file_keys()
        return set(files) | self.raw_issue_keys()

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

    def keys_rendered_since(self, revision: int, *, excluding: Container[str] = ()) -> set[str]:
        """Issues (but ``excluding``) whose store record changed after ``revision`` (rendered, moved,
        removed): one query, no listing; the excluded rows are dropped as they are read."""
        return self.store.keys_changed_since(revision, excluding=excluding)

    def files_linking_to(self, keys: Iterable[str], *, kind: str = "local", skip: Iterable[str] = ()) -> list[str]:
        """Keys of live issue files (but ``skip``) that link to any of ``keys``: to their files
        (``kind="local"``) or in Jira (``"jira"``, ``.../browse/KEY``), in issue order, to re-render them.

        From the links the store recorded when each file was rendered: no file is read.
        """
        wanted = IssueKeySet(check_issue_key(key) for key in keys)  # a backfill's window: tens of thousands
        if not wanted:
            return []
        skipped = skip if isinstance(skip, AbstractSet) else frozenset(skip)
        return [key for key in self.store.files_linking_to(wanted, kind=kind) if key not in skipped]

    def files_linking_to_jira(self, keys: Iterable[str], *, skip: Iterable[str] = ()) -> list[str]:
        """Keys of live issue files (but ``skip``) that link to any of ``keys`` in Jira (``.../browse/KEY``).

        When those issues arrive in the knowledge base, such files are re-rendered so their links
        point to the local files instead.
        """
        return self.files_linking_to(keys, kind="jira", skip=skip)
