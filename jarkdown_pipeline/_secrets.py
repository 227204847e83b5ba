"""The one scrub for every text the Jira client logs, raises or stores.

A server (or a proxy) may echo the request's ``Authorization`` header in an error body; Dagster
keeps error texts in its event log for good. So each text leaving the client passes through
``Secrets.scrub``, which removes the configured token or PAT, the Basic credentials (base64 of
``email:token``), the whole header value, and any ``Authorization: Basic|Bearer ...`` echo,
also in the spellings an echo may use (JSON-escaped slashes, percent-encoding).
"""

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

REDACTED = "<redacted>"

# An echoed header, whatever its value:
# "Authorization: Bearer x", '"authorization": "Basic x"', "Authorization=Basic x".
_ECHOED_AUTHORIZATION = re.compile(
    r"""(authorization["']?\s*[:=]\s*["']?\s*)(basic|bearer)\s+[^\s"'<>,;]+""", re.IGNORECASE
)
# Shorter values are not scrubbed as substrings: they would blank ordinary words.
_MIN_SECRET_LENGTH = 4


def _spellings(value: str) -> set[str]:
    return {value, value.replace("/", "\\/"), quote(value, safe=""), quote(value, safe="/")}


class Secrets:
    """The values one client must never show; ``scrub`` removes them from a text or a JSON-like value."""

    def __init__(self, values: Iterable[str | None]) -> None:
        spellings = set()
        for value in values:
            if value and len(value) >= _MIN_SECRET_LENGTH:
                spellings |= _spellings(value)
        # Longest first, so "Basic <b64>" goes whole before "<b64>" alone.
        self._spellings = sorted(spellings, key=len, reverse=True)

    def __repr__(self) -> str:
        return f"Secrets({len(self._spellings)} spellings)"

    def scrub(self, text: str) -> str:
        """``text`` without any secret (and without any echoed ``Authorization`` value)."""
        for spelling in self._spellings:
            if spelling in text:
                text = text.replace(spelling, REDACTED)
        return _ECHOED_AUTHORIZATION.sub(lambda match: f"{match.group(1)}{match.group(2)} {REDACTED}", text)

    def scrub_value(self, value: Any) -> Any:
        """A JSON-like value (an error body) with every string in it scrubbed."""
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {self.scrub(str(k)): self.scrub_value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.scrub_value(v) for v in value]
        return value

    def scrub_error(self, error: BaseException) -> BaseException:
        """The error, its message and (for a JiraApiError) its body, messages and URL scrubbed, in place."""
        error.args = tuple(self.scrub(a) if isinstance(a, str) else a for a in error.args)
        for name in ("response", "error_messages", "url"):
            if hasattr(error, name):
                setattr(error, name, self.scrub_value(getattr(error, name)))
        return error
