"""The one rule for a Jira base URL, used by the client and by the settings alike.

``acme.atlassian.net`` (a bare host name, optionally with a port) or a full ``http(s)`` URL without
credentials, query or fragment; the result has no trailing slash. Plain ``http://`` to a host off
this machine is refused unless allowed: the credentials would travel in clear text.
"""

import ipaddress
import re

from yarl import URL

from jarkdown_pipeline.exceptions import ConfigurationError

# A DNS name: labels of letters, digits and hyphens, an optional port.
_HOST_NAME_RE = re.compile(
    r"^(?=.{1,253}(?::\d+)?$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)"
    r"(\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(:\d{1,5})?$"
)


def is_host_name(value: str) -> bool:
    """A bare host name such as ``acme.atlassian.net`` or ``localhost:8089``: no scheme, no path."""
    return bool(_HOST_NAME_RE.match(value))


def normalise_base_url(base_url_or_domain: str, name: str = "Jira base URL") -> URL:
    """``acme.atlassian.net`` -> ``https://acme.atlassian.net``; full URLs kept (minus a trailing slash).

    ``name`` is what the messages call the value (the settings give the variable's name)."""
    text = (base_url_or_domain or "").strip()
    if not text:
        raise ConfigurationError(f"{name} is empty (e.g. 'acme.atlassian.net')")
    if "://" not in text:
        if not is_host_name(text):
            raise ConfigurationError(
                f"{name} must be a full URL such as https://acme.atlassian.net, or a bare host name such as "
                f"acme.atlassian.net (no path, no trailing slash); got {base_url_or_domain!r}"
            )
        text = f"https://{text}"
    try:
        url = URL(text)
    except ValueError as error:
        raise ConfigurationError(f"{name} {base_url_or_domain!r} is not a valid URL: {error}") from None
    if url.scheme not in ("http", "https"):
        raise ConfigurationError(f"{name} {base_url_or_domain!r} must use http or https")
    if not url.host or any(ch.isspace() for ch in text):
        raise ConfigurationError(f"{name} {base_url_or_domain!r} has no valid host name")
    if url.user or url.password:
        raise ConfigurationError(f"{name} must not contain credentials; pass email and api_token instead")
    if url.query_string or url.fragment:
        raise ConfigurationError(f"{name} {base_url_or_domain!r} must not have a query or fragment")
    return url.with_path(url.path.rstrip("/"))


def is_loopback_host(host: str | None) -> bool:
    """127.0.0.0/8, ::1 and ``localhost``: traffic that never leaves the machine."""
    host = (host or "").strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_transport_security(url: URL, allow_insecure_http: bool) -> None:
    """Refuse plain http to a host off this machine: the credentials would travel in clear text."""
    if url.scheme == "http" and not is_loopback_host(url.host) and not allow_insecure_http:
        raise ConfigurationError(
            f"Jira base URL {str(url)!r} uses plain http to a remote host: the API token would travel in clear "
            "text. Use https, or allow it explicitly with JARKDOWN_ALLOW_INSECURE_HTTP=true "
            "(JiraApiClient(..., allow_insecure_http=True))"
        )
