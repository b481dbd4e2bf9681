"""Models and versions, through the API: list, show, register."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from registry.cli.output import Output, short_time as _short
from registry.cli.remote import _holder, _pairs, remote, verdict
from registry.client import Client


@click.group()
def models() -> None:
    """Registered models."""


@models.command("list")
@click.option("--q", help="Name contains this.")
@click.option("--tag", help="key:value")
@click.option("--stage", help="Has a version there (production, staging or a declared stage).")
@remote
def models_list(client: Client, out: Output, q, tag, stage) -> None:
    """Models with their production and staging versions."""
    items = client.list_models(q=q, tag=tag, stage=stage)
    out.emit(items, lambda: out.table(
        ["MODEL", "PRODUCTION", "STAGING", "LATEST", "TAGS"],
        [[m["name"], _holder(m["production"]), _holder(m["staging"]), m["latest_version"],
          " ".join(f"{k}={v}" for k, v in m["tags"].items())] for m in items]))


@models.command("show")
@click.argument("model")
@remote
def models_show(client: Client, out: Output, model) -> None:
    """One model: description, tags, holders, settings."""
    view = client.get_model(model)
    out.emit(view, lambda: out.table(["FIELD", "VALUE"], [
        ["name", view["name"]], ["description", view["description"]],
        ["tags", " ".join(f"{k}={v}" for k, v in view["tags"].items())],
        ["production", _holder(view["production"])], ["staging", _holder(view["staging"])],
        ["latest version", view["latest_version"]],
        ["on_degraded", view.get("on_degraded")],
        ["production_requires_admin", view["production_requires_admin"]]]))


@click.group()
def versions() -> None:
    """Model versions: register, list, show."""


@versions.command("register")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--model", required=True, help="Model name (created when new).")
@click.option("--metric", "metrics", multiple=True, metavar="KEY=NUMBER", help="Repeatable.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="Repeatable.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Repeatable.")
@click.option("--description")
@click.option("--run-id")
@click.option("--experiment")
@click.option("--dataset", help="Dataset name.")
@click.option("--dataset-version")
@click.option("--dataset-digest")
@click.option("--commit", help="Code commit.")
@click.option("--repo", help="Code repository.")
@remote
def versions_register(client: Client, out: Output, path: Path, model, metrics, params, tags,
                      description, run_id, experiment, dataset, dataset_version, dataset_digest,
                      commit, repo) -> None:
    """Upload a file or a folder as a new ready version (with digests and a progress bar)."""
    run: dict[str, Any] = {k: v for k, v in (("id", run_id), ("experiment", experiment)) if v}
    if dataset:
        run["dataset"] = {k: v for k, v in (("name", dataset), ("version", dataset_version),
                                             ("digest", dataset_digest)) if v}
    if commit or repo:
        run["code"] = {k: v for k, v in (("commit", commit), ("repo", repo)) if v}
    view = client.register(model, path, metrics=_pairs(metrics, number=True),
                           params=_pairs(params), run=run,
                           tags={k: str(v) for k, v in _pairs(tags).items()} or None,
                           description=description)
    verdicts = ", ".join(f"{stage}: {verdict(e).split(' (')[0]}"
                         for stage, e in sorted(view.get("evaluations", {}).items()))
    size = sum(f["size"] for f in view.get("files", []))
    out.emit(view, f"registered {model} version {view['version']} ({view['status']}): "
                   f"{len(view.get('files', []))} file(s), {size:,} bytes; {verdicts}")


@versions.command("list")
@click.option("--model", help="One model; default: search every model.")
@click.option("--filter", "filter_", help="e.g. \"metrics.accuracy >= 0.9 and tags.team = 'risk'\"")
@click.option("--order-by", help="e.g. 'metrics.accuracy desc'")
@click.option("--stage")
@click.option("--status")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@remote
def versions_list(client: Client, out: Output, model, filter_, order_by, stage, status,
                  limit) -> None:
    """Versions, newest first or in --order-by order, optionally filtered."""
    items = client.list_versions(model, filter=filter_, order_by=order_by, stage=stage,
                                 status=status, limit=limit)
    out.emit(items, lambda: out.table(
        ["MODEL", "VERSION", "STATUS", "STAGE", "CREATED", "METRICS"],
        [[v["model"], v["version"], v["status"], v["stage"], _short(v["created_at"]),
          " ".join(f"{k}={val:g}" for k, val in sorted((v.get("metrics") or {}).items())[:4])]
         for v in items]))


@versions.command("show")
@click.argument("model")
@click.argument("version", type=click.IntRange(1, 2**31 - 1))
@remote
def versions_show(client: Client, out: Output, model, version) -> None:
    """One version with its run metadata, files and evaluations."""
    view = client.get_version(model, version)
    out.emit(view, lambda: _show_version(out, view))


def _show_version(out: Output, view: dict) -> None:
    run = view.get("run") or {}
    dataset, code = run.get("dataset") or {}, run.get("code") or {}
    out.table(["FIELD", "VALUE"], [
        ["version", f"{view['model']} {view['version']}"], ["status", view["status"]],
        ["stage", view["stage"] + (" (rolled back from)" if view.get("rolled_back") else "")],
        ["created", f"{_short(view['created_at'])} by {view.get('created_by') or '-'}"],
        ["description", view.get("description") or ""],
        ["run", " ".join(f"{k}={run[k]}" for k in ("id", "experiment") if run.get(k))],
        ["dataset", " ".join(f"{v}" for v in dataset.values() if v is not None)],
        ["code", " ".join(f"{v}" for v in code.values() if v is not None)],
        ["params", " ".join(f"{k}={v}" for k, v in sorted((run.get("params") or {}).items()))],
        ["metrics", " ".join(f"{k}={v:g}" for k, v in sorted((view.get("metrics") or {}).items()))],
        ["tags", " ".join(f"{k}={v}" for k, v in sorted((view.get("tags") or {}).items()))]])
    files = view.get("files") or []
    if files:
        out.line("")
        out.table(["FILE", "SIZE", "SHA256"],
                  [[f["path"], f"{f['size']:,}", f["sha256"][:16]] for f in files])
    for stage, evaluation in sorted((view.get("evaluations") or {}).items()):
        out.line("")
        out.line(f"{stage}: {verdict(evaluation)}")
        for result in evaluation.get("results", []):
            out.line(f"  {'pass' if result['passed'] else 'FAIL'}  {result['message']}")
