"""Helpers shared by the CLI commands: error reporting and exit codes."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer
from rich.console import Console
from rich.markup import escape

from spinestab.errors import InputError, MissingDependencyError

__all__ = [
    "EXIT_BAD_INPUT",
    "console",
    "err_console",
    "exit_on_bad_input",
    "print_error",
]

EXIT_BAD_INPUT = 2

console = Console()
err_console = Console(stderr=True)


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
