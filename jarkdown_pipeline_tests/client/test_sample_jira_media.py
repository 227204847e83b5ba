"""Attachment content: 303 to the media host, signed tokens, header recording, streaming, ranges."""

import hashlib
import threading
import time
import zlib

import aiohttp
import psutil
import pytest

from jarkdown_pipeline.sample_jira import HUGE_ATTACHMENT_NAME
from jarkdown_pipeline_tests.plugins.sample_jira import expected_bytes, sample_jira_auth_headers

API = "/rest/api/3"


def first_attachment(jira, kind: str | None = None):
    for issue in jira.dataset.sorted_issues():
        for attachment in issue.attachments:
            if kind is None or attachment.kind == kind:
                return attachment
    raise AssertionError(f"no {kind} attachment in the data set")


async def test_content_redirects_to_the_media_host_with_a_signed_token(sample_jira):
    attachment = first_attachment(sample_jira, "binary")
    async with aiohttp.ClientSession(headers=sample_jira_auth_headers(sample_jira)) as http:
        async with http.get(
            f"{sample_jira.base_url}{API}/attachment/content/{attachment.id}", allow_redirects=False
        ) as response:
            assert response.status == 303
            location = response.headers["Location"]
        assert location.startswith(f"{sample_jira.media_url}/file/{attachment.media_id}/binary?token=")
        # The media URL works on its own: no Jira credentials needed (or wanted).
        async with aiohttp.ClientSession() as bare, bare.get(location) as response:
            assert response.status == 200
            assert response.headers["Content-Length"] == str(attachment.size)
            assert response.headers["Content-Type"] == attachment.mime_type
            body = await response.read()
    assert body == expected_bytes(sample_jira, attachment)
    stats = sample_jira.stats
    assert stats["media_requests_with_authorization"] == 0
    assert stats["media"]["bytes_served"] == attachment.size


async def test_the_media_host_records_credentials_and_cookies_it_should_never_see(sample_jira):
    attachment = first_attachment(sample_jira)
    headers = sample_jira_auth_headers(sample_jira)
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.get(
            f"{sample_jira.base_url}{API}/attachment/content/{attachment.id}", allow_redirects=False
        ) as response:
            location = response.headers["Location"]
            assert "atlassian.xsrf.token" in response.cookies  # Cloud sets cookies too
        async with http.get(location, headers={**headers, "Cookie": "atlassian.xsrf.token=abc"}) as response:
            assert response.status == 200
    stats = sample_jira.stats
    assert stats["media_requests_with_authorization"] == 1
    assert stats["media_requests_with_cookie"] == 1


async def test_following_the_redirect_with_aiohttp_sends_no_credentials_to_the_media_host(sample_jira):
    attachment = first_attachment(sample_jira)
    async with aiohttp.ClientSession(headers=sample_jira_auth_headers(sample_jira)) as http:
        async with http.get(f"{sample_jira.base_url}{API}/attachment/content/{attachment.id}") as response:
            assert response.status == 200
            assert await response.read() == expected_bytes(sample_jira, attachment)
    # aiohttp 3.14 drops Authorization (even a session-wide header) when a redirect changes origin.
    assert sample_jira.stats["media_requests_with_authorization"] == 0
    assert sample_jira.stats["media"]["requests"] == 1


async def test_unsigned_forged_foreign_and_expired_tokens_are_refused(sample_jira):
    attachment = first_attachment(sample_jira)
    other = next(a for a in sample_jira.dataset.attachments.values() if a.id != attachment.id)
    server = sample_jira.server
    base = f"{sample_jira.media_url}/file/{attachment.media_id}/binary"
    good = server._media_token(attachment, int(time.time()) + 60)
    cases = {
        base: 401,
        f"{base}?token=": 401,
        f"{base}?token={good[:-2]}xx": 403,
        f"{base}?token={server._media_token(other, int(time.time()) + 60)}": 403,
        f"{base}?token={server._media_token(attachment, int(time.time()) - 1)}": 403,
        f"{base}?token={good}": 200,
    }
    async with aiohttp.ClientSession() as http:
        for url, status in cases.items():
            async with http.get(url) as response:
                assert response.status == status, url
    assert sample_jira.stats["media_token_rejections"] == 5


async def test_attachment_content_is_404_for_unknown_ids_and_for_anonymous_users(sample_jira):
    attachment = first_attachment(sample_jira)
    async with aiohttp.ClientSession(base_url=sample_jira.base_url) as http:
        async with http.get(f"{API}/attachment/content/{attachment.id}", allow_redirects=False) as response:
            assert response.status == 404
        async with http.get(
            f"{API}/attachment/content/999999", headers=sample_jira_auth_headers(sample_jira)
        ) as response:
            assert response.status == 404
            assert (await response.json())["errorMessages"]


async def test_images_are_real_pngs(sample_jira):
    attachment = first_attachment(sample_jira, "png")
    data = expected_bytes(sample_jira, attachment)
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) == attachment.size
    # Walk the chunks: lengths and CRCs must be right, IDAT must inflate to the declared size.
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        tag, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        assert int.from_bytes(data[pos + 8 + length : pos + 12 + length], "big") == zlib.crc32(tag + body)
        if tag == b"IHDR":
            width, height = int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big")
        idat += body if tag == b"IDAT" else b""
        pos += 12 + length
    assert len(zlib.decompress(idat)) == height * (1 + 3 * width)


async def test_direct_download_and_ranges(sample_jira):
    attachment = max(sample_jira.dataset.attachments.values(), key=lambda a: a.size if a.kind == "binary" else 0)
    full = expected_bytes(sample_jira, attachment)
    url = f"{sample_jira.base_url}{API}/attachment/content/{attachment.id}"
    async with aiohttp.ClientSession(headers=sample_jira_auth_headers(sample_jira)) as http:
        async with http.get(url, params={"redirect": "false"}) as response:
            assert response.status == 200 and await response.read() == full
        middle = attachment.size // 2
        async with http.get(url, headers={"Range": f"bytes={middle}-{middle + 99}"}) as response:
            assert response.status == 206
            assert response.headers["Content-Range"] == f"bytes {middle}-{middle + 99}/{attachment.size}"
            assert await response.read() == full[middle : middle + 100]
        async with http.get(url, headers={"Range": "bytes=-10"}) as response:
            assert await response.read() == full[-10:]
        async with http.get(url, headers={"Range": f"bytes={attachment.size}-"}) as response:
            assert response.status == 416
        async with http.get(url, headers={"Range": "lines=1-2"}) as response:
            assert response.status == 400


async def test_a_huge_attachment_streams_without_holding_it_in_memory(sample_jira_factory):
    size = 256 * 1024 * 1024
    jira = sample_jira_factory(huge_attachment_bytes=size, issue_count=10)
    huge = jira.dataset.huge_attachment
    assert huge is not None and huge.filename == HUGE_ATTACHMENT_NAME and huge.size == size
    expected = hashlib.sha256()
    for block in jira.expected_attachment_bytes(huge.id):
        expected.update(block)

    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = baseline
    done = threading.Event()

    def sample_rss() -> None:
        nonlocal peak
        while not done.wait(0.01):
            peak = max(peak, process.memory_info().rss)

    sampler = threading.Thread(target=sample_rss, daemon=True)
    sampler.start()
    received = hashlib.sha256()
    count = 0
    try:
        async with aiohttp.ClientSession(headers=sample_jira_auth_headers(jira)) as http:
            async with http.get(f"{jira.base_url}{API}/attachment/content/{huge.id}") as response:
                assert response.status == 200 and response.content_length == size
                async for chunk in response.content.iter_chunked(256 * 1024):
                    received.update(chunk)
                    count += len(chunk)
    finally:
        done.set()
        sampler.join()
    assert count == size and received.digest() == expected.digest()
    assert peak - baseline < 64 * 1024 * 1024, (
        f"memory grew by {(peak - baseline) >> 20} MiB while streaming {size >> 20} MiB"
    )
    assert jira.stats["media"]["bytes_served"] == size


@pytest.mark.parametrize("kind", ["text", "binary"])
def test_generated_content_is_consistent_at_every_offset(sample_jira, kind):
    attachment = first_attachment(sample_jira, kind)
    full = expected_bytes(sample_jira, attachment)
    assert len(full) == attachment.size
    from jarkdown_pipeline.sample_jira import content

    for start, end in ((0, 1), (1, 65537), (65535, 65537), (attachment.size - 3, attachment.size)):
        part = b"".join(
            content.iter_content(
                sample_jira.config.seed, attachment.id, kind, attachment.size, attachment.extension, start, end
            )
        )
        assert part == full[start:end]
    if kind == "text":
        assert full.decode("ascii").count("\n") >= attachment.size // 64


async def test_prerendered_attachments_are_the_same_bytes(sample_jira_factory):
    # --prerender keeps small attachments' bytes: whole or in part, they must be what is generated.
    jira = sample_jira_factory(prerender=True, issue_count=30)
    assert jira.server._attachment_bodies
    async with aiohttp.ClientSession(headers=sample_jira_auth_headers(jira)) as http:
        for kind in ("text", "binary", "png"):
            attachment = first_attachment(jira, kind)
            full = expected_bytes(jira, attachment)
            url = f"{jira.base_url}{API}/attachment/content/{attachment.id}"
            async with http.get(url) as response:
                assert response.status == 200 and await response.read() == full
            async with http.get(url, headers={"Range": "bytes=7-106"}) as response:
                assert response.status == 206 and await response.read() == full[7:107]
