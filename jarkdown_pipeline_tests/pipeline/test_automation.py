"""Declarative automation: jira_index follows the issue assets, so a knowledge base stays consistent
whatever the user materializes from the UI (#17).

The automation sensor's evaluations run against a real Dagster instance through Dagster's own
``evaluate_automation_conditions`` (what each sensor tick computes); what it requests is then run
as the sensor would launch it, and the index checked.
"""

from datetime import date

import dagster as dg

from jarkdown_pipeline.knowledge_base import KnowledgeBase
from jarkdown_pipeline.orchestration import names
from jarkdown_pipeline_tests.plugins.pipeline import (
    PARTITION,
    build_pipeline,
    check_results,
    issues_updated_on,
    materialization_metadata,
)

OTHER_DAY = "2026-11-18"


def requested(evaluation) -> set:
    """Every asset and check key the tick would put in a run."""
    return {result.key for result in evaluation.results if result.true_subset.size}


def materialize(pipeline, selection, instance, partition_key=None) -> dg.ExecuteInProcessResult:
    """What the UI's Materialize button runs: the selected assets (and their checks), nothing else."""
    defs = pipeline.defs
    return dg.materialize(
        [*defs.assets, *defs.asset_checks],
        selection=selection,
        partition_key=partition_key,
        instance=instance,
        resources=defs.resources,
        raise_on_error=False,
    )


def listed_in_index(kb: KnowledgeBase) -> set[str]:
    return kb.issues_listed_in(kb.index_files())


def test_the_sensor_runs_by_default_and_targets_the_index(tmp_path, sample_jira):
    defs = build_pipeline(sample_jira, tmp_path / "kb").defs
    [sensor] = defs.sensors
    assert sensor.name == names.AUTOMATION_SENSOR
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    specs = {spec.key: spec for spec in defs.resolve_all_asset_specs()}
    assert {key for key, spec in specs.items() if spec.automation_condition is not None} == {names.INDEX}
    checks = {spec.key: spec for checks in defs.asset_checks for spec in checks.check_specs}
    assert {key for key, spec in checks.items() if spec.automation_condition is not None} == {
        dg.AssetCheckKey(names.INDEX, names.INDEX_IS_COMPLETE)
    }


def test_materializing_partitions_brings_the_index_up_to_date_without_a_second_click(tmp_path, sample_jira):
    pipeline = build_pipeline(sample_jira, tmp_path / "kb")
    kb = pipeline.kb
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=pipeline.defs, instance=instance)
        assert requested(first) == set(), "nothing materialized yet: the first tick must not run anything"

        # The scheduled job already includes the index: the sensor must not run it a second time.
        assert pipeline.run(PARTITION, instance).success
        after_job = dg.evaluate_automation_conditions(defs=pipeline.defs, instance=instance, cursor=first.cursor)
        assert requested(after_job) == set()
        before = listed_in_index(kb)
        assert before == issues_updated_on(sample_jira, date.fromisoformat(PARTITION))

        # The user selects another day's partition of the issue assets in the UI and presses Materialize.
        ui_run = materialize(pipeline, [names.ISSUES, names.ATTACHMENTS, names.MARKDOWN], instance, OTHER_DAY)
        assert ui_run.success
        new_keys = issues_updated_on(sample_jira, date.fromisoformat(OTHER_DAY))
        assert new_keys - before, "the other day must bring issues the index does not list yet"
        assert listed_in_index(kb) == before, "the UI run itself does not touch the index"
        # Its preview in the UI: the frontmatter as YAML, no image or relative link that cannot load there.
        preview = materialization_metadata(ui_run, "jira_markdown")["preview"]
        assert preview.startswith("```yaml\nkey: ") and "](attachments/" not in preview and "](../" not in preview

        tick = dg.evaluate_automation_conditions(defs=pipeline.defs, instance=instance, cursor=after_job.cursor)
        assert tick.get_requested_partitions(names.INDEX) == {None}
        # The index and its check; never the reconciliation (a scan of every key, on its own schedule).
        wanted = requested(tick)
        assert wanted == {names.INDEX, dg.AssetCheckKey(names.INDEX, names.INDEX_IS_COMPLETE)}
        # What the sensor launches: the index (and its check), one run.
        follow = materialize(pipeline, dg.AssetSelection.assets(names.INDEX), instance)
        assert follow.success
        assert check_results(follow) == {names.INDEX_IS_COMPLETE: True}
        assert listed_in_index(kb) == before | new_keys

        settled = dg.evaluate_automation_conditions(defs=pipeline.defs, instance=instance, cursor=tick.cursor)
        assert requested(settled) == set(), "once the index ran, the next tick is quiet"
