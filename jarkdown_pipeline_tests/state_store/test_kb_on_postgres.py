"""A knowledge base whose state store is PostgreSQL (JARKDOWN_STATE_DSN): rendering in this process
and in a render process, link lookups, removal and the incremental index, against the real server."""

import asyncio
import contextlib
import secrets

import dagster as dg
import pytest

from jarkdown_pipeline.knowledge_base import KnowledgeBase
from jarkdown_pipeline.markdown.index import index_pages
from jarkdown_pipeline.orchestration.resources import KnowledgeBaseResource
from jarkdown_pipeline.render_worker import RenderWorker
from jarkdown_pipeline.settings import load_settings
from jarkdown_pipeline.state_store import PostgresStateStore, sqlite_path
from jarkdown_pipeline_tests.plugins.knowledge_base import linked_issue as issue
from jarkdown_pipeline_tests.plugins.state_store import postgres_dsn

OPTIONS = {"field_definitions": [], "base_url": "https://example.atlassian.net"}


@pytest.fixture
def dsn(postgres_server):
    """A database of this test's own: the store's default schema is then this knowledge base's alone."""
    name = f"jarkdown_kb_{secrets.token_hex(4)}"
    with contextlib.closing(postgres_server.connect()) as connection, connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    yield postgres_dsn(type("Database", (), {"server": postgres_server, "name": name}))
    with contextlib.closing(postgres_server.connect()) as connection, connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_knowledge_base_on_postgresql(tmp_path, dsn):
    kb = KnowledgeBase(tmp_path, state_dsn=dsn)
    kb.write_raw_issue(issue("ABC-1", linked="ABC-2"))
    kb.write_raw_issue(issue("ABC-3"))
    assert isinstance(kb.store, PostgresStateStore) and not sqlite_path(tmp_path).exists()
    assert kb.render_issue_file("ABC-1", known_issue_keys=["ABC-1"], **OPTIONS)

    async def render_in_a_process() -> None:  # the child opens the same PostgreSQL store
        async with await RenderWorker.start(kb, ["ABC-1", "ABC-3"], OPTIONS) as worker:
            assert (await worker.render("ABC-3")).written is True

    asyncio.run(render_in_a_process())
    assert kb.store.get_issues(["ABC-3"])["ABC-3"].render_inputs is not None
    assert kb.files_linking_to_jira(["ABC-2"]) == ["ABC-1"]
    assert kb.rebuild_index().full
    kb.move_to_removed("ABC-3")
    update = kb.rebuild_index()
    assert not update.full and len(update[0]) == 1
    rows, _ = kb.index_rows()
    assert {kb.relative(path): path.read_text(encoding="utf-8") for path in kb.index_files()} == index_pages(rows)
    assert not sqlite_path(tmp_path).exists(), "no SQLite file beside a PostgreSQL store"
    kb.close()


def test_the_dsn_setting_reaches_the_knowledge_base_without_showing_in_the_resource(tmp_path, monkeypatch):
    secret_dsn = "host=db.example user=jarkdown password=s3cret dbname=jarkdown"
    environment = {
        "JIRA_BASE_URL": "https://example.atlassian.net",
        "JIRA_EMAIL": "me@example.com",
        "JIRA_API_TOKEN": "t",
        "JARKDOWN_OUTPUT_DIR": str(tmp_path),
        "JARKDOWN_START_DATE": "2026-11-01",
        "JARKDOWN_STATE_DSN": secret_dsn,
    }
    settings = load_settings(environment)
    assert settings.state_dsn == secret_dsn and "s3cret" not in repr(settings)
    assert load_settings({**environment, "JARKDOWN_STATE_DSN": ""}).state_dsn is None
    resource = KnowledgeBaseResource.from_settings(settings)
    assert isinstance(resource.state_dsn, dg.EnvVar) and resource.state_dsn.env_var_name == "JARKDOWN_STATE_DSN"
    monkeypatch.setenv("JARKDOWN_STATE_DSN", secret_dsn)
    with dg.build_resources({"knowledge_base": resource}) as resources:  # as a run resolves it
        assert resources.knowledge_base.open().state_dsn == secret_dsn
    without = KnowledgeBaseResource.from_settings(load_settings({**environment, "JARKDOWN_STATE_DSN": ""}))
    assert without.state_dsn is None and without.open().state_dsn is None
