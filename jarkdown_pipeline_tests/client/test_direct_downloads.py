"""Small Jira Cloud attachments in one request (``redirect=false``); large, unsized and foreign ones,
and every one from a Jira that ignores the parameter, by the redirect to the media host."""

import pytest
from yarl import URL

from jarkdown_pipeline import jira_api_client
from jarkdown_pipeline.attachment_handler import AttachmentHandler
from jarkdown_pipeline.exceptions import ConfigurationError
from jarkdown_pipeline.jira_api_client import JiraApiClient
from jarkdown_pipeline_tests.plugins.local_jira import GOOD_AUTHORIZATION, pattern_bytes
from jarkdown_pipeline_tests.plugins.sample_jira import expected_bytes, sample_jira_client

CONTENT_ROUTE = "GET /rest/api/3/attachment/content/{id}"


def attachments_of(jira, count: int):
    found = [a for issue in jira.dataset.sorted_issues() for a in issue.attachments]
    assert len(found) >= count
    return found[:count]


def listed(jira, attachment) -> dict:
    """The attachment as Jira lists it in an issue (what the handler is given)."""
    return {
        "id": str(attachment.id),
        "filename": attachment.filename,
        "size": attachment.size,
        "mimeType": attachment.mime_type,
        "content": f"{jira.base_url}/rest/api/3/attachment/content/{attachment.id}",
    }


async def test_small_attachments_come_from_jira_itself_in_one_request_each(sample_jira, tmp_path):
    attachments = attachments_of(sample_jira, 3)
    assert all(a.size <= jira_api_client.DIRECT_DOWNLOAD_MAX_BYTES for a in attachments)
    async with sample_jira_client(sample_jira) as client:
        sample_jira.reset_stats()
        infos = await AttachmentHandler(client).download_all_attachments(
            [listed(sample_jira, a) for a in attachments], tmp_path
        )
    stats = sample_jira.stats
    assert stats["api"]["by_route"] == {CONTENT_ROUTE: 3}
    assert stats["media"]["requests"] == 0 and stats["downloads"] == 3
    assert stats["api"]["by_status"] == {"200": 3}  # the bytes, not a 303
    for attachment, info in zip(attachments, infos, strict=True):
        assert info["status"] == "downloaded"
        assert (tmp_path / info["filename"]).read_bytes() == expected_bytes(sample_jira, attachment)


async def test_larger_and_unsized_attachments_follow_the_redirect_without_credentials(sample_jira, tmp_path):
    small, other = attachments_of(sample_jira, 2)
    unsized = {key: value for key, value in listed(sample_jira, other).items() if key != "size"}
    # The threshold below the first one's size: it counts as large.
    async with sample_jira_client(sample_jira, direct_download_max_bytes=small.size - 1) as client:
        sample_jira.reset_stats()
        infos = await AttachmentHandler(client).download_all_attachments(
            [listed(sample_jira, small), unsized], tmp_path
        )
    stats = sample_jira.stats
    assert stats["api"]["by_status"] == {"303": 2} and stats["media"]["requests"] == 2
    assert stats["media_requests_with_authorization"] == 0 and stats["downloads"] == 2
    assert [(tmp_path / info["filename"]).read_bytes() for info in infos] == [
        expected_bytes(sample_jira, small),
        expected_bytes(sample_jira, other),
    ]


async def test_no_download_asks_for_the_bytes_directly_when_the_limit_is_zero(sample_jira, tmp_path):
    attachment = attachments_of(sample_jira, 1)[0]
    async with sample_jira_client(sample_jira, direct_download_max_bytes=0) as client:
        sample_jira.reset_stats()
        await client.download_to_file(
            listed(sample_jira, attachment)["content"], tmp_path / "a.bin", expected_size=attachment.size
        )
    assert sample_jira.stats["media"]["requests"] == 1
    assert (tmp_path / "a.bin").read_bytes() == expected_bytes(sample_jira, attachment)


def test_a_negative_limit_is_refused():
    with pytest.raises(ConfigurationError, match="direct_download_max_bytes"):
        JiraApiClient("https://acme.atlassian.net", "a@b.c", "token", direct_download_max_bytes=-1)


async def test_a_jira_that_ignores_redirect_false_still_redirects_and_the_download_completes(
    local_jira, make_local_client, tmp_path
):
    local_jira.add_file("10001", content=pattern_bytes(2_000, seed=3))
    async with make_local_client() as client:
        written = await client.download_to_file(
            local_jira.content_url("10001"), tmp_path / "f.bin", expected_size=2_000
        )
    assert written == 2_000 and (tmp_path / "f.bin").read_bytes() == pattern_bytes(2_000, seed=3)
    asked = [seen for seen in local_jira.jira_requests if seen.path.endswith("/attachment/content/10001")]
    assert [seen.query for seen in asked] == ["redirect=false"]
    assert asked[0].headers.get("Authorization") == GOOD_AUTHORIZATION
    assert [seen.headers.get("Authorization") for seen in local_jira.media_requests] == [None]


@pytest.mark.parametrize(
    ("url", "size"),
    [
        ("https://acme.atlassian.net/rest/api/3/attachment/content/10001", 10),
        ("https://acme.atlassian.net/rest/api/2/attachment/content/10001/", 10),
    ],
)
def test_jiras_own_small_content_url_asks_for_the_bytes(url, size):
    client = JiraApiClient("https://acme.atlassian.net", "a@b.c", "token")
    asked = client._content_request_url(URL(url, encoded=True), size)
    assert asked.query_string == "redirect=false" and asked.path == URL(url).path


@pytest.mark.parametrize(
    ("url", "size", "flavour"),
    [
        ("https://other.example/rest/api/3/attachment/content/10001", 10, "cloud"),  # another origin
        ("https://acme.atlassian.net/rest/api/3/attachment/content/10001", None, "cloud"),  # size unknown
        ("https://acme.atlassian.net/rest/api/3/attachment/content/10001", 2 << 20, "cloud"),  # large
        ("https://acme.atlassian.net/rest/api/3/attachment/content/10001?redirect=true", 10, "cloud"),  # a query
        ("https://acme.atlassian.net/rest/api/3/attachment/10001", 10, "cloud"),  # not the content route
        ("https://acme.atlassian.net/secure/attachment/10001/a.txt", 10, "datacenter"),  # the bytes anyway
        ("https://acme.atlassian.net/rest/api/2/attachment/content/10001", 10, "datacenter"),
    ],
)
def test_other_urls_are_asked_for_as_they_are(url, size, flavour):
    client = JiraApiClient("https://acme.atlassian.net", "a@b.c", "token", flavour=flavour)
    given = URL(url, encoded=True)
    assert client._content_request_url(given, size) is given
