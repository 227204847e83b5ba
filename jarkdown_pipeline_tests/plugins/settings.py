"""A valid environment for ``load_settings``, with changes (a value of None removes the variable)."""

BASE = {
    "JIRA_BASE_URL": "https://acme.atlassian.net/",
    "JIRA_EMAIL": "me@example.com",
    "JIRA_API_TOKEN": "s3cret-token",
    "JARKDOWN_START_DATE": "2026-01-01",
}


def env(**changes):
    merged = {**BASE, **changes}
    return {name: value for name, value in merged.items() if value is not None}
