"""Promotion requests through the API: requests list|create|approve|reject|cancel."""
from __future__ import annotations

import click

from registry.cli.output import Output, short_time as _short
from registry.cli.remote import remote
from registry.client import Client
from registry.domain.actors import person


@click.group("requests")
def requests_group() -> None:
    """Promotion requests: stages that need approvals take promotions only through them."""


@requests_group.command("list")
@click.argument("model", required=False)
@click.option("--status", type=click.Choice(["open", "approved", "rejected", "cancelled",
                                             "expired", "stale"]))
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@remote
def list_requests(client: Client, out: Output, model, status, limit) -> None:
    """Requests newest first (of MODEL, or every model)."""
    items = client.list_requests(model, status=status, limit=limit)
    out.emit(items, lambda: out.table(
        ["ID", "MODEL", "VERSION", "STAGE", "STATUS", "APPROVALS", "REQUESTED BY", "EXPIRES"],
        [[r["id"], r["model"], r["version"], r["stage"], r["status"],
          f"{len(r['approvals'])}/{r['required']}", person(r["requested_by"]),
          _short(r["expires_at"])] for r in items]))


@requests_group.command("create")
@click.argument("model")
@click.argument("version", type=click.IntRange(1, 2**31 - 1))
@click.option("--stage", default="production", show_default=True)
@click.option("--reason", required=True, help="What the approvers should know.")
@remote
def create_request(client: Client, out: Output, model, version, stage, reason) -> None:
    """Ask for VERSION of MODEL to be promoted (exit 5 with the reasons if it fails the
    stage's criteria)."""
    request = client.request_promotion(model, version, stage=stage, reason=reason)
    out.emit(request, f"requested {model} version {version} for {stage}: request "
                      f"{request['id']}, needs {request['required']} approval(s)")


def _outcome(request: dict) -> str:
    where = f"{request['model']} version {request['version']}"
    if request["status"] == "approved":
        return f"approved request {request['id']}: {where} is now in {request['stage']}"
    if request["status"] == "stale":
        return (f"approved request {request['id']}, but {request['stage']} moved since it was "
                "made: the request is stale and nothing was promoted")
    return (f"approved request {request['id']} ({len(request['approvals'])} of "
            f"{request['required']}): {where} waits for more approvals")


@requests_group.command("approve")
@click.argument("request_id", type=click.IntRange(1, 2**31 - 1))
@click.option("--comment")
@remote
def approve(client: Client, out: Output, request_id, comment) -> None:
    """Approve a request (not your own); the last approval needed promotes."""
    request = client.approve(request_id, comment=comment)
    out.emit(request, _outcome(request))


@requests_group.command("reject")
@click.argument("request_id", type=click.IntRange(1, 2**31 - 1))
@click.option("--comment", required=True, help="Why: the requester reads it.")
@remote
def reject(client: Client, out: Output, request_id, comment) -> None:
    """Reject an open request."""
    out.emit(client.reject(request_id, comment=comment), f"rejected request {request_id}")


@requests_group.command("cancel")
@click.argument("request_id", type=click.IntRange(1, 2**31 - 1))
@remote
def cancel(client: Client, out: Output, request_id) -> None:
    """Withdraw your own open request (an admin may withdraw any)."""
    out.emit(client.cancel(request_id), f"cancelled request {request_id}")
