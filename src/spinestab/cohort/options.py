"""Options of a cohort task, written as on the command line of the kind's own command.

A manifest row's ``options`` cell (and ``--options KIND=...`` of ``spinestab cohort run``)
holds the options of ``spinestab wearable`` or ``spinestab mri`` as a user would type them,
e.g. ``--thigh sub-01_thigh.cwa --units g --utc-offset-h 1``. This module turns such a
string into a validated :class:`TaskOptions`: the input files it names (resolved against
a base folder) apart from the plain settings, so that a task's identity (the hash of its
settings and of its files' contents) does not depend on where the files lie.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spinestab.errors import InputError

__all__ = ["KINDS", "TaskOptions", "options_flags", "parse_options"]

#: The kinds of task: MRI muscle quality, wearable movement, questionnaires.
KINDS = ("mri", "wearable", "forms")


@dataclass(frozen=True)
class _Flag:
    """One command-line option: the setting it fills and how its text is read."""

    name: str | None  # None: accepted for the command's sake, no effect in a cohort
    convert: Callable[[str, str], Any] | None  # None: a switch (no value)
    const: Any = None
    is_input: bool = False  # names a file: resolved and hashed, not a setting


def _text(flag: str, value: str) -> str:
    return value


def _lower(flag: str, value: str) -> str:
    return value.strip().lower()


def _choice(*allowed: str) -> Callable[[str, str], str]:
    def convert(flag: str, value: str) -> str:
        v = value.strip().lower()
        if v not in allowed:
            raise InputError(
                f"unknown value of {flag}", item=flag, value=value, expected=" or ".join(allowed)
            )
        return v

    return convert


def _number(low: float | None = None, high: float | None = None, *, positive: bool = False):
    def convert(flag: str, value: str) -> float:
        try:
            x = float(value)
        except ValueError:
            raise InputError("not a number", item=flag, value=value) from None
        bad = not math.isfinite(x) or (positive and x <= 0)
        bad |= (low is not None and x < low) or (high is not None and x > high)
        if bad:
            rng = "> 0" if positive else f"{low:g} to {high:g}"
            raise InputError("out of range", item=flag, value=value, expected=rng)
        return x

    return convert


def _time(flag: str, value: str) -> float:
    from spinestab.wearable.io import parse_time

    return parse_time(value, flag)


def _period(flag: str, value: str) -> list[float]:
    parts = value.split("/")
    if len(parts) != 2:
        raise InputError(
            "standing period needs START/END",
            item=flag,
            value=value,
            expected="2024-01-01T08:00/2024-01-01T08:01",
        )
    return [_time(flag, parts[0]), _time(flag, parts[1])]


# The options of ``spinestab wearable`` (cli/wearable.py), with the same names and checks;
# --trunk is the task's path. --lang and pictures concern files a cohort does not write.
_WEARABLE: dict[str, _Flag] = {
    "--thigh": _Flag("thigh", _text, is_input=True),
    "--units": _Flag("units", _choice("auto", "g", "m/s2")),
    "--fs": _Flag("fs_hz", _number(positive=True)),
    "--start": _Flag("start_unix_s", _time),
    "--standing": _Flag("standing_s", _period),
    "--static-limit-min": _Flag("static_limit_min", _number(positive=True)),
    "--utc-offset-h": _Flag("utc_offset_h", _number(-14.0, 14.0)),
    "--sit-to-stand": _Flag("sit_to_stand", _choice("stillness", "displacement")),
    "--lang": _Flag(None, _lower),  # prompt messages: a cohort writes no prompts.csv
    "--pictures": _Flag(None, None),  # a cohort writes no timeline pictures
    "--no-pictures": _Flag(None, None),
    # cohort only: analyse the complete blocks of a file cut short (default: a failure)
    "--allow-truncated": _Flag("allow_truncated", None, const=True),
}


def _range(flag: str, value: str) -> list[float]:
    try:
        lo, hi = (float(x) for x in value.split(","))
    except ValueError:
        raise InputError("bad range", item=flag, value=value, expected="LOW,HIGH") from None
    return [lo, hi]


def _numbers(flag: str, value: str) -> list[float]:
    try:
        return [float(x) for x in value.split(",")]
    except ValueError:
        raise InputError("bad numbers", item=flag, value=value, expected="a,b,...") from None


def _int(flag: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InputError("not a whole number", item=flag, value=value) from None


# The options of ``spinestab mri`` (cli/mri.py); values are checked by MriOptions when the
# task is made. Files are inputs (hashed); the image is the task's path (or --water/--ff).
_MRI: dict[str, _Flag] = {
    **{
        flag: _Flag(flag[2:].replace("-", "_"), _text, is_input=True)
        for flag in (
            "--image",
            "--water",
            "--fat",
            "--ff",
            "--mask",
            "--vertebrae",
            "--levels-table",
            "--vertebral-body",
            "--reference-table",
        )
    },
    **{
        flag: _Flag(flag[2:].replace("-", "_"), _text)
        for flag in (
            "--labels",
            "--segment",
            "--segment-task",
            "--vertebrae-labels",
            "--anchor",
            "--anchor-is",
            "--sex",
            "--modality",
            "--contrast",
            "--fat-method",
            "--pool",
            "--n4-mask",
            "--ff-units",
            "--grade-scheme",
            "--series-uid",
        )
    },
    "--weights": _Flag("weights_dir", _text),
    "--age": _Flag("age", _number(0.0, 120.0)),
    "--classes": _Flag("classes", _int),
    "--bias-correction": _Flag("bias_correction", None, const=True),
    "--no-bias-correction": _Flag("bias_correction", None, const=False),
    "--derive-autochthon": _Flag("derive_autochthon", None, const=True),
    "--ct-fat-range": _Flag("ct_fat_range", _range),
    "--grade-cutoffs": _Flag("grade_cutoffs", _numbers),
    "--qa": _Flag(None, None),  # a cohort writes no QA pictures
    "--no-qa": _Flag(None, None),
}

_FLAGS: dict[str, dict[str, _Flag]] = {"wearable": _WEARABLE, "forms": {}, "mri": _MRI}


def options_flags(kind: str) -> tuple[str, ...]:
    """Return the option flags a task of ``kind`` accepts."""
    return tuple(_FLAGS[kind])


@dataclass(frozen=True)
class TaskOptions:
    """A task's validated options.

    Attributes
    ----------
    settings : dict
        Plain settings (JSON-ready), by setting name (``units``, ``utc_offset_h`` ...).
    inputs : dict
        Input files named by options (``thigh`` ...), resolved to absolute paths.
    text : str
        The options as given, for messages.

    """

    settings: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    text: str = ""

    def merged(self, other: TaskOptions) -> TaskOptions:
        """Return these options with ``other``'s given on top (a row over the defaults)."""
        return TaskOptions(
            {**self.settings, **other.settings},
            {**self.inputs, **other.inputs},
            " ".join(t for t in (self.text, other.text) if t),
        )


def parse_options(
    kind: str,
    text: str | None,
    *,
    base_dir: Path,
    source: str = "options",
    flags: Mapping[str, _Flag] | None = None,
) -> TaskOptions:
    """Read a command-line style option string for a task of ``kind``.

    Parameters
    ----------
    kind : {"mri", "wearable", "forms"}
        The task kind; its command's options are accepted.
    text : str or None
        The options, e.g. ``"--thigh thigh.cwa --units g"``; ``--flag=value`` works too.
    base_dir : Path
        Folder that relative file names are resolved against.
    source : str
        Where the text came from (manifest line), for messages.
    flags : mapping, optional
        The accepted flags (default: those of ``kind``).

    Returns
    -------
    TaskOptions

    Raises
    ------
    InputError
        Unknown flag, missing or bad value, a flag given twice.

    """
    table = _FLAGS[kind] if flags is None else flags
    try:
        tokens = shlex.split(text or "")
    except ValueError as exc:
        raise InputError(f"cannot split the options ({exc})", source=source, value=text) from None
    settings: dict[str, Any] = {}
    inputs: dict[str, str] = {}
    seen: set[str] = set()
    i = 0
    while i < len(tokens):
        token = tokens[i]
        flag, eq, inline = token.partition("=")
        spec = table.get(flag)
        if spec is None:
            allowed = ", ".join(table) or "none"
            raise InputError(
                f"unknown option for a {kind} task",
                source=source,
                item=flag,
                expected=f"options of spinestab {kind}: {allowed}",
            )
        if flag in seen:
            raise InputError("option given twice", source=source, item=flag)
        seen.add(flag)
        if spec.convert is None:
            if eq:
                raise InputError("this option takes no value", source=source, item=flag)
            if spec.name is not None:
                settings[spec.name] = spec.const
            i += 1
            continue
        if eq:
            value, i = inline, i + 1
        elif i + 1 < len(tokens):
            value, i = tokens[i + 1], i + 2
        else:
            raise InputError("option needs a value", source=source, item=flag)
        try:
            converted = spec.convert(flag, value)
            if spec.name is None:
                pass
            elif spec.is_input:
                path = Path(value).expanduser()
                inputs[spec.name] = str(path if path.is_absolute() else (base_dir / path))
            else:
                settings[spec.name] = converted
        except InputError as exc:
            raise exc.with_source(source) from None
    return TaskOptions(settings, inputs, text or "")
