"""The render child's protocol, in process: one answer line per key, failures answered, not raised."""

import io
import json
import subprocess
import sys

from jarkdown_pipeline.knowledge_base import KnowledgeBase
from jarkdown_pipeline.render_worker import serve

ISSUE = {"id": "10001", "key": "ABC-1", "fields": {"summary": "A summary", "updated": "2026-11-20T10:00:00.000+0000"}}


def setup_line(kb: KnowledgeBase, known: list[str]) -> bytes:
    options = {
        "field_definitions": [],
        "base_url": "https://example.atlassian.net",
        "include_custom_fields": None,
        "exclude_custom_fields": [],
    }
    return json.dumps({"root": str(kb.root), "known_issue_keys": known, "options": options}).encode() + b"\n"


def test_serve_answers_every_key_in_order_and_reports_a_failed_render(tmp_path):
    kb = KnowledgeBase(tmp_path)
    kb.write_raw_issue(ISSUE)
    out = io.StringIO()
    serve([setup_line(kb, ["ABC-1"]), b"ABC-1\n", b"\n", b"ABC-2\n", b"ABC-1\n"], out.write)
    answers = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [answer["key"] for answer in answers] == ["ABC-1", "ABC-2", "ABC-1"]
    assert answers[0]["written"] is True and answers[0]["error"] is None
    assert answers[1]["written"] is None and "no stored issue JSON for ABC-2" in answers[1]["error"]
    assert "Traceback" in answers[1]["details"]
    assert answers[2]["written"] is False  # unchanged the second time
    assert kb.markdown_path("ABC-1").read_text(encoding="utf-8").startswith("---\n")


def test_the_child_runs_as_a_module_and_keeps_its_stdout_for_answers(tmp_path):
    kb = KnowledgeBase(tmp_path)
    kb.write_raw_issue(ISSUE)
    done = subprocess.run(
        [sys.executable, "-m", "jarkdown_pipeline.render_worker"],
        input=setup_line(kb, []) + b"ABC-1\n",
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert [json.loads(line)["written"] for line in done.stdout.splitlines()] == [True]


async def test_an_abandoned_worker_stops_after_the_file_it_is_writing(tmp_path):
    import asyncio

    import pytest

    from jarkdown_pipeline.render_worker import RenderWorker, RenderWorkerGone

    kb = KnowledgeBase(tmp_path)
    keys = [f"ABC-{n}" for n in range(1, 301)]
    for key in keys:
        kb.write_raw_issue({**ISSUE, "key": key})
    options = {
        "field_definitions": [],
        "base_url": "https://example.atlassian.net",
        "include_custom_fields": None,
        "exclude_custom_fields": [],
    }
    worker = await RenderWorker.start(kb, keys, options)
    renders = [asyncio.ensure_future(worker.render(key)) for key in keys]
    first = await renders[0]
    assert first.written is True
    await worker.close(abandon=True)
    outcomes = await asyncio.gather(*renders, return_exceptions=True)
    gone = [outcome for outcome in outcomes if isinstance(outcome, RenderWorkerGone)]
    assert gone, "every key was rendered before the worker was abandoned"
    assert worker._process.returncode is not None
    written = set(kb.markdown_issue_keys())
    assert len(written) < len(keys) and {o.key for o in outcomes if not isinstance(o, BaseException)} == written
    assert not list(tmp_path.rglob("*.tmp"))
    with pytest.raises(RenderWorkerGone):
        await worker.render("ABC-1")


def test_unchanged_keys_on_one_line_are_answered_one_by_one_in_order(tmp_path):
    kb = KnowledgeBase(tmp_path)
    for key in ("ABC-1", "ABC-2", "ABC-3"):
        kb.write_raw_issue({**ISSUE, "key": key})
    out = io.StringIO()
    serve([setup_line(kb, []), b"ABC-1\n", b"ABC-2\n", b"ABC-3\n"], out.write)
    kb.markdown_path("ABC-2").unlink()  # a file to write again, between two to leave as they are
    out = io.StringIO()
    serve([setup_line(kb, []), b"=ABC-1 ABC-2 ABC-9 ABC-3\n", b"=bad-key ABC-1\n"], out.write)
    answers = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(a["key"], a["written"]) for a in answers] == [
        ("ABC-1", False),
        ("ABC-2", True),
        ("ABC-9", None),  # no stored JSON: that key's failure, the others answered
        ("ABC-3", False),
        ("bad-key", None),  # a key the store refuses: each key of the line judged alone
        ("ABC-1", False),
    ]
    assert "no stored issue JSON for ABC-9" in answers[2]["error"]
    assert kb.markdown_path("ABC-2").is_file()


async def test_a_worker_asked_for_unchanged_and_changed_issues_answers_each_its_own(tmp_path):
    import asyncio

    from jarkdown_pipeline.render_worker import RenderWorker

    kb = KnowledgeBase(tmp_path)
    keys = [f"ABC-{n}" for n in range(1, 41)]
    for key in keys:
        kb.write_raw_issue({**ISSUE, "key": key})
    options = {"field_definitions": [], "base_url": "https://example.atlassian.net"}
    async with await RenderWorker.start(kb, keys, options) as worker:
        first = await asyncio.gather(*(worker.render(key) for key in keys))
    kb.markdown_path("ABC-7").unlink()
    async with await RenderWorker.start(kb, keys, options) as worker:
        # Unchanged and changed asked in turn: the unchanged ones go out in batches, answers stay matched.
        second = await asyncio.gather(*(worker.render(key, unchanged=n % 3 != 0) for n, key in enumerate(keys)))
    assert [o.key for o in first] == keys and all(o.written for o in first)
    assert [o.key for o in second] == keys
    assert {o.key for o in second if o.written} == {"ABC-7"} and all(o.error is None for o in second)


async def test_the_child_links_to_the_windows_keys_it_was_told_in_compact_form(tmp_path):
    # The window's keys reach the child as a bitmap per project (IssueKeySet.as_data()); a key far
    # past its project's others, and one written with a leading zero, travel as they are.
    from jarkdown_pipeline.knowledge_base import KnownKeys
    from jarkdown_pipeline.render_worker import RenderWorker

    kb = KnowledgeBase(tmp_path)
    linked = ["ABC-2", "ABC-99999999999", "ABC-07", "XYZ-5", "ABC-3"]
    issue = {**ISSUE, "fields": {**ISSUE["fields"], "issuelinks": []}}
    for number, key in enumerate(linked, 10):
        issue["fields"]["issuelinks"].append(
            {
                "id": str(number),
                "type": {"name": "Relates", "inward": "relates to", "outward": "relates to"},
                "outwardIssue": {"id": str(number), "key": key, "fields": {"summary": f"about {key}"}},
            }
        )
    kb.write_raw_issue(issue)
    arriving = ["ABC-1", *(f"ABC-{n}" for n in range(100, 5000)), *linked[:-1]]
    options = {"field_definitions": [], "base_url": "https://example.atlassian.net"}
    async with await RenderWorker.start(kb, KnownKeys(kb, arriving), options) as worker:
        assert (await worker.render("ABC-1")).written is True
    text = kb.markdown_path("ABC-1").read_text(encoding="utf-8")
    for key in linked[:-1]:
        assert f"(../{key}/{key}.md)" in text
    assert "(../ABC-3/ABC-3.md)" not in text and "https://example.atlassian.net/browse/ABC-3" in text


async def test_the_child_renders_at_a_lower_cpu_priority_than_its_parent(tmp_path):
    import os

    import pytest

    from jarkdown_pipeline.render_worker import RENDER_NICENESS, RenderWorker

    if not hasattr(os, "getpriority"):
        pytest.skip("no process priorities on this platform")
    kb = KnowledgeBase(tmp_path)
    kb.write_raw_issue(ISSUE)
    options = {
        "field_definitions": [],
        "base_url": "https://example.atlassian.net",
        "include_custom_fields": None,
        "exclude_custom_fields": [],
    }
    worker = await RenderWorker.start(kb, ["ABC-1"], options)
    try:
        assert (await worker.render("ABC-1")).written is True  # set up, and lowered its priority first
        parent = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, worker._process.pid) == min(parent + RENDER_NICENESS, 19)
    finally:
        await worker.close()
