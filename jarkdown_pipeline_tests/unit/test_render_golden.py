"""Golden files: each fixtures/adf/*.json, fixtures/issues/*.json and fixtures/wiki/*.wiki beside its
expected .md (the inputs and how they are rendered: plugins/golden.py).

Regenerate with ``UPDATE_GOLDEN=1 .venv/bin/python -m pytest jarkdown_pipeline_tests/unit/test_render_golden.py``
and review every changed .md by eye before committing: they are the specification.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jarkdown_pipeline_tests.plugins.golden import (
    FIXTURES,
    GOLDEN_FOLDERS,
    golden_inputs,
    render_adf_fixture,
    render_all_fixtures,
    render_issue_fixture,
    render_wiki_fixture,
)
from jarkdown_pipeline_tests.plugins.rendered_html import displayed, normalize

UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
REPO_ROOT = Path(__file__).resolve().parents[2]


def _cases(folder: str) -> list[Path]:
    return golden_inputs(folder)


def _check(actual: str, expected_path: Path) -> None:
    if UPDATE:
        expected_path.write_text(actual, encoding="utf-8", newline="\n")
        return
    assert expected_path.exists(), f"{expected_path.name} missing: run with UPDATE_GOLDEN=1 and review it"
    assert actual == expected_path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", _cases("adf"), ids=lambda p: p.stem)
def test_adf_golden(path):
    _check(render_adf_fixture(path), path.with_suffix(".md"))


@pytest.mark.parametrize("path", _cases("issues"), ids=lambda p: p.stem)
def test_issue_golden(path):
    _check(render_issue_fixture(path), path.with_suffix(".md"))


@pytest.mark.parametrize("path", _cases("wiki"), ids=lambda p: p.stem)
def test_wiki_golden(path):
    _check(render_wiki_fixture(path), path.with_suffix(".md"))


def render_in_a_process(hash_seed: str) -> bytes:
    """Every golden input rendered by a fresh interpreter whose str hashes (set and dict orders of
    strings) differ from this one's."""
    environment = {**os.environ, "PYTHONHASHSEED": hash_seed}
    done = subprocess.run(
        [sys.executable, "-m", "jarkdown_pipeline_tests.plugins.golden"],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        check=True,
        timeout=300,
    )
    return done.stdout


def test_rendering_is_the_same_in_processes_with_other_hash_seeds():
    first, second = render_in_a_process("1"), render_in_a_process("2")
    assert first == second
    assert first == render_all_fixtures()


@pytest.mark.parametrize("folder", sorted(GOLDEN_FOLDERS))
def test_every_golden_input_has_its_markdown_and_every_markdown_its_input(folder):
    inputs = {path.stem for path in golden_inputs(folder)}
    outputs = {path.stem for path in (FIXTURES / folder).glob("*.md")}
    assert inputs, f"no golden inputs in fixtures/{folder}: the parametrized tests would pass on nothing"
    assert outputs - inputs == set(), "golden files whose input is gone"
    assert inputs - outputs == set() or UPDATE, "inputs without a golden file"


def _text_nodes(node, out):
    if isinstance(node, dict):
        if node.get("type") == "text":
            out.append(node["text"])
        for child in node.get("content", ()):
            _text_nodes(child, out)
    return out


@pytest.mark.parametrize("path", _cases("adf"), ids=lambda p: p.stem)
def test_adf_golden_shows_every_text_node_on_github(path):
    """Rendered by cmark-gfm (GitHub's parser), the golden Markdown displays each text node."""
    data = json.loads(path.read_text(encoding="utf-8"))
    shown = normalize("".join(displayed(render_adf_fixture(path)).parts))
    for text in _text_nodes(data if data.get("type") == "doc" else data["adf"], []):
        for piece in text.split("\n"):
            assert normalize(piece) in shown, piece
