"""aioresponses fixtures for unit tests of the client, with a shim for aiohttp >= 3.14.

Why the shim: aiohttp 3.14 added a required keyword ``stream_writer`` to ``ClientResponse.__init__``;
aioresponses 0.7.9 builds its fake responses without it, so every mocked request fails with
``ClientResponse.__init__() missing ... 'stream_writer'`` (aioresponses issue #289). The unmerged
fix (PR #288) passes ``stream_writer=Mock(output_size=0)`` when the signature has it. We do the
same from the outside: aioresponses looks up ``ClientResponse`` as a module global when a mock has
no ``response_class``, so the fixture swaps in a subclass that supplies the argument. We keep
aiohttp at 3.14 (it carries security fixes) rather than pin it down. Drop the shim once an
aioresponses release includes the fix.
"""

import inspect
from unittest import mock

import aiohttp
import pytest
from aioresponses import aioresponses

_NEEDS_STREAM_WRITER = "stream_writer" in inspect.signature(aiohttp.ClientResponse.__init__).parameters


class CompatClientResponse(aiohttp.ClientResponse):
    """A ClientResponse aioresponses can build on aiohttp 3.14+ (no upload ever happened: size 0)."""

    def __init__(self, method, url, **kwargs):
        if _NEEDS_STREAM_WRITER:
            kwargs.setdefault("stream_writer", mock.Mock(output_size=0))
        super().__init__(method, url, **kwargs)


@pytest.fixture
def mock_aiohttp():
    """An ``aioresponses`` mocker that works on this aiohttp; unmatched requests raise ClientConnectionError."""
    with mock.patch("aioresponses.core.ClientResponse", CompatClientResponse), aioresponses() as mocker:
        yield mocker
