"""The pipeline's settings, read from the environment and validated at once.

Every problem raises ``ConfigurationError`` naming the variable, before anything talks to Jira or
touches the knowledge base. Secrets are kept out of ``repr`` so a logged ``Settings`` leaks nothing.
No Dagster import: the Dagster layer turns these into resources and partitions.
"""

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from yarl import URL

from jarkdown_pipeline.exceptions import ConfigurationError
from jarkdown_pipeline.jira_api_client import normalise_base_url

DEFAULT_OUTPUT_DIR = "./jira_markdown"
DEFAULT_TIMEZONE = "UTC"

# A DNS name: labels of letters, digits and hyphens, an optional port.
_DOMAIN_RE = re.compile(
    r"^(?=.{1,253}(?::\d+)?$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
    r"(\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(:\d{1,5})?$"
)
_ORDER_BY_RE = re.compile(r"\border\s+by\b", re.IGNORECASE)
# A JQL string literal in either quotes (a backslash escapes the next character), or an escape outside one.
_QUOTED_OR_ESCAPED_RE = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\\.""", re.DOTALL)
_TRUE_WORDS = ("1", "true", "yes")
_FALSE_WORDS = ("0", "false", "no")


@dataclass(frozen=True)
class Settings:
    """Everything the pipeline needs from the environment, validated."""

    jira_base_url: str
    """Normalised base URL, e.g. ``https://acme.atlassian.net`` (no trailing slash)."""
    jira_base_url_variable: str
    """Which variable gave the URL: ``JIRA_BASE_URL`` or ``JIRA_DOMAIN``."""
    email: str | None
    api_token: str | None = field(repr=False)
    personal_access_token: str | None = field(repr=False)
    output_dir: Path
    scope_jql: str | None
    start_date: date
    timezone: str
    include_custom_fields: tuple[str, ...] | None
    exclude_custom_fields: tuple[str, ...]
    allow_insecure_http: bool = False
    """``JARKDOWN_ALLOW_INSECURE_HTTP``: a plain ``http://`` base URL to a non-loopback host is allowed."""
    jira_flavour: str = "auto"
    """``JARKDOWN_JIRA_FLAVOUR``: ``auto`` (ask serverInfo once per run), or ``cloud`` / ``datacenter`` for a proxy
    that hides serverInfo."""
    history: str = "inline"
    """``JARKDOWN_HISTORY``: each issue's change history ``inline`` (a section of KEY.md), ``separate``
    (KEY.history.md beside it) or ``omit``."""
    state_dsn: str | None = field(default=None, repr=False)
    """JARKDOWN_STATE_DSN: PostgreSQL DSN of the state store (may hold a password); None: SQLite in
    ``.jarkdown/state.sqlite3``."""

    @property
    def uses_personal_access_token(self) -> bool:
        return self.personal_access_token is not None


def _get(environ: Mapping[str, str], name: str) -> str | None:
    """The variable's value stripped of surrounding blanks; None when unset or blank."""
    value = environ.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def normalize_base_url(value: str, variable: str) -> str:
    """``https://acme.atlassian.net/`` or ``acme.atlassian.net`` -> ``https://acme.atlassian.net``.

    A bare host name is checked here; the URL itself by the client's own rule (one rule for what
    a Jira base URL is), its message prefixed with the variable that gave it.
    """
    if variable == "JIRA_DOMAIN" or "://" not in value:
        if not _DOMAIN_RE.match(value):
            raise ConfigurationError(_bad_host_message(value, variable))
        value = f"https://{value.lower()}"
    try:
        return str(normalise_base_url(value))
    except ConfigurationError as error:
        raise ConfigurationError(f"{variable}: {error}") from None


def _bad_host_message(value: str, variable: str) -> str:
    if variable == "JIRA_DOMAIN":
        return (
            f"JIRA_DOMAIN must be a host name such as acme.atlassian.net (or set JIRA_BASE_URL to a full URL); "
            f"got {value!r}"
        )
    return (
        f"{variable} must be a full URL such as https://acme.atlassian.net, or a bare host name such as "
        f"acme.atlassian.net (no path, no trailing slash); got {value!r}"
    )


def is_loopback_host(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1: a connection that never leaves this machine."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_transport_security(base_url: str, variable: str, allow_insecure_http: bool) -> None:
    """A plain ``http://`` URL to another machine would send the token in clear text: refused unless allowed."""
    url = URL(base_url)
    if url.scheme != "http" or allow_insecure_http or is_loopback_host(url.host or ""):
        return
    raise ConfigurationError(
        f"{variable} uses plain http:// to {url.host}, so the API token would travel in clear text; "
        "use https://, or set JARKDOWN_ALLOW_INSECURE_HTTP=true if this network is trusted"
    )


def parse_flag(value: str | None, variable: str) -> bool:
    """1/true/yes -> True; unset, empty, 0/false/no -> False (any case); anything else is an error."""
    if value is None or value.lower() in _FALSE_WORDS:
        return False
    if value.lower() in _TRUE_WORDS:
        return True
    raise ConfigurationError(f"{variable} must be true or false (1/true/yes or 0/false/no); got {value!r}")


def parse_start_date(value: str, variable: str = "JARKDOWN_START_DATE") -> date:
    # The pattern first: fromisoformat alone also accepts 20260101 and week dates.
    message = f"{variable} must be a date as YYYY-MM-DD (e.g. 2026-01-01); got {value!r}"
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ConfigurationError(message)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ConfigurationError(message) from None


def parse_field_list(value: str | None, variable: str) -> tuple[str, ...] | None:
    """A comma-separated list of custom field names or ids; None when unset."""
    if value is None:
        return None
    names = tuple(name.strip() for name in value.split(","))
    if any(not name for name in names):
        raise ConfigurationError(
            f"{variable} must be a comma-separated list of custom field names or ids without empty items; got {value!r}"
        )
    return names


def _field_list(environ: Mapping[str, str], name: str) -> tuple[str, ...] | None:
    return parse_field_list(_get(environ, name), name)


def _blank_out(match: re.Match[str]) -> str:
    # A string becomes blanks; an escaped character outside one stays part of its word.
    text = match.group()
    return (" " if text[0] in "\"'" else "_") * len(text)


def _unquoted_text(value: str, variable: str) -> str:
    """The JQL with every quoted string (single or double quotes, backslash escapes) blanked out.

    What is left is the query's structure: parentheses and keywords inside a string literal are text.
    """
    structure = _QUOTED_OR_ESCAPED_RE.sub(_blank_out, value)
    if "\\" in structure:
        raise ConfigurationError(f"{variable} ends with a lone backslash; got {value!r}")
    for quote in "\"'":
        if quote in structure:
            raise ConfigurationError(f"{variable} has a {quote} quote that is never closed; got {value!r}")
    return structure


def _check_parentheses(structure: str, value: str, variable: str) -> None:
    depth = 0
    for position, char in enumerate(structure):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            raise ConfigurationError(
                f"{variable} closes a parenthesis at character {position + 1} that was never opened, so the "
                f"query would not stay one term when AND-ed with the date window; got {value!r}"
            )
    if depth:
        raise ConfigurationError(f"{variable} opens {depth} parenthesis(es) that are never closed; got {value!r}")


def validate_scope_jql(value: str, variable: str = "JARKDOWN_JQL") -> str:
    """Quotes closed, parentheses nested, no ORDER BY outside a string: safe to wrap as ``(jql) AND window``."""
    structure = _unquoted_text(value, variable)
    if _ORDER_BY_RE.search(structure):
        raise ConfigurationError(
            f"{variable} must not contain ORDER BY: it is AND-ed with each partition's date window"
        )
    _check_parentheses(structure, value, variable)
    return value


def validate_timezone(value: str, variable: str = "JARKDOWN_TIMEZONE") -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"{variable} must be an IANA time zone such as Europe/Berlin or UTC; got {value!r}"
        ) from None
    return value


def _jira_url(env: Mapping[str, str]) -> tuple[str, str, bool]:
    """(base URL, the variable it came from, whether remote plain http is allowed)."""
    base_url_value = _get(env, "JIRA_BASE_URL")
    domain_value = _get(env, "JIRA_DOMAIN")
    if base_url_value and domain_value:
        raise ConfigurationError("Set only one of JIRA_BASE_URL and JIRA_DOMAIN, not both")
    if not base_url_value and not domain_value:
        raise ConfigurationError(
            "JIRA_BASE_URL is not set: give your Jira's URL (e.g. https://acme.atlassian.net), "
            "or its host name in JIRA_DOMAIN"
        )
    variable = "JIRA_BASE_URL" if base_url_value else "JIRA_DOMAIN"
    base_url = normalize_base_url(base_url_value or domain_value, variable)
    allow_insecure_http = parse_flag(_get(env, "JARKDOWN_ALLOW_INSECURE_HTTP"), "JARKDOWN_ALLOW_INSECURE_HTTP")
    check_transport_security(base_url, variable, allow_insecure_http)
    return base_url, variable, allow_insecure_http


def _credentials(env: Mapping[str, str]) -> tuple[str | None, str | None, str | None]:
    """(e-mail, API token, PAT): a Cloud token with its e-mail, or a Data Center PAT."""
    email = _get(env, "JIRA_EMAIL")
    api_token = _get(env, "JIRA_API_TOKEN")
    pat = _get(env, "JIRA_PAT")
    if pat and api_token:
        raise ConfigurationError(
            "Set only one of JIRA_API_TOKEN (Jira Cloud, with JIRA_EMAIL) and JIRA_PAT (Data Center)"
        )
    if pat:
        return None, None, pat
    if not api_token:
        raise ConfigurationError(
            "JIRA_API_TOKEN is not set: give an API token (with JIRA_EMAIL) for Jira Cloud, "
            "or a personal access token in JIRA_PAT for Jira Data Center"
        )
    if not email:
        raise ConfigurationError("JIRA_EMAIL is not set: Jira Cloud API tokens need the account's e-mail")
    if "@" not in email:
        raise ConfigurationError(f"JIRA_EMAIL must be an e-mail address; got {email!r}")
    return email, api_token, None


def _output_dir(env: Mapping[str, str]) -> Path:
    output_dir = Path(_get(env, "JARKDOWN_OUTPUT_DIR") or DEFAULT_OUTPUT_DIR).expanduser()
    if output_dir.exists() and not output_dir.is_dir():
        raise ConfigurationError(f"JARKDOWN_OUTPUT_DIR is not a directory: {output_dir}")
    return output_dir.resolve()


def _start_date_and_zone(env: Mapping[str, str]) -> tuple[date, str]:
    start_value = _get(env, "JARKDOWN_START_DATE")
    if not start_value:
        raise ConfigurationError(
            "JARKDOWN_START_DATE is not set: give the first day to mirror as YYYY-MM-DD (e.g. 2026-01-01)"
        )
    start_date = parse_start_date(start_value)
    timezone = validate_timezone(_get(env, "JARKDOWN_TIMEZONE") or DEFAULT_TIMEZONE)
    if start_date > datetime.now(ZoneInfo(timezone)).date():
        raise ConfigurationError(f"JARKDOWN_START_DATE is in the future: {start_value}")
    return start_date, timezone


def _custom_field_lists(env: Mapping[str, str]) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    include = _field_list(env, "JARKDOWN_INCLUDE_CUSTOM_FIELDS")
    exclude = _field_list(env, "JARKDOWN_EXCLUDE_CUSTOM_FIELDS") or ()
    named_by_both = set(include or ()) & set(exclude)
    if named_by_both:
        raise ConfigurationError(
            "JARKDOWN_INCLUDE_CUSTOM_FIELDS and JARKDOWN_EXCLUDE_CUSTOM_FIELDS both name: "
            + ", ".join(sorted(named_by_both))
        )
    return include, exclude


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting; the first problem raises, naming its variable."""
    env = os.environ if environ is None else environ
    base_url, base_url_variable, allow_insecure_http = _jira_url(env)
    email, api_token, pat = _credentials(env)
    output_dir = _output_dir(env)
    scope_jql_value = _get(env, "JARKDOWN_JQL")
    scope_jql = validate_scope_jql(scope_jql_value) if scope_jql_value else None
    start_date, timezone = _start_date_and_zone(env)
    include, exclude = _custom_field_lists(env)
    return Settings(
        jira_base_url=base_url,
        jira_base_url_variable=base_url_variable,
        email=email,
        api_token=api_token,
        personal_access_token=pat,
        output_dir=output_dir,
        scope_jql=scope_jql,
        start_date=start_date,
        timezone=timezone,
        include_custom_fields=include,
        exclude_custom_fields=exclude,
        allow_insecure_http=allow_insecure_http,
        state_dsn=_get(env, "JARKDOWN_STATE_DSN") or None,
        jira_flavour=_jira_flavour(env),
        history=_history_mode(env),
    )


def _history_mode(env: Mapping[str, str]) -> str:
    value = (_get(env, "JARKDOWN_HISTORY") or "inline").strip().lower()
    if value not in ("inline", "separate", "omit"):
        raise ConfigurationError(f"JARKDOWN_HISTORY must be inline, separate or omit; got {value!r}")
    return value


def _jira_flavour(env: Mapping[str, str]) -> str:
    value = (_get(env, "JARKDOWN_JIRA_FLAVOUR") or "auto").strip().lower()
    if value not in ("auto", "cloud", "datacenter"):
        raise ConfigurationError(f"JARKDOWN_JIRA_FLAVOUR must be auto, cloud or datacenter; got {value!r}")
    return value
