"""Rendering throughput: issues per second per core for a rich issue (ADF, Jira Cloud) and a rich
wiki-markup issue (Jira Data Center), and the rate of hostile wiki markup (issue 13).

Run: ``python -m jarkdown_pipeline.bench_render [--seconds 3]``. Rendering is pure Python on one
thread, so the renders per CPU-second of this process are the issues per second per core.
"""

import argparse
import time
from collections.abc import Callable
from typing import Any

from jarkdown_pipeline.markdown import render_issue, wiki_to_markdown

BASE_URL = "https://example.atlassian.net"


def _text(text: str, *marks: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": text}
    if marks:
        node["marks"] = [mark if isinstance(mark, dict) else {"type": mark} for mark in marks]
    return node


def _paragraph(*content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "paragraph", "content": list(content)}


def _doc(*content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "doc", "version": 1, "content": list(content)}


def _item(*content: dict[str, Any]) -> dict[str, Any]:
    return {"type": "listItem", "content": list(content)}


def _user(name: str) -> dict[str, Any]:
    return {"accountId": "acc-" + name.lower().replace(" ", "-"), "displayName": name}


def _rich_description() -> dict[str, Any]:
    blocks: list[dict[str, Any]] = []
    for section in range(8):
        blocks.append({"type": "heading", "attrs": {"level": 2}, "content": [_text(f"Section {section}")]})
        blocks.append(
            _paragraph(
                _text("The service returns "),
                _text("List<String>", "code"),
                _text(" when "),
                _text("retries > 3", "strong"),
                _text(" and the "),
                _text("cache_key_*", "em"),
                _text(" is "),
                _text("stale", {"type": "link", "attrs": {"href": "https://example.com/docs/cache"}}),
                _text(". Ping "),
                {"type": "mention", "attrs": {"id": "acc-ana", "text": "@Ana Lima"}},
                _text(" "),
                {"type": "emoji", "attrs": {"shortName": ":warning:", "text": "⚠️"}},
                {"type": "hardBreak"},
                _text("Due "),
                {"type": "date", "attrs": {"timestamp": "1735689600000"}},
                _text(", status "),
                {"type": "status", "attrs": {"text": "BLOCKED", "color": "red"}},
            )
        )
        blocks.append(
            {
                "type": "bulletList",
                "content": [
                    _item(
                        _paragraph(_text(f"Point {n} with *literal* stars and a | pipe")),
                        {"type": "orderedList", "attrs": {"order": 3}, "content": [_item(_paragraph(_text("nested")))]},
                    )
                    for n in range(4)
                ],
            }
        )
        blocks.append(
            {
                "type": "codeBlock",
                "attrs": {"language": "python"},
                "content": [_text("def f(x):\n    return x ** 2  # ``` inside\n")],
            }
        )
        blocks.append(
            {
                "type": "table",
                "content": [
                    {
                        "type": "tableRow",
                        "content": [
                            {"type": "tableHeader", "content": [_paragraph(_text(h))]} for h in ("Key", "Value", "Note")
                        ],
                    },
                    *[
                        {
                            "type": "tableRow",
                            "content": [
                                {"type": "tableCell", "content": [_paragraph(_text(f"k{r}"))]},
                                {"type": "tableCell", "content": [_paragraph(_text(f"a|b {r}", "code"))]},
                                {
                                    "type": "tableCell",
                                    "content": [_paragraph(_text("line"), {"type": "hardBreak"}, _text("two"))],
                                },
                            ],
                        }
                        for r in range(4)
                    ],
                ],
            }
        )
        blocks.append(
            {
                "type": "panel",
                "attrs": {"panelType": "info"},
                "content": [_paragraph(_text("Remember the rollback plan."))],
            }
        )
        blocks.append(
            {
                "type": "mediaSingle",
                "attrs": {"layout": "center"},
                "content": [
                    {
                        "type": "media",
                        "attrs": {"type": "file", "id": f"m{section}", "collection": "", "alt": "screen.png"},
                    }
                ],
            }
        )
        blocks.append(
            {
                "type": "taskList",
                "attrs": {"localId": f"t{section}"},
                "content": [
                    {
                        "type": "taskItem",
                        "attrs": {"localId": f"i{n}", "state": "DONE" if n % 2 else "TODO"},
                        "content": [_text(f"Task {n}")],
                    }
                    for n in range(3)
                ],
            }
        )
        blocks.append(
            {"type": "expand", "attrs": {"title": "Logs"}, "content": [_paragraph(_text("Hidden details <here>."))]}
        )
    return _doc(*blocks)


def rich_issue() -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """(issue, field definitions, attachment infos) of a large, realistic Cloud issue."""
    comments = [
        {
            "id": str(30000 + n),
            "author": _user("Bo Chen" if n % 2 else "Ana Lima"),
            "created": f"2025-01-{1 + n % 28:02d}T10:00:00.000+0000",
            "updated": f"2025-01-{1 + n % 28:02d}T11:00:00.000+0000"
            if n % 5 == 0
            else f"2025-01-{1 + n % 28:02d}T10:00:00.000+0000",
            "body": _doc(
                _paragraph(
                    _text(f"Comment {n}: we saw "),
                    _text("HTTP 500", "strong"),
                    _text(" on "),
                    _text("/api/v2/items?page=2", "code"),
                    _text("."),
                ),
                {
                    "type": "bulletList",
                    "content": [_item(_paragraph(_text("first"))), _item(_paragraph(_text("second")))],
                },
            ),
            **({"visibility": {"type": "role", "value": "Developers"}} if n % 7 == 0 else {}),
        }
        for n in range(40)
    ]
    worklogs = [
        {
            "id": str(40000 + n),
            "author": _user("Ana Lima"),
            "started": f"2025-02-{1 + n % 28:02d}T09:00:00.000+0000",
            "timeSpent": "1h 30m",
            "timeSpentSeconds": 5400,
            "comment": _doc(_paragraph(_text(f"Work item {n} | profiling"))),
        }
        for n in range(20)
    ]
    definitions = [
        {"id": "customfield_10016", "name": "Story Points", "custom": True, "schema": {"type": "number"}},
        {
            "id": "customfield_10020",
            "name": "Sprint",
            "custom": True,
            "schema": {"type": "array", "items": "json", "custom": "com.pyxis.greenhopper.jira:gh-sprint"},
        },
        {"id": "customfield_10030", "name": "Team", "custom": True, "schema": {"type": "option"}},
        {"id": "customfield_10040", "name": "Region", "custom": True, "schema": {"type": "option-with-child"}},
        {"id": "customfield_10041", "name": "Reviewers", "custom": True, "schema": {"type": "array", "items": "user"}},
        {
            "id": "customfield_10043",
            "name": "Acceptance Criteria",
            "custom": True,
            "schema": {"type": "string", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textarea"},
        },
        {"id": "customfield_10046", "name": "Deployed at", "custom": True, "schema": {"type": "datetime"}},
    ]
    fields: dict[str, Any] = {
        "summary": 'Checkout fails: "List<Item>" > 100 | retries',
        "issuetype": {"name": "Bug"},
        "status": {"name": "In Progress", "statusCategory": {"name": "In Progress"}},
        "priority": {"name": "High"},
        "project": {"key": "APL", "name": "Apollo"},
        "assignee": _user("Ana Lima"),
        "reporter": _user("Bo Chen"),
        "creator": _user("Bo Chen"),
        "labels": ["checkout", "p1", "needs: triage"],
        "components": [{"name": "Payments"}],
        "fixVersions": [{"name": "2.4.0"}],
        "created": "2025-01-01T10:00:00.000+0000",
        "updated": "2025-02-20T10:00:00.000+0000",
        "timetracking": {"originalEstimate": "1w", "timeSpent": "30h", "remainingEstimate": "10h"},
        "description": _rich_description(),
        "environment": _doc(_paragraph(_text("prod-eu, Chrome 131"))),
        "issuelinks": [
            {
                "type": {"inward": "is blocked by", "outward": "blocks"},
                "outwardIssue": {
                    "key": f"APL-{100 + n}",
                    "fields": {"summary": f"Linked {n}", "status": {"name": "To Do"}},
                },
            }
            for n in range(10)
        ],
        "subtasks": [
            {
                "key": f"APL-{200 + n}",
                "fields": {"summary": f"Sub {n}", "status": {"name": "Done"}, "issuetype": {"name": "Sub-task"}},
            }
            for n in range(5)
        ],
        "attachment": [
            {"id": str(50000 + n), "filename": f"file {n}.png", "mimeType": "image/png", "size": 1000 * n}
            for n in range(5)
        ],
        "comment": {"startAt": 0, "maxResults": 40, "total": 40, "comments": comments},
        "worklog": {"startAt": 0, "maxResults": 20, "total": 20, "worklogs": worklogs},
        "customfield_10016": 8.0,
        "customfield_10020": [{"id": 1, "name": "Sprint 7"}, {"id": 2, "name": "Sprint 8"}],
        "customfield_10030": {"value": "Platform"},
        "customfield_10040": {"value": "EMEA", "child": {"value": "Germany"}},
        "customfield_10041": [_user("Ana Lima"), _user("Dee Park")],
        "customfield_10043": _doc(
            {"type": "bulletList", "content": [_item(_paragraph(_text(f"criterion {n}"))) for n in range(6)]}
        ),
        "customfield_10046": "2025-03-01T12:00:00.000+0100",
    }
    attachments = [
        {
            "attachment_id": str(50000 + n),
            "filename": f"file {n}.png",
            "original_filename": f"file {n}.png",
            "mime_type": "image/png",
            "size": 1000 * n,
            "path": f"APL-1/attachments/file {n}.png",
        }
        for n in range(5)
    ] + [
        {
            "attachment_id": "59999",
            "filename": "screen.png",
            "original_filename": "screen.png",
            "mime_type": "image/png",
            "size": 10,
            "path": "APL-1/attachments/screen.png",
        }
    ]
    return {"id": "10001", "key": "APL-1", "fields": fields}, definitions, attachments


def measure_render_throughput(seconds: float = 3.0) -> dict[str, float]:
    """Render the rich issue repeatedly for about ``seconds``; returns issues/s and output size."""
    issue, definitions, attachments = rich_issue()
    known = frozenset(f"APL-{n}" for n in range(100, 105))

    def render_once() -> str:
        return render_issue(
            issue, field_definitions=definitions, attachments=attachments, base_url=BASE_URL, known_issue_keys=known
        )

    markdown = render_once()  # warm-up (imports, caches)
    count = 0
    # CPU time of this (single-threaded) process = time on one core, robust to a busy machine.
    started_cpu, started_wall = time.process_time(), time.perf_counter()
    cpu = 0.0
    while cpu < seconds:
        render_once()
        count += 1
        cpu = time.process_time() - started_cpu
    wall = time.perf_counter() - started_wall
    return {
        "issues_per_second_per_core": count / cpu,
        "renders": count,
        "cpu_seconds": cpu,
        "wall_seconds": wall,
        "markdown_bytes": len(markdown.encode("utf-8")),
    }


# ---------------------------------------------------------------------------------------------
# Wiki markup (Jira Data Center)
# ---------------------------------------------------------------------------------------------

WIKI_DESCRIPTION = """h2. Summary
The *login* page returns _500_ for users with a -stale- {{session}} cookie; see [runbook|https://wiki.example.com/rb].

h3. Steps
# Sign in as [~jdoe]
# Wait for the session to expire
## keep the tab open
# Reload: !screen.png!

||Browser||Version||Result||
|Firefox|128|*fails*|
|Chrome|126|works (/)|

{code:python}
def handler(request):
    return render(request, "login.html")  # *not bold*
{code}

{noformat}
2025-01-15 10:00:00 ERROR session expired
{noformat}

{quote}Seen on prod since the +deploy+ of 15 Jan.{quote}

{panel:title=Workaround}
Clear the cookie, then log in again.
{panel}

{info}Logs attached: [^report.pdf]{info}

{color:red}Priority{color} raised :( -- see H~2~O^2^ notes.
----
line one\\\\line two"""


def rich_wiki_issue() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(issue, attachment infos) of a Data Center issue: a rich wiki description, 20 wiki comments."""
    people = [
        {"name": "jdoe", "key": "JIRAUSER10100", "displayName": "John Doe"},
        {"name": "bo.chen", "key": "JIRAUSER10101", "displayName": "Bo Chen"},
    ]
    comments = [
        {
            "id": str(31000 + n),
            "author": people[n % 2],
            "created": f"2025-01-{1 + n % 28:02d}T10:00:00.000+0000",
            "body": f"Tried *fix {n}*: [~bo.chen] says -no- luck, see [log|https://ci.example.com/{n}] (x)\n* step a\n* step b",
        }
        for n in range(20)
    ]
    fields = {
        "summary": "Login fails after session expiry",
        "status": {"name": "Open", "statusCategory": {"name": "To Do"}},
        "assignee": people[0],
        "reporter": people[1],
        "created": "2025-01-15T10:00:00.000+0000",
        "updated": "2025-01-16T10:00:00.000+0000",
        "description": WIKI_DESCRIPTION,
        "comment": {"startAt": 0, "maxResults": 20, "total": 20, "comments": comments},
    }
    attachments = [
        {"attachment_id": "1", "filename": "screen.png", "mime_type": "image/png", "size": 10},
        {"attachment_id": "2", "filename": "report.pdf", "mime_type": "application/pdf", "size": 20},
    ]
    return {"id": "20001", "key": "DC-1", "fields": fields}, attachments


def hostile_wiki_fields(size: int = 32_768) -> dict[str, str]:
    """Wiki text that costs jira2markdown far more than its length, ``size`` characters each."""

    def fill(unit: str) -> str:
        return (unit * (size // len(unit) + 1))[:size]

    return {
        "emphasis run": "x " + fill("*a "),
        "mixed effects": "x " + fill("*a -b +c ^d ~e ??f "),
        "nested brackets": "[" * (size // 2) + "x" + "]" * (size // 2),
        "open links": fill("[a|"),
        "colour macros": fill("{color:red}"),
        "table": "||" + "h||" * 10 + "\n" + fill("|" + "c|" * 10 + "\n"),
        "list items": fill("* item *b* [l|https://x.org]\n"),
    }


def _cpu_rate(work: Callable[[], Any], seconds: float) -> tuple[int, float]:
    work()  # warm-up (imports, the grammar)
    count, started = 0, time.process_time()
    while (cpu := time.process_time() - started) < seconds or count == 0:
        work()
        count += 1
    return count, max(cpu, 1e-9)


def measure_wiki_render(seconds: float = 3.0, hostile_size: int = 32_768) -> dict[str, float]:
    """Rich wiki issues per CPU-second, and hostile wiki fields (32 KiB each by default): KiB per
    CPU-second over all of them, and the slowest one's CPU seconds."""
    issue, attachments = rich_wiki_issue()
    count, cpu = _cpu_rate(lambda: render_issue(issue, attachments=attachments, base_url=BASE_URL), seconds)
    slowest = 0.0
    total_cpu = 0.0
    fields = hostile_wiki_fields(hostile_size)
    for text in fields.values():
        started = time.process_time()
        wiki_to_markdown(text)
        elapsed = time.process_time() - started
        slowest, total_cpu = max(slowest, elapsed), total_cpu + elapsed
    size = sum(len(text) for text in fields.values())
    return {
        "wiki_issues_per_second_per_core": count / cpu,
        "hostile_wiki_kib_per_second_per_core": size / 1024 / max(total_cpu, 1e-9),
        "hostile_wiki_slowest_field_cpu_seconds": slowest,
        "hostile_wiki_fields": len(fields),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="CPU seconds to keep rendering (default 3)")
    parser.add_argument("--hostile-size", type=int, default=32_768, help="characters per hostile wiki field")
    args = parser.parse_args(argv)
    result = measure_render_throughput(args.seconds)
    print(
        f"render_issue: {result['issues_per_second_per_core']:.1f} issues/s/core "
        f"({result['renders']} renders in {result['cpu_seconds']:.2f} s CPU, {result['wall_seconds']:.2f} s wall; rich issue = "
        f"{result['markdown_bytes'] / 1024:.1f} KiB of Markdown: 40 comments, 20 worklogs, 8 description sections)"
    )
    wiki = measure_wiki_render(args.seconds, args.hostile_size)
    print(
        f"render_issue, wiki markup: {wiki['wiki_issues_per_second_per_core']:.1f} issues/s/core (a rich description, "
        f"20 comments); hostile wiki markup: {wiki['hostile_wiki_kib_per_second_per_core']:.0f} KiB/s/core over "
        f"{wiki['hostile_wiki_fields']:.0f} fields of {args.hostile_size / 1024:.0f} KiB, the slowest {wiki['hostile_wiki_slowest_field_cpu_seconds']:.2f} s"
    )


if __name__ == "__main__":
    main()
