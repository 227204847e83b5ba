"""Links to other Jira issues: to their file in the knowledge base when it holds them, else to Jira."""

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from jarkdown_pipeline.issue_keys import ISSUE_KEY_PATTERN, is_issue_key

# ``/browse/KEY``, then nothing but a query or fragment (``?focusedCommentId=...``, ``#comment-1``).
_BROWSE_PATH = re.compile(r"/browse/(" + ISSUE_KEY_PATTERN + r")/?")


class IssueLinks:
    """Where a link to an issue goes: ``../KEY/KEY.md`` for a key in ``known`` (the knowledge base
    holds it), ``{base_url}/browse/KEY`` for any other. A URL is read as an issue's page only when it
    is this Jira's (same scheme, host and path prefix as ``base_url``): another site's ABC-1 is not ours.
    """

    def __init__(self, base_url: str = "", known: Iterable[str] = ()) -> None:
        self.base_url = str(base_url or "").rstrip("/")
        self.known = frozenset(known or ())
        base = urlsplit(self.base_url)
        self._scheme, self._host, self._path = base.scheme.lower(), base.netloc.lower(), base.path.rstrip("/")

    def browse_url(self, key: str) -> str:
        return f"{self.base_url}/browse/{key}" if self.base_url else f"/browse/{key}"

    def local_href(self, key: str) -> str | None:
        """The issue's file relative to another issue's file, when the knowledge base holds it."""
        return f"../{key}/{key}.md" if key in self.known and is_issue_key(key) else None

    def href(self, key: str) -> str:
        return self.local_href(key) or self.browse_url(key)

    def key_of_url(self, url: str) -> str | None:
        """The issue key of this Jira's issue page ``url`` (``.../browse/KEY``), else None."""
        if not self._host or "/browse/" not in url:
            return None
        try:
            parts = urlsplit(url.strip())
        except ValueError:
            return None
        if (parts.scheme.lower(), parts.netloc.lower()) != (self._scheme, self._host):
            return None
        if not parts.path.startswith(self._path + "/browse/"):
            return None
        match = _BROWSE_PATH.fullmatch(parts.path, len(self._path))
        return match.group(1) if match else None

    def local_href_for_url(self, url: str) -> str | None:
        """The local file for a link to this Jira's page of an issue the knowledge base holds."""
        key = self.key_of_url(url)
        return self.local_href(key) if key is not None else None
