"""The network phase connection by connection (`make bench`): a pure sum over the sample Jira's trace."""

import pytest

from jarkdown_pipeline.tools.bench import budget_lines, network_budget
from jarkdown_pipeline.tools.connection_budget import budget_text, connection_budget

# Two connections over [0, 1]: connection 0 answers 0.0-0.5 and 0.6-0.9 (a 0.1 gap, 0.1 idle at the
# end), connection 1 starts at 0.2 and answers 0.2-0.7 (0.2 idle before, 0.3 after).
TRACE = [(0, 0.0, 0.5), (1, 0.2, 0.7), (0, 0.6, 0.9)]


def test_the_parts_add_up_to_every_connection_over_the_span():
    budget = connection_budget(TRACE, 0.0, 1.0, connections=2, latency=0.4)
    assert budget["requests"] == 3 and budget["connections_used"] == 2 and budget["span_seconds"] == 1.0
    parts = ("at_latency_seconds", "beyond_latency_seconds", "gap_seconds", "start_idle_seconds", "end_idle_seconds")
    assert sum(budget[part] for part in parts) == pytest.approx(1.0)  # 2 connections x 1 s / 2
    assert budget["at_latency_seconds"] == pytest.approx(3 * 0.4 / 2)
    assert budget["beyond_latency_seconds"] == pytest.approx((0.5 + 0.5 + 0.3 - 1.2) / 2)
    assert budget["gap_seconds"] == pytest.approx(0.1 / 2)
    assert budget["gap_ms_per_request"] == pytest.approx(100.0)  # one gap, between connection 0's two requests
    assert budget["start_idle_seconds"] == pytest.approx(0.2 / 2)
    assert budget["end_idle_seconds"] == pytest.approx((0.1 + 0.3) / 2)


def test_a_connection_never_used_is_idle_all_along():
    budget = connection_budget(TRACE, 0.0, 1.0, connections=3, latency=0.4)
    assert budget["start_idle_seconds"] == pytest.approx((0.2 + 1.0) / 3)


def test_requests_outside_the_phase_are_left_out():
    before_and_after = [(0, -0.5, -0.1), *TRACE, (1, 0.95, 1.2)]
    assert connection_budget(before_and_after, 0.0, 1.0, connections=2, latency=0.4) == connection_budget(
        TRACE, 0.0, 1.0, connections=2, latency=0.4
    )
    assert connection_budget(TRACE, 2.0, 3.0, connections=2, latency=0.4) is None


def test_the_order_of_the_trace_does_not_matter():
    shuffled = [TRACE[2], TRACE[0], TRACE[1]]
    assert connection_budget(shuffled, 0.0, 1.0, connections=2, latency=0.4) == connection_budget(
        TRACE, 0.0, 1.0, connections=2, latency=0.4
    )


def test_the_text_names_every_part_and_the_span():
    text = budget_text(connection_budget(TRACE, 0.0, 1.0, connections=2, latency=0.4))
    assert text.startswith("3 requests at the latency 0.60 s")
    assert "+0.05 (100.0 ms each)" in text and text.endswith("= 1.00 s")


def server_with(trace, search_at=0.0, last_answer_at=1.0):
    api = {"first_by_route": {"POST /rest/api/3/search/jql": search_at}, "last_answer_at": last_answer_at}
    return {"api": {**api, "trace": trace}, "media": {"last_answer_at": None, "trace": []}}


def test_the_network_budget_runs_from_the_window_search_to_the_last_answer():
    # A request before the search (the fields step's) is not the window's.
    budgets = network_budget(server_with([(0, -0.3, -0.25), *TRACE]))
    assert list(budgets) == ["api"]  # the media host served nothing
    assert budgets["api"]["requests"] == 3 and budgets["api"]["span_seconds"] == 1.0
    assert network_budget({"api": {"first_by_route": {}}, "media": {}}) == {}  # no search: no phase


def test_the_budget_lines_give_the_run_and_the_bare_session():
    budget = connection_budget(TRACE, 0.0, 1.0, connections=2, latency=0.4)
    lines = budget_lines(
        {"floor_seconds": 10.2, "budget": {"api": budget}, "bare_client": {"budget": {"api": budget}}}
    ).splitlines()
    assert lines[0].startswith("The window's network phase on the api host") and "the floor 10.20 s" in lines[0]
    assert lines[1].startswith("The bare session's downloads on the api host: 3 requests")
    assert budget_lines({"floor_seconds": 10.2}) == ""
