"""Reading JSON-shaped input by hand: each problem as ``path: what is wrong``.

The handlers parse their events, workflow requests and queue messages with these helpers
and small frozen dataclasses rather than pydantic, whose import alone would add about a
third to the cold start of a function that also loads boto3. A parser lists every
problem it finds and raises once, with all of them (``require``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from handlers.errors import MalformedInputError

MAX_NAME_IN_MESSAGE = 64

Check = Callable[[Any], bool]


def field_name(name: str) -> str:
    """A client's field name as an error message can show it: short and printable."""
    if len(name) <= MAX_NAME_IN_MESSAGE and name.isprintable():
        return name
    return ascii(name[:MAX_NAME_IN_MESSAGE]) + ("..." if len(name) > MAX_NAME_IN_MESSAGE else "")


def path_of(path: str, name: str) -> str:
    """``name`` inside ``path`` (the top level when ``path`` is empty)."""
    return f"{path}.{name}" if path else name


def unknown_fields(data: Mapping[str, Any], allowed: Collection[str], path: str = "") -> list[str]:
    return [f"{path_of(path, field_name(name))}: unknown field" for name in data if name not in allowed]


def missing_fields(data: Mapping[str, Any], required: Iterable[str], path: str = "") -> list[str]:
    return [f"{path_of(path, name)}: is required" for name in required if name not in data]


def is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_text(value: Any) -> bool:
    return isinstance(value, str)


def is_object(value: Any) -> bool:
    return isinstance(value, dict)


def is_list(value: Any) -> bool:
    return isinstance(value, list)


def nullable(check: Check) -> Check:
    return lambda value: value is None or check(value)


def object_of(check: Check) -> Check:
    """An object whose keys are strings and whose every value passes ``check``."""
    return lambda value: (
        isinstance(value, dict) and all(isinstance(key, str) and check(item) for key, item in value.items())
    )


TEXT: tuple[Check, str] = (is_text, "a string")


def wrong_types(
    data: Mapping[str, Any], expected: Mapping[str, tuple[Check, str]], path: str = ""
) -> list[str]:
    """A problem for each field of ``expected`` present in ``data`` whose value fails its check."""
    return [
        f"{path_of(path, name)}: must be {description}"
        for name, (check, description) in expected.items()
        if name in data and not check(data[name])
    ]


def require(problems: list[str], what: str) -> None:
    """Raise ``MalformedInputError`` naming ``what`` and every problem, if there is any."""
    if problems:
        raise MalformedInputError(f"{what}: {'; '.join(problems)}")


def check_fields(
    fields: Mapping[str, Any],
    what: str,
    required: tuple[str, ...],
    optional: tuple[str, ...] = (),
    types: Mapping[str, tuple[Check, str]] | None = None,
) -> None:
    """Raise unless ``fields`` holds every ``required`` field, no field but those and the
    ``optional`` ones, and each field of ``types`` passes its check."""
    problems = unknown_fields(fields, (*required, *optional)) + missing_fields(fields, required)
    require(problems + wrong_types(fields, types or {}), what)


def require_object(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise MalformedInputError(f"{what}: must be a JSON object, got {type(data).__name__}")
    return data
