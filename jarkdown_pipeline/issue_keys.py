"""Jira issue keys: the one pattern and the one sort order every part of the package uses."""

import re
from typing import Any

ISSUE_KEY_PATTERN = r"[A-Za-z][A-Za-z0-9_]*-[0-9]+"
"""A key's shape inside a larger text (links, mentions); anchor it yourself."""

ISSUE_KEY_RE = re.compile(ISSUE_KEY_PATTERN)
"""Use with ``fullmatch`` (``match`` with ``$`` would accept a trailing newline: ``ABC-2\\n``)."""


def is_issue_key(value: Any) -> bool:
    """True for a string that is a whole Jira issue key and nothing else."""
    return isinstance(value, str) and ISSUE_KEY_RE.fullmatch(value) is not None


def check_issue_key(value: Any) -> str:
    """The key itself, or ValueError naming it (a key becomes a folder and file name)."""
    if not is_issue_key(value):
        raise ValueError(f"not a Jira issue key: {value!r} (expected PROJECT-123)")
    return value


def issue_sort_key(key: str) -> tuple[str, int, str]:
    """Project, then the issue number as a number (ABC-2 before ABC-10); the key breaks ties."""
    project, _, number = key.rpartition("-")
    if project and number.isdigit():
        return (project, int(number), key)
    return (key, -1, key)
