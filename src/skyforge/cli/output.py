"""What the CLI prints: messages, errors, tables and JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text


def out() -> Console:
    """A console on stdout (made per call, so it follows the current stdout and COLUMNS)."""
    return Console(highlight=False, soft_wrap=True)


def err() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def say(message: str, style: str | None = None) -> None:
    """Print a plain message (no markup is read from it)."""
    out().print(escape(message), style=style)


def note(message: str) -> None:
    """A hint on stderr, so stdout stays clean for scripts."""
    err().print(escape(message), style="dim")


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `Error: message` in red on stderr and exit with `code`."""
    err().print(f"[red]Error:[/red] {escape(message)}")
    raise typer.Exit(code)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True))


def table(columns: Sequence[str], rows: Iterable[Sequence[object]], empty: str) -> None:
    """A Rich table, or `empty` (on stderr) when there are no rows.

    The first column is what a user copies (an id, a name, a hostname): it is never cut or
    wrapped, whatever the width; the other columns fold to make room for it.
    """
    cells = [[Text("" if cell is None else str(cell)) for cell in row] for row in rows]
    if not cells:
        note(empty)
        return
    grid = Table(*columns, box=None, header_style="bold", pad_edge=False)
    key, *others = grid.columns
    key.no_wrap = True
    key.min_width = max(len(str(columns[0])), *(len(row[0]) for row in cells))
    for column in others:
        column.overflow = "fold"
    for row in cells:
        grid.add_row(*row)
    out().print(grid)


def ids(values: Iterable[object]) -> None:
    """One id per line and nothing else (`-q`, for scripts)."""
    for value in values:
        typer.echo(str(value))


def fields(pairs: Iterable[tuple[str, object]]) -> None:
    """Label/value lines, for one object."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for label, value in pairs:
        grid.add_row(label, Text("" if value is None else str(value)))
    out().print(grid)


def when(stamp: str | None) -> str:
    """An API timestamp in local time, to the minute."""
    if not stamp:
        return ""
    try:
        return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return stamp


def warn(message: str) -> None:
    """`Warning: message` in yellow on stderr."""
    err().print(f"[yellow]Warning:[/yellow] {escape(message)}")
