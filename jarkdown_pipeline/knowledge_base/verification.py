"""What the asset checks call: issue files present, their frontmatter parsing, their relative links resolving."""

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from jarkdown_pipeline.issue_keys import issue_sort_key
from jarkdown_pipeline.knowledge_base.files import STORE_BATCH, batched, parse_frontmatter_block
from jarkdown_pipeline.knowledge_base.links import (
    BrokenLink,
    candidate_link_targets,
    is_relative_link,
    markdown_link_targets,
)
from jarkdown_pipeline.markdown.frontmatter import FrontmatterError

# The interface module only: the state_store package imports this package (see ``KnowledgeBase.store``).
from jarkdown_pipeline.state_store.interface import RenderedFile


@dataclass(frozen=True)
class FrontmatterProblem:
    file: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}: {self.problem}"


# The completeness keys as render_issue writes them (one line each, an integer or null), read without a
# YAML parse from the file's bytes (decoding cost more than reading); a leading newline, not ``^``,
# lets the engine jump from line to line.
_COUNT_LINE = re.compile(rb"\n(comments|worklogs|history|attachments)_(total|written): (\d+|null)\r?(?=\n)")
_FRONTMATTER_HEAD_BYTES = 64 * 1024  # the counts come before the custom fields: early in the file


@dataclass(frozen=True)
class IncompleteSection:
    key: str
    section: str
    total: int
    written: int

    def __str__(self) -> str:
        return f"{self.key}: {self.section} {self.written} of {self.total} written"


def _frontmatter_end(head: bytes) -> int:
    """Where the frontmatter of a file's first bytes ends (the newline before its closing ``---``
    line), else their length."""
    at = head.find(b"\n---")
    while at >= 0 and head[at + 4 : at + 5] != b"\n" and head[at + 4 : at + 6] != b"\r\n":
        at = head.find(b"\n---", at + 4)
    return at if at >= 0 else len(head)


def incomplete_sections(key: str, head: bytes) -> list[IncompleteSection]:
    """The sections whose ``_written`` count in the frontmatter (in a file's first bytes, ``head``)
    differs from its ``_total``."""
    counts: dict[str, dict[str, int]] = {}
    for section, kind, value in _COUNT_LINE.findall(head, 0, _frontmatter_end(head) + 1):
        if value != b"null":
            counts.setdefault(section.decode(), {})[kind.decode()] = int(value)
    return [
        IncompleteSection(key, section, found["total"], found["written"])
        for section, found in counts.items()
        if len(found) == 2 and found["total"] != found["written"]
    ]


class _LinkResolver:
    """Whether relative link targets resolve, for one pass of a check: each resolved path is looked
    up once (files link to the same issues over and over)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.inside = root.rstrip(os.sep) + os.sep
        self.exists: dict[str, bool] = {}

    def problem(self, folder: str, target: str) -> str | None:
        """Why a link target written in a file of ``folder`` is broken, or None when it is fine or not relative."""
        if not is_relative_link(target):
            return None
        local = unquote(target.split("#", 1)[0].split("?", 1)[0])
        # Lexically, on strings (one stat, not one per folder of the path, and no Path per link: a
        # backfill's check resolves hundreds of thousands): the knowledge base makes no symlinks.
        resolved = os.path.normpath(os.path.join(folder, local))
        if resolved != self.root and not resolved.startswith(self.inside):
            return "points outside the knowledge base"
        exists = self.exists.get(resolved)
        if exists is None:
            exists = self.exists[resolved] = os.path.exists(resolved)
        return None if exists else "no such file"


class VerificationMixin:
    """The checks of KnowledgeBase (uses its paths and render records)."""

    # -- verification (what the asset checks call) ----------------------------------------------
    def missing_issue_files(self, keys: Iterable[str]) -> list[str]:
        """Keys whose ``KEY/KEY.md`` does not exist."""
        return sorted((key for key in keys if not self.has_issue_file(key)), key=issue_sort_key)

    def _links(self) -> "_LinkResolver":
        return _LinkResolver(str(self.root))

    def broken_links(self, paths: Iterable[Path]) -> list[BrokenLink]:
        """Relative links in the given Markdown files that do not resolve to a file in the knowledge base.

        Fast path: a regex finds every string that could be a link target (a superset: it also sees
        "links" in code). If all of those resolve, so do the real links, and the file needs no parse.
        Otherwise the file is parsed as CommonMark to report exactly the real links that are broken.
        """
        broken = []
        links = self._links()
        for path in paths:
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                broken.append(BrokenLink(self.relative(path), "", "the file itself is missing"))
                continue
            broken += self._broken_links_in(path, text, links)
        return broken

    def _broken_links_in(self, path: Path, text: str, links: "_LinkResolver") -> list[BrokenLink]:
        folder = os.path.dirname(path)
        if all(links.problem(folder, target) is None for target in candidate_link_targets(text)):
            return []
        shown = self.relative(path)
        return [
            BrokenLink(shown, target, problem)
            for target in markdown_link_targets(text)
            if (problem := links.problem(folder, target)) is not None
        ]

    def incomplete_issue_files(self, keys: Iterable[str]) -> list[IncompleteSection]:
        """Sections of these issue files holding fewer (or more) items than Jira counts (missing files skipped:
        another check reports them)."""
        found: list[IncompleteSection] = []
        for key in keys:
            try:
                with open(self.markdown_file_name(key), "rb") as file:
                    found += incomplete_sections(key, file.read(_FRONTMATTER_HEAD_BYTES))
            except (FileNotFoundError, NotADirectoryError):
                continue
        return found

    def _frontmatter_problem_in(self, key: str, path: Path, text: str) -> FrontmatterProblem | None:
        try:
            data = parse_frontmatter_block(text)
        except FrontmatterError as error:
            return FrontmatterProblem(self.relative(path), str(error))
        if data.get("key") != key:
            return FrontmatterProblem(self.relative(path), f"frontmatter key is {data.get('key')!r}, expected {key!r}")
        return None

    def verify_issue_files(self, keys: Iterable[str]) -> tuple[list[FrontmatterProblem], list[BrokenLink]]:
        """Issue files whose frontmatter does not parse or whose ``key`` is not the file's key, and
        ``broken_links`` of those files, reading each file once.

        The frontmatter of a file still as ``render_issue_file`` wrote it was parsed then, from the
        very text written (its index row is in the record, with the key): only its links are read.
        """
        problems: list[FrontmatterProblem] = []
        broken: list[BrokenLink] = []
        for batch in batched(keys, STORE_BATCH):
            records = self._current_records(batch)
            links = self._links()  # per batch: a backfill's targets are not all held at once
            for key in batch:
                self._verify_one(key, records.get(key), links, problems, broken)
        return problems, broken

    def _verify_one(
        self,
        key: str,
        record: RenderedFile | None,
        links: "_LinkResolver",
        problems: list[FrontmatterProblem],
        broken: list[BrokenLink],
    ) -> None:
        name = self.markdown_file_name(key)
        row = record.index_row if record is not None else None
        frontmatter_checked = isinstance(row, Mapping) and row.get("key") == key  # parsed when rendered
        if frontmatter_checked and record is not None:
            # As rendered: its frontmatter parsed then, and its candidate links were found then;
            # they are resolved now. The file is read only if one of them is broken.
            folder = os.path.dirname(name)
            if all(links.problem(folder, target) is None for target in record.link_targets):
                return
        path = Path(name)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            problems.append(FrontmatterProblem(self.relative(path), "file is missing"))
            broken.append(BrokenLink(self.relative(path), "", "the file itself is missing"))
            return
        except UnicodeDecodeError as error:
            problems.append(FrontmatterProblem(self.relative(path), str(error)))
            return
        problem = None if frontmatter_checked else self._frontmatter_problem_in(key, path, text)
        if problem is not None:
            problems.append(problem)
        broken += self._broken_links_in(path, text, links)
