"""The History section and its setting: order, names, shortening, the separate file, re-rendering."""

import random

import pytest

from jarkdown_pipeline.exceptions import ConfigurationError
from jarkdown_pipeline.knowledge_base import KnowledgeBase
from jarkdown_pipeline.markdown import render_issue
from jarkdown_pipeline.markdown.fields import parse_field_definitions
from jarkdown_pipeline.markdown.history import (
    LONG_VALUE_CHARS,
    history_counts,
    history_section,
    shorten,
)
from jarkdown_pipeline.settings import load_settings

DEFINITIONS = [{"id": "customfield_10016", "name": "Story point estimate", "custom": True}]


def entry(entry_id: str, created: str, *items: dict, author: str = "Mia") -> dict:
    return {"id": entry_id, "created": created, "author": {"displayName": author}, "items": list(items)}


def item(field_id: str, before: str | None, after: str | None, field: str | None = None) -> dict:
    return {"field": field or field_id, "fieldId": field_id, "fromString": before, "toString": after}


def an_issue(histories: list, total: int | None = None) -> dict:
    changelog = {"startAt": 0, "maxResults": len(histories), "histories": histories}
    changelog["total"] = len(histories) if total is None else total
    return {
        "id": "1",
        "key": "ABC-1",
        "fields": {"summary": "s", "updated": "2026-11-20T10:00:00.000+0100"},
        "changelog": changelog,
    }


def section(issue: dict) -> str:
    return history_section(issue, parse_field_definitions(DEFINITIONS), lambda user: (user or {}).get("displayName"))


ENTRIES = [
    entry("12", "2026-11-02T10:00:00.000+0100", item("status", "To Do", "Done")),
    entry("11", "2026-11-02T09:00:00.000+0000", item("customfield_10016", "3", "5", field="Story Points")),
    entry("13", "2026-11-02T09:00:00.000+0000", item("assignee", None, "Zoë")),
    entry("2", "2026-11-01T23:30:00.000-0500", item("labels", "", "perf")),
]


def test_entries_come_oldest_first_in_utc_whatever_order_jira_sent():
    text = section(an_issue(ENTRIES))
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    assert lines == ["- 2026-11-02 04:30 UTC · Mia", "- 2026-11-02 09:00 UTC · Mia", "- 2026-11-02 09:00 UTC · Mia",
                     "- 2026-11-02 09:00 UTC · Mia"]  # fmt: skip
    assert (
        text.index("Story point estimate: 3 → 5") < text.index("status:") < text.index("assignee: (none) → Zoë")
    )  # ties: by id
    for _ in range(5):
        shuffled = random.sample(ENTRIES, len(ENTRIES))
        assert section(an_issue(shuffled)) == text


def test_a_custom_field_is_named_by_its_id_today_and_empty_values_say_none():
    text = section(an_issue(ENTRIES))
    assert "Story Points" not in text and "- labels: (none) → perf" in text


def test_long_values_are_shortened_with_their_length_and_short_ones_kept():
    long_value = "word " * 300
    shortened = shorten(long_value)
    assert len(shortened) < LONG_VALUE_CHARS and shortened.endswith(f"… ({len(long_value.strip()):,} characters)")
    assert shorten("a\nb  c") == "a b c" and shorten("x" * LONG_VALUE_CHARS) == "x" * LONG_VALUE_CHARS


def test_missing_entries_are_noted_and_counted():
    issue = an_issue(ENTRIES, total=9)
    assert history_counts(issue) == (9, 4)
    assert section(issue).endswith("*Jira reports 9 changes; 5 could not be fetched.*")
    assert history_counts({"key": "ABC-1"}) == (None, 0)


@pytest.mark.parametrize("mode", ["inline", "separate", "omit"])
def test_the_setting_decides_where_the_history_goes(mode):
    text = render_issue(an_issue(ENTRIES), history=mode)
    assert ("## History" in text) == (mode != "omit")
    assert ("status: To Do → Done" in text) == (mode == "inline")
    assert ("[4 changes](ABC-1.history.md)" in text) == (mode == "separate")


def test_an_unknown_setting_is_refused():
    with pytest.raises(ValueError, match="inline, separate, omit"):
        render_issue(an_issue(ENTRIES), history="sideways")


def test_the_setting_comes_from_jarkdown_history(tmp_path):
    env = {"JIRA_BASE_URL": "https://acme.atlassian.net", "JIRA_EMAIL": "a@b.c", "JIRA_API_TOKEN": "t",
           "JARKDOWN_START_DATE": "2026-01-01", "JARKDOWN_OUTPUT_DIR": str(tmp_path)}  # fmt: skip
    assert load_settings(env).history == "inline"
    assert load_settings({**env, "JARKDOWN_HISTORY": " Separate "}).history == "separate"
    with pytest.raises(ConfigurationError, match="JARKDOWN_HISTORY"):
        load_settings({**env, "JARKDOWN_HISTORY": "all"})


def test_separate_writes_the_history_file_and_changing_the_setting_re_renders(tmp_path):
    kb = KnowledgeBase(tmp_path / "kb")
    kb.write_raw_issue(an_issue(ENTRIES))
    options = {"field_definitions": DEFINITIONS, "base_url": "https://x.example", "known_issue_keys": ["ABC-1"]}
    history_file = kb.issue_dir("ABC-1") / "ABC-1.history.md"
    assert kb.render_issue_file("ABC-1", **options)
    assert not history_file.exists() and "status: To Do → Done" in kb.markdown_path("ABC-1").read_text("utf-8")
    assert kb.render_issue_file("ABC-1", **options, history="separate")
    assert history_file.read_text("utf-8").startswith("# History of [ABC-1](ABC-1.md)\n\n- 2026-11-02 04:30 UTC")
    assert "(ABC-1.history.md)" in kb.markdown_path("ABC-1").read_text("utf-8")
    assert not kb.render_issue_file("ABC-1", **options, history="separate")  # nothing changed
    assert kb.render_issue_file("ABC-1", **options, history="omit")
    assert not history_file.exists() and "## History" not in kb.markdown_path("ABC-1").read_text("utf-8")
