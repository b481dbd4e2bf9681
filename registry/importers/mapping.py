"""What an MLflow record becomes in Modelyard: a version's create body (run metadata, tags,
provenance), a model's description and tags, and the stages its legacy stages and aliases
become. Pure functions over MLflow's JSON; what cannot come over as it is lands in `notes`."""
from __future__ import annotations

import datetime as dt
import math
import re
import urllib.parse
from dataclasses import dataclass, field

from registry.domain.names import KEY_NAME
from registry.domain.stages import HELD_STAGES, RESERVED_NAMES, STAGE_NAME

# provenance tags on every imported version; `mlflow.version` is how a re-run recognises it
VERSION_TAG, SOURCE_TAG, CREATED_TAG = "mlflow.version", "mlflow.source", "mlflow.created_at"
MAX_TAGS, MAX_TAG_VALUE, MAX_PARAM_VALUE, MAX_TEXT = 64, 512, 1000, 256
LEGACY_STAGES = {"Production": "production", "Staging": "staging"}
GIT_TAGS = {"mlflow.source.git.commit": "commit", "mlflow.source.git.repoURL": "repo",
            "mlflow.source.git.branch": "branch"}


@dataclass
class Mapped:
    """A create body and what was changed on the way in."""
    body: dict
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StagePlan:
    """A stage the import fills: which MLflow version should hold it, and why."""
    stage: str
    mlflow_version: int
    origin: str  # "stage Production", "alias champion"
    declared: bool  # not a built-in: the import declares it


def clean_key(key: str) -> str:
    """A key the API accepts: characters it does not take become `_`, at most 128 long."""
    cleaned = re.sub(r"[^A-Za-z0-9_.:/-]", "_", key)[:128]
    return cleaned if KEY_NAME.match(cleaned) else ("_" + cleaned)[:128]


def _pairs(items: list[dict] | None) -> dict[str, str]:
    return {item["key"]: item.get("value", "") for item in items or []}


def _instant(millis: int | str | None) -> str | None:
    if not millis:
        return None
    return dt.datetime.fromtimestamp(int(millis) / 1000, dt.timezone.utc).isoformat()


def _keyed(values: dict, notes: list[str], what: str, limit: int | None = None) -> dict:
    """Values under keys the API accepts, long strings cut to `limit`, each change noted."""
    result = {}
    for key, value in values.items():
        cleaned = clean_key(key)
        if cleaned != key:
            notes.append(f"{what} {key!r} stored as {cleaned!r}")
        if limit and isinstance(value, str) and len(value) > limit:
            notes.append(f"{what} {key!r} cut to {limit} characters")
            value = value[:limit]
        result[cleaned] = value
    return result


def version_body(version: dict, run: dict | None, experiment: str | None,
                 tracking_uri: str) -> Mapped:
    """The create body of an MLflow model version: its description and tags, provenance tags,
    and the run's id, experiment, link, params, latest metrics, dataset, code and times."""
    notes: list[str] = []
    name, number = version["name"], int(version["version"])
    provenance = {VERSION_TAG: str(number), SOURCE_TAG: (version.get("source") or "")[:MAX_TAG_VALUE]}
    if created := _instant(version.get("creation_timestamp")):
        provenance[CREATED_TAG] = created
    tags = {**_keyed(_pairs(version.get("tags")), notes, "tag", MAX_TAG_VALUE), **provenance}
    body = {"description": version.get("description") or "", "tags": tags,
            "source_uri": f"{tracking_uri}/#/models/{urllib.parse.quote(name)}/versions/{number}",
            "run": {}}
    if run is None:
        if version.get("run_id"):
            notes.append(f"run {version['run_id']} is gone from MLflow: no run metadata")
        return Mapped(body, notes)
    body["run"] = _run(run, experiment, tracking_uri, notes)
    run_tags = _pairs(run.get("data", {}).get("tags"))
    user_tags = {f"run.{key}": value for key, value in run_tags.items()
                 if not key.startswith("mlflow.")}
    for key, value in _keyed(user_tags, notes, "run tag", MAX_TAG_VALUE).items():
        if len(tags) >= MAX_TAGS:
            notes.append(f"run tags beyond the {MAX_TAGS}-tag limit left out")
            break
        tags.setdefault(key, value)
    return Mapped(body, notes)


def _run(run: dict, experiment: str | None, tracking_uri: str, notes: list[str]) -> dict:
    info, data = run.get("info", {}), run.get("data", {})
    run_id = info.get("run_id") or info.get("run_uuid")
    metrics = {}
    for metric in data.get("metrics") or []:
        if math.isfinite(metric.get("value", math.nan)):
            metrics[metric["key"]] = metric["value"]
        else:
            notes.append(f"metric {metric['key']!r} is {metric.get('value')}: left out")
    result = {"id": run_id, "experiment": (experiment or info.get("experiment_id"))[:MAX_TEXT],
              "uri": f"{tracking_uri}/#/experiments/{info.get('experiment_id')}/runs/{run_id}",
              "params": _keyed(_pairs(data.get("params")), notes, "param", MAX_PARAM_VALUE),
              "metrics": _keyed(metrics, notes, "metric"),
              "started_at": _instant(info.get("start_time")),
              "ended_at": _instant(info.get("end_time"))}
    run_tags = _pairs(data.get("tags"))
    if code := {name: run_tags[tag][:MAX_TEXT] for tag, name in GIT_TAGS.items() if run_tags.get(tag)}:
        result["code"] = code
    if dataset := _dataset(run.get("inputs") or {}, notes):
        result["dataset"] = dataset
    return {key: value for key, value in result.items() if value is not None}


def _dataset(inputs: dict, notes: list[str]) -> dict | None:
    """The run's training dataset (else its first): name and digest."""
    entries = inputs.get("dataset_inputs") or []
    if not entries:
        return None
    training = [entry for entry in entries
                if _pairs(entry.get("tags")).get("mlflow.data.context") in ("training", "train")]
    chosen = (training or entries)[0]["dataset"]
    if len(entries) > 1:
        notes.append(f"the run logged {len(entries)} datasets; {chosen.get('name')!r} recorded")
    return {"name": (chosen.get("name") or "dataset")[:MAX_TEXT],
            "digest": (chosen.get("digest") or None) and chosen["digest"][:MAX_TEXT]}


def model_fields(model: dict) -> tuple[str, dict[str, str], list[str]]:
    """A registered model's description and tags as Modelyard takes them, and notes."""
    notes: list[str] = []
    tags = _keyed(_pairs(model.get("tags")), notes, "model tag", MAX_TAG_VALUE)
    return model.get("description") or "", dict(list(tags.items())[:MAX_TAGS]), notes


def alias_stage(alias: str) -> str | None:
    """The stage an alias becomes: lower case, `_` as `-`; None when no stage name fits or it
    names a label rather than a stage (`none`, `archived`)."""
    name = alias.lower().replace("_", "-")
    if not STAGE_NAME.match(name) or (name in RESERVED_NAMES and name not in HELD_STAGES):
        return None
    return name


def plan_stages(model: dict, versions: list[dict]) -> tuple[list[StagePlan], list[str]]:
    """Which MLflow version each stage should get: the legacy stages Production and Staging
    (the newest version in each, as MLflow allows several), then aliases, which win over a
    legacy stage of the same name. Returns the plans and notes on what is left out."""
    notes: list[str] = []
    plans: dict[str, StagePlan] = {}
    ready = [v for v in versions if v.get("status", "READY") == "READY"]
    for legacy, stage in LEGACY_STAGES.items():
        holders = sorted(int(v["version"]) for v in ready if v.get("current_stage") == legacy)
        if holders:
            plans[stage] = StagePlan(stage, holders[-1], f"stage {legacy}", False)
        if len(holders) > 1:
            notes.append(f"versions {holders} are all in {legacy} in MLflow; "
                         f"{holders[-1]}, the newest, holds {stage}")
    for entry in sorted(model.get("aliases") or [], key=lambda a: a["alias"]):
        stage = alias_stage(entry["alias"])
        if stage is None:
            notes.append(f"alias {entry['alias']!r} makes no stage name: left out")
            continue
        if stage in plans and plans[stage].mlflow_version != int(entry["version"]):
            notes.append(f"alias {entry['alias']!r} wins over {plans[stage].origin} for {stage}")
        plans[stage] = StagePlan(stage, int(entry["version"]), f"alias {entry['alias']}",
                                 stage not in HELD_STAGES)
    return list(plans.values()), notes


def archived_versions(versions: list[dict]) -> list[int]:
    """The versions MLflow has in its legacy stage Archived."""
    return [int(v["version"]) for v in versions if v.get("current_stage") == "Archived"]
