"""The rendering benchmark (`make bench`) keeps working; speed itself is not asserted here."""

from jarkdown_pipeline.bench_render import main, measure_render_throughput, rich_issue
from jarkdown_pipeline.markdown import parse_frontmatter, render_issue


def test_rich_issue_renders_every_section():
    issue, definitions, attachments = rich_issue()
    markdown = render_issue(issue, field_definitions=definitions, attachments=attachments, base_url="https://x.example")
    for section in (
        "Description",
        "Environment",
        "Linked Issues",
        "Subtasks",
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
    main(["--seconds", "0.05"])
    assert "issues/s/core" in capsys.readouterr().out
