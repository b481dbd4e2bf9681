"""The event feed and webhook subscriptions, through the API."""
from __future__ import annotations

import json
import sys
from typing import Any, Callable

import click

from registry.cli.output import Output, short_time as _short
from registry.cli.remote import remote
from registry.client import Client


@click.group()
def events() -> None:
    """The event feed."""


@events.command("tail")
@click.option("--after", type=click.IntRange(0), default=0, help="Start after this seq.")
@click.option("--model")
@click.option("--type", "type_")
@click.option("--follow/--no-follow", default=False, help="Keep waiting for new events.")
@remote
def events_tail(client: Client, out: Output, after, model, type_, follow) -> None:
    """Print events in seq order, one per line (JSON lines with --json)."""
    for event in client.events(after=after, model=model, type=type_, follow=follow):
        if out.as_json:
            click.echo(json.dumps(event))
        else:
            version = f" v{event['version']}" if event["version"] is not None else ""
            click.echo(f"{event['seq']}\t{_short(event['at'])}\t{event['type']}\t"
                       f"{event['model'] or '-'}{version}\t{event['actor']}")
        sys.stdout.flush()


@click.group()
def webhooks() -> None:
    """Webhook subscriptions and their delivery log (admin)."""


@webhooks.command("list")
@remote
def webhooks_list(client: Client, out: Output) -> None:
    """Every subscription."""
    items = client.list_webhooks()
    out.emit(items, lambda: out.table(["ID", "URL", "EVENTS", "MODELS", "ACTIVE"], [
        [w["id"], w["url"], ",".join(w["events"]), ",".join(w["models"] or ["*"]), w["active"]]
        for w in items]))


@webhooks.command("create")
@click.argument("target", metavar="URL")
@click.option("--event", "event_types", multiple=True, required=True,
              help="An event type, or * (repeatable).")
@click.option("--model", "model_names", multiple=True, help="Only these models (repeatable).")
@click.option("--description")
@remote
def webhooks_create(client: Client, out: Output, target, event_types, model_names,
                    description) -> None:
    """Subscribe URL; prints the signing secret (shown this once)."""
    view = client.create_webhook(target, list(event_types), models=list(model_names) or None,
                                 description=description)
    out.emit(view, f"webhook {view['id']} created; signing secret (shown once): {view['secret']}")


def _webhook_action(name: str, call: Callable[[Client, int], Any], help_text: str,
                    say: str) -> None:
    """A `webhooks NAME WEBHOOK_ID` command calling `call`; `say` is its human answer."""
    @webhooks.command(name, help=help_text)
    @click.argument("webhook_id", type=click.IntRange(1, 2**31 - 1))
    @remote
    def action(client: Client, out: Output, webhook_id) -> None:
        result = call(client, webhook_id)
        out.emit(result, say.format(**{**(result or {}), "id": webhook_id}))


_webhook_action("show", Client.get_webhook, "One subscription.", "webhook {id}: {url} ({events})")


_webhook_action("delete", Client.delete_webhook, "Delete a subscription.", "deleted webhook {id}")


_webhook_action("test", Client.test_webhook, "Send a signed test event now.",
                "sent a test event to webhook {id}")


_webhook_action("rotate-secret", Client.rotate_webhook_secret,
                "New signing secret (the old one keeps signing for webhook.secret_overlap_s).",
                "rotated the secret of webhook {id}; new secret (shown once): {secret}")


@webhooks.command("deliveries")
@click.argument("webhook_id", type=click.IntRange(1, 2**31 - 1))
@click.option("--status", type=click.Choice(["pending", "delivering", "delivered", "failed"]))
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@remote
def webhooks_deliveries(client: Client, out: Output, webhook_id, status, limit) -> None:
    """A subscription's deliveries, newest first."""
    items = client.deliveries(webhook_id, status=status, limit=limit)
    out.emit(items, lambda: out.table(["ID", "EVENT", "TYPE", "STATUS", "ATTEMPTS"], [
        [d["id"], d["event_seq"], d["event_type"], d["status"], d["attempts"]] for d in items]))


@webhooks.command("redeliver")
@click.argument("delivery_id", type=click.IntRange(1, 2**31 - 1))
@remote
def webhooks_redeliver(client: Client, out: Output, delivery_id) -> None:
    """Send a delivery again."""
    out.emit(client.redeliver(delivery_id), f"delivery {delivery_id} queued again")
