"""Running the pipeline through the real `dagster` CLI, and summing up what it wrote."""

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from jarkdown_pipeline.markdown.issue import human_size
from jarkdown_pipeline.tools.sample_server import popen_in_own_group, stop_process_group

JOB_NAME = "jira_markdown_job"
DAGSTER_STOP_GRACE_SECONDS = 30.0
CODE_MODULE = "jarkdown_pipeline"
# The knowledge base's own state (raw JSON, manifests, run records) and the removed-issues folder.
STATE_DIR = ".jarkdown"
REMOVED_DIR = "_removed"


def dagster_executable() -> str:
    """The `dagster` script of this interpreter's environment (the project's .venv under make)."""
    beside = Path(sys.executable).with_name("dagster")
    if beside.exists():
        return str(beside)
    found = shutil.which("dagster")
    if found is None:
        raise FileNotFoundError("the dagster command is not installed: run `make install` (or pip install -e .)")
    return found


def backfill_command(first_day: date, last_day: date) -> list[str]:
    """One run over the whole range of daily partitions (a single-run backfill) of jira_markdown_job.

    The range tags are what `dagster asset materialize --partition-range` sets; through `job execute`
    the run gets the job's own executor, as a scheduled run would.
    """
    tags = {"dagster/asset_partition_range_start": first_day.isoformat(), "dagster/asset_partition_range_end": last_day.isoformat()}
    return [dagster_executable(), "job", "execute", "-m", CODE_MODULE, "-j", JOB_NAME, "--tags", json.dumps(tags)]


def run_dagster(
    command: Sequence[str], environment: Mapping[str, str], *, log_path: Path, echo: bool = False, cwd: Path | None = None
) -> int:
    """Run a dagster command; its output goes to `log_path` (and to stdout when `echo`)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        process = popen_in_own_group(command, env=dict(environment), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        assert process.stdout is not None
        try:
            for line in process.stdout:
                log.write(line)
                if echo:
                    sys.stdout.buffer.write(line)
                    sys.stdout.flush()
            return process.wait()
        finally:
            # Interrupted: SIGTERM lets dagster stop its step processes and mark the run; then the group goes.
            stop_process_group(process, grace=DAGSTER_STOP_GRACE_SECONDS)
            process.stdout.close()


def log_tail(log_path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


@dataclass(frozen=True)
class KnowledgeBaseSummary:
    issues: int
    """Issue files `KEY/KEY.md` (issues in _removed/ not counted)."""
    attachments: int
    attachment_bytes: int
    files: int
    """Every file of the knowledge base, its .jarkdown/ state included."""
    total_bytes: int
    removed_issues: int
    has_index: bool

    def describe(self) -> str:
        return (
            f"{self.issues} issues, {self.attachments} attachments ({human_size(self.attachment_bytes)}); "
            f"{self.files} files, {human_size(self.total_bytes)} in all"
            + (f"; {self.removed_issues} removed issues in {REMOVED_DIR}/" if self.removed_issues else "")
        )


def summarize_knowledge_base(root: Path) -> KnowledgeBaseSummary:
    issues = attachments = attachment_bytes = files = total_bytes = removed = 0
    if root.is_dir():
        for entry in root.iterdir():
            if entry.is_dir() and entry.name not in (STATE_DIR, REMOVED_DIR) and (entry / f"{entry.name}.md").is_file():
                issues += 1
                attachments_dir = entry / "attachments"
                if attachments_dir.is_dir():
                    for item in attachments_dir.iterdir():
                        if item.is_file():
                            attachments += 1
                            attachment_bytes += item.stat().st_size
        removed_root = root / REMOVED_DIR
        if removed_root.is_dir():
            removed = sum(1 for entry in removed_root.iterdir() if (entry / f"{entry.name}.md").is_file())
        for folder, _, names in os.walk(root):
            for name in names:
                files += 1
                total_bytes += os.stat(os.path.join(folder, name)).st_size
    return KnowledgeBaseSummary(issues, attachments, attachment_bytes, files, total_bytes, removed, (root / "index.md").is_file())
