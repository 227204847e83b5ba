"""Two processes writing one store at once (both backends): no lost rows, no "database is locked"."""

import multiprocessing
import threading
import traceback

from jarkdown_pipeline.state_store import IssueRecord, SqliteStateStore, sqlite_path

TRANSACTIONS_PER_PROCESS = 150
RECORDS_PER_TRANSACTION = 4


def write_many(spec, name: str, start, results) -> None:
    """A child: opens the (new) store as its sibling does, then commits many small transactions."""
    try:
        start.wait(timeout=60)  # both open, create and migrate the store at the same moment
        revisions = []
        with spec.open() as store:
            for n in range(1, TRANSACTIONS_PER_PROCESS + 1):
                records = [
                    IssueRecord(
                        f"{name}-{n * RECORDS_PER_TRANSACTION + i}", issue_id=f"{n}", jira_links=frozenset({"HUB-1"})
                    )
                    for i in range(RECORDS_PER_TRANSACTION)
                ]
                shared = IssueRecord("SHARED-1", issue_id=f"{name}-{n}", local_links=frozenset({f"{name}-1"}))
                revisions.append(store.upsert_issues([*records, shared]))
        results.put((name, revisions, None))
    except BaseException:
        results.put((name, [], traceback.format_exc()))


def test_two_processes_write_at_once_and_lose_nothing(store_spec):
    context = multiprocessing.get_context("spawn")  # a fresh interpreter each, as two runs would be
    start, results = context.Barrier(2), context.Queue()
    children = [context.Process(target=write_many, args=(store_spec, name, start, results)) for name in ("ONE", "TWO")]
    for child in children:
        child.start()
    outcomes = {}
    for _ in children:
        name, revisions, error = results.get(timeout=240)
        outcomes[name] = (revisions, error)
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    assert {name: error for name, (_, error) in outcomes.items() if error} == {}
    total = 2 * TRANSACTIONS_PER_PROCESS
    # Every transaction got its own revision, in one sequence: none lost, none merged.
    assert sorted(outcomes["ONE"][0] + outcomes["TWO"][0]) == list(range(1, total + 1))
    with store_spec.open() as store:
        assert store.current_revision() == total
        written = RECORDS_PER_TRANSACTION * TRANSACTIONS_PER_PROCESS
        assert store.project_counts() == {"ONE": written, "TWO": written, "SHARED": 1}
        assert len(store.files_linking_to(["HUB-1"], kind="jira")) == 2 * written
        last_writer = "ONE" if outcomes["ONE"][0][-1] > outcomes["TWO"][0][-1] else "TWO"
        shared = store.get_issues(["SHARED-1"])["SHARED-1"]
        assert shared.issue_id == f"{last_writer}-{TRANSACTIONS_PER_PROCESS}"
        assert shared.local_links == {f"{last_writer}-1"}  # one writer's links, never a mix of both


def open_and_report(spec, root, start, results) -> None:
    """A child: opens the knowledge base's store (it needs building) as a run's first step would."""
    try:
        from jarkdown_pipeline.state_store import DEFAULT_SCHEMA, open_state_store

        start.wait(timeout=60)
        with open_state_store(root, dsn=spec.dsn, schema=spec.schema or DEFAULT_SCHEMA) as store:
            results.put((store.issue_keys(), None))
    except BaseException:
        results.put(([], traceback.format_exc()))


def test_processes_opening_a_new_store_at_once_build_it_once(kb_v1, store_spec):
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(3), context.Queue()
    children = [context.Process(target=open_and_report, args=(store_spec, kb_v1, start, results)) for _ in range(3)]
    for child in children:
        child.start()
    outcomes = [results.get(timeout=240) for _ in children]
    for child in children:
        child.join(timeout=60)
    assert [error for _, error in outcomes if error] == []
    assert all(keys == outcomes[0][0] and len(keys) == 21 for keys, _ in outcomes)
    opened = SqliteStateStore(sqlite_path(kb_v1)) if store_spec.backend == "sqlite" else store_spec.open()
    with opened as store:
        assert store.current_revision() == 1  # one rebuild; the others found it built under the lock


def test_threads_sharing_one_store_never_mix_their_transactions(store):
    """A run's stages use one store from several worker threads: each transaction stays whole."""
    writers, per_writer = 4, 60
    barrier = threading.Barrier(writers * 2)
    errors: list[BaseException] = []

    def write(name: str) -> None:
        barrier.wait(timeout=30)
        for n in range(per_writer):
            store.upsert_issues([IssueRecord(f"{name}-{n + 1}", issue_id=str(n), local_links=frozenset({"HUB-1"}))])

    def read(_: str) -> None:
        barrier.wait(timeout=30)
        for _ in range(per_writer):
            store.files_linking_to(["HUB-1"])
            store.current_revision()

    def guarded(work, name: str) -> None:
        try:
            work(name)
        except BaseException as error:  # collected: a thread's exception would otherwise vanish
            errors.append(error)

    names = [f"W{chr(ord('A') + n)}" for n in range(writers)]
    threads = [threading.Thread(target=guarded, args=(work, name)) for name in names for work in (write, read)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert store.current_revision() == writers * per_writer
    assert store.project_counts() == {name: per_writer for name in names}
