"""Small helpers for what the knowledge base stores: writes only when the bytes change, batches,
Jira timestamps."""

import itertools
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from jarkdown_pipeline._files import (
    write_atomically,
)
from jarkdown_pipeline._json import load_json
from jarkdown_pipeline.markdown.fields import parse_jira_datetime
from jarkdown_pipeline.markdown.frontmatter import parse_frontmatter


def write_bytes_if_changed(path: Path, data: bytes, temp_dir: Path | None = None) -> bool:
    """Atomically write ``data`` unless ``path`` already holds exactly it; True when written. The
    temporary file is made in ``temp_dir``, or beside ``path``."""
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    write_atomically(path, data, temp_dir=temp_dir)
    return True


def write_text_if_changed(path: Path, text: str, temp_dir: Path | None = None) -> bool:
    return write_bytes_if_changed(path, text.encode("utf-8"), temp_dir)


parse_frontmatter_block = parse_frontmatter
"""The one frontmatter parser (``markdown.frontmatter.parse_frontmatter``), under its older name."""


STORE_BATCH = 500
"""Keys per ``get_issues`` call when a whole list of issues is looked up."""


def batched(items: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


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
    """Jira's ``2026-11-20T10:30:00.000+0100`` (or with a colon in the offset, or ``Z``) as an aware
    datetime (``markdown.fields.parse_jira_datetime``); None if it is not one."""
    return parse_jira_datetime(value) if isinstance(value, str) else None
