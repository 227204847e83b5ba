"""The generated data set: deterministic, realistic, and covering what the pipeline must handle."""

import json
from collections import Counter
from datetime import timedelta

import pytest

from jarkdown_pipeline.sample_jira import HOSTILE_NAMES, Dataset, SampleJiraConfig
from jarkdown_pipeline.sample_jira.adf import ADF_MARK_TYPES, ADF_NODE_TYPES, document_types
from jarkdown_pipeline.sample_jira.shapes import ALL_FIELD_IDS, Renderer
from jarkdown_pipeline_tests.plugins.sample_jira import REFERENCE_DIR, SAMPLE_JIRA_TEST_NOW, small_sample_jira_config

SITE = "http://127.0.0.1:8089"


def render_all(dataset: Dataset) -> str:
    renderer = Renderer(dataset, SITE, dataset.config.zone, anonymous=False)
    issues = [renderer.issue(i, ALL_FIELD_IDS, ["renderedFields"]) for i in dataset.sorted_issues()]
    return json.dumps(issues, sort_keys=True)


@pytest.fixture(scope="module")
def default_dataset() -> Dataset:
    """The default size (300 issues over 30 days), as the demo serves it."""
    return Dataset(SampleJiraConfig(now=SAMPLE_JIRA_TEST_NOW), SITE)


def all_documents(dataset: Dataset):
    for issue in dataset.sorted_issues():
        for doc in (issue.description, issue.environment, issue.custom.get("customfield_10034")):
            if doc:
                yield issue, doc
        for comment in issue.comments:
            yield issue, comment.body
        for worklog in issue.worklogs:
            if worklog.comment:
                yield issue, worklog.comment


def test_same_seed_and_now_give_the_same_data():
    config = small_sample_jira_config()
    assert render_all(Dataset(config, SITE)) == render_all(Dataset(config, SITE))
    assert render_all(Dataset(config.replace(seed=8), SITE)) != render_all(Dataset(config, SITE))
    with_attachments = small_sample_jira_config(min_attachments_per_issue=1, max_attachments_per_issue=1)
    assert all(len(i.attachments) == 1 for i in Dataset(with_attachments, SITE).issues.values())


def test_issues_are_spread_over_every_day_of_the_window(default_dataset):
    ds = default_dataset
    assert len(ds.issues) == 300 and {p.key for p in ds.projects} == {"ALPHA", "BETA", "OPS"}
    start = ds.now - timedelta(days=30)
    assert all(start <= i.updated <= ds.now and i.created <= i.updated for i in ds.issues.values())
    zone = ds.config.zone
    days = Counter(i.updated.astimezone(zone).date() for i in ds.issues.values())
    first, last = start.astimezone(zone).date(), ds.now.astimezone(zone).date()
    every_day = [first + timedelta(days=n) for n in range(1, (last - first).days)]
    assert all(days[d] >= 1 for d in every_day), [d for d in every_day if not days[d]]
    assert Counter(i.project.key for i in ds.issues.values())["OPS"] >= 30


def test_every_adf_node_and_mark_appears(default_dataset):
    nodes: set[str] = set()
    marks: set[str] = set()
    for _, doc in all_documents(default_dataset):
        found_nodes, found_marks = document_types(doc)
        nodes |= found_nodes
        marks |= found_marks
    assert nodes == ADF_NODE_TYPES
    assert marks == ADF_MARK_TYPES


def test_the_node_list_matches_the_adf_schema():
    path = REFERENCE_DIR / "adf-full-schema-52.2.2.json"
    if not path.exists():
        pytest.skip(f"ADF schema reference not found at {path}")
    schema = json.loads(path.read_text())
    nodes, marks = set(), set()

    def walk(value):
        if isinstance(value, dict):
            enum = value.get("properties", {}).get("type", {}).get("enum")
            if enum:
                yield from enum
            for key in ("allOf", "anyOf"):
                for part in value.get(key, ()):
                    yield from walk(part)

    for name, definition in schema["definitions"].items():
        for type_name in walk(definition):
            (marks if name.endswith("_mark") else nodes).add(type_name)
    assert nodes == ADF_NODE_TYPES
    assert marks == ADF_MARK_TYPES


def test_documents_validate_against_the_adf_schema(default_dataset):
    jsonschema = pytest.importorskip("jsonschema")
    path = REFERENCE_DIR / "adf-full-schema-52.2.2.json"
    if not path.exists():
        pytest.skip(f"ADF schema reference not found at {path}")
    validator = jsonschema.Draft4Validator(json.loads(path.read_text()))
    # Validation is slow (deep anyOf): check the showcases and one document of each other kind.
    showcases = [i.description for i in default_dataset.sorted_issues() if "Showcase" in json.dumps(i.description)]
    assert len(showcases) == 3
    picked, kinds = list(showcases), set()
    for issue, doc in all_documents(default_dataset):
        kind = tuple(sorted(document_types(doc)[0]))
        if kind not in kinds and len(picked) < 5:
            kinds.add(kind)
            picked.append(doc)
    for doc in picked:
        errors = list(validator.iter_errors(doc))
        assert not errors, jsonschema.exceptions.best_match(errors).message


def test_media_nodes_point_at_the_issues_own_attachments(default_dataset):
    pointed = 0
    for issue in default_dataset.sorted_issues():
        media_ids = {a.media_id for a in issue.attachments}
        stack = [issue.description] if issue.description else []
        while stack:
            node = stack.pop()
            if node.get("type") in ("media", "mediaInline") and media_ids:
                assert node["attrs"]["id"] in media_ids, issue.key
                pointed += 1
            stack.extend(node.get("content", ()))
    assert pointed > 20


def test_attachments_include_images_hostile_unicode_and_duplicate_names(default_dataset):
    attachments = list(default_dataset.attachments.values())
    names = {a.filename for a in attachments}
    assert set(HOSTILE_NAMES) <= names
    assert {"日本語の仕様書.txt", "Überblick Präsentation.pdf"} <= names
    assert {a.kind for a in attachments} == {"png", "text", "binary"}
    assert any(len(i.attachments) != len({a.filename for a in i.attachments}) for i in default_dataset.issues.values())
    assert len({a.id for a in attachments}) == len(attachments) and len({a.media_id for a in attachments}) == len(
        attachments
    )


def test_comments_worklogs_links_and_hierarchy(default_dataset):
    issues = default_dataset.sorted_issues()
    assert sum(len(i.comments) > 20 for i in issues) >= 5
    assert sum(len(i.worklogs) > 20 for i in issues) >= 5
    assert any(c.visibility for i in issues for c in i.comments)
    assert any(c.updated > c.created for i in issues for c in i.comments)  # edited comments
    links = [(i.key, link) for i in issues for link in i.links]
    assert links
    for key, link in links:  # every link is seen from both ends
        other = default_dataset.issues[link.other_key]
        assert any(
            back.id == link.id and back.other_key == key and back.outward != link.outward for back in other.links
        )
    subtasks = [i for i in issues if i.issue_type == "Sub-task"]
    assert subtasks and all(default_dataset.issues[s.parent_key].project is s.project for s in subtasks)
    assert any(i.parent_key and default_dataset.issues[i.parent_key].issue_type == "Epic" for i in issues)
    assert {i.issue_type for i in issues} == {"Story", "Task", "Bug", "Epic", "Sub-task"}


def test_huge_attachment_goes_to_the_most_recently_updated_issue_unless_told():
    config = small_sample_jira_config(huge_attachment_bytes=5 * 1024**3)
    ds = Dataset(config, SITE)
    newest = max(ds.issues.values(), key=lambda i: (i.updated, i.id))
    assert ds.huge_attachment is not None and ds.huge_attachment.issue_key == newest.key
    assert ds.huge_attachment.size == 5 * 1024**3  # a size, never materialised
    chosen = Dataset(config.replace(huge_attachment_issue="BETA-2"), SITE)
    assert chosen.huge_attachment.issue_key == "BETA-2"
    with pytest.raises(ValueError, match="NOPE-1"):
        Dataset(config.replace(huge_attachment_issue="NOPE-1"), SITE)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"projects": ("bad key",)}, "not a valid Jira project key"),
        ({"time_zone": "Mars/Olympus"}, "unknown time zone"),
        ({"host": "0.0.0.0"}, "loopback only"),
        ({"min_attachments_per_issue": 3, "max_attachments_per_issue": 1}, "min_attachments_per_issue"),
        ({"now": SAMPLE_JIRA_TEST_NOW.replace(tzinfo=None)}, "time-zone aware"),
    ],
)
def test_bad_settings_are_named(overrides, message):
    with pytest.raises(ValueError, match=message):
        small_sample_jira_config(**overrides)


@pytest.mark.parametrize(
    "overrides",
    [
        {"issue_count": 0, "huge_attachment_bytes": 10},
        {"issue_count": 1, "projects": ("SOLO",)},
        {"issue_count": 15, "days": 1, "max_attachments_per_issue": 0},
        {"issue_count": 30, "inline_comment_limit": 0, "inline_worklog_limit": 0, "max_comments_per_issue": 3},
    ],
)
def test_small_and_odd_configurations_generate_and_render(overrides):
    dataset = Dataset(small_sample_jira_config(**overrides), SITE)
    assert len(dataset.issues) == overrides["issue_count"]
    render_all(dataset)
    if overrides.get("max_attachments_per_issue") == 0:
        assert not dataset.attachments
