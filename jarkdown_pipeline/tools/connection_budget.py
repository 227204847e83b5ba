"""Where a run's network phase goes, connection by connection (`make bench`).

The sample Jira records each answered request as (connection, came, answered) (``HostStats.trace``).
Over a phase (the window's first search to the last answer) a host's connections are either
handling a request (at the configured latency, or beyond it: the server answering late), between
one answer and the next request on the same connection (the answer's trip, the client's handling,
the next request's trip), or idle before their first request or after their last answer. The four
add up to connections x span; divided by the connections, each is seconds of the phase's wall time,
comparable with the floor (requests x latency / connections).
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

BudgetEntry = Sequence[float]
"""(connection number, came, answered), times from one clock (``time.time()``)."""


def connection_budget(
    trace: Iterable[BudgetEntry], start_at: float, end_at: float, *, connections: int, latency: float
) -> dict[str, Any] | None:
    """The phase [``start_at``, ``end_at``] of one host with ``connections`` connections, in seconds
    of wall time (connection-seconds / ``connections``); None if no request lies wholly in it.

    A connection the trace does not show in the phase was idle all along (counted at the start).
    """
    by_connection: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for number, came, answered in trace:
        if start_at <= came and answered <= end_at:
            by_connection[int(number)].append((came, answered))
    if not by_connection:
        return None
    for requests in by_connection.values():
        requests.sort()
    handled = [answered - came for requests in by_connection.values() for came, answered in requests]
    gaps = sum(
        following[0] - previous[1]
        for requests in by_connection.values()
        for previous, following in zip(requests, requests[1:])
    )
    span = end_at - start_at
    unused = max(0, connections - len(by_connection))
    start_idle = sum(requests[0][0] - start_at for requests in by_connection.values()) + unused * span
    end_idle = sum(end_at - requests[-1][1] for requests in by_connection.values())
    count = len(handled)
    return {
        "requests": count,
        "connections_used": len(by_connection),
        "span_seconds": span,
        "at_latency_seconds": count * latency / connections,
        "beyond_latency_seconds": (sum(handled) - count * latency) / connections,
        "gap_seconds": gaps / connections,
        "gap_ms_per_request": 1000 * gaps / max(1, count - len(by_connection)),
        "start_idle_seconds": start_idle / connections,
        "end_idle_seconds": end_idle / connections,
    }


def budget_text(budget: dict[str, Any]) -> str:
    """One host's budget as a line: what its span is made of."""
    return (
        f"{budget['requests']:,} requests at the latency {budget['at_latency_seconds']:.2f} s, answered beyond it "
        f"+{budget['beyond_latency_seconds']:.2f}, between an answer and the next request on its connection "
        f"+{budget['gap_seconds']:.2f} ({budget['gap_ms_per_request']:.1f} ms each), connections idle before "
        f"their first request +{budget['start_idle_seconds']:.2f} and after their last "
        f"+{budget['end_idle_seconds']:.2f} = {budget['span_seconds']:.2f} s"
    )
