"""Help text as the CLI reads: no `<bool>` type on flags, which take no value.

Typer's rich help shows every option's type, flags included (`--json <bool>`), which reads as
if `--json true` were valid (it is an error). Flags get no type column; all else is Typer's.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperOption

_typer_display = TyperOption.display_type_rich


def _display_type(self: TyperOption, ctx: Any) -> str | None:
    return None if self.is_flag else _typer_display(self, ctx)


def install() -> None:
    """Use it for every command (idempotent)."""
    TyperOption.display_type_rich = _display_type  # type: ignore[method-assign]
