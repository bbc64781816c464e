"""Bounded readers for JSON and YAML documents: limits hold before parsing completes.

Every document a user hands in (questionnaires, ``history.json``, landmarks, rule files,
session logs) is read through these functions, so that a hostile or broken file fails fast
and small, with an :class:`~spinestab.errors.InputError` naming the file:

- files over :data:`MAX_FILE_BYTES` are refused before they are read whole;
- nesting deeper than :data:`MAX_DEPTH` is refused (JSON: by a scan before parsing; YAML:
  while composing);
- integers with more than :data:`MAX_INT_DIGITS` digits are refused as they are read;
- YAML aliases (``*name``) are refused: alias expansion is how a few hundred bytes ("billion
  laughs") become gigabytes; anchors without aliases are harmless and pass;
- a key given twice in one object is refused (both parsers would silently keep the last);
- YAML timestamps stay text, for the caller to validate as dates.

The limits are design decisions [D], far above any real form, rule file or landmark file
spinestab reads (the largest bundled document is under 20 kB, nesting under 10 levels).

Examples
--------
>>> parse_json('{"a": [1, 2, {"b": null}]}')
{'a': [1, 2, {'b': None}]}
>>> text = "base: &b {x: 1}" + chr(10) + "other: *b"
>>> parse_yaml(text, source="rules.yaml")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
spinestab.errors.InputError: rules.yaml, item line 2: YAML aliases are not accepted (got 'b')...
>>> parse_json('{"a": 1, "a": 2}')
Traceback (most recent call last):
...
spinestab.errors.InputError: item a: duplicated item (got 2); expected each key once

"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from itertools import accumulate
from pathlib import Path
from typing import Any

import yaml

from spinestab.errors import InputError

__all__ = [
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_INT_DIGITS",
    "SafeYamlLoader",
    "bounded_int",
    "check_json_depth",
    "json_depth",
    "load_document",
    "load_json",
    "load_yaml",
    "parse_json",
    "parse_yaml",
    "read_limited_text",
]

#: Largest document accepted, in bytes (1 MB) [D].
MAX_FILE_BYTES = 1_000_000
#: Deepest nesting of objects and lists accepted [D].
MAX_DEPTH = 64
#: Most digits an integer may have (|n| < 10**18 fits a 64-bit integer) [D].
MAX_INT_DIGITS = 18

_YAML_SUFFIXES = (".yaml", ".yml")
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


# ------------------------------------------------------------------------------ files
def read_limited_text(
    path: str | Path, *, max_bytes: int = MAX_FILE_BYTES, encoding: str = "utf-8-sig"
) -> str:
    """Read a text file of at most ``max_bytes`` bytes.

    The size is checked before reading, and no more than ``max_bytes + 1`` bytes are ever
    read (a file growing meanwhile, or a pipe, cannot get past the limit). A byte-order
    mark is not content (``utf-8-sig``).

    Raises
    ------
    InputError
        File missing, a folder, unreadable, too large or not text in ``encoding``.

    """
    path = Path(path)
    source = str(path)
    try:
        if path.is_dir():
            raise InputError("a folder was given where a file is expected", source=source)
        size = path.stat().st_size
        if size > max_bytes:
            raise _too_large(source, size, max_bytes)
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise InputError("file not found", source=source) from None
    except OSError as exc:
        raise InputError(
            f"unreadable file ({exc.__class__.__name__}: {exc.strerror or exc})", source=source
        ) from None
    if len(data) > max_bytes:
        raise _too_large(source, len(data), max_bytes)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(
            f"unreadable file (not {encoding.removesuffix('-sig').upper()} text: {exc.reason} "
            f"at byte {exc.start})",
            source=source,
        ) from None


def _too_large(source: str, size: int, max_bytes: int) -> InputError:
    return InputError(
        "file too large",
        source=source,
        value=f"{size} bytes",
        expected=f"at most {max_bytes} bytes",
    )


# ------------------------------------------------------------------------------ JSON
def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InputError(
                "duplicated item", item=str(key), value=value, expected="each key once"
            )
        result[key] = value
    return result


def bounded_int(max_digits: int = MAX_INT_DIGITS) -> Callable[[str], int]:
    """Return a ``parse_int`` hook for :func:`json.loads` refusing longer integers."""

    def parse(text: str) -> int:
        if len(text.lstrip("-")) > max_digits:
            raise InputError(
                "integer too large",
                value=text[:24] + ("..." if len(text) > 24 else ""),
                expected=f"at most {max_digits} digits",
            )
        return int(text)

    return parse


def json_depth(text: str) -> int:
    """Deepest nesting of objects and lists in JSON ``text`` (brackets in strings ignored)."""
    brackets = _BRACKETS.findall(_JSON_STRING.sub('""', text))
    return max(accumulate(1 if b in "[{" else -1 for b in brackets), default=0)


def check_json_depth(text: str, *, source: str | None = None, max_depth: int = MAX_DEPTH) -> None:
    """Refuse JSON ``text`` nested deeper than ``max_depth`` (scanned before parsing)."""
    depth = json_depth(text)
    if depth > max_depth:
        raise InputError(
            "nested too deeply", source=source, value=depth, expected=f"at most {max_depth} levels"
        )


def parse_json(
    text: str,
    *,
    source: str | None = None,
    max_depth: int = MAX_DEPTH,
    max_int_digits: int = MAX_INT_DIGITS,
    unique_keys: bool = True,
) -> Any:
    """Parse JSON ``text`` within the nesting and integer limits.

    Raises
    ------
    InputError
        Not JSON, nested deeper than ``max_depth``, an integer longer than
        ``max_int_digits`` digits, or (``unique_keys``) a key given twice in one object.

    """
    try:
        depth = json_depth(text)
        if depth > max_depth:
            raise InputError(
                "nested too deeply", value=depth, expected=f"at most {max_depth} levels"
            )
        return json.loads(
            text,
            object_pairs_hook=_unique_pairs if unique_keys else None,
            parse_int=bounded_int(max_int_digits),
        )
    except InputError as exc:
        raise exc.with_source(source) if source else exc from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InputError(f"not valid JSON: {exc}", source=source) from None


# ------------------------------------------------------------------------------ YAML
class SafeYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases, duplicate keys, huge integers or deep nesting.

    Timestamps are not resolved: dates stay text for the caller to validate.
    """

    max_depth = MAX_DEPTH
    max_int_digits = MAX_INT_DIGITS

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: D102 - PyYAML hook
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise InputError(
                "YAML aliases are not accepted",
                item=f"line {event.start_mark.line + 1}",
                value=event.anchor,
                expected="plain YAML without aliases (*name)",
            )
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                mark = self.peek_event().start_mark
                raise InputError(
                    "nested too deeply",
                    item=f"line {mark.line + 1}",
                    expected=f"at most {self.max_depth} levels",
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:  # noqa: D102
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)
        pairs = [
            (self.construct_object(k, deep=deep), self.construct_object(v, deep=deep))
            for k, v in node.value
        ]
        for key, _ in pairs:
            try:
                hash(key)
            except TypeError:
                raise InputError("unhashable key", value=str(key), expected="a text key") from None
        return _unique_pairs(pairs)

    def construct_yaml_int(self, node: Any) -> int:  # noqa: D102 - PyYAML hook
        digits = str(node.value).replace("_", "").lstrip("+-")
        if len(digits) > self.max_int_digits + 2:  # room for a 0x / 0o prefix
            raise InputError(
                "integer too large",
                item=f"line {node.start_mark.line + 1}",
                value=digits[:24] + ("..." if len(digits) > 24 else ""),
                expected=f"at most {self.max_int_digits} digits",
            )
        return super().construct_yaml_int(node)


SafeYamlLoader.add_constructor("tag:yaml.org,2002:int", SafeYamlLoader.construct_yaml_int)
SafeYamlLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, SafeYamlLoader.construct_mapping
)
SafeYamlLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def parse_yaml(text: str, *, source: str | None = None) -> Any:
    """Parse YAML ``text`` with :class:`SafeYamlLoader`.

    Raises
    ------
    InputError
        Not YAML, an alias, nesting deeper than :data:`MAX_DEPTH`, a huge integer or a
        key given twice.

    """
    try:
        return yaml.load(text, Loader=SafeYamlLoader)  # a SafeLoader subclass
    except InputError as exc:
        raise exc.with_source(source) if source else exc from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise InputError(f"not valid YAML: {exc}", source=source) from None


# ------------------------------------------------------------------------------ files
def load_json(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES, **options: Any) -> Any:
    """Read and parse a JSON file within the limits (see :func:`parse_json`)."""
    return parse_json(read_limited_text(path, max_bytes=max_bytes), source=str(path), **options)


def load_yaml(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """Read and parse a YAML file within the limits (see :func:`parse_yaml`)."""
    return parse_yaml(read_limited_text(path, max_bytes=max_bytes), source=str(path))


def load_document(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """Read a JSON or YAML file (by its suffix: ``.yaml``/``.yml`` is YAML, else JSON)."""
    if Path(path).suffix.lower() in _YAML_SUFFIXES:
        return load_yaml(path, max_bytes=max_bytes)
    return load_json(path, max_bytes=max_bytes)
