"""``describe_function`` and ``user_error`` name the user's code: qualified name, file, line.

Expected lines are found by searching this file for marker comments, so the tests do not
depend on how the implementation reads code objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streamlet.errors import ProcessingError, StreamletError
from streamlet.runtime.compile import describe_function, user_error

_THIS_FILE = Path(__file__).resolve()
_MODULE = __name__


def _line_of(marker: str) -> int:
    """The 1-based line of this file that ends with ``# <marker>``."""
    lines = _THIS_FILE.read_text().splitlines()
    (number,) = [i for i, text in enumerate(lines, 1) if text.rstrip().endswith(f"# {marker}")]
    return number


double = lambda value: value * 2  # noqa: E731  # marker:lambda


def parse_amount(value: str) -> int:  # marker:def
    return int(value)


class Pricing:
    def with_tax(self, value: float) -> float:  # marker:method
        return value * 1.2


class Doubler:
    def __call__(self, value: int) -> int:  # marker:call
        return value * 2


_CASES: dict[str, tuple[Any, str, str]] = {
    "lambda": (double, f"{_MODULE}.<lambda>", "marker:lambda"),
    "def": (parse_amount, f"{_MODULE}.parse_amount", "marker:def"),
    "bound method": (Pricing().with_tax, f"{_MODULE}.Pricing.with_tax", "marker:method"),
    "callable object": (Doubler(), f"{_MODULE}.Doubler", "marker:call"),
}


@pytest.mark.parametrize("kind", list(_CASES))
def test_describe_function_names_qualified_name_line_and_file(kind: str) -> None:
    fn, qualname, marker = _CASES[kind]

    name, line, file = describe_function(fn)

    assert name == qualname
    assert line == _line_of(marker)
    assert Path(file).resolve() == _THIS_FILE


def test_describe_function_names_nested_function_with_locals() -> None:
    def nested(value: Any) -> Any:  # marker:nested
        return value

    name, line, _ = describe_function(nested)

    assert name == (
        f"{_MODULE}.test_describe_function_names_nested_function_with_locals.<locals>.nested"
    )
    assert line == _line_of("marker:nested")


def test_describe_function_has_no_line_for_builtin() -> None:
    name, line, file = describe_function(len)

    assert name == "builtins.len"
    assert (line, file) == (None, "?")


@pytest.mark.parametrize("kind", list(_CASES))
def test_user_error_names_processor_function_file_and_line(kind: str) -> None:
    fn, qualname, marker = _CASES[kind]
    cause = ValueError("invalid literal for int() with base 10: 'abc'")

    error = user_error(cause, "parse-amounts", fn)

    assert isinstance(error, ProcessingError)
    assert isinstance(error, StreamletError)
    assert error.processor == "parse-amounts"
    assert error.function == qualname
    assert error.line == _line_of(marker)
    _, _, file = describe_function(fn)
    assert str(error) == (
        f"processor 'parse-amounts' failed in {qualname} ({file}:{_line_of(marker)}): "
        "ValueError: invalid literal for int() with base 10: 'abc'"
    )


def test_user_error_points_at_function_that_raised() -> None:
    try:
        parse_amount("abc")
    except ValueError as exc:
        error = user_error(exc, "parse-amounts", parse_amount)

    assert f"{_THIS_FILE}:{_line_of('marker:def')}" in str(error)
    assert "ValueError: invalid literal for int()" in str(error)


def test_user_error_has_no_record_location() -> None:
    error = user_error(KeyError("sku"), "lookup", parse_amount)

    assert (error.topic, error.partition, error.offset) == (None, None, None)
    assert str(error).endswith("KeyError: 'sku'")
