"""Helpers for knowledge-base tests: a small issue, and a folder outside the mirror to guard.

- `outside` (fixture): a folder beside the knowledge base holding ``precious.txt``, as a symbolic
  link's target; `contents(folder)` reads every file of it, to prove nothing there changed.
- `linked_issue(key, linked=None)`: a minimal stored issue, optionally linking to another key.
"""

from pathlib import Path

import pytest


@pytest.fixture
def outside(tmp_path) -> Path:
    """A folder outside the knowledge base with a file in it, as a symbolic link's target."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "precious.txt").write_text("keep me")
    return folder


def contents(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` with its bytes, by relative path."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def linked_issue(key: str, linked: str | None = None) -> dict:
    """A minimal issue as Jira returns it; ``linked``: one "relates to" link to that key."""
    fields = {"summary": f"Summary of {key}", "updated": "2026-11-20T10:00:00.000+0000"}
    if linked is not None:
        fields["issuelinks"] = [
            {
                "id": "9",
                "type": {"name": "Relates", "inward": "relates to", "outward": "relates to"},
                "outwardIssue": {"id": "99", "key": linked, "fields": {"summary": "linked"}},
            }
        ]
    return {"id": key.rpartition("-")[2], "key": key, "fields": fields}
