"""AttachmentHandler against real loopback servers: streaming, atomicity, retries, skipping, memory."""

import asyncio
import os
import time

import psutil
import pytest

from jarkdown_pipeline import jira_api_client
from jarkdown_pipeline.attachment_handler import AttachmentHandler
from jarkdown_pipeline.exceptions import AttachmentDownloadError
from jarkdown_pipeline_tests.client.servers import (  # noqa: F401  (fixtures)
    local_jira,
    make_local_client,
    pattern_bytes,
)


def leftovers(folder):
    """Files other than the final ones: temporary downloads must never survive."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or p.name.endswith(".part"))


async def test_download_all_writes_every_file_with_info(local_jira, make_local_client, tmp_path):
    local_jira.add_file("10001", content=pattern_bytes(100_000, seed=1))
    local_jira.add_file("10002", content=pattern_bytes(5, seed=2))
    attachments = [
        local_jira.attachment("10001", "design.pdf", mime_type="application/pdf"),
        local_jira.attachment("10002", "notes.txt", mime_type="text/plain"),
    ]
    async with make_local_client() as client:
        infos = await AttachmentHandler(client).download_all_attachments(attachments, tmp_path)
        assert client.stats.bytes_downloaded == 100_005
    assert infos == [
        {
            "attachment_id": "10001",
            "filename": "design.pdf",
            "original_filename": "design.pdf",
            "mime_type": "application/pdf",
            "size": 100_000,
            "path": str(tmp_path / "design.pdf"),
            "status": "downloaded",
            "bytes_downloaded": 100_000,
        },
        {
            "attachment_id": "10002",
            "filename": "notes.txt",
            "original_filename": "notes.txt",
            "mime_type": "text/plain",
            "size": 5,
            "path": str(tmp_path / "notes.txt"),
            "status": "downloaded",
            "bytes_downloaded": 5,
        },
    ]
    assert (tmp_path / "design.pdf").read_bytes() == pattern_bytes(100_000, seed=1)
    assert leftovers(tmp_path) == []
    # Readable like any new file (0666 less the umask), not mkstemp's owner-only 0600.
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "design.pdf").stat().st_mode & 0o777 == 0o666 & ~umask


async def test_dangerous_names_land_inside_the_output_folder(local_jira, make_local_client, tmp_path):
    output = tmp_path / "ABC-1" / "attachments"
    dangerous = ["../../x.txt", "/etc/passwd", "a/b.png", "ctl\x07\x1b.txt", "CON", "nul.txt", "..", ".."]
    attachments = []
    for n, name in enumerate(dangerous):
        local_jira.add_file(str(n), content=f"file {n}".encode())
        attachments.append(local_jira.attachment(str(n), name))
    async with make_local_client() as client:
        infos = await AttachmentHandler(client).download_all_attachments(attachments, output)
    files = sorted(p.name for p in output.iterdir())
    assert files == sorted(info["filename"] for info in infos)
    assert len(files) == len(dangerous)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == sorted(
        f"ABC-1/attachments/{name}" for name in files
    )
    by_original = {info["original_filename"]: info["filename"] for info in infos}
    assert by_original["../../x.txt"] == "x.txt" and by_original["/etc/passwd"] == "etc_passwd"
    assert by_original["a/b.png"] == "a_b.png" and by_original["CON"] == "CON_"
    for info in infos:
        assert (output / info["filename"]).read_bytes() == f"file {info['attachment_id']}".encode()


async def test_same_filename_twice_keeps_both_and_a_rerun_downloads_nothing(local_jira, make_local_client, tmp_path):
    local_jira.add_file("10001", content=b"first")
    local_jira.add_file("10002", content=b"second!")
    attachments = [local_jira.attachment("10002", "shot.png"), local_jira.attachment("10001", "shot.png")]
    async with make_local_client() as client:
        handler = AttachmentHandler(client)
        first = await handler.download_all_attachments(attachments, tmp_path)
        media_requests = len(local_jira.media_requests)
        again = await handler.download_all_attachments(list(reversed(attachments)), tmp_path)
    assert {i["filename"]: (tmp_path / i["filename"]).read_bytes() for i in first} == {
        "shot.png": b"first",
        "shot-10002.png": b"second!",
    }
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shot-10002.png", "shot.png"]
    assert [i["status"] for i in again] == ["skipped", "skipped"]
    assert [i["bytes_downloaded"] for i in again] == [0, 0]
    assert {i["filename"] for i in again} == {i["filename"] for i in first}
    assert len(local_jira.media_requests) == media_requests  # nothing fetched the second time


async def test_a_local_file_of_the_wrong_size_is_replaced(local_jira, make_local_client, tmp_path):
    local_jira.add_file("10001", content=b"the real content")
    (tmp_path / "a.txt").write_bytes(b"stale")
    async with make_local_client() as client:
        info = await AttachmentHandler(client).download_attachment(local_jira.attachment("10001", "a.txt"), tmp_path)
    assert info["status"] == "downloaded"
    assert (tmp_path / "a.txt").read_bytes() == b"the real content"


@pytest.mark.parametrize("size", [300_000, 3 * 1024 * 1024], ids=["read-whole", "streamed"])
async def test_a_cut_download_is_retried_and_completes(local_jira, make_local_client, tmp_path, size):
    content = pattern_bytes(size, seed=3)
    local_jira.add_file("10001", content=content, cut_first=2)
    async with make_local_client() as client:
        info = await AttachmentHandler(client).download_attachment(local_jira.attachment("10001", "big.bin"), tmp_path)
        assert client.stats.retries == 2
    assert local_jira.files["10001"].requests == 3
    assert info["bytes_downloaded"] == size
    assert (tmp_path / "big.bin").read_bytes() == content
    assert leftovers(tmp_path) == []


async def test_a_cut_stream_without_content_length_is_caught_by_the_size(local_jira, make_local_client, tmp_path):
    content = pattern_bytes(200_000, seed=4)
    local_jira.add_file("10001", content=content, chunked=True, cut_first=1)
    async with make_local_client() as client:
        await AttachmentHandler(client).download_attachment(local_jira.attachment("10001", "c.bin"), tmp_path)
    assert (tmp_path / "c.bin").read_bytes() == content
    assert local_jira.files["10001"].requests == 2


async def test_a_download_that_keeps_failing_leaves_no_partial_file(local_jira, make_local_client, tmp_path):
    local_jira.add_file("10001", content=pattern_bytes(200_000), cut_always=True)
    async with make_local_client() as client:
        with pytest.raises(AttachmentDownloadError) as caught:
            await AttachmentHandler(client).download_attachment(local_jira.attachment("10001", "broken.bin"), tmp_path)
    assert caught.value.filename == "broken.bin"
    assert "broken.bin" in str(caught.value) and "after 3 attempts" in str(caught.value)
    assert "media-token" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


async def test_a_size_mismatch_with_jira_is_an_error_not_a_file(local_jira, make_local_client, tmp_path):
    local_jira.add_file("10001", content=b"12345")
    async with make_local_client() as client:
        with pytest.raises(AttachmentDownloadError, match="lists its size as 9"):
            await AttachmentHandler(client).download_attachment(
                local_jira.attachment("10001", "x.bin", size=9), tmp_path
            )
    assert list(tmp_path.iterdir()) == []


async def test_one_failure_does_not_stop_the_others(local_jira, make_local_client, tmp_path):
    local_jira.add_file("1", content=b"good one")
    local_jira.add_file("2", content=pattern_bytes(50_000), cut_always=True)
    local_jira.add_file("3", content=b"good three")
    attachments = [local_jira.attachment(n, f"f{n}.bin") for n in ("1", "2", "3")]
    async with make_local_client() as client:
        with pytest.raises(AttachmentDownloadError) as caught:
            await AttachmentHandler(client).download_all_attachments(attachments, tmp_path)
    error = caught.value
    assert "1 of 3 attachments failed" in str(error) and "f2.bin" in str(error)
    assert set(error.failures) == {"2"}
    assert [info["filename"] for info in error.completed] == ["f1.bin", "f3.bin"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f1.bin", "f3.bin"]


async def test_downloads_of_an_issue_run_concurrently_but_bounded(local_jira, make_local_client, tmp_path):
    for n in range(6):
        local_jira.add_file(str(n), content=pattern_bytes(1000, seed=n), delay=0.05)
    attachments = [local_jira.attachment(str(n), f"{n}.bin") for n in range(6)]
    async with make_local_client() as client:
        await AttachmentHandler(client, max_concurrent_downloads=2).download_all_attachments(attachments, tmp_path)
        assert client.stats.peak_in_flight == 2
    assert local_jira.media_peak_in_flight == 2


async def test_the_media_hosts_turn_ends_before_the_file_is_written(
    local_jira, make_local_client, tmp_path, monkeypatch
):
    """A small download's bytes are written and synced after its connection is free for the next one."""
    for n in range(2):
        local_jira.add_file(str(n), content=pattern_bytes(1000, seed=n))
    attachments = [local_jira.attachment(str(n), f"{n}.bin") for n in range(2)]
    real_write = jira_api_client.write_atomically
    writes: list[str] = []
    seen_during_first_write: list[int] = []

    def slow_first_write(path, data, **options):
        writes.append(path.name)
        if len(writes) == 1:  # the first write waits (bounded) for the other download to be served
            deadline = time.monotonic() + 5
            while len(local_jira.media_requests) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            seen_during_first_write.append(len(local_jira.media_requests))
        return real_write(path, data, **options)

    monkeypatch.setattr(jira_api_client, "write_atomically", slow_first_write)
    async with make_local_client(max_connections_per_host=1) as client:
        handler = AttachmentHandler(client, max_concurrent_downloads=2)
        await handler.download_all_attachments(attachments, tmp_path)
    assert seen_during_first_write == [2], "the second download waited for the first one's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.bin", "1.bin"]


async def test_an_attachment_without_content_url_is_a_clear_error(make_local_client, tmp_path):
    async with make_local_client() as client:
        with pytest.raises(AttachmentDownloadError, match="has no content URL"):
            await AttachmentHandler(client).download_attachment({"id": "5", "filename": "x.png", "size": 3}, tmp_path)


LARGE_SIZE = 128 * 1024 * 1024


async def test_a_large_download_keeps_memory_flat(local_jira, make_local_client, tmp_path):
    """128 MiB streamed from a generator: resident memory must not grow with the file."""
    local_jira.add_file("10001", generated_size=LARGE_SIZE)
    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = baseline
    done = asyncio.Event()

    async def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            await asyncio.sleep(0.005)

    sampler = asyncio.create_task(sample())
    try:
        async with make_local_client() as client:
            info = await AttachmentHandler(client).download_attachment(
                local_jira.attachment("10001", "huge.bin"), tmp_path
            )
    finally:
        done.set()
        await sampler
    peak = max(peak, process.memory_info().rss)
    assert info["bytes_downloaded"] == LARGE_SIZE
    assert os.path.getsize(tmp_path / "huge.bin") == LARGE_SIZE
    with open(tmp_path / "huge.bin", "rb") as written:
        assert written.read(65536) == pattern_bytes(65536)
    growth = peak - baseline
    assert growth < 24 * 1024 * 1024, f"resident memory grew by {growth / 2**20:.1f} MiB for a 128 MiB download"


async def test_a_cancelled_download_leaves_no_temporary_file(local_jira, make_local_client, tmp_path):
    # Read whole (small): nothing is created before all its bytes are in.
    local_jira.add_file("10001", content=b"never arrives", stall_first=1, stall_seconds=5.0)
    async with make_local_client() as client:
        task = asyncio.create_task(
            AttachmentHandler(client).download_attachment(local_jira.attachment("10001", "slow.bin"), tmp_path)
        )
        while not local_jira.media_requests:  # the download is under way
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        assert list(tmp_path.iterdir()) == []
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert list(tmp_path.iterdir()) == []


async def test_a_cancelled_streamed_download_removes_its_temporary_file(local_jira, make_local_client, tmp_path):
    # No Content-Length: streamed to a temporary file, which must go when the download is cancelled.
    local_jira.add_file("10001", content=pattern_bytes(200_000), chunked=True, pause_mid_body=5.0)
    async with make_local_client() as client:
        task = asyncio.create_task(
            AttachmentHandler(client).download_attachment(local_jira.attachment("10001", "slow.bin"), tmp_path)
        )
        while not leftovers(tmp_path):  # half the body is in its temporary file
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert list(tmp_path.iterdir()) == []


async def test_the_same_attachment_listed_twice_is_fetched_once(local_jira, make_local_client, tmp_path):
    local_jira.add_file("10001", content=b"once")
    attachment = local_jira.attachment("10001", "a.txt")
    async with make_local_client() as client:
        infos = await AttachmentHandler(client).download_all_attachments([attachment, dict(attachment)], tmp_path)
    assert [i["filename"] for i in infos] == ["a.txt"]
    assert local_jira.files["10001"].requests == 1


async def test_a_folder_in_the_way_is_a_clear_download_error(local_jira, make_local_client, tmp_path):
    local_jira.add_file("10001", content=b"data")
    (tmp_path / "a.txt").mkdir()
    async with make_local_client() as client:
        with pytest.raises(AttachmentDownloadError, match="a.txt"):
            await AttachmentHandler(client).download_attachment(local_jira.attachment("10001", "a.txt"), tmp_path)
    assert leftovers(tmp_path) == []
