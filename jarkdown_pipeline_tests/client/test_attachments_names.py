"""Local attachment names: safe, unique per issue, deterministic (pure functions)."""

import random

import pytest
from pathvalidate import is_valid_filename

from jarkdown_pipeline import attachment_handler
from jarkdown_pipeline.attachment_handler import (
    AttachmentHandler,
    attachment_id,
    local_attachment_names,
    safe_filename,
)
from jarkdown_pipeline.sizes import human_size


def att(id_, filename):
    return {
        "id": id_,
        "filename": filename,
        "size": 1,
        "content": f"https://acme.atlassian.net/rest/api/3/attachment/content/{id_}",
    }


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../x.txt", "x.txt"),
        ("/etc/passwd", "etc_passwd"),
        ("a/b.png", "a_b.png"),
        ("a\\b.png", "a_b.png"),
        ("bad\x00na\x1fme.txt", "bad_na_me.txt"),
        ("CON", "CON_"),
        ("NUL.txt", "NUL_.txt"),
        ("com1.log", "com1_.log"),
        (".CON", "CON_"),
        (".bashrc", "bashrc"),
        ("file:name?.txt", "file_name_.txt"),
        ("Übersicht ✓.md", "Übersicht ✓.md"),
        ("..", "attachment-7"),
        ("", "attachment-7"),
        ("   ", "attachment-7"),
    ],
)
def test_safe_filename(original, expected):
    name = safe_filename(original, "attachment-7")
    assert name == expected
    assert is_valid_filename(name, platform="universal")


def test_long_names_are_shortened_keeping_the_extension():
    name = safe_filename("é" * 300 + ".tar.gz", "x")
    assert name.endswith(".gz") and len(name.encode()) <= 180
    assert is_valid_filename(name, platform="universal")


def test_duplicate_filenames_get_a_stable_id_suffix_oldest_keeps_the_plain_name():
    names = local_attachment_names([att("10020", "shot.png"), att("10003", "shot.png"), att("10011", "notes.txt")])
    assert names == {"10003": "shot.png", "10020": "shot-10020.png", "10011": "notes.txt"}


def test_names_clash_case_insensitively():
    names = local_attachment_names([att("1", "Report.PDF"), att("2", "report.pdf")])
    assert names == {"1": "Report.PDF", "2": "report-2.pdf"}


def test_sanitised_names_that_collide_are_separated():
    names = local_attachment_names([att("1", "a/b.png"), att("2", "a_b.png"), att("3", "a:b.png")])
    assert names == {"1": "a_b.png", "2": "a_b-2.png", "3": "a_b-3.png"}


def test_a_suffix_never_takes_another_attachments_name():
    names = local_attachment_names([att("1", "a.png"), att("2", "a.png"), att("3", "a-2.png")])
    assert len({n.casefold() for n in names.values()}) == 3
    assert names["1"] == "a.png" and names["2"] == "a-2.png"


def test_names_do_not_depend_on_order():
    attachments = [att(str(10000 + n), f"file{n % 4}.txt") for n in range(20)]
    expected = local_attachment_names(attachments)
    for seed in range(5):
        shuffled = attachments[:]
        random.Random(seed).shuffle(shuffled)
        assert local_attachment_names(shuffled) == expected


def test_adding_an_attachment_renames_none_of_the_existing_ones():
    before = local_attachment_names([att("10001", "a.png"), att("10002", "a.png")])
    after = local_attachment_names([att("10001", "a.png"), att("10002", "a.png"), att("10009", "a.png")])
    assert {k: after[k] for k in before} == before
    assert after["10009"] == "a-10009.png"


def test_names_without_extension_get_the_suffix_at_the_end():
    assert local_attachment_names([att("1", "README"), att("2", "README")]) == {"1": "README", "2": "README-2"}


def test_attachment_id_falls_back_to_the_content_url():
    legacy = {"filename": "x.png", "content": "https://acme.atlassian.net/rest/api/3/attachment/content/10042"}
    assert attachment_id(legacy) == "10042"
    assert local_attachment_names([legacy]) == {"10042": "x.png"}


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (512, "512 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (1048576, "1.0 MiB"),
        (5 * 1024**3, "5.0 GiB"),
        (3 * 1024**4, "3072.0 GiB"),
        (None, "unknown size"),
    ],
)
def test_one_size_formatter_under_the_seeds_name_too(size, text):
    assert human_size(size) == text
    assert AttachmentHandler._format_size(size) == text


def test_a_repeated_name_is_made_safe_once_whatever_its_fallback():
    # The fallback names one attachment (attachment-<id>): were it part of the cache's key, a name
    # shared by many issues' attachments (image.png) would be sanitised again for each of them.
    attachment_handler._safe_name.cache_clear()
    names = [safe_filename("screenshot 1.png", f"attachment-{n}") for n in range(50)]
    assert names == ["screenshot 1.png"] * 50
    info = attachment_handler._safe_name.cache_info()
    assert (info.misses, info.hits) == (1, 49)
    assert safe_filename("..", "attachment-7") == "attachment-7"  # nothing usable left: the fallback
    assert safe_filename("..", "attachment-8") == "attachment-8"
