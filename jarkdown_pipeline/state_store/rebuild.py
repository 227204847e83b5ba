"""Rebuild the state store from the knowledge base's files (the first run's migration, and the repair).

Reads only: ``.jarkdown/raw``, ``.jarkdown/attachments``, ``.jarkdown/rendered``, the ``KEY/KEY.md``
files (their links, and their frontmatter where no current render record holds the index row) and the
same under ``_removed/``. No network, and no file is written, moved or touched.
"""

import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jarkdown_pipeline import knowledge_base  # module, not names: knowledge_base may import this package
from jarkdown_pipeline._json import load_json
from jarkdown_pipeline.issue_keys import ISSUE_KEY_PATTERN, issue_sort_key
from jarkdown_pipeline.markdown.index import INDEX_ROW_FIELDS
from jarkdown_pipeline.state_store.interface import IssueRecord, IssueStateName, StateStore

if TYPE_CHECKING:
    from jarkdown_pipeline.knowledge_base import KnowledgeBase

logger = logging.getLogger(__name__)

# What an issue file's links to other issues look like: ``../KEY/KEY.md`` (local) and
# ``<base url>/browse/KEY`` (Jira); the same patterns knowledge_base's relink scans use.
LOCAL_ISSUE_LINK_RE = re.compile(rf"\.\./({ISSUE_KEY_PATTERN})/\1\.md")
JIRA_ISSUE_LINK_RE = re.compile(rf"/browse/({ISSUE_KEY_PATTERN})(?![0-9])")
# The frontmatter lines naming an issue's parent and epic, as ``dump_frontmatter`` writes a key.
_HIERARCHY_LINE_RE = re.compile(rf"^(parent|epic): ['\"]?({ISSUE_KEY_PATTERN})['\"]?$", re.MULTILINE)


def parent_key_of(key: str, text: str) -> str | None:
    """The parent an issue file's frontmatter names (``parent``, else ``epic``), read without parsing the YAML."""
    end = text.find("\n---\n")
    found = dict(_HIERARCHY_LINE_RE.findall(text[: end if end >= 0 else 0]))
    parent = found.get("parent") or found.get("epic")
    return parent if parent != key else None


def outgoing_issue_links(key: str, text: str) -> tuple[frozenset[str], frozenset[str]]:
    """(keys linked locally, keys linked in Jira) by the Markdown ``text`` of issue ``key``; its own key left out."""
    local = frozenset(LOCAL_ISSUE_LINK_RE.findall(text)) - {key}
    jira = frozenset(JIRA_ISSUE_LINK_RE.findall(text)) - {key}
    return local, jira


def relative_link_targets(text: str) -> tuple[str, ...]:
    """The relative link targets of a file, as ``render_issue_file`` records them."""
    targets = knowledge_base.candidate_link_targets(text)
    return tuple(sorted({target for target in targets if knowledge_base.is_relative_link(target)}))


@dataclass
class RebuildResult:
    live: int = 0
    removed: int = 0
    moved: int = 0
    problems: list[str] = field(default_factory=list)
    """Files that could not be read as expected (named, with why); their issues are stored with what could be."""
    revision: int = 0


def rebuild_from_files(store: StateStore, kb_root: str | os.PathLike[str]) -> RebuildResult:
    """Make ``store`` hold exactly what the files under ``kb_root`` say (one transaction); files are only read.

    Take the knowledge base's lock around it when runs may write meanwhile.
    """
    root = Path(kb_root)
    result = RebuildResult()
    result.revision = store.replace_all(_records(root, result))
    problems = f"; {len(result.problems)} problems" if result.problems else ""
    counts = (result.live, result.removed, result.moved)
    logger.info("State store rebuilt from %s: %d live, %d removed, %d moved issues%s", root, *counts, problems)
    for problem in result.problems:
        logger.warning("Rebuilding the state store: %s", problem)
    return result


def _records(root: Path, result: RebuildResult) -> Iterator[IssueRecord]:
    """Live issues first (their ids noted), then removed ones: a removed issue whose id a live one has moved."""
    live = knowledge_base.KnowledgeBase(root)
    removed = knowledge_base.KnowledgeBase(root / knowledge_base.REMOVED_DIR)
    from jarkdown_pipeline.knowledge_base import moves  # at call time, as ``knowledge_base`` above

    # With the notes moved issues left (no store is opened here: this builds it).
    live_keys = live.live_issue_keys(with_move_notes=True)
    removed_keys = removed.live_issue_keys(with_move_notes=True)
    key_of_id: dict[str, str] = {}
    for key in sorted(live_keys, key=issue_sort_key):
        new_key = None if live.has_raw_issue(key) else moves.read_note_target(live.markdown_path(key))
        if new_key is not None:
            result.moved += 1
            yield IssueRecord(key, state="moved", moved_to=new_key)
            continue
        record = _record_from_files(live, key, "live", result.problems)
        if record.issue_id is not None:
            key_of_id[record.issue_id] = key
        result.live += 1
        yield record
    for key in sorted(removed_keys - live_keys, key=issue_sort_key):
        record = _record_from_files(removed, key, "removed", result.problems)
        new_key = key_of_id.get(record.issue_id) if record.issue_id is not None else None
        if new_key is not None:
            record = IssueRecord(**{**_fields_of(record), "state": "moved", "moved_to": new_key})
            result.moved += 1
        else:
            result.removed += 1
        yield record


def _fields_of(record: IssueRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__dataclass_fields__}


def _record_from_files(kb: "KnowledgeBase", key: str, state: IssueStateName, problems: list[str]) -> IssueRecord:
    raw = _read_json(kb.raw_path(key), dict, problems)
    manifest = _read_json(kb.manifest_path(key), list, problems)
    rendered = _read_json(kb.rendered_record_path(key), dict, problems) or {}
    fields = (raw or {}).get("fields") or {}
    issue_id = (raw or {}).get("id")
    markdown = _markdown_facts(kb, key, rendered, problems)
    return IssueRecord(
        key=key,
        issue_id=None if issue_id is None else str(issue_id),
        updated=fields.get("updated") if isinstance(fields.get("updated"), str) else None,
        state=state,
        moved_to=None,
        render_inputs=rendered.get("inputs") if isinstance(rendered.get("inputs"), str) else None,
        markdown_size=_int_or_none(rendered.get("markdown_size")),
        markdown_mtime_ns=_int_or_none(rendered.get("markdown_mtime_ns")),
        attachments=tuple(entry for entry in manifest or () if isinstance(entry, dict)),
        **markdown,
    )


def _markdown_facts(kb: "KnowledgeBase", key: str, rendered: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
    """Index row, link targets and issue links of ``KEY/KEY.md``: from its render record while the file is
    as recorded (size, mtime), else from the file itself; the issue links always from the file."""
    path = kb.markdown_path(key)
    try:
        stat = path.stat()
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {"index_row": None}  # raw JSON without a file yet (a run stopped before rendering it)
    except (OSError, UnicodeDecodeError) as error:
        problems.append(f"{path}: {error}")
        return {"index_row": None}
    current = (rendered.get("markdown_size"), rendered.get("markdown_mtime_ns")) == (stat.st_size, stat.st_mtime_ns)
    row = rendered.get("index_row") if current else None
    targets = rendered.get("link_targets") if current else None
    local, jira = outgoing_issue_links(key, text)
    return {
        "index_row": row if isinstance(row, dict) else _index_row_from_text(path, text, problems),
        "link_targets": tuple(targets) if isinstance(targets, list) else relative_link_targets(text),
        "local_links": local,
        "jira_links": jira,
        "parent_key": parent_key_of(key, text),
    }


def _index_row_from_text(path: Path, text: str, problems: list[str]) -> dict[str, Any] | None:
    try:
        data = knowledge_base.parse_frontmatter_block(text)
    except knowledge_base.FrontmatterError as error:
        problems.append(f"{path}: {error}")
        return None
    # A hand-edited file may hold YAML values JSON has not (a date): kept as their text.
    return {name: _json_scalar(data.get(name)) for name in INDEX_ROW_FIELDS}


def _json_scalar(value: Any) -> Any:
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _read_json(path: Path, kind: type, problems: list[str]) -> Any:
    try:
        data = load_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError) as error:  # RecursionError: nested too deep to load
        problems.append(f"{path}: not readable JSON ({error})")
        return None
    if not isinstance(data, kind):
        problems.append(f"{path}: expected a JSON {kind.__name__}, found {type(data).__name__}")
        return None
    return data
