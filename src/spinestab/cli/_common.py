"""Helpers shared by the CLI commands: error reporting, exit codes, common option types."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from spinestab.errors import InputError, MissingDependencyError

__all__ = [
    "EXIT_BAD_INPUT",
    "JsonOutput",
    "OutDir",
    "console",
    "err_console",
    "exit_on_bad_input",
    "pictures_option",
    "print_error",
]

EXIT_BAD_INPUT = 2

console = Console()
err_console = Console(stderr=True)

#: ``--out``: the output folder of a command that writes files (checked before the work and
#: written atomically with :mod:`spinestab.core.outdir`)
OutDir = Annotated[
    Path,
    typer.Option(
        "--out",
        help="Output folder (created if missing; an earlier run's files in it are replaced, "
        "other files kept).",
    ),
]
#: ``--json``: the result as JSON on stdout instead of the human-readable lines
JsonOutput = Annotated[
    bool, typer.Option("--json", help="Print the result as JSON on stdout (nothing else).")
]


def pictures_option(*aliases: str, help: str = "Draw the pictures.") -> Any:
    """Return the ``--pictures/--no-pictures`` option (``aliases``: older names kept)."""
    return typer.Option("--pictures/--no-pictures", *aliases, help=help)


def print_error(exc: BaseException) -> None:
    """Print an error to stderr; its text is shown as is (never read as Rich markup)."""
    err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)


@contextlib.contextmanager
def exit_on_bad_input() -> Iterator[None]:
    """Turn :class:`InputError` (and missing extras) into a clear message and exit code 2."""
    try:
        yield
    except (InputError, MissingDependencyError) as exc:
        print_error(exc)
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    except Exception as exc:
        # A database error: its name only, never its SQL or parameters (they may hold
        # answers); the transaction was rolled back, so nothing was written.
        if not type(exc).__module__.startswith("sqlalchemy"):
            raise
        print_error(
            InputError(
                f"database error ({type(exc).__name__}); nothing was written",
                expected="a reachable, writable database (SPINESTAB_DATABASE_URL)",
            )
        )
        raise typer.Exit(EXIT_BAD_INPUT) from None
