"""The one base-URL rule: the client and the settings accept and refuse the same values."""

import pytest

from jarkdown_pipeline.base_url import check_transport_security, is_loopback_host, normalise_base_url
from jarkdown_pipeline.exceptions import ConfigurationError
from jarkdown_pipeline.jira_api_client import JiraApiClient
from jarkdown_pipeline.settings import load_settings

SETTINGS = {"JIRA_EMAIL": "someone@example.com", "JIRA_API_TOKEN": "token", "JARKDOWN_START_DATE": "2026-01-01"}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Acme.Atlassian.net", "https://acme.atlassian.net"),
        ("localhost:8089", "https://localhost:8089"),
        ("https://acme.atlassian.net/", "https://acme.atlassian.net"),
        ("https://jira.corp.example/jira/", "https://jira.corp.example/jira"),
    ],
)
def test_client_and_settings_normalise_alike(given, expected):
    assert str(normalise_base_url(given)) == expected
    assert str(JiraApiClient(given, "someone@example.com", "token").base_url) == expected
    assert load_settings({**SETTINGS, "JIRA_BASE_URL": given}).jira_base_url == expected


@pytest.mark.parametrize(
    "bad", ["acme.atlassian.net/", "acme.atlassian.net/jira", "acme atlassian", "https://acme.example/#x"]
)
def test_client_and_settings_refuse_alike(bad):
    with pytest.raises(ConfigurationError):
        normalise_base_url(bad)
    with pytest.raises(ConfigurationError):
        JiraApiClient(bad, "someone@example.com", "token")
    with pytest.raises(ConfigurationError, match="JIRA_BASE_URL"):
        load_settings({**SETTINGS, "JIRA_BASE_URL": bad})


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST.", True),
        ("app.localhost", True),
        ("127.0.0.9", True),
        ("[::1]", True),
        ("10.0.0.7", False),
        ("jira.example.com", False),
        (None, False),
    ],
)
def test_loopback_hosts(host, loopback):
    assert is_loopback_host(host) is loopback


def test_plain_http_is_refused_the_same_way_from_settings():
    url = normalise_base_url("http://jira.example.com")
    with pytest.raises(ConfigurationError) as direct:
        check_transport_security(url, allow_insecure_http=False)
    with pytest.raises(ConfigurationError) as from_settings:
        load_settings({**SETTINGS, "JIRA_BASE_URL": "http://jira.example.com"})
    assert str(from_settings.value) == f"JIRA_BASE_URL: {direct.value}"
    check_transport_security(normalise_base_url("http://127.0.0.1:8089"), allow_insecure_http=False)
