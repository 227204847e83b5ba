"""Running the pipeline through the real `dagster` CLI, and summing up what it wrote."""

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from jarkdown_pipeline.sizes import human_size
from jarkdown_pipeline.tools.sample_server import popen_in_own_group, stop_process_group

JOB_NAME = "jira_markdown_job"
DAGSTER_STOP_GRACE_SECONDS = 30.0
CODE_MODULE = "jarkdown_pipeline"
# The knowledge base's own state (raw JSON, manifests, run records) and the removed-issues folder.
STATE_DIR = ".jarkdown"
REMOVED_DIR = "_removed"


# The local instance's file: without one, every dagster command warns that it found none.
LOCAL_INSTANCE_YAML = """\
# The local Dagster instance of `make demo`, `make dev` and the CLI (DAGSTER_HOME=./.dagster_home):
# runs, event log and schedules in SQLite files in this folder (Dagster's default). A team
# deployment uses deploy/dagster.yaml instead (docs/DEPLOY.md).
# No usage statistics to Dagster's servers: the pipeline talks to no host but your Jira.
telemetry:
  enabled: false
"""


def ensure_instance_file(dagster_home: Path) -> Path:
    """``dagster_home/dagster.yaml``, written when missing (a user's own file is left as it is)."""
    path = dagster_home / "dagster.yaml"
    if not path.exists():
        dagster_home.mkdir(parents=True, exist_ok=True)
        path.write_text(LOCAL_INSTANCE_YAML, encoding="utf-8")
    return path


def executable(name: str) -> str | None:
    """The script ``name`` of this interpreter's environment (the project's .venv under make), else on PATH."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else shutil.which(name)


def dagster_executable() -> str:
    """The `dagster` script of this interpreter's environment (the project's .venv under make)."""
    found = executable("dagster")
    if found is None:
        raise FileNotFoundError("the dagster command is not installed: run `make install` (or pip install -e .)")
    return found


def backfill_command(first_day: date, last_day: date) -> list[str]:
    """One run over the whole range of daily partitions (a single-run backfill) of jira_markdown_job.

    The range tags are what `dagster asset materialize --partition-range` sets; through `job execute`
    the run gets the job's own executor, as a scheduled run would.
    """
    tags = {
        "dagster/asset_partition_range_start": first_day.isoformat(),
        "dagster/asset_partition_range_end": last_day.isoformat(),
    }
    return [dagster_executable(), "job", "execute", "-m", CODE_MODULE, "-j", JOB_NAME, "--tags", json.dumps(tags)]


# What a run says for its user, in Dagster's log line format (`... - INFO - job - run - pid - step - text`).
_REPORT_LINE = re.compile(r" - (?:INFO|WARNING) - .* - (?:Progress|Summary): (.*)$")
_STEP_FAILED = re.compile(r' - STEP_FAILURE - Execution of step "([^"]+)" failed')
_OUR_ERROR = re.compile(r"^(?:jarkdown_pipeline\.exceptions\.|dagster\._core\.definitions\.events\.)(\w+): (.+)$")
_ANY_ERROR = re.compile(r"^(?:[\w.]+\.)?(\w+(?:Error|Exception)): (.+)$")
MAX_REASONS = 5


def report_line(line: str) -> str | None:
    """The text of a progress or summary line the pipeline logged for its user, else None."""
    match = _REPORT_LINE.search(line.rstrip())
    return match.group(1) if match else None


def failure_reasons(log_text: str) -> list[str]:
    """The lines that say why a run failed: each failed step with the error the pipeline raised
    (not the traceback around it). Any error line when the pipeline raised none of its own."""
    reasons: list[str] = []
    step = None
    fallback = None
    for line in log_text.splitlines():
        failed = _STEP_FAILED.search(line)
        if failed:
            step = failed.group(1)
            continue
        ours = _OUR_ERROR.match(line.strip())
        if ours:
            reason = f"{ours.group(1)}: {ours.group(2)}" + (f" (step {step})" if step else "")
            if reason not in reasons:
                reasons.append(reason)
        elif _ANY_ERROR.match(line.strip()) and not line.startswith(" "):
            fallback = line.strip()
    if not reasons and fallback:
        reasons.append(fallback)
    return reasons[:MAX_REASONS]


def run_dagster(
    command: Sequence[str],
    environment: Mapping[str, str],
    *,
    log_path: Path,
    echo: bool = False,
    cwd: Path | None = None,
    on_report: Callable[[str], None] | None = None,
) -> int:
    """Run a dagster command; its output goes to `log_path` (and to stdout when `echo`). ``on_report``
    gets the text of each progress and summary line the pipeline logs."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        process = popen_in_own_group(
            command,
            env=dict(environment),
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        assert process.stdout is not None
        try:
            for line in process.stdout:
                log.write(line)
                if echo:
                    sys.stdout.buffer.write(line)
                    sys.stdout.flush()
                elif on_report is not None and (text := report_line(line.decode("utf-8", "replace"))):
                    on_report(text)
            return process.wait()
        finally:
            # Interrupted: SIGTERM lets dagster stop its step processes and mark the run; then the group goes.
            stop_process_group(process, grace=DAGSTER_STOP_GRACE_SECONDS)
            process.stdout.close()


def log_tail(log_path: Path, lines: int = 40) -> str:
    """The last lines of a log, without Dagster's DEBUG lines."""
    try:
        text = log_path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join([line for line in text.splitlines() if " - DEBUG - " not in line][-lines:])


def explain_failure(log_path: Path) -> str:
    """What to print when a run failed: why (the pipeline's own error lines), else the log's tail."""
    try:
        reasons = failure_reasons(log_path.read_text(encoding="utf-8", errors="replace"))
    except FileNotFoundError:
        return ""
    if not reasons:
        return log_tail(log_path)
    return "\n".join(f"Why: {reason}" for reason in reasons)


@dataclass(frozen=True)
class KnowledgeBaseSummary:
    issues: int
    """Issue files `KEY/KEY.md` (issues in _removed/ not counted)."""
    attachments: int
    attachment_bytes: int
    files: int
    """Every file of the knowledge base but the pipeline's own state in .jarkdown/."""
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
    str(root / STATE_DIR)
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
        for folder, subfolders, names in os.walk(root):
            if folder == str(root):
                subfolders[:] = [name for name in subfolders if name != STATE_DIR]  # the pipeline's own state
            for name in names:
                files += 1
                total_bytes += os.stat(os.path.join(folder, name)).st_size
    return KnowledgeBaseSummary(
        issues, attachments, attachment_bytes, files, total_bytes, removed, (root / "index.md").is_file()
    )
