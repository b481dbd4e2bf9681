"""What MLflow's records become: keys the API takes, aliases as stage names, which version holds
each stage, notes for whatever cannot come over as it is, and MLflow 2's resolved sources."""
import math

import pytest

from registry.importers import mapping
from registry.importers.mlflow import _run_relative


@pytest.mark.parametrize("key, cleaned", [
    ("accuracy", "accuracy"), ("max depth", "max_depth"), ("val/loss", "val/loss"),
    ("f1 (macro)", "f1__macro_"), (".hidden", "_.hidden"), ("k" * 200, "k" * 128)])
def test_keys_become_keys_the_api_takes(key, cleaned):
    assert mapping.clean_key(key) == cleaned


@pytest.mark.parametrize("alias, stage", [
    ("champion", "champion"), ("Shadow_Test", "shadow-test"), ("prod-eu", "prod-eu"),
    ("production", "production"), ("staging", "staging"), ("archived", None), ("none", None),
    ("1st", None), ("x" * 41, None)])
def test_aliases_become_stage_names(alias, stage):
    assert mapping.alias_stage(alias) == stage


def _version(number, stage="None", status="READY"):
    return {"name": "m", "version": str(number), "current_stage": stage, "status": status}


def test_the_newest_of_several_production_versions_holds_and_an_alias_wins():
    versions = [_version(1, "Production"), _version(2, "Production"), _version(3, "Staging"),
                _version(4, "Staging", status="FAILED_REGISTRATION")]
    model = {"aliases": [{"alias": "staging", "version": "1"}, {"alias": "Canary", "version": "2"},
                         {"alias": "v-1?", "version": "1"}]}
    plans, notes = mapping.plan_stages(model, versions)
    assert [(p.stage, p.mlflow_version, p.origin, p.declared) for p in plans] == [
        ("production", 2, "stage Production", False), ("staging", 1, "alias staging", False),
        ("canary", 2, "alias Canary", True)]
    assert any("[1, 2] are all in Production" in note for note in notes)
    assert any("wins over stage Staging" in note for note in notes)
    assert any("'v-1?' makes no stage name" in note for note in notes)


def test_a_version_body_keeps_run_metadata_and_notes_what_changed():
    run = {"info": {"run_id": "r1", "experiment_id": "7", "start_time": 1_700_000_000_000,
                    "end_time": 1_700_000_060_000},
           "data": {"metrics": [{"key": "auc", "value": 0.91}, {"key": "drift", "value": math.nan}],
                    "params": [{"key": "max depth", "value": "6"}, {"key": "blob", "value": "x" * 1500}],
                    "tags": [{"key": "team", "value": "risk"}, {"key": "mlflow.user", "value": "ana"},
                             {"key": "mlflow.source.git.commit", "value": "abc123"}]},
           "inputs": {"dataset_inputs": [
               {"tags": [{"key": "mlflow.data.context", "value": "eval"}],
                "dataset": {"name": "holdout", "digest": "d0"}},
               {"tags": [{"key": "mlflow.data.context", "value": "training"}],
                "dataset": {"name": "train", "digest": "d1"}}]}}
    version = {"name": "fraud model", "version": "3", "source": "runs:/r1/model", "run_id": "r1",
               "description": "third", "creation_timestamp": 1_700_000_100_000,
               "tags": [{"key": "owner", "value": "ana"}]}
    mapped = mapping.version_body(version, run, "credit", "http://mlflow:5000")
    body = mapped.body
    assert body["tags"] == {"owner": "ana", "mlflow.version": "3", "mlflow.source": "runs:/r1/model",
                            "mlflow.created_at": "2023-11-14T22:15:00+00:00", "run.team": "risk"}
    assert body["source_uri"] == "http://mlflow:5000/#/models/fraud%20model/versions/3"
    assert body["run"]["params"] == {"max_depth": "6", "blob": "x" * 1000}
    assert body["run"]["metrics"] == {"auc": 0.91}
    assert body["run"]["dataset"] == {"name": "train", "digest": "d1"}
    assert body["run"]["code"] == {"commit": "abc123"}
    assert (body["run"]["experiment"], body["run"]["started_at"]) == (
        "credit", "2023-11-14T22:13:20+00:00")
    assert len(mapped.notes) == 4  # the renamed param, the cut one, the NaN metric, 2 datasets


def test_a_version_whose_run_is_gone_still_comes_over():
    mapped = mapping.version_body({"name": "m", "version": "1", "run_id": "gone"}, None, None,
                                  "http://mlflow")
    assert mapped.body["run"] == {} and "run gone is gone" in mapped.notes[0]


@pytest.mark.parametrize("source, expected", [
    ("runs:/r1/model", ("r1", "model")),
    ("mlflow-artifacts:/1/r1/artifacts/model", ("r1", "model")),  # what MLflow 2 records
    ("s3://bucket/1/r1/artifacts/model/", ("r1", "model")),
    ("s3://elsewhere/model", None)])
def test_sources_under_a_runs_artifacts_are_read_through_the_run(source, expected):
    runs = {"mlflow-artifacts": "mlflow-artifacts:/1/r1/artifacts", "s3": "s3://bucket/1/r1/artifacts"}
    run = {"info": {"artifact_uri": runs.get(source.split(":")[0], runs["s3"])}}
    assert _run_relative(source, "r1", run) == expected
