"""Parent, epic and children: frontmatter keys, the Parent line under the title, the Children section."""

import pytest

from jarkdown_pipeline.markdown import render_issue
from jarkdown_pipeline.markdown.frontmatter import parse_frontmatter

EPIC_LINK = {
    "id": "customfield_10014",
    "name": "Epic Link",
    "custom": True,
    "schema": {"type": "any", "custom": "com.pyxis.greenhopper.jira:gh-epic-link"},
}


def ref(key: str, type_name: str, status: str = "To Do", level: int = 0) -> dict:
    fields = {
        "summary": f"About {key}",
        "status": {"name": status},
        "issuetype": {"name": type_name, "hierarchyLevel": level},
    }
    return {"id": "9" + key.split("-")[1], "key": key, "fields": fields}


def story(**fields) -> dict:
    return {"id": "1", "key": "ABC-5", "fields": {"summary": "A story", **fields}}


def front(text: str) -> dict:
    return parse_frontmatter(text)


def test_a_cloud_story_under_an_epic_with_sub_tasks():
    issue = story(
        parent=ref("ABC-1", "Epic", "In Progress", 1),
        subtasks=[ref("ABC-6", "Sub-task", "Done", -1), ref("ABC-7", "Sub-task")],
    )
    text = render_issue(issue, base_url="https://x.example", known_issue_keys={"ABC-1", "ABC-6"})
    data = front(text)
    assert (data["parent"], data["epic"], data["children"]) == ("ABC-1", "ABC-1", ["ABC-6", "ABC-7"])
    assert "\n\nParent: [ABC-1](../ABC-1/ABC-1.md): About ABC-1 (In Progress, Epic)\n\n## " in text
    assert "## Children\n\n- [ABC-6](../ABC-6/ABC-6.md): About ABC-6 (Done, Sub-task)\n" in text
    assert "- [ABC-7](https://x.example/browse/ABC-7): About ABC-7 (To Do, Sub-task)" in text


def test_a_data_center_story_names_its_epic_in_epic_link():
    issue = story(customfield_10014="ABC-1")
    text = render_issue(issue, field_definitions=[EPIC_LINK], base_url="https://dc.example", known_issue_keys={"ABC-1"})
    data = front(text)
    assert (data["parent"], data["epic"], data["children"]) == (None, "ABC-1", [])
    assert "\n\nEpic: [ABC-1](../ABC-1/ABC-1.md)\n\n" in text and "Parent:" not in text


@pytest.mark.parametrize("parent", [None, "ABC-1", {"key": "not a key"}, {"key": "ABC-2", "fields": "junk"}])
def test_malformed_or_missing_hierarchy_never_breaks_the_page(parent):
    text = render_issue(story(parent=parent, subtasks=[None, {"key": 5}, "ABC-9"]))
    data = front(text)
    assert data["children"] == [] and "## Children" not in text
    assert data["parent"] == (parent["key"] if isinstance(parent, dict) and parent["key"] == "ABC-2" else None)


def test_an_epics_children_from_the_mirror_follow_its_sub_tasks_in_key_order():
    epic = {
        "id": "1",
        "key": "ABC-1",
        "fields": {"summary": "An epic", "subtasks": [ref("ABC-30", "Sub-task"), ref("ABC-4", "Sub-task")]},
    }
    mirrored = [
        ref("ABC-12", "Story", "In Progress"),
        ref("ABC-9", "Task", "Done"),
        ref("ABC-30", "Sub-task", "Done"),  # a sub-task the mirror holds: its status from there
        ref("ABC-1", "Epic"),  # never its own child
    ]
    text = render_issue(
        epic, base_url="https://x.example", known_issue_keys={"ABC-9", "ABC-12", "ABC-30"}, children=mirrored
    )
    assert front(text)["children"] == ["ABC-30", "ABC-4", "ABC-9", "ABC-12"]
    assert (
        "## Children\n\n"
        "- [ABC-30](../ABC-30/ABC-30.md): About ABC-30 (Done, Sub-task)\n"
        "- [ABC-4](https://x.example/browse/ABC-4): About ABC-4 (To Do, Sub-task)\n"
        "- [ABC-9](../ABC-9/ABC-9.md): About ABC-9 (Done, Task)\n"
        "- [ABC-12](../ABC-12/ABC-12.md): About ABC-12 (In Progress, Story)\n"
    ) in text
    # The order the mirror gives them in does not matter: the same bytes.
    again = render_issue(
        epic, base_url="https://x.example", known_issue_keys={"ABC-9", "ABC-12", "ABC-30"}, children=mirrored[::-1]
    )
    assert again == text
    assert "## Children" not in render_issue({"id": "2", "key": "ABC-2", "fields": {}}, children=[])
