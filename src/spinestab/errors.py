"""Errors that every part of spinestab raises for bad input.

One vocabulary, so every message reads alike: *where* (file, item), *what* (the value)
and *what was expected*.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AlreadyStoredError",
    "ConflictError",
    "InputError",
    "MissingDependencyError",
    "NotFoundError",
    "RefusedError",
    "require",
]


class InputError(ValueError):
    """Bad input: the message names where, the value found and what was expected.

    Parameters
    ----------
    message : str
        What is wrong.
    source : str, optional
        The file or object the input came from.
    item : str, optional
        The item, field, column or key within the source.
    value : Any, optional
        The offending value.
    expected : str, optional
        What would have been accepted.

    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        item: str | None = None,
        value: Any = None,
        expected: str | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.item = item
        self.value = value
        self.expected = expected
        super().__init__(self.__str__())

    def __str__(self) -> str:
        parts = []
        if self.source:
            parts.append(str(self.source))
        if self.item:
            parts.append(f"item {self.item!s}")
        where = ", ".join(parts)
        text = f"{where}: {self.message}" if where else self.message
        if self.value is not None:
            text += f" (got {self.value!r})"
        if self.expected:
            text += f"; expected {self.expected}"
        return text

    def with_source(self, source: str) -> InputError:
        """Return a copy of this error (same class) that names ``source`` as where it came from."""
        return type(self)(
            self.message,
            source=source,
            item=self.item,
            value=self.value,
            expected=self.expected,
        )


class NotFoundError(InputError):
    """The named thing (patient, plan version, file) is not in the record (HTTP 404)."""


class ConflictError(InputError):
    """The record's state does not allow this (e.g. progressing a blocked plan; HTTP 409)."""


class AlreadyStoredError(ConflictError):
    """The exact content is already stored; nothing new was written (HTTP 409)."""


class RefusedError(InputError):
    """The actor may not do this (wrong role or someone else's record; HTTP 403)."""


class MissingDependencyError(ImportError):
    """An optional dependency is needed for this feature and is not installed."""


def require(module: str, *, extra: str, feature: str) -> Any:
    """Import an optional dependency, or fail with the extra that provides it.

    Parameters
    ----------
    module : str
        Importable module name, e.g. ``"nibabel"``.
    extra : str
        The spinestab extra that installs it, e.g. ``"imaging"``.
    feature : str
        What the user was trying to do, for the message.

    Returns
    -------
    module
        The imported module.

    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise MissingDependencyError(
            f"{feature} needs the optional package '{module}'. "
            f"Install it with: pip install 'spinestab[{extra}]'"
        ) from exc
