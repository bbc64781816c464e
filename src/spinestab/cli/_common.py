"""Helpers shared by the CLI commands: error reporting, exit codes, common option types.

Every command spells the options they share alike, through the types here:

========================  =====================================================
``--out DIR``             :data:`OutDir` (a folder), :data:`OutFile` (one file),
                          :data:`OutDirOrRecord` (optional with ``--patient``)
``--patient P``           :data:`PatientOption` (:func:`patient_option`): the record
``--lang en|de``          :data:`LanguageOption` (:func:`language_option`)
``--jurisdiction``        :data:`JurisdictionOption`
``--rules FILE``          :data:`RulesFile` (:func:`rules_option`)
``--json``                :data:`JsonOutput`, printed with :func:`print_json`
``--pictures/--no-...``   :func:`pictures_option`
========================  =====================================================

An older spelling of an option stays accepted as a hidden option (:func:`legacy_option`,
merged by :func:`use_legacy`), so no user's script breaks; the documentation names it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from spinestab.errors import InputError, MissingDependencyError

__all__ = [
    "EXIT_BAD_INPUT",
    "JsonOutput",
    "Jurisdiction",
    "JurisdictionOption",
    "Language",
    "LanguageOption",
    "OutDir",
    "OutDirOrRecord",
    "OutFile",
    "PatientOption",
    "RulesFile",
    "console",
    "err_console",
    "exit_on_bad_input",
    "language_option",
    "legacy_option",
    "patient_option",
    "pictures_option",
    "print_error",
    "print_json",
    "print_note",
    "rules_option",
    "use_legacy",
]

T = TypeVar("T")

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
#: ``--out``: the output folder of an analysis that can save its result into the record
#: instead (``--patient``); one of the two is needed
OutDirOrRecord = Annotated[
    Path | None,
    typer.Option(
        "--out",
        help="Output folder (created if missing; an earlier run's files in it are replaced, "
        "other files kept). Optional with --patient.",
        show_default=False,
    ),
]
#: ``--out``: the one file a command writes (written whole through a temporary sibling,
#: :func:`spinestab.core.outdir.write_out_file`)
OutFile = Annotated[
    Path, typer.Option("--out", help="File to write (replaced whole, never half-written).")
]
#: ``--json``: the result as JSON on stdout instead of the human-readable lines
JsonOutput = Annotated[
    bool, typer.Option("--json", help="Print the result as JSON on stdout (nothing else).")
]


class Language(StrEnum):
    """Languages of the text a command writes (``spinestab.core.i18n.LANGUAGES``)."""

    EN = "en"
    DE = "de"


class Jurisdiction(StrEnum):
    """Guideline set where guidelines disagree (``Settings.jurisdiction``)."""

    NICE = "NICE"
    ACP = "ACP"


def language_option(what: str = "Language") -> Any:
    """Return the ``--lang`` option; ``what`` says which text it sets."""
    return typer.Option(
        "--lang",
        case_sensitive=False,
        show_default=False,
        help=f"{what}: en or de (default: setting SPINESTAB_LANGUAGE).",
    )


#: ``--lang``: the language of the text written (default: the ``SPINESTAB_LANGUAGE`` setting)
LanguageOption = Annotated[Language | None, language_option()]
#: ``--jurisdiction``: the guideline set (default: the ``SPINESTAB_JURISDICTION`` setting)
JurisdictionOption = Annotated[
    Jurisdiction | None,
    typer.Option(
        "--jurisdiction",
        case_sensitive=False,
        show_default=False,
        help="Guideline set where guidelines disagree: NICE or ACP "
        "(default: setting SPINESTAB_JURISDICTION).",
    ),
]


def rules_option(help: str = "Rule file (YAML) overriding the bundled rules.") -> Any:
    """Return the ``--rules`` option: a rule file (or a bundled set's name, where said)."""
    return typer.Option("--rules", help=help, show_default=False)


def patient_option(
    help: str = "Save the result into this patient's record (--out optional then).",
) -> Any:
    """Return the ``--patient`` option: a pseudonymous patient id in the record."""
    return typer.Option("--patient", help=help, show_default=False)


#: ``--patient``: save the result into this patient's record
PatientOption = Annotated[str | None, patient_option()]
#: ``--rules``: a rule file overriding the bundled rules
RulesFile = Annotated[Path | None, rules_option()]


def pictures_option(*aliases: str, help: str = "Draw the pictures.") -> Any:
    """Return the ``--pictures/--no-pictures`` option (``aliases``: shown beside it).

    Keep an older spelling hidden with :func:`legacy_option` instead of listing it here.
    """
    return typer.Option("--pictures/--no-pictures", *aliases, help=help)


def legacy_option(*names: str) -> Any:
    """Return a hidden option keeping an older spelling working (None when not given).

    Pair it with the option it was renamed to and merge the two with :func:`use_legacy`.
    """
    return typer.Option(*names, hidden=True, show_default=False)


def use_legacy(value: T | None, legacy: T | None, *, name: str, legacy_name: str, default: T) -> T:
    """Merge an option with its hidden older spelling: the one given, else ``default``.

    Declare both options with the default None (so that "not given" is seen) and state the
    real default in the help text.

    Parameters
    ----------
    value : object or None
        The value of the option under its current name (``name``, e.g. ``--pictures``).
    legacy : object or None
        The value of its hidden older spelling (``legacy_name``, e.g. ``--qa``).
    name, legacy_name : str
        The two spellings, for the error message.
    default : object
        The value when neither is given.

    Raises
    ------
    InputError
        Both spellings are given, with different values.

    Examples
    --------
    >>> use_legacy(None, False, name="--pictures", legacy_name="--qa", default=True)
    False
    >>> use_legacy(None, None, name="--pictures", legacy_name="--qa", default=True)
    True

    """
    if value is not None and legacy is not None and value != legacy:
        raise InputError(
            f"{legacy_name} is the older name of {name}: give one of them",
            item=legacy_name,
            value=legacy,
            expected=f"{name} alone",
        )
    if value is not None:
        return value
    return legacy if legacy is not None else default


def print_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout (``--json``): UTF-8, indented, nothing else."""
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def print_note(text: str, *, as_json: bool) -> None:
    """Print a line for the user: on stdout, or on stderr when stdout holds ``--json``."""
    (err_console if as_json else console).print(text, highlight=False, soft_wrap=True)


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
