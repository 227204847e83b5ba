"""The pure core of following moved issues: which fetched issues moved, the note, previous keys."""

from jarkdown_pipeline.knowledge_base.moves import Move, find_moves, move_note, note_target
from jarkdown_pipeline.markdown.history import previous_keys


def test_a_move_is_an_id_the_store_holds_live_under_another_key():
    fetched = [("NEWP-1", "10060"), ("ABC-2", "10002"), ("ABC-3", None), ("ABC-4", 10004)]
    live = {"10060": "HOLD-60", "10002": "ABC-2", "10004": "XYZ-9"}
    assert find_moves(fetched, live) == [Move("HOLD-60", "NEWP-1"), Move("XYZ-9", "ABC-4")]
    assert find_moves(fetched, {}) == []


def test_the_note_links_to_the_new_file_and_is_recognised():
    text = move_note("HOLD-60", "NEWP-1")
    assert "(../NEWP-1/NEWP-1.md)" in text
    assert note_target(text) == "NEWP-1" and note_target(text[:20]) is None
    assert note_target("---\nkey: HOLD-60\nsummary: x\n---\n") is None


def test_previous_keys_come_from_the_changelog_key_changes_oldest_first():
    def entry(entry_id, created, *items):
        return {"id": entry_id, "created": created, "items": list(items)}

    issue = {
        "key": "NEWP-1",
        "changelog": {
            "histories": [
                entry(
                    "3", "2026-11-03T10:00:00.000+0000", {"field": "Key", "fromString": "MID-4", "toString": "NEWP-1"}
                ),
                entry(
                    "1", "2026-11-01T10:00:00.000+0000", {"field": "Key", "fromString": "HOLD-60", "toString": "MID-4"}
                ),
                entry("2", "2026-11-02T10:00:00.000+0000", {"field": "status", "fromString": "A", "toString": "B"}),
                entry("4", "2026-11-04T10:00:00.000+0000", {"field": "Key", "fromString": "<script>", "toString": "X"}),
            ]
        },
    }
    assert previous_keys(issue) == ["HOLD-60", "MID-4"]
    assert previous_keys({"key": "ABC-1"}) == []
