"""Issues that moved to another key (another project): found by their id, their files follow them.

The old folder becomes the new key's (attachments included: nothing is downloaded again), and the
old path keeps a short note ``OLD/OLD.md`` linking to ``../NEW/NEW.md``, so links from other files
still resolve. The state store records the old key as "moved". The pure core (``find_moves``,
``move_note``, ``note_target``) is separate from the one function that touches files (``apply_move``).
"""

import logging
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jarkdown_pipeline._files import write_atomically
from jarkdown_pipeline.issue_keys import is_issue_key
from jarkdown_pipeline.state_store.interface import IssueRecord

if TYPE_CHECKING:
    from jarkdown_pipeline.knowledge_base.storage import KnowledgeBase

logger = logging.getLogger(__name__)

_NOTE_HEAD_BYTES = 200
_NOTE_RE = re.compile(r"\A---\nkey: ([A-Za-z0-9_]+-[0-9]+)\nmoved_to: ([A-Za-z0-9_]+-[0-9]+)\n---\n")


@dataclass(frozen=True)
class Move:
    old_key: str
    new_key: str


def find_moves(fetched: Iterable[tuple[str, Any]], live_key_of_id: Mapping[str, str]) -> list[Move]:
    """The moves among fetched (key, id) pairs: an id the store holds live under another key."""
    moves = []
    for key, issue_id in fetched:
        old_key = live_key_of_id.get(str(issue_id)) if issue_id is not None else None
        if old_key is not None and old_key != key:
            moves.append(Move(old_key, key))
    return moves


def move_note(old_key: str, new_key: str) -> str:
    """The Markdown left at ``OLD/OLD.md``: says where the issue went, links to its file."""
    return (
        f"---\nkey: {old_key}\nmoved_to: {new_key}\n---\n\n"
        f"# {old_key} moved to {new_key}\n\n"
        f"This issue is now [{new_key}](../{new_key}/{new_key}.md).\n"
    )


def note_target(text: str) -> str | None:
    """The new key when ``text`` (or its first bytes) is a move note, else None."""
    match = _NOTE_RE.match(text)
    return match.group(2) if match and is_issue_key(match.group(2)) else None


def read_note_target(path: Path) -> str | None:
    """``note_target`` of the file at ``path`` (its first bytes only); None when there is none."""
    try:
        with open(path, "rb") as file:
            head = file.read(_NOTE_HEAD_BYTES)
    except OSError:
        return None
    return note_target(head.decode("utf-8", errors="replace"))


def apply_move(kb: "KnowledgeBase", move: Move) -> None:
    """Make ``move.old_key``'s folder and attachment manifest the new key's, leave the note at the old
    path, record the old key as moved. Under the knowledge base's lock; never through a symbolic link
    (IssueError naming the new key). What the new key already has is kept."""
    old, new = move.old_key, move.new_key
    pairs = [(kb.issue_dir(old), kb.issue_dir(new)), (kb.manifest_path(old), kb.manifest_path(new))]
    for source, target in pairs:
        kb.checked(source, new)
        kb.checked(target, new)
        if source.exists() and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
    # The old file (now in the new folder) gives way to the new key's, rendered next.
    kb.checked(kb.issue_dir(new) / f"{old}.md", new).unlink(missing_ok=True)
    for stale in (kb.raw_path(old), kb.incomplete_marker_path(old), kb.rendered_record_path(old)):
        kb.checked(stale, new).unlink(missing_ok=True)
    if kb.issue_dir(old).is_dir():  # the new key had its own folder already: the old one's files go
        shutil.rmtree(kb.checked(kb.issue_dir(old), new))
    write_atomically(kb.checked(kb.markdown_path(old), new), move_note(old, new).encode("utf-8"))
    kb.store.upsert_issues([IssueRecord(old, state="moved", moved_to=new)], fields={"state", "moved_to"})
    logger.info("%s moved to %s: its folder followed, a note stays at %s", old, new, kb.relative(kb.markdown_path(old)))


def moves_among(kb: "KnowledgeBase", issues: Iterable[Mapping[str, Any]]) -> list[Move]:
    """The moves among freshly fetched ``issues``, by their ids (one store query); nothing is changed."""
    fetched = [(issue["key"], issue.get("id")) for issue in issues]
    ids = [str(issue_id) for _, issue_id in fetched if isinstance(issue_id, (str, int)) and str(issue_id).isdigit()]
    return find_moves(fetched, kb.store.live_keys_of_ids(ids)) if ids else []


def follow_moves(kb: "KnowledgeBase", issues: Iterable[Mapping[str, Any]]) -> tuple[list[Move], dict[str, str]]:
    """Apply the moves among freshly fetched ``issues`` (one store query): (moves done, new key -> why
    a move failed). Under the knowledge base's lock, before the issues are stored."""
    done, failed = [], {}
    for move in moves_among(kb, issues):
        try:
            apply_move(kb, move)
        except Exception as error:  # e.g. a symbolic link on the way: this issue only
            failed[move.new_key] = f"moved from {move.old_key}, but its files could not follow: {error}"
            logger.error("%s", failed[move.new_key])
            continue
        done.append(move)
    return done, failed
