"""Settings: a remote http:// base URL is refused unless allowed; the scope JQL's structure is checked."""

import pytest

from jarkdown_pipeline.exceptions import ConfigurationError
from jarkdown_pipeline.orchestration.resources import JiraResource
from jarkdown_pipeline.settings import load_settings, validate_scope_jql
from jarkdown_pipeline_tests.plugins.settings import env


@pytest.mark.parametrize("url", ["http://jira.example.com", "http://10.0.0.7:8080", "http://[2001:db8::1]/jira"])
def test_remote_plain_http_is_refused_naming_the_variable_and_the_risk(url):
    with pytest.raises(ConfigurationError) as caught:
        load_settings(env(JIRA_BASE_URL=url))
    message = str(caught.value)
    assert "JIRA_BASE_URL" in message and "clear text" in message and "JARKDOWN_ALLOW_INSECURE_HTTP" in message
    assert "s3cret-token" not in message


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8089", "http://127.5.6.7", "http://localhost:8089", "http://LOCALHOST", "http://[::1]:8089"],
)
def test_loopback_http_stays_allowed(url):
    settings = load_settings(env(JIRA_BASE_URL=url))
    assert settings.jira_base_url.startswith("http://") and settings.allow_insecure_http is False


def test_https_is_never_affected():
    assert load_settings(env(JIRA_BASE_URL="https://jira.example.com")).allow_insecure_http is False


@pytest.mark.parametrize("word", ["1", "true", "TRUE", "Yes", " yes "])
def test_insecure_http_allowed_explicitly(word):
    settings = load_settings(env(JIRA_BASE_URL="http://jira.example.com", JARKDOWN_ALLOW_INSECURE_HTTP=word))
    assert settings.allow_insecure_http is True
    assert settings.jira_base_url == "http://jira.example.com"


@pytest.mark.parametrize("word", ["", "0", "false", "No"])
def test_insecure_http_false_words_keep_the_refusal(word):
    with pytest.raises(ConfigurationError, match="clear text"):
        load_settings(env(JIRA_BASE_URL="http://jira.example.com", JARKDOWN_ALLOW_INSECURE_HTTP=word))
    assert load_settings(env(JARKDOWN_ALLOW_INSECURE_HTTP=word)).allow_insecure_http is False


@pytest.mark.parametrize("word", ["maybe", "on", "2", "ture"])
def test_insecure_http_flag_of_another_value_is_named(word):
    with pytest.raises(ConfigurationError, match="JARKDOWN_ALLOW_INSECURE_HTTP") as caught:
        load_settings(env(JARKDOWN_ALLOW_INSECURE_HTTP=word))
    assert repr(word) in str(caught.value)


def test_the_resource_carries_the_permission():
    allowed = load_settings(env(JIRA_BASE_URL="http://jira.example.com", JARKDOWN_ALLOW_INSECURE_HTTP="true"))
    assert JiraResource.from_settings(allowed).allow_insecure_http is True
    pat = load_settings(
        env(
            JIRA_BASE_URL="http://jira.example.com",
            JARKDOWN_ALLOW_INSECURE_HTTP="yes",
            JIRA_EMAIL=None,
            JIRA_API_TOKEN=None,
            JIRA_PAT="pat",
        )
    )
    assert JiraResource.from_settings(pat).allow_insecure_http is True
    assert JiraResource.from_settings(load_settings(env())).allow_insecure_http is False


def test_bare_host_with_a_trailing_slash_names_the_variable_once():
    with pytest.raises(ConfigurationError) as caught:
        load_settings(env(JIRA_BASE_URL="acme.atlassian.net/"))
    message = str(caught.value)
    assert message.count("JIRA_BASE_URL") == 1
    assert "https://acme.atlassian.net" in message and "'acme.atlassian.net/'" in message


@pytest.mark.parametrize(
    "jql",
    [
        'summary ~ "order by"',
        "summary ~ 'ORDER   BY price'",
        'summary ~ "a ) b"',
        "summary ~ 'it\\'s (open'",
        'summary ~ "say \\"order by\\" (loudly"',
        "project in (A, B) AND (status = Done OR (labels = x))",
        'summary ~ "it\'s"',
        "labels = order_byline",
        "labels = order\\ by",
        'summary ~ "\\\\" AND project = A',
    ],
)
def test_accepted_scope_jql(jql):
    assert validate_scope_jql(jql) == jql


@pytest.mark.parametrize(
    "jql, reason",
    [
        ("project = A) OR (project = B", "never opened"),
        (")(", "never opened"),
        ("project in (A, B", "never closed"),
        ("(project = A))", "never opened"),
        ('summary ~ "x" ORDER BY key', "ORDER BY"),
        ("project = A order\n by key", "ORDER BY"),
        ('summary ~ "open', "never closed"),
        ("summary ~ 'open", "never closed"),
        ('summary ~ "a\\"', "never closed"),
        ("summary ~ x\\", "backslash"),
        ('summary ~ "(" AND project = A)', "never opened"),
    ],
)
def test_refused_scope_jql_says_why(jql, reason):
    with pytest.raises(ConfigurationError, match="JARKDOWN_JQL") as caught:
        validate_scope_jql(jql)
    assert reason in str(caught.value)


def test_scope_jql_problems_are_found_through_load_settings():
    with pytest.raises(ConfigurationError, match="never opened"):
        load_settings(env(JARKDOWN_JQL="project = A) OR (project = B"))
    assert load_settings(env(JARKDOWN_JQL='summary ~ "order by"')).scope_jql == 'summary ~ "order by"'


def test_the_request_deadline_and_the_download_rate_floor_are_resource_config():
    """Issue 13, bounded requests: both bounds are set from Dagster's resource config."""
    from jarkdown_pipeline.jira_api_client import DEFAULT_MIN_DOWNLOAD_RATE, DEFAULT_REQUEST_DEADLINE

    base = {"base_url": "https://acme.atlassian.net", "email": "a@example.com", "api_token": "t"}
    defaults = JiraResource(**base).get_client()
    assert (defaults.request_deadline, defaults.min_download_rate) == (
        DEFAULT_REQUEST_DEADLINE,
        DEFAULT_MIN_DOWNLOAD_RATE,
    )
    tuned = JiraResource(**base, request_deadline_seconds=30, min_download_bytes_per_second=0).get_client()
    assert (tuned.request_deadline, tuned.min_download_rate) == (30, 0)
    assert JiraResource(**base, request_deadline_seconds=None).get_client().request_deadline is None
    with pytest.raises(ConfigurationError, match="request_deadline must be positive"):
        JiraResource(**base, request_deadline_seconds=0).get_client()
