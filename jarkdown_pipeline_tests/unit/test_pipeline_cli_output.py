"""What `make demo` prints from Dagster's output: the pipeline's own report lines, and why a run failed."""

from jarkdown_pipeline.tools.pipeline_cli import explain_failure, failure_reasons, report_line, summarize_knowledge_base

# The shape of a failed run's output, as the dagster CLI prints it (abridged from a real run).
FAILED_RUN = """\
2026-12-02 17:09:31 +0000 - dagster - DEBUG - jira_markdown_job - ad4e - 25438 - RESOURCE_INIT_STARTED - Starting initialization
Retrying GET http://127.0.0.1:9/rest/api/3/myself after ClientConnectorError (attempt 2 of 5, waiting 0.09 s)
2026-12-02 17:09:30 +0000 - dagster - ERROR - jira_markdown_job - ad4e - 25438 - jira_fields - STEP_FAILURE - Execution of step "jira_fields" failed.

dagster._core.errors.DagsterExecutionStepExecutionError: Error occurred while executing op "jira_fields"::

jarkdown_pipeline.exceptions.JiraApiError: GET http://127.0.0.1:9/rest/api/3/myself failed (ClientConnectorError) after 5 attempts

Stack Trace:
  File "/x/aiohttp/connector.py", line 1345, in _wrap_create_connection
    raise client_error(req.connection_key, exc) from exc
aiohttp.client_exceptions.ClientConnectorError: Cannot connect to host 127.0.0.1:9

The above exception was caused by the following exception:
ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 9)
jarkdown_pipeline.exceptions.JiraApiError: GET http://127.0.0.1:9/rest/api/3/myself failed (ClientConnectorError) after 5 attempts
Error: Run ad4e resulted in failure.
"""


def test_the_reason_is_the_pipelines_own_error_once_with_its_step():
    assert failure_reasons(FAILED_RUN) == [
        "JiraApiError: GET http://127.0.0.1:9/rest/api/3/myself failed (ClientConnectorError) after 5 attempts (step jira_fields)"
    ]


def test_without_an_error_of_ours_the_last_error_line_is_the_reason():
    text = "Traceback (most recent call last):\n  File 'x'\nModuleNotFoundError: No module named 'jarkdown'\n"
    assert failure_reasons(text) == ["ModuleNotFoundError: No module named 'jarkdown'"]


def test_explain_failure_falls_back_to_the_tail_without_debug_lines(tmp_path):
    log = tmp_path / "run.log"
    log.write_text("2026 - dagster - DEBUG - job - noise\nsomething odd happened\n")
    assert explain_failure(log) == "something odd happened"
    log.write_text(FAILED_RUN)
    assert explain_failure(log).startswith("Why: JiraApiError: GET http://127.0.0.1:9/rest/api/3/myself")
    assert explain_failure(tmp_path / "missing.log") == ""


def test_report_lines_are_the_progress_and_summary_the_pipeline_logs():
    prefix = "2026-12-02 17:10:00 +0000 - dagster - INFO - jira_markdown_job - ad4e - 1 - jira_window - "
    assert report_line(prefix + "Progress: 412 of 1,000 issues (41%)\n") == "412 of 1,000 issues (41%)"
    assert report_line(prefix + "Summary: 300 issues written\n") == "300 issues written"
    assert report_line(prefix + "STEP_START - Started execution of step") is None
    assert report_line("Progress: not from a log line") is None


def test_the_summary_counts_the_mirror_not_the_pipelines_state(tmp_path):
    root = tmp_path / "kb"
    (root / "ABC-1" / "attachments").mkdir(parents=True)
    (root / "ABC-1" / "ABC-1.md").write_text("x")
    (root / "ABC-1" / "attachments" / "a.png").write_bytes(b"12345")
    (root / "index.md").write_text("i")
    (root / ".jarkdown" / "raw").mkdir(parents=True)
    (root / ".jarkdown" / "raw" / "ABC-1.json").write_text("{}")
    summary = summarize_knowledge_base(root)
    assert (summary.issues, summary.attachments, summary.attachment_bytes, summary.files) == (1, 1, 5, 3)
    assert summary.has_index
