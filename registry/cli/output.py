"""How a command answers: JSON for scripts, or lines and tables for people."""
from __future__ import annotations

import json
import sys
from typing import Any, Callable

import click


def short_time(at: str | None) -> str:
    """`2026-12-02 07:15:03` from an RFC 3339 instant; empty for none."""
    return at[:19].replace("T", " ") if at else ""


class Output:
    """Where a command's answer goes: JSON with `--json`, else text and tables."""

    def __init__(self, as_json: bool) -> None:
        from rich.console import Console

        self.as_json = as_json
        # piped into grep or a file, rows must not wrap at an imaginary 80 columns
        self.console = Console(highlight=False, soft_wrap=True,
                               width=None if sys.stdout.isatty() else 1000)

    def emit(self, data: Any, human: Callable[[], None] | str) -> None:
        if self.as_json:
            click.echo(json.dumps(data, indent=2))
        elif callable(human):
            human()
        else:
            self.line(human)

    def line(self, text: str) -> None:
        self.console.print(text, markup=False)

    def table(self, columns: list[str], rows: list[list[Any]]) -> None:
        """Aligned columns with a bold header; no trailing spaces on any line."""
        from rich.table import Table

        table = Table(*columns, box=None, pad_edge=False, header_style="bold")
        for row in rows:
            table.add_row(*["" if cell is None else str(cell) for cell in row])
        with self.console.capture() as captured:
            self.console.print(table)
        text = "\n".join(line.rstrip() for line in captured.get().splitlines())
        click.echo(text)
