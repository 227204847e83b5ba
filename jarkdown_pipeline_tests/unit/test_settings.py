"""Settings: every variable read, validated, and every problem named."""

from datetime import date, timedelta
from pathlib import Path

import pytest

from jarkdown_pipeline.exceptions import ConfigurationError
from jarkdown_pipeline.settings import load_settings
from jarkdown_pipeline_tests.plugins.settings import BASE, env


def test_minimal_cloud_settings_with_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env())
    assert settings.jira_base_url == "https://acme.atlassian.net"
    assert settings.uses_personal_access_token is False
    assert not any("s3cret-token" in str(value) for value in vars(settings).values()), "credentials are not kept"
    assert settings.output_dir == (tmp_path / "jira_markdown").resolve()
    assert settings.output_dir.is_absolute()
    assert settings.start_date == date(2026, 1, 1)
    assert settings.timezone == "UTC"
    assert settings.scope_jql is None
    assert settings.include_custom_fields is None and settings.exclude_custom_fields == ()


def test_secrets_never_in_repr():
    settings = load_settings(env())
    assert "s3cret-token" not in repr(settings)
    pat = load_settings(env(JIRA_API_TOKEN=None, JIRA_EMAIL=None, JIRA_PAT="pat-value-xyz"))
    assert "pat-value-xyz" not in repr(pat)


def test_domain_and_data_center_token():
    settings = load_settings(
        env(JIRA_BASE_URL=None, JIRA_DOMAIN="Acme.atlassian.net", JIRA_EMAIL=None, JIRA_API_TOKEN=None, JIRA_PAT="pat")
    )
    assert settings.jira_base_url == "https://acme.atlassian.net"
    assert settings.uses_personal_access_token is True
    assert not any("pat" == str(value) for value in vars(settings).values()), "credentials are not kept"


def test_all_optional_settings(tmp_path):
    settings = load_settings(
        env(
            JIRA_BASE_URL="http://127.0.0.1:8089",
            JARKDOWN_OUTPUT_DIR=str(tmp_path / "kb"),
            JARKDOWN_JQL="project in (ABC, XYZ)",
            JARKDOWN_TIMEZONE="Europe/Berlin",
            JARKDOWN_INCLUDE_CUSTOM_FIELDS="Story Points, Sprint",
            JARKDOWN_EXCLUDE_CUSTOM_FIELDS="customfield_10099",
        )
    )
    assert settings.jira_base_url == "http://127.0.0.1:8089"
    assert settings.output_dir == tmp_path / "kb"
    assert settings.scope_jql == "project in (ABC, XYZ)"
    assert settings.timezone == "Europe/Berlin"
    assert settings.include_custom_fields == ("Story Points", "Sprint")
    assert settings.exclude_custom_fields == ("customfield_10099",)


@pytest.mark.parametrize(
    "changes, variable",
    [
        ({"JIRA_BASE_URL": None}, "JIRA_BASE_URL"),
        ({"JIRA_BASE_URL": "   "}, "JIRA_BASE_URL"),
        ({"JIRA_BASE_URL": "ftp://acme.atlassian.net"}, "JIRA_BASE_URL"),
        ({"JIRA_BASE_URL": "https://user:pw@acme.atlassian.net"}, "JIRA_BASE_URL"),
        ({"JIRA_BASE_URL": "https://acme.atlassian.net?x=1"}, "JIRA_BASE_URL"),
        ({"JIRA_BASE_URL": "https://acme.atlassian.net:99999"}, "JIRA_BASE_URL"),
        ({"JIRA_BASE_URL": None, "JIRA_DOMAIN": "acme atlassian"}, "JIRA_DOMAIN"),
        ({"JIRA_BASE_URL": None, "JIRA_DOMAIN": "acme.atlassian.net/path"}, "JIRA_DOMAIN"),
        ({"JIRA_DOMAIN": "acme.atlassian.net"}, "JIRA_DOMAIN"),
        ({"JIRA_API_TOKEN": None}, "JIRA_API_TOKEN"),
        ({"JIRA_EMAIL": None}, "JIRA_EMAIL"),
        ({"JIRA_EMAIL": "not-an-address"}, "JIRA_EMAIL"),
        ({"JIRA_PAT": "pat"}, "JIRA_PAT"),
        ({"JARKDOWN_START_DATE": None}, "JARKDOWN_START_DATE"),
        ({"JARKDOWN_START_DATE": "2026-13-01"}, "JARKDOWN_START_DATE"),
        ({"JARKDOWN_START_DATE": "01/02/2026"}, "JARKDOWN_START_DATE"),
        ({"JARKDOWN_START_DATE": "20260101"}, "JARKDOWN_START_DATE"),
        ({"JARKDOWN_START_DATE": (date.today() + timedelta(days=3)).isoformat()}, "JARKDOWN_START_DATE"),
        ({"JARKDOWN_TIMEZONE": "Mars/Olympus"}, "JARKDOWN_TIMEZONE"),
        ({"JARKDOWN_JQL": "project = ABC ORDER BY key"}, "JARKDOWN_JQL"),
        ({"JARKDOWN_JQL": 'summary ~ "open'}, "JARKDOWN_JQL"),
        ({"JARKDOWN_INCLUDE_CUSTOM_FIELDS": "a,,b"}, "JARKDOWN_INCLUDE_CUSTOM_FIELDS"),
        (
            {"JARKDOWN_INCLUDE_CUSTOM_FIELDS": "Sprint", "JARKDOWN_EXCLUDE_CUSTOM_FIELDS": "Sprint"},
            "JARKDOWN_EXCLUDE_CUSTOM_FIELDS",
        ),
    ],
)
def test_bad_settings_name_the_variable(changes, variable):
    with pytest.raises(ConfigurationError, match=variable):
        load_settings(env(**changes))


def test_errors_never_echo_the_token():
    with pytest.raises(ConfigurationError) as caught:
        load_settings(env(JIRA_PAT="the-pat-value"))
    assert "the-pat-value" not in str(caught.value) and "s3cret-token" not in str(caught.value)


def test_output_dir_that_is_a_file(tmp_path):
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(ConfigurationError, match="JARKDOWN_OUTPUT_DIR"):
        load_settings(env(JARKDOWN_OUTPUT_DIR=str(file)))


def test_output_dir_expands_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert load_settings(env(JARKDOWN_OUTPUT_DIR="~/kb")).output_dir == Path(tmp_path, "kb").resolve()


def test_reads_os_environ_by_default(monkeypatch):
    for name, value in BASE.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("JIRA_DOMAIN", raising=False)
    monkeypatch.delenv("JIRA_PAT", raising=False)
    assert load_settings().jira_base_url == "https://acme.atlassian.net"
