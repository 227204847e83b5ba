"""render_issue, frontmatter, custom fields, index: behaviour beyond the golden files."""

import copy
import json
import random
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from jarkdown_pipeline.knowledge_base import parse_jira_timestamp
from jarkdown_pipeline.markdown import (
    custom_field_slugs,
    issue_markdown_path,
    parse_frontmatter,
    render_index,
    render_issue,
    slugify,
    wiki_to_markdown,
)
from jarkdown_pipeline.markdown.fields import FieldDefinition, normalize_datetime
from jarkdown_pipeline.markdown.index import index_pages
from jarkdown_pipeline_tests.plugins.fuzz import examples
from jarkdown_pipeline_tests.plugins.rendered_html import TextExtractor, displayed, normalize, render_html

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "issues"
BASE = "https://example.atlassian.net"


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def render_fixture(data: dict, **overrides) -> str:
    arguments = dict(
        field_definitions=data.get("field_definitions", []),
        attachments=data.get("attachments", []),
        base_url=data.get("base_url", BASE),
        known_issue_keys=frozenset(data.get("known_issue_keys", [])),
        include_custom_fields=data.get("include_custom_fields"),
        exclude_custom_fields=data.get("exclude_custom_fields", []),
    )
    arguments.update(overrides)
    return render_issue(data["issue"], **arguments)


def body_of(markdown: str) -> str:
    return markdown.split("\n---\n", 1)[1]


# -- frontmatter ---------------------------------------------------------------------------

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=examples(200), deadline=None)
@given(summary=TEXT, labels=st.lists(TEXT.filter(bool), max_size=5))
def test_frontmatter_round_trips_any_summary_and_labels(summary, labels):
    issue = {"key": "ABC-1", "fields": {"summary": summary, "labels": labels}}
    markdown = render_issue(issue, base_url=BASE)
    front = parse_frontmatter(markdown)
    assert front["summary"] == summary
    assert front["labels"] == labels


YAML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(TEXT.filter(bool), children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=examples(200), deadline=None)
@given(data=st.dictionaries(TEXT.filter(bool), YAML_VALUES, max_size=6))
def test_frontmatter_is_the_same_with_or_without_libyaml(data):
    # The files must not change when a platform's PyYAML lacks libyaml (pure-Python emitter).
    import sys

    import yaml

    from jarkdown_pipeline.markdown import frontmatter

    class PythonDumper(yaml.SafeDumper):
        pass

    PythonDumper.add_representer(str, frontmatter._represent_str)
    body = yaml.dump(
        data, Dumper=PythonDumper, sort_keys=False, allow_unicode=True, width=sys.maxsize, default_flow_style=False
    )
    assert frontmatter.dump_frontmatter(data) == f"---\n{body}---\n"
    assert parse_frontmatter(frontmatter.dump_frontmatter(data) + "body") == data


@settings(max_examples=examples(150), deadline=None)
@given(summary=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40))
def test_title_line_shows_the_summary(summary):
    markdown = render_issue({"key": "ABC-1", "fields": {"summary": summary}}, base_url=BASE)
    html = render_html(body_of(markdown))
    titles = re.findall(r"<h1>(.*?)</h1>", html, re.DOTALL)
    assert len(titles) == 1
    extractor = TextExtractor()
    extractor.feed(titles[0])
    expected = f"ABC-1: {summary}" if summary.replace("\r", " ").replace("\n", " ").strip() else "ABC-1"
    assert normalize("".join(extractor.parts)) == normalize(expected)


def test_custom_fields_in_frontmatter_keep_types():
    front = parse_frontmatter(render_fixture(load("rich_cloud_issue")))
    custom = front["custom_fields"]
    assert custom["story_points"] == 5 and isinstance(custom["story_points"], int)
    assert custom["budget"] == 1234.5
    assert front["sprint"] == ["Sprint 1", "Sprint 2"]
    assert "sprint" not in custom  # one fact, one key: the top-level ``sprint``
    assert custom["reviewers"] == ["Ana Lima", "Dee Park"]
    assert custom["region"] == "EMEA › Germany"
    assert custom["team"] == "Platform" and custom["team_customfield_10031"] == "Team | Blue"
    assert "rank" not in custom and "internal_notes" not in custom  # excluded by name and by id
    assert "flagged" not in custom  # empty value


def test_frontmatter_has_every_documented_key_even_when_empty():
    front = parse_frontmatter(render_issue({"key": "MIN-1", "fields": {}}, base_url=BASE))
    expected = (
        "key id url summary type status status_category priority resolution project project_key assignee "
        "reporter creator labels components parent_summary parent epic children affects_versions fix_versions sprint "
        "created_at updated_at resolved_at duedate original_estimate time_spent remaining_estimate progress "
        "aggregate_progress votes watches comment_count worklog_count attachment_count comments_total comments_written "
        "worklogs_total worklogs_written history_total history_written attachments_total attachments_written custom_fields"
    ).split()
    assert list(front) == expected
    assert front["labels"] == [] and front["assignee"] is None and front["custom_fields"] == {}


def test_dates_are_normalised_to_utc():
    front = parse_frontmatter(render_fixture(load("rich_cloud_issue")))
    assert front["created_at"] == "2025-01-15T09:30:00.000Z"  # +0100 in Jira
    assert front["updated_at"] == "2025-02-20T14:45:12.345Z"


def _strptime(text: str) -> datetime:
    """What the parsers returned before their fast path, for Jira's spelling."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z" if "." in text else "%Y-%m-%dT%H:%M:%S%z")


def _strptime_utc(text: str) -> str:
    return _strptime(text).astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(9998, 12, 30)),
    digits=st.integers(0, 6),
    offset_minutes=st.integers(-(23 * 60 + 59), 23 * 60 + 59),
    spelling=st.sampled_from(["+0100", "+01:00", "Z"]),
)
def test_jira_dates_read_fast_as_strptime_reads_them(moment, digits, offset_minutes, spelling):
    # Jira's +0100, ISO's +01:00, and the Z of the UTC dates this package writes (index rows).
    sign, minutes = ("-" if offset_minutes < 0 else "+"), abs(offset_minutes)
    fraction = f".{moment.microsecond:06d}"[: digits + 1] if digits else ""
    hours, rest = divmod(minutes, 60)
    offset = {"+0100": f"{sign}{hours:02d}{rest:02d}", "+01:00": f"{sign}{hours:02d}:{rest:02d}", "Z": "Z"}[spelling]
    text = f"{moment:%Y-%m-%dT%H:%M:%S}{fraction}{offset}"
    assert normalize_datetime(text) == _strptime_utc(text)
    parsed = parse_jira_timestamp(text)
    assert parsed == _strptime(text) and parsed.utcoffset() == _strptime(text).utcoffset()


def test_timestamps_strptime_refuses_are_refused_by_the_fast_path_too():
    for text in ("2025-01-15T24:00:00.000+0000", "2025-01-15T10:30:00.000", "2025-02-30T10:30:00Z", "not a date"):
        assert parse_jira_timestamp(text) is None
    assert parse_jira_timestamp("\u0662025-01-15T10:30:00.000+0000") == datetime(2025, 1, 15, 10, 30, tzinfo=UTC)
    assert parse_jira_timestamp(None) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-15T24:00:00.000+0000", "2025-01-15T24:00:00.000+0000"),  # no hour 24: kept as Jira wrote it
        ("2025-01-15T10:30:00Z", "2025-01-15T10:30:00.000Z"),
        ("2025-01-15T10:30:00.000+01:00", "2025-01-15T09:30:00.000Z"),
        ("2025-01-15T10:30:00.000", "2025-01-15T10:30:00.000"),  # no zone: not guessed
        ("\u0662025-01-15T10:30:00.000+0000", "2025-01-15T10:30:00.000Z"),  # strptime reads an Arabic-Indic 2
        ("not a date", "not a date"),
    ],
)
def test_dates_in_other_spellings_are_read_as_before(text, expected):
    assert normalize_datetime(text) == expected


# -- custom fields ---------------------------------------------------------------------------


def test_slugs_are_snake_case_and_collisions_get_the_field_id():
    definitions = [
        FieldDefinition("customfield_10200", "Team", True),
        FieldDefinition("customfield_10031", "team", True),
        FieldDefinition("customfield_10016", "Story Points (SP)", True),
        FieldDefinition("customfield_10017", "1st Reviewer", True),
    ]
    assert custom_field_slugs(definitions) == {
        "customfield_10031": "team",  # the oldest field keeps the plain slug
        "customfield_10200": "team_customfield_10200",
        "customfield_10016": "story_points_sp",
        "customfield_10017": "field_1st_reviewer",
    }
    assert slugify("Größe / Size") == "grösse_size"
    tricky = [
        FieldDefinition("customfield_1", "Team", True),
        FieldDefinition("customfield_2", "Team", True),
        FieldDefinition("customfield_3", "Team customfield 2", True),
    ]
    assert custom_field_slugs(tricky) == {
        "customfield_1": "team",
        "customfield_3": "team_customfield_2",
        "customfield_2": "team_customfield_2_customfield_2",
    }


def test_same_named_fields_are_kept_apart_in_the_table():
    body = body_of(render_fixture(load("rich_cloud_issue")))
    assert "| Team (customfield_10030) | Platform |" in body
    assert "| Team (customfield_10031) | Team \\| Blue |" in body


def test_include_and_exclude_by_name_or_id():
    data = load("rich_cloud_issue")
    only = body_of(
        render_fixture(data, include_custom_fields=["Story Points", "customfield_10044"], exclude_custom_fields=[])
    )
    table = only.split("## Custom Fields", 1)[1].split("##", 1)[0]
    assert "Story Points" in table and "Release Train" in table and "Reviewers" not in table
    without = body_of(render_fixture(data, exclude_custom_fields=["story points", "Acceptance Criteria"]))
    assert "Story Points" not in without and "Acceptance Criteria" not in without and "Reviewers" in without


def test_unknown_object_values_never_show_python_reprs_or_json():
    issue = {
        "key": "ABC-1",
        "fields": {
            "summary": "s",
            "customfield_10900": {"foo": {"bar": 1}, "size": 3, "colour": "red"},
            "customfield_10901": [{"nested": [1, 2]}, "plain"],
        },
    }
    markdown = render_issue(
        issue,
        field_definitions=[{"id": "customfield_10900", "name": "Mystery", "custom": True, "schema": {"type": "any"}}],
        base_url=BASE,
    )
    table = body_of(markdown).split("## Custom Fields", 1)[1]
    assert "| Mystery | colour: red; foo: bar: 1; size: 3 |" in table
    assert "| customfield_10901 | nested: 1, 2, plain |" in table
    assert "{" not in table and "'" not in table and "[" not in table.replace("[!", "")


# -- sections ------------------------------------------------------------------------------


def test_linked_issue_goes_to_local_file_only_when_known():
    data = load("rich_cloud_issue")
    body = body_of(render_fixture(data, known_issue_keys=frozenset()))
    assert "](../" not in body.split("## Worklogs")[0]
    assert "[APL-43](https://example.atlassian.net/browse/APL-43)" in body
    body = body_of(render_fixture(data, known_issue_keys=frozenset({"APL-43"})))
    assert "[APL-43](../APL-43/APL-43.md)" in body


def test_edited_marker_only_when_updated_differs():
    body = body_of(render_fixture(load("rich_cloud_issue")))
    assert "### Cy Ray · 2025-01-16 08:00 UTC\n" in body
    assert "(edited 2025-01-17 10:00 UTC)" in body


def test_restricted_comment_is_marked_with_its_visibility():
    body = body_of(render_fixture(load("rich_cloud_issue")))
    assert "> Restricted to role: Developers" in body
    assert "> Restricted to group: jira-admins" in body


def test_every_paged_comment_is_rendered():
    body = body_of(render_fixture(load("truncated_then_paged_comments")))
    assert all(f"Comment number {n}\n" in body for n in range(1, 26))
    assert "could not be fetched" in body  # the worklogs are still truncated
    assert "comments;" not in body


def test_empty_sections_are_omitted():
    body = body_of(render_fixture(load("minimal_issue")))
    assert body.strip() == "# [MIN-1](https://example.atlassian.net/browse/MIN-1): Just a summary"


def test_attachments_are_relative_percent_encoded_and_an_image_the_text_shows_is_only_listed():
    body = body_of(render_fixture(load("rich_cloud_issue")))
    text, section = body.split("## Attachments", 1)
    assert body.count("![error screen.png](attachments/error%20screen.png)") == 1
    assert "![error screen.png](attachments/error%20screen.png)" in text  # where the description places it
    assert "- [error screen.png](attachments/error%20screen.png) (image/png, 47.1 KiB)" in section
    assert "[har (1).har](attachments/har%20%281%29.har)" in section
    assert "dump.zip (application/zip, 7.0 MiB) (not downloaded)" in section


def test_custom_attachments_dir():
    data = load("rich_cloud_issue")
    body = body_of(render_fixture(data, attachments_dir="files"))
    assert "(files/error%20screen.png)" in body and "(attachments/" not in body


def test_output_is_identical_whatever_the_order_of_field_definitions():
    data = load("rich_cloud_issue")
    expected = render_fixture(data)
    shuffled = copy.deepcopy(data["field_definitions"])
    random.Random(7).shuffle(shuffled)
    assert render_fixture(data, field_definitions=shuffled) == expected


def test_bad_input_names_the_problem():
    with pytest.raises(ValueError, match="not a Jira issue"):
        render_issue({"fields": {}}, base_url=BASE)
    with pytest.raises(ValueError, match="issue key"):
        render_issue({"key": "../etc", "fields": {}}, base_url=BASE)


def test_issue_markdown_path():
    assert issue_markdown_path("ABC-12") == "ABC-12/ABC-12.md"
    for bad in ("", "ABC", "../ABC-1", "ABC-1/x", "ABC-1 ", "-1"):
        with pytest.raises(ValueError):
            issue_markdown_path(bad)


def test_parse_frontmatter_errors():
    with pytest.raises(ValueError, match="does not start"):
        parse_frontmatter("# no frontmatter")
    with pytest.raises(ValueError, match="not closed"):
        parse_frontmatter("---\nkey: A-1\n")
    with pytest.raises(ValueError, match="not a mapping"):
        parse_frontmatter("---\n- a\n---\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        parse_frontmatter("---\nkey: [\n---\n")


# -- Data Center / HTML ----------------------------------------------------------------------


def test_wiki_markup_keeps_angle_brackets_visible():
    markdown = wiki_to_markdown("Returns List<String> or <script>x</script>, and {{Map<K,V>}}")
    shown = normalize("".join(displayed(markdown).parts))
    assert "List<String>" in shown and "<script>x</script>" in shown and "Map<K,V>" in shown


# -- index -----------------------------------------------------------------------------------


def test_index_is_sorted_by_key_number_and_escaped():
    rows = [
        {
            "key": "ABC-10",
            "summary": "ten | pipes *and* stars",
            "status": "Done",
            "type": "Bug",
            "assignee": None,
            "updated_at": "2025-01-02T03:04:05.000Z",
        },
        {
            "key": "ABC-2",
            "summary": "two",
            "status": "To Do",
            "type": "Task",
            "assignee": "Ana",
            "updated_at": "2025-01-01T00:00:00.000Z",
        },
        {
            "key": "AB-7",
            "summary": "other project",
            "status": "To Do",
            "type": "Task",
            "assignee": "Bo",
            "updated_at": None,
        },
    ]
    pages = index_pages(rows)
    assert sorted(pages) == ["_index/AB.md", "_index/ABC.md", "index.md"]
    page = pages["_index/ABC.md"]
    keys = re.findall(r"^\| \[([A-Z]+-\d+)\]", page, re.MULTILINE)
    assert keys == ["ABC-2", "ABC-10"]
    assert (
        "| [ABC-10](../ABC-10/ABC-10.md) | ten \\| pipes \\*and\\* stars | Done | Bug |  | 2025-01-02 03:04 UTC |"
        in page
    )
    html = render_html(page)
    assert html.count("<tr>") == 3 and "ten | pipes *and* stars" in html
    assert index_pages(rows) == index_pages(list(reversed(rows)))
    recent = re.findall(r"^\| \[([A-Z]+-\d+)\]", render_index(rows), re.MULTILINE)
    assert recent == ["ABC-10", "ABC-2"], "the latest first; an issue without a date is not 'recent'"


def test_index_of_nothing_and_bad_rows():
    assert "0 issues in 0 projects." in render_index([])
    with pytest.raises(ValueError):
        render_index([{"summary": "no key"}])


def test_cached_wiki_grammar_matches_the_library():
    """Where wiki_elements changes no element, the cached grammar gives the library's output."""
    import jira2markdown

    samples = [
        "h2. x\n*a* _b_ {{c}}\n* d\n** e",
        "-gone- ^sup^ [link|https://x.org] {panel}p{panel}",
        # One-character lookbehinds (text effects, images, links): at the start, after punctuation,
        # after a letter (no effect), after a tab and a newline.
        "*a*,(*b*)x*c* -d-\t^e^\n_f_ a!g.png! ([h|https://h.org]) i[j|https://j.org]",
    ]
    for sample in samples:
        assert wiki_to_markdown(sample) == jira2markdown.convert(sample).strip("\n")


def test_rich_worklog_comment_stays_in_its_cell():
    """A worklog comment holding a table, a panel and pipes renders inside one table cell."""

    def cell(text):
        return {"type": "tableCell", "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]}

    comment = {
        "type": "doc",
        "content": [
            {
                "type": "table",
                "content": [
                    {"type": "tableRow", "content": [cell("Metric"), cell("Value | unit")]},
                    {"type": "tableRow", "content": [cell("p99"), cell("3 ms")]},
                ],
            },
            {
                "type": "panel",
                "attrs": {"panelType": "info"},
                "content": [{"type": "paragraph", "content": [{"type": "text", "text": "a|b"}]}],
            },
            {"type": "codeBlock", "content": [{"type": "text", "text": "x | y"}]},
        ],
    }
    issue = {
        "key": "ABC-1",
        "fields": {
            "summary": "s",
            "worklog": {
                "total": 1,
                "worklogs": [
                    {
                        "author": {"displayName": "Ana"},
                        "started": "2025-01-01T00:00:00.000+0000",
                        "timeSpent": "1h",
                        "timeSpentSeconds": 3600,
                        "comment": comment,
                    }
                ],
            },
        },
    }
    body = body_of(render_issue(issue, base_url=BASE))
    html = render_html(body)
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.DOTALL)
    assert len(rows) == 2  # header + the one worklog
    cells = re.findall(r"<td>(.*?)</td>", rows[1], re.DOTALL)
    assert len(cells) == 4
    extractor = TextExtractor()
    extractor.feed(cells[3])
    assert normalize("".join(extractor.parts)) == "Metric / Value | unit p99 / 3 ms a|b x | y"


def test_attachments_with_the_same_name_are_matched_by_id():
    issue = {
        "key": "ABC-1",
        "fields": {
            "summary": "s",
            "attachment": [
                {"id": "1", "filename": "server.log", "mimeType": "text/plain", "size": 10},
                {"id": "2", "filename": "server.log", "mimeType": "text/plain", "size": 20},
                {"id": "3", "filename": "server.log", "mimeType": "text/plain", "size": 30},
            ],
        },
    }
    infos = [
        {
            "attachment_id": "1",
            "filename": "server.log",
            "original_filename": "server.log",
            "mime_type": "text/plain",
            "size": 10,
        },
        {
            "attachment_id": "3",
            "filename": "server (3).log",
            "original_filename": "server.log",
            "mime_type": "text/plain",
            "size": 30,
        },
    ]
    section = body_of(render_issue(issue, attachments=infos, base_url=BASE)).split("## Attachments\n\n", 1)[1]
    assert section.splitlines() == [
        "- [server.log](attachments/server.log) (text/plain, 10 B)",
        "- server.log (text/plain, 20 B) (not downloaded)",
        "- [server.log](attachments/server%20%283%29.log) (text/plain, 30 B)",
    ]


# Strings without brackets or quotes, so any "{'" or "['" in the output can only be a leaked repr.
JSON_TEXT = st.text("abc XYZ-:.#*_|<>é", max_size=8)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | JSON_TEXT,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["name", "value", "displayName", "key", "child", "type", "content", "text", "x"]),
            children,
            max_size=3,
        )
    ),
    max_leaves=8,
)
FIELD_NAMES = [
    "summary",
    "status",
    "issuetype",
    "priority",
    "assignee",
    "labels",
    "components",
    "parent",
    "created",
    "timetracking",
    "progress",
    "votes",
    "comment",
    "worklog",
    "attachment",
    "issuelinks",
    "subtasks",
    "description",
    "environment",
    "customfield_10001",
    "customfield_10020",
]


@settings(max_examples=examples(150), deadline=None)
@given(st.dictionaries(st.sampled_from(FIELD_NAMES), JSON, max_size=8))
@example({"summary": {"value": [""], "child": {"value": "c"}}})  # found once: "[''] › c"
def test_malformed_field_values_never_crash_or_leak_reprs(fields):
    definitions = [
        {
            "id": "customfield_10020",
            "name": "Sprint",
            "custom": True,
            "schema": {"type": "array", "custom": "com.pyxis.greenhopper.jira:gh-sprint"},
        }
    ]
    markdown = render_issue({"key": "ABC-1", "fields": fields}, field_definitions=definitions, base_url=BASE)
    front = parse_frontmatter(markdown)
    assert front["key"] == "ABC-1"
    assert "{'" not in markdown and "['" not in markdown  # no Python reprs


@settings(max_examples=examples(100), deadline=None)
@given(st.lists(st.tuples(TEXT, TEXT.filter(lambda v: v.strip() != "")), min_size=1, max_size=6))
def test_custom_fields_round_trip_under_distinct_slugs(named_values):
    definitions, fields = [], {"summary": "s"}
    for number, (name, value) in enumerate(named_values):
        field_id = f"customfield_{10100 + number}"
        definitions.append({"id": field_id, "name": name, "custom": True, "schema": {"type": "string"}})
        fields[field_id] = value
    front = parse_frontmatter(
        render_issue({"key": "ABC-1", "fields": fields}, field_definitions=definitions, base_url=BASE)
    )
    custom = front["custom_fields"]
    assert len(custom) == len(named_values)  # same or empty names never overwrite each other
    assert sorted(custom.values()) == sorted(value for _, value in named_values)
    assert all(re.fullmatch(r"\w+", slug) for slug in custom)


def test_a_data_center_text_area_field_is_markdown_in_the_frontmatter_as_in_the_body():
    """Data Center sends rich text fields as wiki markup strings: the frontmatter holds their Markdown, not the markup."""
    definition = {
        "id": "customfield_10034",
        "name": "Release Notes",
        "custom": True,
        "schema": {"type": "string", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textarea"},
    }
    wiki = "h2. Ships\n\n* *bold* step\n* see [the guide|https://example.com/guide]"
    issue = {"key": "DC-1", "fields": {"summary": "s", "customfield_10034": wiki}}
    markdown = render_issue(issue, field_definitions=[definition], base_url=BASE)
    notes = parse_frontmatter(markdown)["custom_fields"]["release_notes"]
    assert notes == wiki_to_markdown(wiki)
    assert "**bold**" in notes and "[the guide](https://example.com/guide)" in notes and "h2." not in notes
    assert "### Release Notes" in body_of(markdown)
