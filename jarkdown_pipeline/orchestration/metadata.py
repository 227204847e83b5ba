"""What the assets and checks show in the Dagster UI: every metadata value and failure is built here.

The assets call the no-Dagster stages (``jarkdown_pipeline.sync``) and hand their results to these
functions, so an asset's body reads as "open, call the stage, report".
"""

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from jarkdown_pipeline.index_update import IndexUpdate
from jarkdown_pipeline.issue_keys import is_issue_key
from jarkdown_pipeline.knowledge_base import KnowledgeBase
from jarkdown_pipeline.markdown.escape import code_fence, url_scheme
from jarkdown_pipeline.orchestration.names import RECONCILIATION
from jarkdown_pipeline.sizes import human_size
from jarkdown_pipeline.sync import ReconciliationRefused, ReconciliationResult, WindowResult

PREVIEW_MAX_CHARS = 6000
LISTED_KEYS_MAX = 50
FAILURES_IN_DESCRIPTION = 10
CLIENT_COUNTERS = ("requests", "retries", "bytes_downloaded")


def run_record_id(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> str:
    """Re-executions share the root run's records, so a step re-run alone finds its inputs."""
    run = context.run
    return run.root_run_id or run.run_id


def client_counters(client: Any) -> dict[str, int]:
    """The client's counters now (zeros before it opens). The in-process executor shares one client
    between the steps of a run, so each step reports the difference from its start."""
    return client.stats.as_dict() if client is not None else {}


def client_metadata(now: Mapping[str, int], started: Mapping[str, int]) -> dict[str, dg.MetadataValue]:
    return {name: dg.MetadataValue.int(now.get(name, 0) - started.get(name, 0)) for name in CLIENT_COUNTERS}


def listing(values: Mapping[str, str] | Sequence[object]) -> dg.MetadataValue:
    """A short Markdown list for metadata (the first LISTED_KEYS_MAX items, as ``str()``, then a count)."""
    items = (
        [f"- **{key}**: {reason}" for key, reason in values.items()]
        if isinstance(values, Mapping)
        else [f"- {key}" for key in values]
    )
    if len(items) > LISTED_KEYS_MAX:
        items = items[:LISTED_KEYS_MAX] + [f"- ... and {len(items) - LISTED_KEYS_MAX} more"]
    return dg.MetadataValue.md("\n".join(items) if items else "None")


def first_failures(failed: Mapping[str, str]) -> str:
    return "; ".join(f"{key}: {reason}" for key, reason in list(failed.items())[:FAILURES_IN_DESCRIPTION])


def merged_failures(**stages: Mapping[str, str]) -> dict[str, str]:
    """``{key: "stage: reason; stage: reason"}``: every stage's reason for an issue, none overwritten."""
    merged: dict[str, str] = {}
    for stage, failed in stages.items():
        for key, reason in failed.items():
            merged[key] = f"{merged[key]}; {stage}: {reason}" if key in merged else f"{stage}: {reason}"
    return merged


# -- jira_fields --------------------------------------------------------------------------------------
def fields_metadata(fields: Sequence[Mapping[str, Any]], written: bool, path: Path) -> dict[str, dg.MetadataValue]:
    return {
        "fields": dg.MetadataValue.int(len(fields)),
        "custom_fields": dg.MetadataValue.int(sum(1 for field in fields if field.get("custom"))),
        "written": dg.MetadataValue.bool(written),
        "path": dg.MetadataValue.path(str(path)),
    }


# -- the window: jira_issues, jira_attachments, jira_markdown ------------------------------------------
def window_summary(
    window: WindowResult, counters: Mapping[str, int] | None = None, seconds: float | None = None
) -> str:
    """One line for the run's log (and `make demo`): what the window did, with the step's requests,
    retries and time when given."""
    issues, attachments, markdown = window.issues, window.attachments, window.markdown
    failed = len(set(issues.failed) | set(attachments.failed) | set(markdown.failed))
    searched = "in the window" if window.search is None or window.search.since is None else "changed in the window"
    line = (
        f"{len(issues.keys)} {'issue' if len(issues.keys) == 1 else 'issues'} {searched}: {len(markdown.written)} files written, "
        f"{len(markdown.unchanged)} unchanged, {failed} failed; {len(issues.fetched)} fetched; "
        f"{attachments.downloaded} attachments downloaded ({human_size(attachments.bytes_downloaded)})"
        + (f"; {len(issues.moved)} moved to a new key" if issues.moved else "")
        + (f"; {len(markdown.relinked)} other files relinked" if markdown.relinked else "")
    )
    if counters is not None:
        line += f"; {counters.get('requests', 0)} requests (API and attachments), {counters.get('retries', 0)} retried"
    if seconds is not None:
        line += f"; {seconds:.1f} s"
    return line


def window_problems(window: WindowResult) -> list[tuple[str, str]]:
    """(level, line) for the run's log: every issue skipped or failed, by stage."""
    lines = [("warning", f"Skipped {key}: {reason}") for key, reason in window.issues.vanished.items()]
    lines += [("error", f"Could not fetch {key}: {reason}") for key, reason in window.issues.failed.items()]
    lines += [("error", f"Attachments of {key}: {reason}") for key, reason in window.attachments.failed.items()]
    lines += [("error", f"Could not render {key}: {reason}") for key, reason in window.markdown.failed.items()]
    return lines


def issues_metadata(
    window: WindowResult, jql: str, jira_time_zone: str | None, kb: KnowledgeBase
) -> dict[str, dg.MetadataValue]:
    issues = window.issues
    return {
        "jql": dg.MetadataValue.text(jql),
        # The whole window, or only what changed since its last complete run (and why).
        "search": dg.MetadataValue.text(window.search.reason if window.search else "the whole window"),
        "jira_time_zone": dg.MetadataValue.text(str(jira_time_zone)),
        "issues_in_window": dg.MetadataValue.int(len(issues.keys)),
        "fetched": dg.MetadataValue.int(len(issues.fetched)),
        "unchanged": dg.MetadataValue.int(len(issues.unchanged)),
        "raw_written": dg.MetadataValue.int(issues.raw_written),
        "skipped_vanished": dg.MetadataValue.int(len(issues.vanished)),
        "failed": dg.MetadataValue.int(len(issues.failed)),
        "failures": listing(issues.failed),
        "skipped": listing(issues.vanished),
        "restored_from_removed": listing(issues.restored),
        # Issues found under a new key (same id): old key -> new key; the folder followed, a note stays.
        "moved_keys": dg.MetadataValue.int(len(issues.moved)),
        "moved": listing({old: f"moved to {new}" for old, new in sorted(issues.moved.items())}),
        "path": dg.MetadataValue.path(str(kb.raw_dir)),
    }


def attachments_metadata(window: WindowResult, kb: KnowledgeBase) -> dict[str, dg.MetadataValue]:
    attachments = window.attachments
    return {
        "issues": dg.MetadataValue.int(attachments.issues),
        "downloaded": dg.MetadataValue.int(attachments.downloaded),
        "already_present": dg.MetadataValue.int(attachments.present),
        "attachment_bytes_downloaded": dg.MetadataValue.int(attachments.bytes_downloaded),
        "manifests_written": dg.MetadataValue.int(attachments.manifests_written),
        "removed_from_disk": dg.MetadataValue.int(sum(len(names) for names in attachments.pruned.values())),
        "failed": dg.MetadataValue.int(len(attachments.failed)),
        "failures": listing(attachments.failed),
        "path": dg.MetadataValue.path(str(kb.root)),
    }


def window_failures(window: WindowResult) -> dict[str, str]:
    return merged_failures(
        fetch=window.issues.failed, attachments=window.attachments.failed, render=window.markdown.failed
    )


def markdown_metadata(window: WindowResult, kb: KnowledgeBase, base_url: str) -> dict[str, dg.MetadataValue]:
    markdown, failures = window.markdown, window_failures(window)
    return {
        "issues": dg.MetadataValue.int(len(window.issues.keys)),
        "written": dg.MetadataValue.int(len(markdown.written)),
        "unchanged": dg.MetadataValue.int(len(markdown.unchanged)),
        "relinked_elsewhere": dg.MetadataValue.int(len(markdown.relinked)),
        "failed": dg.MetadataValue.int(len(failures)),
        "failures": listing(failures),
        "output_dir": dg.MetadataValue.path(str(kb.root)),
        "preview": markdown_preview(kb, itertools.chain(markdown.written, markdown.unchanged), base_url),
    }


def window_failure(window: WindowResult, metadata: Mapping[str, dg.MetadataValue]) -> dg.Failure:
    failures = window_failures(window)
    return dg.Failure(
        description=(
            f"{len(failures)} of {len(window.issues.keys)} issues failed in this run (all others "
            "were written). Run the partition again (a new run, not a re-execution from failure: "
            "the search and fetch must run again) to retry exactly these: " + first_failures(failures)
        ),
        metadata=dict(metadata),
    )


def rejected_jql_failure(reason: str, jql: str) -> dg.Failure:
    return dg.Failure(
        description=f"Jira rejected the search JQL: {reason}",
        metadata={"jql": dg.MetadataValue.text(jql)},
        allow_retries=False,
    )


# -- the preview of one written issue -----------------------------------------------------------------
# A Markdown link or image as the renderer writes it (jarkdown_pipeline.markdown.escape.link): the text
# with backslash escapes, a destination without spaces or bare parentheses, an optional "title".
_LINK = re.compile(r'(!?)\[((?:\\.|[^\]\\])*)\]\(((?:\\.|[^()\s\\])*)(?:\s+"(?:\\.|[^"\\])*")?\)')
_ISSUE_FILE_LINK = re.compile(r"^\.\./([^/]+)/\1\.md$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def preview_link(match: re.Match[str], base_url: str) -> str:
    """An image becomes its name; a link to another issue file the issue's Jira page; another
    relative link its text (the UI has no folder to resolve it against); absolute links stay."""
    bang, text, destination = match.group(1), match.group(2), match.group(3)
    if bang:
        return f"*(image: {text or destination.rsplit('/', 1)[-1]})*"
    if url_scheme(destination) is not None:
        return match.group(0)
    issue = _ISSUE_FILE_LINK.match(destination)
    if issue and is_issue_key(issue.group(1)) and base_url:
        return f"[{text}]({base_url.rstrip('/')}/browse/{issue.group(1)})"
    return text


def preview_body(body: str, base_url: str) -> str:
    """``body`` with its links made readable outside the knowledge base (code blocks left as they are)."""
    lines, fence = [], None
    for line in body.split("\n"):
        opening = _FENCE.match(line)
        if fence is None and opening:
            fence = opening.group(1)
        elif fence is not None and line.strip().startswith(fence[0] * len(fence)):
            fence = None
        elif fence is None:
            line = _LINK.sub(lambda match: preview_link(match, base_url), line)
        lines.append(line)
    return "\n".join(lines)


def split_frontmatter(text: str) -> tuple[str | None, str]:
    """(the YAML between the ``---`` lines, the rest); (None, text) when the file has none."""
    if not text.startswith("---\n"):
        return None, text
    end = text.find("\n---\n", 3)
    if end == -1:
        return None, text
    return text[4 : end + 1], text[end + 5 :]


def preview_text(text: str, base_url: str, max_chars: int = PREVIEW_MAX_CHARS) -> str:
    """An issue file as the UI's Markdown view can show it: the frontmatter as a fenced YAML block,
    images by name, relative links as text or as the issue's Jira page."""
    frontmatter, body = split_frontmatter(text)
    body = preview_body(body, base_url)
    if len(body) > max_chars:
        body = body[:max_chars] + "\n\n*... preview truncated*"
    if frontmatter is None:
        return body
    fence = code_fence(frontmatter)
    return f"{fence}yaml\n{frontmatter}{fence}\n\n{body.lstrip(chr(10))}"


def markdown_preview(kb: KnowledgeBase, keys: Iterable[str], base_url: str) -> dg.MetadataValue:
    for key in keys:
        path = kb.markdown_path(key)
        if path.is_file():
            return dg.MetadataValue.md(preview_text(path.read_text(encoding="utf-8"), base_url))
    return dg.MetadataValue.md("*No issue file in this partition.*")


# -- jira_reconciliation ------------------------------------------------------------------------------
def how_to_allow(count: int) -> str:
    """The exact command (and UI equivalent) that lets one stopped reconciliation move ``count`` issues."""
    name = RECONCILIATION.to_user_string()
    run_config = f'{{"ops": {{"{name}": {{"config": {{"allow_removals": {count}}}}}}}}}'
    return (
        f"To allow it once: .venv/bin/dagster asset materialize -m jarkdown_pipeline --select {name} "
        f"--config-json '{run_config}' (or, in the UI, materialize {name} with the config "
        f"allow_removals: {count}); to change the limit, set max_removed_share in the same config."
    )


def refused_failure(refused: ReconciliationRefused, jql: str) -> dg.Failure:
    """A stopped reconciliation as the step's failure: what it would have moved, and how to allow it."""
    count = len(refused.would_remove)
    return dg.Failure(
        description=str(refused) + ("" if refused.in_scope == 0 else " " + how_to_allow(count)),
        metadata={
            "jql": dg.MetadataValue.text(jql),
            "in_scope": dg.MetadataValue.int(refused.in_scope),
            "stored": dg.MetadataValue.int(refused.stored),
            "would_remove": dg.MetadataValue.int(count),
            "would_have_moved": listing(refused.would_remove),
        },
        allow_retries=False,
    )


def reconciliation_summary(result: ReconciliationResult, counters: Mapping[str, int]) -> str:
    """One line for the run's log: what the reconciliation did."""
    return (
        f"{result.in_scope} issues in scope: {len(result.moved)} moved to _removed/, "
        f"{len(result.kept_recent)} kept (stored during the search), {len(result.rerendered)} files re-rendered, "
        f"{len(result.failed)} failed; {counters.get('requests', 0)} requests, {counters.get('retries', 0)} retried"
    )


def reconciliation_metadata(result: ReconciliationResult, kb: KnowledgeBase) -> dict[str, dg.MetadataValue]:
    return {
        "jql": dg.MetadataValue.text(result.jql),
        "in_scope": dg.MetadataValue.int(result.in_scope),
        "moved_to_removed": dg.MetadataValue.int(len(result.moved)),
        "moved": listing(result.moved),
        "kept_stored_during_search": listing(result.kept_recent),
        "rerendered": dg.MetadataValue.int(len(result.rerendered)),
        "path": dg.MetadataValue.path(str(kb.removed_dir)),
    }


def reconciliation_failure(result: ReconciliationResult, metadata: Mapping[str, dg.MetadataValue]) -> dg.Failure:
    return dg.Failure(
        description=f"Could not move or re-render {len(result.failed)} issues: " + first_failures(result.failed),
        metadata={**metadata, "failures": listing(result.failed)},
    )


# -- jira_index ---------------------------------------------------------------------------------------
def index_metadata(update: IndexUpdate, kb: KnowledgeBase) -> dict[str, dg.MetadataValue]:
    text = kb.index_path.read_text(encoding="utf-8")
    return {
        "issues": dg.MetadataValue.int(update.issues),
        "written": dg.MetadataValue.bool(update.written),
        "full_rebuild": dg.MetadataValue.bool(update.full),
        "files_rendered": dg.MetadataValue.int(len(update.rendered)),
        "unreadable_files": listing(update.problems),
        "path": dg.MetadataValue.path(str(kb.index_path)),
        "preview": dg.MetadataValue.md(text[:PREVIEW_MAX_CHARS]),
    }


# -- checks -------------------------------------------------------------------------------------------
def check_result(
    problems: Sequence[object],
    description: str,
    metadata: Mapping[str, Any],
    check_name: str | None = None,
    asset_key: dg.AssetKey | None = None,
) -> dg.AssetCheckResult:
    # ERROR: each check finds output that is wrong, not merely stale, so the run is shown as failed.
    return dg.AssetCheckResult(
        passed=not problems,
        severity=dg.AssetCheckSeverity.ERROR,
        description=description,
        metadata=dict(metadata),
        check_name=check_name,
        asset_key=asset_key,
    )
