"""A proxy in front of the sample Jira that makes some of its answers hostile, for pipeline tests.

Every request goes to the sample Jira unchanged; its JSON answers come back with the sample Jira's
URL replaced by the proxy's (so attachment downloads come through here too), and then:

- the description of ``deep_keys`` nests ``depth`` blockquotes (in bulk pages and single GETs);
- ``extra_search_entries`` are appended to every search page (e.g. an invalid key, a bare string);
- ``junk_bulk_entry`` appends an entry that is not an object to every bulk-fetch page;
- a single GET of one of ``echo_keys`` fails (400) with a body that echoes the request's
  ``Authorization`` header, as a careless proxy or server does.

It runs on its own event loop in a thread, like the sample Jira, so sync tests can call Dagster.
"""

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from jarkdown_pipeline.sample_jira.runner import SampleJiraThread

_DEEP_MARKER = "\u0000deep description\u0000"
_FORWARDED_REQUEST_HEADERS = ("authorization", "content-type", "accept")
_FORWARDED_ANSWER_HEADERS = ("Content-Type", "Location", "Retry-After", "Content-Disposition")


@dataclass(frozen=True)
class Hostility:
    deep_keys: frozenset[str] = frozenset()
    depth: int = 100_000
    extra_search_entries: tuple[Any, ...] = ()
    junk_bulk_entry: Any = None
    echo_keys: frozenset[str] = frozenset()


def deep_adf_text(depth: int) -> str:
    """An ADF document nesting ``depth`` blockquotes, as JSON text (built as text: no parser involved)."""
    paragraph = '{"type":"paragraph","content":[{"type":"text","text":"the bottom"}]}'
    return (
        '{"type":"doc","version":1,"content":['
        + '{"type":"blockquote","content":[' * depth
        + paragraph
        + "]}" * depth
        + "]}"
    )


class HostileJiraProxy:
    def __init__(self, upstream: SampleJiraThread, hostility: Hostility) -> None:
        self.upstream = upstream
        self.hostility = hostility
        self.config = upstream.config  # what build_pipeline reads (the user's time zone)
        self.email = upstream.email
        self.api_token = upstream.api_token
        self.base_url = ""
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(auto_decompress=True)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.forward)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        if request.method == "GET" and request.path.rsplit("/", 1)[-1] in self.hostility.echo_keys:
            echoed = f"Bad request: Authorization: {request.headers.get('Authorization', '')}"
            return web.json_response({"errorMessages": [echoed], "errors": {}}, status=400)
        headers = {name: value for name, value in request.headers.items() if name.lower() in _FORWARDED_REQUEST_HEADERS}
        body = await request.read()
        url = self.upstream.base_url + request.path_qs
        async with self._session.request(
            request.method, url, headers=headers, data=body or None, allow_redirects=False
        ) as answer:
            data = await answer.read()
            answer_headers = {
                name: answer.headers[name] for name in _FORWARDED_ANSWER_HEADERS if name in answer.headers
            }
            is_json = answer.content_type == "application/json"
        if answer.status == 200 and is_json:
            data = self.rewrite(request.path, data)
        return web.Response(status=answer.status, body=data, headers=answer_headers)

    def rewrite(self, path: str, data: bytes) -> bytes:
        document = json.loads(data.decode("utf-8").replace(self.upstream.base_url, self.base_url))
        if path.endswith("/search/jql"):
            document["issues"] = list(document.get("issues") or []) + list(self.hostility.extra_search_entries)
        elif path.endswith("/issue/bulkfetch"):
            document["issues"] = [self.deepen(issue) for issue in document.get("issues") or []]
            if self.hostility.junk_bulk_entry is not None:
                document["issues"].append(self.hostility.junk_bulk_entry)
        elif isinstance(document, dict):
            document = self.deepen(document)
        text = json.dumps(document)
        return text.replace(json.dumps(_DEEP_MARKER), deep_adf_text(self.hostility.depth)).encode("utf-8")

    def deepen(self, issue: Any) -> Any:
        if (
            isinstance(issue, dict)
            and issue.get("key") in self.hostility.deep_keys
            and isinstance(issue.get("fields"), dict)
        ):
            issue["fields"]["description"] = _DEEP_MARKER
        return issue


@contextmanager
def hostile_jira(upstream: SampleJiraThread, hostility: Hostility) -> Iterator[HostileJiraProxy]:
    """The proxy, serving on a free loopback port from a thread of its own until the block ends."""
    proxy = HostileJiraProxy(upstream, hostility)
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(proxy.start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(proxy.stop())
        loop.close()

    thread = threading.Thread(target=serve, name="hostile-jira", daemon=True)
    thread.start()
    if not ready.wait(30):
        raise TimeoutError("the hostile Jira proxy did not start")
    try:
        yield proxy
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
