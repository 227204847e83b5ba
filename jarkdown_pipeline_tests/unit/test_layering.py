"""The Jira layer must stay importable without Dagster: every module of the package but the Dagster
layer (``orchestration/``, ``definitions``), found by walking the package, so a new module is covered
the day it is added."""

import pkgutil
import subprocess
import sys

import jarkdown_pipeline

DAGSTER_LAYER = ("jarkdown_pipeline.orchestration", "jarkdown_pipeline.definitions")

# Imports the modules named on the command line in turn; prints the first that brought dagster in.
FIRST_TO_IMPORT_DAGSTER = """
import importlib, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
    if "dagster" in sys.modules:
        print(name)
        break
"""


def package_modules() -> list[str]:
    found = pkgutil.walk_packages(jarkdown_pipeline.__path__, prefix="jarkdown_pipeline.")
    return sorted(module.name for module in found if not module.name.endswith(".__main__"))


def jira_layer_modules() -> list[str]:
    return [name for name in package_modules() if not name.startswith(DAGSTER_LAYER)]


def first_to_import_dagster(modules: list[str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", FIRST_TO_IMPORT_DAGSTER, *modules], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_the_walk_finds_the_jira_layer():
    modules = jira_layer_modules()
    for expected in (
        "jarkdown_pipeline.sync",
        "jarkdown_pipeline.render_worker",
        "jarkdown_pipeline.datacenter",
        "jarkdown_pipeline.knowledge_base.storage",
        "jarkdown_pipeline.state_store.sqlite",
        "jarkdown_pipeline.settings",
        "jarkdown_pipeline.tools.demo",
        "jarkdown_pipeline.sample_jira.app",
    ):
        assert expected in modules
    assert not any(name.startswith(DAGSTER_LAYER) for name in modules)


def test_jira_layer_does_not_import_dagster():
    assert first_to_import_dagster(jira_layer_modules()) == ""


def test_the_check_names_a_module_that_imports_dagster():
    modules = ["jarkdown_pipeline.sync", "jarkdown_pipeline.orchestration.assets", "jarkdown_pipeline.markdown"]
    assert first_to_import_dagster(modules) == "jarkdown_pipeline.orchestration.assets"
