"""The knowledge base's I/O and the verification the asset checks rely on."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jarkdown_pipeline._files import write_atomically
from jarkdown_pipeline.knowledge_base import (
    FrontmatterError,
    KnowledgeBase,
    markdown_link_targets,
    parse_frontmatter_block,
    write_text_if_changed,
)

# The manifest entry of attachment 5, a one-byte a.txt.
A_TXT = {"attachment_id": "5", "filename": "a.txt", "original_filename": "a.txt", "mime_type": "text/plain", "size": 1}


@pytest.fixture
def kb(tmp_path):
    return KnowledgeBase(tmp_path / "kb")


def issue(key, updated="2026-11-20T10:00:00.000+0100", attachments=()):
    return {
        "id": "1" + key.split("-")[1],
        "key": key,
        "fields": {"updated": updated, "summary": f"About {key}", "attachment": list(attachments)},
    }


def issue_file(key, body="", frontmatter_key=None):
    return f"---\nkey: {frontmatter_key or key}\nsummary: 'x: y'\n---\n\n# {key}\n\n{body}\n"


@pytest.mark.parametrize(
    "module", ["jarkdown_pipeline.knowledge_base", "jarkdown_pipeline.settings", "jarkdown_pipeline.sync"]
)
def test_module_does_not_import_dagster(module):
    code = f"import sys, {module}; print('dagster' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_write_if_changed_leaves_an_equal_file_alone(tmp_path):
    path = tmp_path / "a" / "f.md"
    assert write_text_if_changed(path, "héllo\n") is True
    before = os.stat(path)
    assert write_text_if_changed(path, "héllo\n") is False
    after = os.stat(path)
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    assert write_text_if_changed(path, "changed\n") is True
    assert path.read_text() == "changed\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["f.md"]  # no temp file left


def test_written_files_get_the_mode_of_a_new_file(tmp_path):
    """mkstemp makes owner-only files; the knowledge base is for others to read (0666 less umask)."""
    write_text_if_changed(tmp_path / "f.md", "x\n")
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "f.md").stat().st_mode & 0o777 == 0o666 & ~umask


def test_atomic_write_cleans_up_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "f.txt"
    path.write_text("old")

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_atomically(path, b"new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_a_write_through_a_temp_folder_creates_the_files_folder_and_leaves_nothing_behind(tmp_path, monkeypatch):
    temp_dir, path = tmp_path / "tmp", tmp_path / "deep" / "er" / "f.txt"
    write_atomically(path, b"first", temp_dir=temp_dir)
    write_atomically(path, b"second", temp_dir=temp_dir)
    assert path.read_bytes() == b"second" and os.listdir(temp_dir) == []

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_atomically(path, b"third", temp_dir=temp_dir)
    assert path.read_bytes() == b"second" and os.listdir(temp_dir) == []


def test_a_write_through_a_temp_folder_survives_another_thread_making_the_folder_first(tmp_path, monkeypatch):
    # Two manifests written at once into a missing .jarkdown/attachments/: the other thread's
    # mkdir lands between this one's failed rename and its retry.
    temp_dir, path = tmp_path / "tmp", tmp_path / "shared" / "f.txt"
    real_replace, calls = os.replace, []

    def racing_replace(source, target):
        calls.append(target)
        if len(calls) == 1:
            Path(target).parent.mkdir()  # the other thread
            raise FileNotFoundError(2, "No such file or directory", source)
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", racing_replace)
    write_atomically(path, b"data", temp_dir=temp_dir)
    assert path.read_bytes() == b"data" and len(calls) == 2 and os.listdir(temp_dir) == []


def test_raw_store_round_trip_and_stable_bytes(kb):
    assert kb.read_raw_issue("ABC-1") is None and kb.stored_updated("ABC-1") is None
    assert kb.write_raw_issue(issue("ABC-1")) is True
    assert kb.write_raw_issue(dict(reversed(list(issue("ABC-1").items())))) is False  # key order irrelevant
    assert kb.read_raw_issue("ABC-1") == issue("ABC-1")
    assert kb.stored_updated("ABC-1") == "2026-11-20T10:00:00.000+0100"
    assert kb.raw_path("ABC-1") == kb.root / ".jarkdown" / "raw" / "ABC-1.json"
    assert kb.raw_issue_keys() == {"ABC-1"}


def test_has_raw_issue_is_whether_the_raw_copy_is_a_file(kb):
    assert kb.has_raw_issue("ABC-1") is False
    kb.write_raw_issue(issue("ABC-1"))
    assert kb.has_raw_issue("ABC-1") is True and kb.raw_path("ABC-1").is_file()
    kb.raw_path("ABC-2").mkdir()  # not a file: as Path.is_file() says
    assert kb.has_raw_issue("ABC-2") is False
    with pytest.raises(ValueError, match="not a Jira issue key"):
        kb.has_raw_issue("../ABC-1")


def _raw_dir_names(kb):
    return sorted(path.name for path in kb.raw_path("ABC-1").parent.iterdir())


def test_a_staged_copy_is_aside_until_published_and_never_left_behind(kb):
    """Staging (no lock needed) writes a hidden temporary file in .jarkdown/tmp/; publishing (under
    the lock) puts it in place or removes it: same bytes, an older copy, or discarded."""
    kb.write_raw_issue(issue("ABC-1", updated="2026-11-20T10:30:00.000+0100"))
    newer = kb.stage_raw_issue(issue("ABC-1", updated="2026-11-20T09:31:00.000+0000"))
    assert kb.stored_updated("ABC-1") == "2026-11-20T10:30:00.000+0100"  # not published yet
    assert _raw_dir_names(kb) == ["ABC-1.json"] and Path(newer.temp_name).parent == kb.temp_dir
    assert Path(newer.temp_name).name.startswith(".ABC-1.json.")
    assert kb.publish_raw_issue(newer) is True
    assert kb.stored_updated("ABC-1") == "2026-11-20T09:31:00.000+0000" and _raw_dir_names(kb) == ["ABC-1.json"]
    for copy in (
        issue("ABC-1", updated="2026-11-20T09:31:00.000+0000"),
        issue("ABC-1", updated="2026-11-20T08:00:00.000+0000"),
    ):
        assert kb.publish_raw_issue(kb.stage_raw_issue(copy)) is False  # the same bytes; an older copy
        assert _raw_dir_names(kb) == ["ABC-1.json"]
    assert kb.stored_updated("ABC-1") == "2026-11-20T09:31:00.000+0000"
    kb.discard_staged(kb.stage_raw_issue(issue("ABC-1", updated="2026-11-21T08:00:00.000+0000")))
    assert _raw_dir_names(kb) == ["ABC-1.json"] and kb.stored_updated("ABC-1") == "2026-11-20T09:31:00.000+0000"
    assert os.listdir(kb.temp_dir) == []


def test_a_raw_copy_is_staged_while_another_holds_the_lock(kb):
    """The costly half of storing an issue (encoding, creating its file) waits for no lock holder."""
    import threading

    kb.write_raw_issue(issue("ABC-1"))
    holding, release, released = threading.Event(), threading.Event(), threading.Event()

    def hold():
        with kb.lock():
            holding.set()
            release.wait(10)
        released.set()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        staged = kb.stage_raw_issue(issue("ABC-1", updated="2026-11-21T10:00:00.000+0100"))
        assert not released.is_set()  # staged while the other still held the lock
        assert kb.stored_updated("ABC-1") == "2026-11-20T10:00:00.000+0100"
    finally:
        release.set()
        holder.join(10)
    with kb.lock():
        assert kb.publish_raw_issue(staged) is True
    assert kb.stored_updated("ABC-1") == "2026-11-21T10:00:00.000+0100"


@pytest.mark.parametrize("bad", ["../x-1", "ABC-1/../../etc", "ABC", "-1", "ABC-1.md", "", "A B-1"])
def test_hostile_keys_never_become_paths(kb, bad):
    with pytest.raises(ValueError, match="not a Jira issue key"):
        kb.markdown_path(bad)
    with pytest.raises(ValueError, match="not a Jira issue key"):
        kb.markdown_file_name(bad)
    with pytest.raises(ValueError, match="not a Jira issue key"):
        kb.has_issue_file(bad)
    with pytest.raises(ValueError):
        kb.write_raw_issue({"key": bad})


def test_the_issue_file_by_name_is_the_issue_file_by_path(kb):
    assert kb.markdown_file_name("ABC-1") == str(kb.markdown_path("ABC-1"))
    assert not kb.has_issue_file("ABC-1")
    kb.markdown_path("ABC-1").mkdir(parents=True)  # a folder under the file's name is not the file
    assert not kb.has_issue_file("ABC-1")
    kb.markdown_path("ABC-1").rmdir()
    kb.write_markdown("ABC-1", issue_file("ABC-1"))
    assert kb.has_issue_file("ABC-1")


def test_manifest_keeps_description_not_run_outcome(kb):
    first = [
        {
            "attachment_id": 10,
            "filename": "a.png",
            "original_filename": "a.png",
            "mime_type": "image/png",
            "size": 3,
            "path": "/abs/ABC-1/attachments/a.png",
            "status": "downloaded",
            "bytes_downloaded": 3,
        }
    ]
    again = [{**first[0], "status": "skipped", "bytes_downloaded": 0}]
    assert kb.write_attachment_manifest("ABC-1", first) is True
    assert kb.write_attachment_manifest("ABC-1", again) is False
    assert kb.read_attachment_manifest("ABC-1") == [
        {
            "attachment_id": "10",
            "filename": "a.png",
            "original_filename": "a.png",
            "mime_type": "image/png",
            "size": 3,
            "path": "attachments/a.png",
        }
    ]
    assert kb.read_attachment_manifest("ABC-2") == []


def test_prune_attachments_keeps_current_and_in_progress_files(kb):
    folder = kb.attachments_dir("ABC-1")
    folder.mkdir(parents=True)
    for name in ("keep.png", "gone.txt", ".keep.png.x.part", "other.tmp"):
        (folder / name).write_text("x")
    assert kb.prune_attachments("ABC-1", ["keep.png"]) == ["gone.txt"]
    assert sorted(p.name for p in folder.iterdir()) == [".keep.png.x.part", "keep.png", "other.tmp"]
    assert kb.prune_attachments("ABC-9", []) == []


def test_move_to_removed_and_restore(kb):
    kb.write_raw_issue(issue("ABC-9"))
    kb.write_attachment_manifest("ABC-9", [])
    kb.write_markdown("ABC-9", issue_file("ABC-9"))
    (kb.attachments_dir("ABC-9")).mkdir()
    (kb.attachments_dir("ABC-9") / "a.bin").write_bytes(b"123")

    assert kb.move_to_removed("ABC-9") is True
    assert not kb.issue_dir("ABC-9").exists() and kb.live_issue_keys() == set()
    removed = kb.root / "_removed"
    assert (removed / "ABC-9" / "ABC-9.md").is_file()
    assert (removed / "ABC-9" / "attachments" / "a.bin").read_bytes() == b"123"
    assert (removed / ".jarkdown" / "raw" / "ABC-9.json").is_file()
    assert kb.move_to_removed("ABC-9") is False

    assert kb.restore_from_removed("ABC-9") is True
    assert kb.markdown_path("ABC-9").is_file() and kb.raw_issue_keys() == {"ABC-9"}
    assert (kb.attachments_dir("ABC-9") / "a.bin").read_bytes() == b"123"
    assert not (removed / "ABC-9").exists()


def test_a_newer_removal_replaces_an_older_one(kb):
    kb.write_markdown("ABC-9", issue_file("ABC-9", "old"))
    kb.move_to_removed("ABC-9")
    kb.write_markdown("ABC-9", issue_file("ABC-9", "new"))
    kb.move_to_removed("ABC-9")
    assert "new" in (kb.root / "_removed" / "ABC-9" / "ABC-9.md").read_text()


def test_files_linking_to(kb):
    kb.write_markdown("ABC-1", issue_file("ABC-1", "[ABC-9](../ABC-9/ABC-9.md)"))
    kb.write_markdown("ABC-2", issue_file("ABC-2", "[ABC-3](../ABC-3/ABC-3.md)"))
    assert kb.files_linking_to(["ABC-9"]) == ["ABC-1"]
    assert kb.files_linking_to([]) == []


def test_files_linking_to_jira(kb):
    kb.write_markdown("ABC-1", issue_file("ABC-1", "[ABC-9](https://acme.atlassian.net/browse/ABC-9)"))
    kb.write_markdown("ABC-2", issue_file("ABC-2", "[ABC-90](https://acme.atlassian.net/browse/ABC-90)"))
    assert kb.files_linking_to_jira(["ABC-9"]) == ["ABC-1"]
    assert kb.files_linking_to_jira(["ABC-90", "ABC-9"]) == ["ABC-1", "ABC-2"]
    assert kb.files_linking_to_jira([]) == []


def test_markdown_keys_sorted_naturally_and_ignore_other_folders(kb):
    for key in ("ABC-10", "ABC-2", "XY-1"):
        kb.write_markdown(key, issue_file(key))
    (kb.root / "_removed" / "ABC-3").mkdir(parents=True)
    (kb.root / "notes").mkdir()
    (kb.root / "ABC-4").mkdir()  # no ABC-4.md inside
    assert kb.markdown_issue_keys() == ["ABC-2", "ABC-10", "XY-1"]
    assert kb.missing_issue_files(["ABC-2", "ABC-4", "ABC-11"]) == ["ABC-4", "ABC-11"]


def test_link_targets_are_parsed_not_grepped():
    text = (
        '[a](attachments/my%20file.png) ![img](attachments/x.png "title")\n\n'
        "`[not](a-link.md)`\n\n```\n[also not](b.md)\n```\n\n"
        '<img src="attachments/y.png"> [ext](https://jira.example/browse/ABC-1) [anchor](#top)\n\n'
        "| col |\n|---|\n| [cell](../ABC-2/ABC-2.md) |\n"
    )
    assert markdown_link_targets(text) == [
        "attachments/my%20file.png",
        "attachments/x.png",
        "attachments/y.png",
        "https://jira.example/browse/ABC-1",
        "#top",
        "../ABC-2/ABC-2.md",
    ]


def test_broken_links(kb):
    kb.write_markdown("ABC-2", issue_file("ABC-2"))
    (kb.attachments_dir("ABC-1")).mkdir(parents=True)
    (kb.attachments_dir("ABC-1") / "my file.png").write_bytes(b"x")
    body = (
        "[ok](../ABC-2/ABC-2.md) [ok](attachments/my%20file.png#frag) [jira](https://x.atlassian.net/browse/ABC-3)\n"
        "[gone](../ABC-3/ABC-3.md) [escape](../../../etc/passwd) ![missing](attachments/none.png)"
    )
    kb.write_markdown("ABC-1", issue_file("ABC-1", body))
    broken = kb.broken_links([kb.markdown_path("ABC-1"), kb.markdown_path("ABC-2")])
    assert [(b.file, b.target, b.reason) for b in broken] == [
        ("ABC-1/ABC-1.md", "../ABC-3/ABC-3.md", "no such file"),
        ("ABC-1/ABC-1.md", "../../../etc/passwd", "points outside the knowledge base"),
        ("ABC-1/ABC-1.md", "attachments/none.png", "no such file"),
    ]


def test_broken_links_looks_each_target_up_once_and_reports_it_in_every_file(kb, monkeypatch):
    kb.write_markdown("ABC-2", issue_file("ABC-2"))
    for key in ("ABC-1", "ABC-3"):
        kb.write_markdown(key, issue_file(key, "[up](../ABC-2/ABC-2.md) [gone](../ABC-9/ABC-9.md)"))
    looked_up = []
    original_exists = os.path.exists
    monkeypatch.setattr(os.path, "exists", lambda path: looked_up.append(path) or original_exists(path))
    broken = kb.broken_links([kb.markdown_path("ABC-1"), kb.markdown_path("ABC-3")])
    assert [(b.file, b.target) for b in broken] == [
        ("ABC-1/ABC-1.md", "../ABC-9/ABC-9.md"),
        ("ABC-3/ABC-3.md", "../ABC-9/ABC-9.md"),
    ]
    assert sorted(os.path.basename(path) for path in looked_up) == ["ABC-2.md", "ABC-9.md"]


def test_frontmatter_parsing_and_problems(kb):
    assert parse_frontmatter_block('---\nkey: ABC-1\nsummary: "a: b"\n---\nbody') == {"key": "ABC-1", "summary": "a: b"}
    for bad in ("no frontmatter", "---\nkey: [unclosed\n---\n", "---\n- a list\n---\n", "---\nkey: x\n"):
        with pytest.raises(FrontmatterError):
            parse_frontmatter_block(bad)
    kb.write_markdown("ABC-1", issue_file("ABC-1"))
    kb.write_markdown("ABC-2", issue_file("ABC-2", frontmatter_key="ABC-20"))
    kb.write_markdown("ABC-3", "# no frontmatter\n")
    problems = [str(p) for p in kb.verify_issue_files(["ABC-1", "ABC-2", "ABC-3", "ABC-4"])[0]]
    assert problems == [
        "ABC-2/ABC-2.md: frontmatter key is 'ABC-20', expected 'ABC-2'",
        "ABC-3/ABC-3.md: no frontmatter: the file does not start with a '---' line",
        "ABC-4/ABC-4.md: file is missing",
    ]
    rows, unreadable = kb.index_rows()
    assert [row["key"] for row in rows] == ["ABC-1", "ABC-20"]
    assert [p.file for p in unreadable] == ["ABC-3/ABC-3.md"]


def test_section_counts_are_read_from_the_frontmatter_only(kb):
    counts = "comments_total: 3\ncomments_written: 2\nhistory_total: 40\nhistory_written: 40\nworklogs_total: null\n"
    kb.write_markdown("ABC-1", f"---\nkey: ABC-1\n{counts}---\n\nattachments_total: 9\nattachments_written: 1\n")
    # Edited on Windows: CRLF lines; and a file whose frontmatter never ends (its whole head is read).
    kb.write_markdown("ABC-2", "---\r\nkey: ABC-2\r\nattachments_total: 2\r\nattachments_written: 1\r\n---\r\n")
    kb.write_markdown("ABC-3", "---\nkey: ABC-3\nworklogs_total: 5\nworklogs_written: 0\n" + "x: y\n" * 20_000)
    found = [str(section) for section in kb.incomplete_issue_files(["ABC-1", "ABC-2", "ABC-3", "ABC-4"])]
    # The body's lookalike lines (ABC-1), a null count and the missing file (another check's) are not counted.
    assert found == [
        "ABC-1: comments 2 of 3 written",
        "ABC-2: attachments 1 of 2 written",
        "ABC-3: worklogs 0 of 5 written",
    ]


def test_run_records(kb):
    kb.write_run_record("run-1", "issues", {"keys": ["ABC-1"]})
    assert kb.read_run_record("run-1", "issues") == {"keys": ["ABC-1"]}
    assert kb.read_run_record("run-2", "issues") is None
    with pytest.raises(ValueError):
        kb.write_run_record("../x", "issues", {})
    old = kb.runs_dir / "run-1"
    os.utime(old, (1, 1))
    kb.write_run_record("run-3", "issues", {})
    assert kb.prune_run_records(3600) == 1
    assert sorted(p.name for p in kb.runs_dir.iterdir()) == ["run-3"]


def test_fields_store_sorted(kb):
    assert kb.read_fields() is None
    assert kb.write_fields([{"id": "b"}, {"id": "a"}]) is True
    assert kb.write_fields([{"id": "a"}, {"id": "b"}]) is False
    assert kb.read_fields() == [{"id": "a"}, {"id": "b"}]


def test_links_in_code_are_not_links_even_when_they_would_be_broken(kb):
    kb.write_markdown("ABC-2", issue_file("ABC-2"))
    body = "[ok](../ABC-2/ABC-2.md)\n\n```\n[not a link](../ABC-404/ABC-404.md)\n```\n\n`[nor](missing.png)`\n"
    kb.write_markdown("ABC-1", issue_file("ABC-1", body))
    assert kb.broken_links([kb.markdown_path("ABC-1")]) == []


@pytest.mark.parametrize(
    "body",
    [
        "[a](attachments/file%20(1).png)",  # balanced parentheses: the regex sees "attachments/file%20(1"
        "[a](<attachments/file (1).png>)",
        "[ref]\n\n[ref]: attachments/file%20(1).png",
        '<img src="attachments/file (1).png">',
    ],
)
def test_every_link_form_is_checked(kb, body):
    kb.attachments_dir("ABC-1").mkdir(parents=True)
    kb.write_markdown("ABC-1", issue_file("ABC-1", body))
    assert kb.broken_links([kb.markdown_path("ABC-1")]) != []  # the file does not exist yet
    (kb.attachments_dir("ABC-1") / "file (1).png").write_bytes(b"x")
    assert kb.broken_links([kb.markdown_path("ABC-1")]) == []


def test_an_older_copy_never_replaces_a_newer_one(kb):
    assert kb.write_raw_issue(issue("ABC-1", updated="2026-11-20T10:30:00.000+0100")) is True
    # 09:00 UTC is 10:00 in +01:00: fetched before the stored copy, so not written.
    assert kb.write_raw_issue(issue("ABC-1", updated="2026-11-20T09:00:00.000+0000")) is False
    assert kb.stored_updated("ABC-1") == "2026-11-20T10:30:00.000+0100"
    # 09:31 UTC is 10:31 in +01:00: newer, written.
    assert kb.write_raw_issue(issue("ABC-1", updated="2026-11-20T09:31:00.000+0000")) is True
    assert kb.stored_updated("ABC-1") == "2026-11-20T09:31:00.000+0000"


def test_stored_since(kb):
    kb.write_raw_issue(issue("ABC-1"))
    old = time.time() - 60
    os.utime(kb.raw_path("ABC-1"), (old, old))
    assert kb.stored_since("ABC-1", time.time() - 30) is False
    kb.write_markdown("ABC-1", issue_file("ABC-1"))
    assert kb.stored_since("ABC-1", time.time() - 30) is True
    assert kb.stored_since("ABC-2", 0) is False


def test_lock_excludes_other_holders(kb):
    import threading

    order = []

    def take_the_lock():
        with kb.lock():
            order.append("other")

    with kb.lock():
        other = threading.Thread(target=take_the_lock)
        other.start()
        other.join(0.2)
        order.append("first")
    other.join(5)
    assert order == ["first", "other"]


def test_an_issue_file_is_not_rendered_again_while_nothing_it_comes_from_changed(kb, monkeypatch):
    import jarkdown_pipeline.knowledge_base.render_cache as knowledge_base  # where the renderer is called

    renders = []
    real_render = knowledge_base.render_issue_document
    monkeypatch.setattr(
        knowledge_base, "render_issue_document", lambda *a, **kw: renders.append(a[0]["key"]) or real_render(*a, **kw)
    )
    linking = issue("ABC-1")
    linking["fields"]["issuelinks"] = [
        {
            "id": "9",
            "type": {"name": "Relates", "inward": "relates to", "outward": "relates to"},
            "outwardIssue": {"id": "2", "key": "ABC-2", "fields": {"summary": "linked"}},
        }
    ]
    kb.write_raw_issue(linking)
    fields = [{"id": "summary", "name": "Summary", "custom": False}]
    options = {"field_definitions": fields, "base_url": "https://example.atlassian.net"}

    def render(known=("ABC-1",), **changes):
        renders.clear()
        written = kb.render_issue_file("ABC-1", known_issue_keys=known, **{**options, **changes})
        return written, len(renders)

    assert render() == (True, 1)
    assert render() == (False, 0)  # nothing changed: not even rendered
    assert render(known=("ABC-1", "ABC-77")) == (False, 0)  # a key the issue never mentions
    written, rendered = render(known=("ABC-1", "ABC-2"))  # the linked issue arrived: local link now
    assert (written, rendered) == (True, 1) and "(../ABC-2/ABC-2.md)" in kb.markdown_path("ABC-1").read_text(
        encoding="utf-8"
    )
    assert render(known=("ABC-1", "ABC-2")) == (False, 0)
    kb.write_attachment_manifest("ABC-1", [dict(A_TXT)])
    assert render(known=("ABC-1", "ABC-2")) == (True, 1)
    assert render(known=("ABC-1", "ABC-2"), base_url="https://other.atlassian.net") == (True, 1)
    assert (
        render(known=("ABC-1", "ABC-2"), base_url="https://other.atlassian.net", exclude_custom_fields=["Team"])[1] == 1
    )
    # Edited or deleted by hand: rendered (and restored) again.
    path = kb.markdown_path("ABC-1")
    original = path.read_text(encoding="utf-8")
    path.write_text(original + "edited\n", encoding="utf-8")
    assert render(known=("ABC-1", "ABC-2"), base_url="https://other.atlassian.net", exclude_custom_fields=["Team"]) == (
        True,
        1,
    )
    assert path.read_text(encoding="utf-8") == original
    path.unlink()
    assert render(known=("ABC-1", "ABC-2"), base_url="https://other.atlassian.net", exclude_custom_fields=["Team"]) == (
        True,
        1,
    )
    # Other field definitions (a new list, equal or not) and a new renderer are inputs too.
    assert (
        render(
            known=("ABC-1", "ABC-2"),
            field_definitions=[*fields, {"id": "customfield_1", "name": "Team", "custom": True}],
            base_url="https://other.atlassian.net",
            exclude_custom_fields=["Team"],
        )[1]
        == 1
    )
    monkeypatch.setattr(knowledge_base, "renderer_fingerprint", lambda: b"another renderer")
    assert (
        render(known=("ABC-1", "ABC-2"), base_url="https://other.atlassian.net", exclude_custom_fields=["Team"])[1] == 1
    )
    # The record is in the state store (no sidecar file); the issue's state follows it to _removed/ and back.
    assert not kb.rendered_record_path("ABC-1").exists()
    assert kb.move_to_removed("ABC-1") and kb.store.get_issues(["ABC-1"])["ABC-1"].state == "removed"
    assert kb.restore_from_removed("ABC-1") and kb.store.get_issues(["ABC-1"])["ABC-1"].state == "live"
    assert render(known=("ABC-1", "ABC-2"), base_url="https://other.atlassian.net", exclude_custom_fields=["Team"]) == (
        False,
        0,
    )


# -- mentions of known keys (part of what decides that an issue file needs rendering) -------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from jarkdown_pipeline.knowledge_base import mention_pattern  # noqa: E402

PROJECT = st.from_regex(r"[A-Z][A-Z0-9_]{0,6}", fullmatch=True)
KEY = st.builds(lambda project, number: f"{project}-{number}", PROJECT, st.integers(1, 99999))


@settings(max_examples=300, deadline=None)
@given(known=st.frozensets(KEY, max_size=12), noise=st.lists(st.text(max_size=12), max_size=8), data=st.data())
def test_mention_pattern_finds_at_least_the_known_keys_the_generic_pattern_finds(known, noise, data):
    mentioned = data.draw(st.lists(st.sampled_from(sorted(known)), max_size=6)) if known else []
    parts = noise + mentioned + data.draw(st.lists(KEY, max_size=4))
    text = data.draw(st.permutations(parts)) if parts else []
    raw = "".join(f'"{part}" ' if i % 2 else f"x{part}-" for i, part in enumerate(text)).encode()
    generic = {match.decode() for match in mention_pattern(()).findall(raw)} & known
    found = {match.decode() for match in mention_pattern(known).findall(raw)} & known
    assert found >= generic  # more is harmless (a key glued to a word), less would miss a re-render
    assert set(mentioned) <= found


def test_mention_pattern_falls_back_to_the_generic_pattern_for_many_projects():
    many = {f"P{n}-1" for n in range(500)}
    assert mention_pattern(many).findall(b'"P42-1" and Q-2') == [b"P42-1", b"Q-2"]
    assert mention_pattern({"ABC-1"}).findall(b'"ABC-7" and Q-2') == [b"ABC-7"]


def test_the_index_takes_the_row_recorded_at_render_time_only_while_the_file_is_as_written(kb):

    from jarkdown_pipeline.markdown import render_index
    from jarkdown_pipeline.state_store import RenderedFile

    issue = {
        "id": "1",
        "key": "ABC-1",
        "fields": {"summary": "Rendered summary", "updated": "2026-11-20T10:00:00.000+0000"},
    }
    kb.write_raw_issue(issue)
    assert kb.render_issue_file("ABC-1", field_definitions=[], base_url="https://x.example", known_issue_keys=["ABC-1"])
    record = kb.store.get_issues(["ABC-1"])["ABC-1"]
    assert record.index_row["summary"] == "Rendered summary" and record.index_row["key"] == "ABC-1"
    path = kb.markdown_path("ABC-1")
    calls = []
    original = kb._current_records
    kb._current_records = lambda keys: calls.append(original(keys)) or calls[-1]
    rows, problems = kb.index_rows()
    as_rendered = RenderedFile(
        record.markdown_size, record.markdown_mtime_ns, record.render_inputs, record.index_row, record.link_targets
    )
    assert rows == [record.index_row] and problems == [] and calls == [{"ABC-1": as_rendered}]
    path.write_text(
        path.read_text(encoding="utf-8").replace("Rendered summary", "Edited by hand, longer"), encoding="utf-8"
    )
    rows, problems = kb.index_rows()
    assert calls[-1] == {} and rows[0]["summary"] == "Edited by hand, longer"
    assert "Edited by hand, longer" in render_index(rows)


def test_verify_issue_files_reparses_a_file_changed_since_it_was_rendered(kb):
    issue = {"id": "1", "key": "ABC-1", "fields": {"summary": "S", "updated": "2026-11-20T10:00:00.000+0000"}}
    kb.write_raw_issue(issue)
    kb.render_issue_file("ABC-1", field_definitions=[], base_url="https://x.example", known_issue_keys=["ABC-1"])
    assert kb.verify_issue_files(["ABC-1"]) == ([], [])
    path = kb.markdown_path("ABC-1")
    path.write_text(path.read_text(encoding="utf-8").replace("key: ABC-1", "key: ABC-2 [broken"), encoding="utf-8")
    problems, broken = kb.verify_issue_files(["ABC-1"])
    assert [p.file for p in problems] == ["ABC-1/ABC-1.md"] and broken == []


def test_verify_issue_files_resolves_recorded_links_without_reading_the_file(kb, monkeypatch):
    issue = {
        "id": "1",
        "key": "ABC-1",
        "fields": {
            "summary": "S",
            "updated": "2026-11-20T10:00:00.000+0000",
            "attachment": [{"id": "5", "filename": "a.txt", "size": 1}],
        },
    }
    kb.write_raw_issue(issue)
    kb.write_attachment_manifest("ABC-1", [dict(A_TXT)])
    (kb.attachments_dir("ABC-1")).mkdir(parents=True)
    attachment = kb.attachments_dir("ABC-1") / "a.txt"
    attachment.write_bytes(b"x")
    kb.render_issue_file("ABC-1", field_definitions=[], base_url="https://x.example", known_issue_keys=["ABC-1"])
    assert kb.store.get_issues(["ABC-1"])["ABC-1"].link_targets == ("attachments/a.txt",)
    reads = []
    original_read_text = Path.read_text
    monkeypatch.setattr(
        Path, "read_text", lambda self, *a, **k: reads.append(self.name) or original_read_text(self, *a, **k)
    )
    assert kb.verify_issue_files(["ABC-1"]) == ([], []) and reads == []  # all links resolve: not read
    attachment.unlink()  # a link breaks: the file is read, and the real link reported
    problems, broken = kb.verify_issue_files(["ABC-1"])
    assert problems == [] and reads == ["ABC-1.md"]
    assert [(b.file, b.target, b.reason) for b in broken] == [("ABC-1/ABC-1.md", "attachments/a.txt", "no such file")]
    assert broken == kb.broken_links([kb.markdown_path("ABC-1")])
