"""The rendering benchmark (`make bench`) keeps working; speed itself is not asserted here."""

from jarkdown_pipeline.bench_render import (
    hostile_wiki_fields,
    main,
    measure_render_throughput,
    rich_issue,
    rich_wiki_issue,
)
from jarkdown_pipeline.markdown import parse_frontmatter, render_issue


def test_rich_issue_renders_every_section():
    issue, definitions, attachments = rich_issue()
    markdown = render_issue(issue, field_definitions=definitions, attachments=attachments, base_url="https://x.example")
    for section in (
        "Description",
        "Environment",
        "Linked Issues",
        "Children",
        "Worklogs",
        "Custom Fields",
        "Comments",
        "Attachments",
    ):
        assert f"\n## {section}\n" in markdown
    assert parse_frontmatter(markdown)["comment_count"] == 40


def test_measure_reports_a_rate(capsys):
    result = measure_render_throughput(seconds=0.05)
    assert result["renders"] >= 1 and result["issues_per_second_per_core"] > 0
    main(["--seconds", "0.05", "--hostile-size", "600"])
    out = capsys.readouterr().out
    assert "issues/s/core" in out and "hostile wiki markup" in out


def test_rich_wiki_issue_renders_its_constructs():
    issue, attachments = rich_wiki_issue()
    markdown = render_issue(issue, attachments=attachments, base_url="https://x.example")
    for expected in (
        "@John Doe",
        "![screen.png](attachments/screen.png)",
        "| Browser | Version | Result |",
        "```python",
    ):
        assert expected in markdown
    assert parse_frontmatter(markdown)["comment_count"] == 20


def test_hostile_wiki_fields_are_the_size_asked():
    assert {len(text) >= 1_000 for text in hostile_wiki_fields(1_000).values()} == {True}
