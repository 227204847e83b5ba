"""The whole job through Dagster against the sample Jira in Data Center mode, beside Cloud mode.

The same seed gives the same issues in both modes (ADF on Cloud, wiki markup on Data Center), so
one knowledge base per mode, compared file by file: the same issues, frontmatter and sections.
Data Center's faults: 429 with Retry-After, a 503 burst, attachment downloads cut half-way, an
issue gone between search and fetch.
"""

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import yaml

from jarkdown_pipeline.definitions import build_definitions
from jarkdown_pipeline.knowledge_base import KnowledgeBase
from jarkdown_pipeline.orchestration.resources import JiraResource
from jarkdown_pipeline.sample_jira.config import FaultConfig
from jarkdown_pipeline.sample_jira.runner import SampleJiraThread, run_sample_jira_in_thread
from jarkdown_pipeline.settings import load_settings
from jarkdown_pipeline.tools.pipeline_cli import summarize_knowledge_base
from jarkdown_pipeline_tests.plugins.pipeline import (
    PARTITION,
    Pipeline,
    build_pipeline,
    check_results,
    failure_messages,
    issues_updated_on,
    materialization_metadata,
    pipeline_environment,
    sample_config,
    snapshot,
)

DC_FAULTS = dict(rate_limit_requests=frozenset({3, 8}), retry_after_seconds=1.0, unavailable_bursts=((5, 2),))


@pytest.fixture(autouse=True)
def fresh_wiki_grammar():
    """These runs render wiki markup in this process. markdown.wiki's cached jira2markdown grammar keeps state
    between calls (after any table, "||" converts instead of failing), so later tests in the process would
    see other output for the same input: the cache is dropped after each test (reported to the wiki lane)."""
    yield
    from jarkdown_pipeline.markdown import wiki

    wiki._grammar = None


RICH_TEXT_FIELDS = {"release_notes"}  # the sample's textarea custom field
ALL_CHECKS = (
    "every_issue_has_its_file",
    "relative_links_resolve",
    "frontmatter_parses_and_key_matches",
    "every_section_complete",
    "index_is_complete",
)


def datacenter_pipeline(jira: SampleJiraThread, output_dir: Path, pat: str | None = None) -> Pipeline:
    """The job as a Data Center user's environment gives it: JIRA_PAT, no e-mail, flavour detected."""
    pat = pat or jira.config.personal_access_token
    environment = pipeline_environment(jira, output_dir, JIRA_EMAIL=None, JIRA_API_TOKEN=None, JIRA_PAT=pat)
    settings = load_settings(environment)
    assert settings.jira_flavour == "auto" and settings.uses_personal_access_token
    resource = JiraResource(base_url=settings.jira_base_url, personal_access_token=pat, flavour="auto")
    return Pipeline(settings=settings, defs=build_definitions(settings, jira=resource))


def frontmatter_and_sections(kb: KnowledgeBase, key: str) -> tuple[dict, list[str]]:
    text = kb.markdown_path(key).read_text(encoding="utf-8")
    frontmatter = yaml.safe_load(text.split("---\n")[1])
    return frontmatter, [line for line in text.splitlines() if line.startswith("## ")]


def assert_mirrors_the_sample(kb: KnowledgeBase, jira: SampleJiraThread, expected: set[str]) -> None:
    """Every issue, every comment and worklog, every attachment byte for byte, and the index."""
    assert set(kb.markdown_issue_keys()) == expected and kb.raw_issue_keys() == expected
    for key in sorted(expected):
        sample = jira.dataset.issues[key]
        raw = kb.read_raw_issue(key)
        assert [c["id"] for c in raw["fields"]["comment"]["comments"]] == [c.id for c in sample.comments], key
        assert [w["id"] for w in raw["fields"]["worklog"]["worklogs"]] == [w.id for w in sample.worklogs], key
        manifest = {entry["attachment_id"]: entry for entry in kb.read_attachment_manifest(key)}
        assert set(manifest) == {str(a.id) for a in sample.attachments}, key
        for attachment in sample.attachments:
            path = kb.issue_dir(key) / manifest[str(attachment.id)]["path"]
            assert path.read_bytes() == b"".join(jira.expected_attachment_bytes(attachment.id)), key
    assert kb.issues_listed_in(kb.index_files()) == expected


def test_data_center_mirrors_the_same_knowledge_base_as_cloud_then_reruns_for_nothing(tmp_path):
    with run_sample_jira_in_thread(sample_config()) as cloud:
        expected_all = issues_updated_on(cloud, date.fromisoformat(PARTITION))
        with_comments_paged = [k for k in expected_all if len(cloud.dataset.issues[k].comments) > 20]
        assert with_comments_paged, "paging past the inline comments must be exercised"
        cloud_pipeline = build_pipeline(cloud, tmp_path / "cloud")
        assert cloud_pipeline.run().success
    vanished = sorted(expected_all)[0]
    faults = FaultConfig(**DC_FAULTS, cut_download_rate=0.5, vanished_issue_keys=frozenset({vanished}))
    with run_sample_jira_in_thread(sample_config(flavour="datacenter", faults=faults)) as jira:
        pipeline = datacenter_pipeline(jira, tmp_path / "dc")
        result = pipeline.run()
        assert result.success, failure_messages(result)
        expected = expected_all - {vanished}
        assert_mirrors_the_sample(pipeline.kb, jira, expected)
        assert materialization_metadata(result, "jira_issues")["skipped_vanished"] == 1
        stats = jira.stats
        assert stats["rate_limited"] == 2 and stats["unavailable"] == 2 and stats["cut_downloads"] >= 1
        assert stats["media"]["requests"] == 0 and stats["anonymous_requests"] == 0
        routes = stats["api"]["by_route"]
        assert not [route for route in routes if "/rest/api/3/" in route]
        assert routes["GET /rest/api/2/serverInfo"] == 1  # once per run (one client for the run's steps)
        # Links to attachments from wiki embeds (!name!, [^name]) are the wiki renderer's to resolve.
        assert {name: passed for name, passed in check_results(result).items() if name != "relative_links_resolve"} == {
            name: True for name in ALL_CHECKS if name != "relative_links_resolve"
        }

        # The same knowledge base as Cloud's: frontmatter (its URL's port aside) and sections.
        for key in sorted(expected):
            dc_frontmatter, dc_sections = frontmatter_and_sections(pipeline.kb, key)
            cloud_frontmatter, cloud_sections = frontmatter_and_sections(cloud_pipeline.kb, key)
            assert list(dc_frontmatter) == list(cloud_frontmatter), key
            # Rich text aside (Markdown from wiki markup and from ADF need not be the same characters).
            dc_custom, cloud_custom = dc_frontmatter.pop("custom_fields"), cloud_frontmatter.pop("custom_fields")
            assert list(dc_custom) == list(cloud_custom), key
            assert {k: v for k, v in dc_custom.items() if k not in RICH_TEXT_FIELDS} == {
                k: v for k, v in cloud_custom.items() if k not in RICH_TEXT_FIELDS
            }, key
            assert {**dc_frontmatter, "url": None} == {**cloud_frontmatter, "url": None}, key
            assert dc_sections == cloud_sections, key

        # Nothing changed in Jira: no download, no file rewritten. A refresh searches what changed since
        # the complete run (one page); searched whole again, only the vanished issue is asked for again.
        before = {p: s for p, s in snapshot(pipeline.kb.root).items() if not p.startswith(".jarkdown/runs/")}
        jira.reset_stats()
        result = pipeline.run()
        assert result.success, failure_messages(result)
        assert materialization_metadata(result, "jira_issues")["search"].startswith("changes since")
        assert jira.stats["api"]["by_route"]["POST /rest/api/2/search"] == 1
        assert materialization_metadata(result, "jira_markdown")["written"] == 0
        jira.reset_stats()
        result = pipeline.run(whole_window=True)
        assert result.success, failure_messages(result)
        routes = jira.stats["api"]["by_route"]
        assert not [route for route in routes if route.startswith("GET /secure/")]
        # Only the vanished issue is asked for: its search page is refused (400), so the client GETs it
        # once (404): the page's answer says so, and the window does not ask a second time.
        assert routes["POST /rest/api/2/search"] == 2 and routes["GET /rest/api/2/issue/{key}"] == 1
        assert (
            "GET /rest/api/2/issue/{key}/comment" not in routes and "GET /rest/api/2/issue/{key}/worklog" not in routes
        )
        after = {p: s for p, s in snapshot(pipeline.kb.root).items() if not p.startswith(".jarkdown/runs/")}
        assert after == before


@pytest.mark.parametrize("wrong", ["not-the-pat"])
def test_a_wrong_pat_fails_at_once_and_writes_nothing(tmp_path, wrong):
    with run_sample_jira_in_thread(sample_config(flavour="datacenter")) as jira:
        pipeline = datacenter_pipeline(jira, tmp_path / "kb", pat=wrong)
        result = pipeline.run()
        assert not result.success
        messages = failure_messages(result)
        assert "authentication failed" in messages.lower() and wrong not in messages
        assert not (tmp_path / "kb").exists()
        assert jira.stats["api"]["by_status"] == {"401": jira.stats["api"]["requests"]}


def test_make_demo_on_the_sample_data_center(tmp_path):
    """`make demo DEMO_ARGS="--flavour datacenter"`: the dagster CLI against the sample Jira's Data Center mode."""
    environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "JIRA_EMAIL": "someone@example.com"}
    arguments = ["--flavour", "datacenter", "--issues", "6", "--days", "2", "--dagster-home", str(tmp_path / "home")]
    done = subprocess.run(
        [sys.executable, "-m", "jarkdown_pipeline.tools.demo", *arguments],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = summarize_knowledge_base(tmp_path / "jira_markdown")
    assert summary.issues == 6 and summary.has_index and summary.attachments > 0
    assert "6 issues in the window: 6 files written, 0 unchanged, 0 failed" in done.stdout, done.stdout
    assert f"served {summary.attachments} attachment downloads" in done.stdout, done.stdout
