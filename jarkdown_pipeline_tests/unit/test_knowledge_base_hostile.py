"""The knowledge base against a hostile output folder: symbolic links out of it, temp files left by a
killed run, and the reconciliation guard's arithmetic. Real links to a folder outside the root; every
test asserts the outside files are untouched."""

import os
import tempfile
import time
from pathlib import Path

import pytest

from jarkdown_pipeline._files import STALE_TEMP_FILE_SECONDS, SymlinkRefusedError, remove_stale_temp_files
from jarkdown_pipeline.exceptions import IssueError
from jarkdown_pipeline.knowledge_base import KnowledgeBase
from jarkdown_pipeline.render_worker import render_issue_outcome
from jarkdown_pipeline.sync import RemovalGuard
from jarkdown_pipeline_tests.plugins.knowledge_base import contents

OPTIONS = {
    "field_definitions": [],
    "base_url": "https://example.atlassian.net",
    "include_custom_fields": None,
    "exclude_custom_fields": [],
}
LONG_AGO = time.time() - STALE_TEMP_FILE_SECONDS - 60


def issue(key: str, updated: str = "2026-11-20T10:00:00.000+0100") -> dict:
    return {
        "id": "1" + key.split("-")[1],
        "key": key,
        "fields": {"updated": updated, "summary": f"About {key}", "attachment": []},
    }


@pytest.fixture
def kb(tmp_path) -> KnowledgeBase:
    return KnowledgeBase(tmp_path / "kb")


def link(path: Path, target: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target, target_is_directory=target.is_dir())


def test_render_refuses_a_symlinked_issue_folder_as_that_issues_error(kb, outside):
    kb.write_raw_issue(issue("ABC-1"))
    kb.write_raw_issue(issue("ABC-2"))
    link(kb.root / "ABC-1", outside)
    before = contents(outside)
    outcome = render_issue_outcome(kb, "ABC-1", frozenset({"ABC-1", "ABC-2"}), OPTIONS)
    assert (
        outcome.written is None
        and outcome.error == "refused: ABC-1 is a symbolic link (nothing is written through links)"
    )
    assert render_issue_outcome(kb, "ABC-2", frozenset({"ABC-1", "ABC-2"}), OPTIONS).written is True
    assert contents(outside) == before


def test_a_symlinked_issue_file_is_refused_and_its_target_untouched(kb, outside):
    kb.write_raw_issue(issue("ABC-1"))
    link(kb.markdown_path("ABC-1"), outside / "precious.txt")
    with pytest.raises(IssueError) as caught:
        kb.render_issue_file("ABC-1", known_issue_keys=(), **OPTIONS)
    assert caught.value.key == "ABC-1" and "ABC-1/ABC-1.md is a symbolic link" in caught.value.reason
    assert (outside / "precious.txt").read_text() == "keep me" and kb.markdown_path("ABC-1").is_symlink()


@pytest.mark.parametrize("linked", [".jarkdown/raw", ".jarkdown", "ABC-1/attachments", ".jarkdown/attachments"])
def test_no_write_of_an_issue_goes_through_a_symlinked_folder(kb, outside, linked):
    kb.root.mkdir()
    link(kb.root / linked, outside)
    before = contents(outside)
    attempts = [
        lambda: kb.write_raw_issue(issue("ABC-1")),
        lambda: kb.write_attachment_manifest("ABC-1", [{"attachment_id": "1", "filename": "a.txt"}]),
        lambda: kb.prune_attachments("ABC-1", []),
        lambda: kb.render_issue_file("ABC-1", known_issue_keys=(), **OPTIONS),
    ]
    refused = 0
    for attempt in attempts:
        try:
            attempt()
        except IssueError as error:
            if error.reason.startswith("no stored issue JSON"):
                continue  # rendering without the raw JSON it could not store
            assert error.key == "ABC-1" and "is a symbolic link" in error.reason
            refused += 1
    assert refused >= 1
    assert contents(outside) == before


def test_pruning_never_deletes_through_a_symlinked_attachments_folder(kb, outside):
    (kb.issue_dir("ABC-1")).mkdir(parents=True)
    link(kb.attachments_dir("ABC-1"), outside)
    with pytest.raises(IssueError, match="ABC-1/attachments is a symbolic link"):
        kb.prune_attachments("ABC-1", keep=[])
    assert contents(outside) == {"precious.txt": b"keep me"}


def test_pruning_refuses_a_symlinked_attachment_file(kb, outside):
    folder = kb.attachments_dir("ABC-1")
    folder.mkdir(parents=True)
    link(folder / "old.txt", outside / "precious.txt")
    with pytest.raises(IssueError, match="attachments/old.txt is a symbolic link"):
        kb.prune_attachments("ABC-1", keep=[])
    assert (outside / "precious.txt").read_text() == "keep me"


def test_moves_to_and_from_removed_refuse_symlinks(kb, outside):
    kb.write_raw_issue(issue("ABC-1"))
    kb.write_markdown("ABC-1", "---\nkey: ABC-1\n---\n")
    link(kb.removed_dir, outside)
    with pytest.raises(IssueError, match="_removed is a symbolic link"):
        kb.move_to_removed("ABC-1")
    assert kb.markdown_path("ABC-1").is_file() and kb.raw_path("ABC-1").is_file()  # nothing moved
    assert contents(outside) == {"precious.txt": b"keep me"}

    kb.removed_dir.unlink()
    (kb.removed_dir / "ABC-2").parent.mkdir(parents=True)
    link(kb.removed_dir / "ABC-2", outside)
    with pytest.raises(IssueError, match="_removed/ABC-2 is a symbolic link"):
        kb.restore_from_removed("ABC-2")
    assert not kb.issue_dir("ABC-2").exists() and contents(outside) == {"precious.txt": b"keep me"}


def test_whole_knowledge_base_files_refuse_symlinks(kb, outside):
    kb.root.mkdir()
    link(kb.index_path, outside / "precious.txt")
    with pytest.raises(SymlinkRefusedError, match="index.md is a symbolic link"):
        kb.write_index({"index.md": "# index\n"})
    link(kb.state_dir, outside)
    for attempt in (
        lambda: kb.lock().__enter__(),
        lambda: kb.write_run_record("run1", "issues", {}),
        lambda: kb.write_fields([]),
    ):
        with pytest.raises(SymlinkRefusedError, match=r"\.jarkdown is a symbolic link"):
            attempt()
    assert contents(outside) == {"precious.txt": b"keep me"}


def test_old_run_records_are_never_pruned_through_a_symlink(kb, outside):
    old = outside / "old-run"
    old.mkdir()
    (old / "issues.json").write_text("{}")
    os.utime(old, (LONG_AGO - 30 * 24 * 3600,) * 2)
    link(kb.runs_dir, outside)
    with pytest.raises(SymlinkRefusedError):
        kb.prune_run_records(24 * 3600)
    assert (old / "issues.json").is_file()


# -- temporary files left by a killed run ----------------------------------------------------------


def make_temp(folder: Path, name: str, *, stale: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(b"half")
    if stale:
        os.utime(path, (LONG_AGO, LONG_AGO))
    return path


def test_only_stale_temp_files_are_removed(tmp_path):
    stale = [make_temp(tmp_path, ".ABC-1.md.x1.tmp", stale=True), make_temp(tmp_path, ".big.bin.x2.part", stale=True)]
    fresh = make_temp(tmp_path, ".big.bin.x3.part", stale=False)  # a concurrent run is writing it
    kept = [make_temp(tmp_path, "report.tmp", stale=True), make_temp(tmp_path, ".hidden", stale=True), fresh]
    assert remove_stale_temp_files(tmp_path) == sorted(path.name for path in stale)
    assert all(path.exists() for path in kept) and not any(path.exists() for path in stale)


def test_a_temp_named_symlink_is_neither_followed_nor_removed(tmp_path, outside):
    target = outside / "precious.txt"
    os.utime(target, (LONG_AGO, LONG_AGO))
    (tmp_path / "folder").mkdir()
    link(tmp_path / "folder" / ".x.y.tmp", target)
    assert remove_stale_temp_files(tmp_path / "folder") == []
    assert target.read_text() == "keep me" and (tmp_path / "folder" / ".x.y.tmp").is_symlink()
    assert remove_stale_temp_files(tmp_path / "linked") == []  # missing
    link(tmp_path / "linked", outside)
    make_temp(outside, ".a.b.tmp", stale=True)
    assert remove_stale_temp_files(tmp_path / "linked") == []  # a linked folder is not entered
    assert (outside / ".a.b.tmp").exists()


def test_the_knowledge_base_cleans_an_issues_folders_and_the_shared_ones(kb, outside):
    kb.write_raw_issue(issue("ABC-1"))
    left = [
        make_temp(kb.issue_dir("ABC-1"), ".ABC-1.md.k1.tmp", stale=True),
        make_temp(kb.attachments_dir("ABC-1"), ".shot.png.k2.part", stale=True),
    ]
    shared = [
        make_temp(kb.raw_dir, ".ABC-2.json.k3.tmp", stale=True),
        make_temp(kb.root, ".index.md.k4.tmp", stale=True),
    ]
    fresh = make_temp(kb.raw_dir, ".ABC-3.json.k5.tmp", stale=False)
    assert kb.remove_stale_temp_files("ABC-1") == ["ABC-1/.ABC-1.md.k1.tmp", "ABC-1/attachments/.shot.png.k2.part"]
    assert sorted(kb.remove_stale_temp_files()) == [".index.md.k4.tmp", ".jarkdown/raw/.ABC-2.json.k3.tmp"]
    assert not any(path.exists() for path in left + shared) and fresh.exists()
    link(kb.root / "ABC-9", outside)
    make_temp(outside, ".ABC-9.md.k6.tmp", stale=True)
    assert kb.remove_stale_temp_files("ABC-9") == [] and (outside / ".ABC-9.md.k6.tmp").exists()


def test_the_shared_folders_temporary_files_are_made_in_the_temp_folder(kb, monkeypatch):
    # Swept at the start of every window, the shared folders hold an entry per issue: their writes
    # make their temporary files in .jarkdown/tmp/, so the sweep lists that folder instead.
    made_in = []
    real_mkstemp = tempfile.mkstemp

    def recording_mkstemp(*args, **kwargs):
        made = real_mkstemp(*args, **kwargs)
        made_in.append(Path(kwargs["dir"]))
        return made

    monkeypatch.setattr(tempfile, "mkstemp", recording_mkstemp)
    kb.write_raw_issue(issue("ABC-1"))
    kb.write_attachment_manifest("ABC-1", [], complete=False)
    kb.write_index({"index.md": "# Jira issues\n", "_index/ABC.md": "# ABC\n"})
    assert made_in == [kb.temp_dir] * 5  # the raw copy, the manifest, its incomplete marker, two index files
    assert kb.read_raw_issue("ABC-1")["key"] == "ABC-1" and (kb.root / "_index" / "ABC.md").read_text() == "# ABC\n"
    assert os.listdir(kb.temp_dir) == []


def test_the_shared_folders_are_swept_until_they_hold_no_temporary_file_then_never_listed_again(kb):
    kb.write_raw_issue(issue("ABC-1"))
    writing = make_temp(kb.raw_dir, ".ABC-2.json.k1.tmp", stale=False)  # an earlier version's run, still writing
    assert kb.remove_stale_temp_files() == [] and writing.exists()
    os.utime(writing, (LONG_AGO, LONG_AGO))  # that run was killed
    assert kb.remove_stale_temp_files() == [".jarkdown/raw/.ABC-2.json.k1.tmp"]
    # The shared folders now hold none: only .jarkdown/ and .jarkdown/tmp/ are swept from here on.
    in_temp_dir = make_temp(kb.temp_dir, ".ABC-3.json.k2.tmp", stale=True)
    not_listed = make_temp(kb.raw_dir, ".ABC-4.json.k3.tmp", stale=True)
    assert kb.remove_stale_temp_files() == [".jarkdown/tmp/.ABC-3.json.k2.tmp"]
    assert not in_temp_dir.exists() and not_listed.exists()


def test_a_linked_temp_folder_is_refused_and_never_swept(kb, outside):
    link(kb.temp_dir, outside)
    make_temp(outside, ".ABC-1.json.k1.tmp", stale=True)
    before = contents(outside)
    with pytest.raises(IssueError, match="ABC-1: refused: .jarkdown/tmp is a symbolic link"):
        kb.write_raw_issue(issue("ABC-1"))
    with pytest.raises(SymlinkRefusedError, match="refused: .jarkdown/tmp is a symbolic link"):
        kb.write_index({"index.md": "# Jira issues\n"})
    assert kb.remove_stale_temp_files() == []
    assert contents(outside) == before and not kb.raw_dir.exists()


# -- the reconciliation guard ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("removing", "stored", "in_scope", "guard", "refused"),
    [
        (0, 1000, 0, RemovalGuard(), False),  # nothing to move
        (50, 60, 10, RemovalGuard(), False),  # at most 50: always allowed
        (51, 60, 9, RemovalGuard(), True),  # more than 50 and more than 10%
        (100, 1000, 900, RemovalGuard(), False),  # 10% exactly
        (101, 1000, 899, RemovalGuard(), True),
        (101, 1000, 899, RemovalGuard(max_share=0.2), False),
        (3, 3, 0, RemovalGuard(), True),  # an empty scan of a non-empty mirror: always stopped
        (3, 3, 0, RemovalGuard(allow_removals=3, always_allowed=10, max_share=1.0), True),
        (101, 1000, 899, RemovalGuard(allow_removals=101), False),  # the operator's go-ahead for this count
        (102, 1000, 898, RemovalGuard(allow_removals=101), True),  # ... and not for more
        (6, 40, 34, RemovalGuard(always_allowed=5), True),
    ],
)
def test_removal_guard(removing, stored, in_scope, guard, refused):
    assert guard.refuses(removing, stored, in_scope) is refused
