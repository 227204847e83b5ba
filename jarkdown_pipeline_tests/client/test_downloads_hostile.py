"""Attachment downloads from a media host that misbehaves on purpose (issue 13): trickling, oversize, compressed.

The bounds are made small where a test needs them; no test asserts a duration.
"""

import gzip
import zlib

import pytest

from jarkdown_pipeline._body import RateFloor, TooSlow
from jarkdown_pipeline.attachment_handler import AttachmentHandler
from jarkdown_pipeline.exceptions import (
    AttachmentDownloadError,
    DownloadSizeError,
    MalformedResponseError,
    RequestTimeoutError,
    TransportError,
)
from jarkdown_pipeline.jira_api_client import DEFAULT_DOWNLOAD_RATE_WINDOW, DEFAULT_MIN_DOWNLOAD_RATE
from jarkdown_pipeline_tests.plugins.local_jira import (
    pattern_bytes,
)


def leftovers(folder):
    """Anything in the folder: a failed download must leave neither the file nor its .part behind."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ------------------------------------------------------------------ minimum transfer rate


async def test_a_trickling_media_host_is_abandoned_with_a_clear_error(local_jira, make_local_client, tmp_path):
    local_jira.add_file("10001", content=pattern_bytes(2_000_000), trickle_every=0.02)
    attachment = local_jira.attachment("10001", "slow.bin")
    async with make_local_client(min_download_rate=64 * 1024, download_rate_window=0.3) as client:
        with pytest.raises(AttachmentDownloadError) as caught:
            await AttachmentHandler(client).download_attachment(attachment, tmp_path)
        assert client.stats.bytes_downloaded < 1000  # a trickle, cut early
    cause = caught.value.cause
    assert isinstance(cause, RequestTimeoutError)
    assert "below the minimum of 65536 bytes/s" in str(cause) and "not retried" in str(cause)
    assert local_jira.files["10001"].requests == 1
    assert leftovers(tmp_path) == []


def test_the_default_rate_floor_never_cuts_a_slow_but_working_1_gib_download():
    """1 GiB at 64 KiB/s (a poor link, ~4.5 hours), with a 50 s stall every ten minutes: never cut."""
    now = [0.0]
    rate = RateFloor(DEFAULT_MIN_DOWNLOAD_RATE, DEFAULT_DOWNLOAD_RATE_WINDOW, clock=lambda: now[0])
    chunk = 64 * 1024
    for n in range(1024**3 // chunk):
        now[0] += 1.0 + (50.0 if n % 600 == 599 else 0.0)
        rate.add(chunk)


def test_the_rate_floor_trips_on_a_byte_every_few_seconds():
    now = [0.0]
    rate = RateFloor(DEFAULT_MIN_DOWNLOAD_RATE, DEFAULT_DOWNLOAD_RATE_WINDOW, clock=lambda: now[0])
    with pytest.raises(TooSlow, match="below the minimum"):
        for _ in range(1000):
            now[0] += 5.0
            rate.add(1)
    assert now[0] <= DEFAULT_DOWNLOAD_RATE_WINDOW + 5.0  # after the first window


# ------------------------------------------------------------------ Jira's announced size


async def test_a_download_stops_as_soon_as_it_passes_the_announced_size(local_jira, make_local_client, tmp_path):
    # Chunked (no Content-Length): only Jira's size says where the attachment ends; the host sends 50 MB.
    local_jira.add_file("10001", generated_size=50_000_000, chunked=True)
    attachment = local_jira.attachment("10001", "big.bin", size=2_000_000)
    async with make_local_client() as client:
        with pytest.raises(AttachmentDownloadError) as caught:
            await AttachmentHandler(client).download_attachment(attachment, tmp_path)
        assert client.stats.bytes_downloaded <= 2_000_000 + 8192  # the chunk that passed it, no more
    assert isinstance(caught.value.cause, DownloadSizeError)
    assert "more than the 2000000 bytes Jira announced" in str(caught.value)
    assert local_jira.files["10001"].requests == 1  # not retried: a different file will not shrink
    assert leftovers(tmp_path) == []


async def test_a_content_length_larger_than_jira_size_is_refused_before_any_byte(
    local_jira, make_local_client, tmp_path
):
    local_jira.add_file("10001", generated_size=3_000_000)
    attachment = local_jira.attachment("10001", "big.bin", size=1000)
    async with make_local_client() as client:
        with pytest.raises(AttachmentDownloadError, match="announces 3000000 bytes but Jira lists its size as 1000"):
            await AttachmentHandler(client).download_attachment(attachment, tmp_path)
        assert client.stats.bytes_downloaded == 0
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------------ content encoding


@pytest.mark.parametrize("size_known", [True, False])
@pytest.mark.parametrize(
    ("encoding", "encode"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("deflate", lambda data: zlib.compress(data)[2:-4])],
)
async def test_a_compressed_attachment_is_saved_decoded(
    local_jira, make_local_client, tmp_path, encoding, encode, size_known
):
    content = pattern_bytes(3_000_000, seed=3)  # larger than the in-memory limit once decoded
    local_jira.add_file("10001", content=content, encoded=encode(content), content_encoding=encoding)
    attachment = local_jira.attachment("10001", "report.bin", size=len(content) if size_known else None)
    if not size_known:
        attachment.pop("size")
    async with make_local_client() as client:
        info = await AttachmentHandler(client).download_attachment(attachment, tmp_path)
    assert (tmp_path / "report.bin").read_bytes() == content
    assert info["size"] == len(content)
    assert local_jira.media_requests[0].headers.get("Accept-Encoding") == "identity"
    assert leftovers(tmp_path) == ["report.bin"]


async def test_a_truncated_gzip_attachment_without_a_size_is_never_kept(local_jira, make_local_client, tmp_path):
    content = pattern_bytes(500_000, seed=4)
    compressed = gzip.compress(content)
    # A complete HTTP body (its Content-Length matches) holding half a gzip stream.
    local_jira.add_file("10001", content=content, encoded=compressed[: len(compressed) // 2])
    attachment = local_jira.attachment("10001", "cut.bin")
    attachment.pop("size")
    async with make_local_client() as client:
        with pytest.raises(AttachmentDownloadError) as caught:
            await AttachmentHandler(client).download_attachment(attachment, tmp_path)
    assert isinstance(caught.value.cause, TransportError)
    assert "gzip stream ended before its end marker" in str(caught.value)
    assert local_jira.files["10001"].requests == 3  # retried like a cut connection, then given up
    assert leftovers(tmp_path) == []


async def test_an_encoding_the_client_does_not_decode_fails_clearly(local_jira, make_local_client, tmp_path):
    local_jira.add_file("10001", content=b"x" * 100, encoded=b"\x1f\x9d compress-format", content_encoding="compress")
    attachment = local_jira.attachment("10001", "old.Z")
    async with make_local_client() as client:
        with pytest.raises(AttachmentDownloadError) as caught:
            await AttachmentHandler(client).download_attachment(attachment, tmp_path)
    assert isinstance(caught.value.cause, MalformedResponseError)
    assert "Content-Encoding 'compress' is not one the client decodes" in str(caught.value)
    assert leftovers(tmp_path) == []


async def test_the_stream_api_asks_for_identity_and_reads_decoded_bytes(local_jira, make_local_client):
    content = pattern_bytes(200_000, seed=5)
    local_jira.add_file("10001", content=content, encoded=gzip.compress(content))
    async with make_local_client() as client:
        async with await client.download_attachment_stream(local_jira.content_url("10001")) as response:
            assert await response.read() == content
    assert local_jira.media_requests[0].headers.get("Accept-Encoding") == "identity"


async def test_a_boolean_size_is_not_taken_for_one_byte(local_jira, make_local_client, tmp_path):
    local_jira.add_file("10001", content=b"hello")
    attachment = local_jira.attachment("10001", "hello.txt", size=True)
    async with make_local_client() as client:
        info = await AttachmentHandler(client).download_attachment(attachment, tmp_path)
    assert (tmp_path / "hello.txt").read_bytes() == b"hello" and info["size"] == 5
