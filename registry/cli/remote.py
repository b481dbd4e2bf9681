"""What the commands that go through the HTTP API (registry.client) share: --url, --token and
--json, a Client, exit codes a script can act on (EXIT_CODES), and a few ways to print."""
from __future__ import annotations

import functools
import json
import sys
from typing import Any, Callable

import click
import requests

from registry.cli.output import Output, short_time as _short
from registry.client import (BadRequest, ChecksumMismatch, Client, Conflict, CriteriaNotMet,
                             Forbidden, ModelyardError, NotFound, ServerError, Unauthorized)


EXIT_ERROR, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_CRITERIA, EXIT_AUTH, \
    EXIT_UNAVAILABLE, EXIT_CHECKSUM = 1, 2, 3, 4, 5, 6, 7, 8


EXIT_CODES: list[tuple[type[Exception], int]] = [
    (CriteriaNotMet, EXIT_CRITERIA), (BadRequest, EXIT_USAGE), (NotFound, EXIT_NOT_FOUND),
    (Conflict, EXIT_CONFLICT),
    (Unauthorized, EXIT_AUTH), (Forbidden, EXIT_AUTH), (ServerError, EXIT_UNAVAILABLE),
    (requests.ConnectionError, EXIT_UNAVAILABLE), (ChecksumMismatch, EXIT_CHECKSUM),
    (OSError, EXIT_ERROR),  # an unreadable file, an unwritable folder, a timeout
]


def _fail(out: Output, exc: Exception, url: str) -> None:
    code = next((code for kind, code in EXIT_CODES if isinstance(exc, kind)), EXIT_ERROR)
    if isinstance(exc, ModelyardError):
        if out.as_json:
            click.echo(json.dumps(exc.problem, indent=2))
        if isinstance(exc, CriteriaNotMet):  # each rule once, on its own line
            evaluation = exc.evaluation
            click.echo(f"modelyard: version {evaluation.get('version')} does not meet the "
                       f"{evaluation.get('stage')} criteria:", err=True)
            for result in evaluation.get("results", []):
                click.echo(f"  {'pass' if result['passed'] else 'FAIL'}  {result['message']}",
                           err=True)
        else:
            click.echo(f"modelyard: {exc.title}: {exc.detail}", err=True)
        for field, messages in (exc.problem.get("errors") or {}).items():
            click.echo(f"  {field}: {' '.join(map(str, messages))}", err=True)
        if isinstance(exc, CriteriaNotMet):
            click.echo("  To promote it anyway, an admin adds --force --reason \"why\".", err=True)
    elif isinstance(exc, requests.ConnectionError):
        click.echo(f"modelyard: nothing answers at {url}: is the server running, and is "
                   "--url / MODELYARD_URL right?", err=True)
    else:
        click.echo(f"modelyard: {exc}", err=True)
    sys.exit(code)


def remote(func: Callable) -> Callable:
    """Give a command --url, --token and --json, a Client, and exit codes for errors."""
    @click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts).")
    @click.option("--token", envvar="MODELYARD_TOKEN", help="API token (env MODELYARD_TOKEN).")
    @click.option("--url", envvar="MODELYARD_URL", help="Server URL (env MODELYARD_URL; "
                  "default from the client config file, else http://127.0.0.1:8080).")
    @functools.wraps(func)
    def command(url: str | None, token: str | None, as_json: bool, **kwargs) -> None:
        out = Output(as_json)
        client = Client(url, token, progress=False if as_json else None)
        try:
            func(client, out, **kwargs)
        except (ModelyardError, ChecksumMismatch, OSError) as exc:
            _fail(out, exc, client.url)
    return command


def _pairs(values: tuple[str, ...], number: bool = False) -> dict[str, Any]:
    """key=value options as a dict; numbers parsed where asked (metrics) or where they look
    like numbers (params)."""
    result: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not key=value")
        try:
            result[key] = float(raw) if number else json.loads(raw)
        except ValueError:
            if number:
                raise click.BadParameter(f"{key}: {raw!r} is not a number") from None
            result[key] = raw
        if not number and not isinstance(result[key], (str, int, float, bool)):
            result[key] = raw
    return result


def _holder(summary: dict | None) -> str:
    return f"v{summary['version']} since {_short(summary['stage_since'])}" if summary else "-"


def verdict(evaluation: dict | None) -> str:
    """`criteria pass (promote, 2026-12-02 07:15:03)`, `no criteria`, or `not evaluated`."""
    if not evaluation:
        return "not evaluated"
    if not evaluation.get("results"):
        return "no criteria"
    return (f"criteria {'pass' if evaluation['passed'] else 'FAIL'} "
            f"({evaluation['trigger']}, {_short(evaluation['evaluated_at'])})")
