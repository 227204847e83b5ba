"""jarkdown-pipeline: mirror Jira projects into a Markdown knowledge base, with Dagster.

The Jira layer (client, attachments, Markdown, sample Jira) never imports Dagster. ``defs`` is
loaded lazily so that ``import jarkdown_pipeline.jira_api_client`` stays Dagster-free, while
``dagster ... -m jarkdown_pipeline`` still finds it (Dagster lists module members with ``dir()``).
"""

__all__ = ["defs"]


def __getattr__(name: str):
    if name == "defs":
        from jarkdown_pipeline.definitions import defs

        return defs
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | {"defs"})
