"""Command-line interface: ``spinestab COMMAND``.

Each sub-module defines ``register(app)``; heavy imports happen inside the commands so
that ``spinestab --help`` stays fast.
"""

from __future__ import annotations

import typer

from spinestab.cli import (
    cohort,
    demo,
    instability,
    morphometry,
    mri,
    patient,
    plan,
    record,
    score,
    serve,
    user,
    wearable,
)
from spinestab.cli import dicom as dicom_cli
from spinestab.cli import fhir as fhir_cli
from spinestab.cli import report as report_cli

__all__ = ["app", "main"]

app = typer.Typer(
    name="spinestab",
    help="Personalized lumbar stability profiles. Supports decisions; does not diagnose.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _module in (
    score,
    patient,
    record,
    demo,
    instability,
    morphometry,
    mri,
    plan,
    wearable,
    cohort,
    user,
    serve,
):
    _module.register(app)
for _module in (report_cli, fhir_cli, dicom_cli):
    _module.register(app)


def main() -> None:
    """Run the command-line interface."""
    app()
