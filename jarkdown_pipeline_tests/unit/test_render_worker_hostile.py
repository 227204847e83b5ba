"""The render child keeps going when one issue's data makes rendering raise (here: JSON nested far
deeper than any reader's stack), answering that key with its error and rendering the next."""

import json

from jarkdown_pipeline.knowledge_base import KnowledgeBase
from jarkdown_pipeline.render_worker import RenderWorker

OPTIONS = {
    "field_definitions": [],
    "base_url": "https://example.atlassian.net",
    "include_custom_fields": None,
    "exclude_custom_fields": [],
}


def issue(key: str) -> dict:
    return {
        "id": "1" + key.split("-")[1],
        "key": key,
        "fields": {"summary": f"About {key}", "updated": "2026-11-20T10:00:00.000+0000"},
    }


async def test_a_child_that_meets_a_hostile_issue_answers_it_and_renders_the_rest(tmp_path):
    kb = KnowledgeBase(tmp_path)
    for key in ("ABC-1", "ABC-3"):
        kb.write_raw_issue(issue(key))
    deep = (
        '{"type":"doc","version":1,"content":[' + '{"type":"blockquote","content":[' * 200_000 + "]}" * 200_000 + "]}"
    )
    kb.raw_path("ABC-2").write_text(json.dumps(issue("ABC-2"))[:-2] + ', "description": ' + deep + "}}")
    async with await RenderWorker.start(kb, ["ABC-1", "ABC-2", "ABC-3"], OPTIONS) as worker:
        first, hostile, last = [await worker.render(key) for key in ("ABC-1", "ABC-2", "ABC-3")]
        assert worker._process.returncode is None  # the child is alive after the hostile issue
        again = await worker.render("ABC-2")
    assert (first.written, last.written) == (True, True)
    assert hostile.key == "ABC-2" and hostile.written is None and hostile.error and "\n" not in hostile.error
    assert again.written is None and again.error == hostile.error
    assert kb.markdown_issue_keys() == ["ABC-1", "ABC-3"]
