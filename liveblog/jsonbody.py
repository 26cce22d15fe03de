"""The API's JSON body parser: only JSON that can be stored gets past it.

Python's json module is lenient where a database is not: a string may spell a lone UTF-16
surrogate ("\\ud800", in a value or a key), which decodes to a str that no UTF-8 encoder,
nh3 or PostgreSQL will take, so it used to reach the save and fail there with a 500. It
also takes NaN and Infinity, and bytes in UTF-16 or with encoded surrogates. Here the body
must be UTF-8 JSON text (RFC 8259) holding valid Unicode, or the request is refused with a
400 that says what is wrong and where, before any view runs.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.http import HttpRequest
from ninja.parser import Parser

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class BadBody(ValueError):
    """A request body the API refuses to read; the message is the client's answer."""


class StrictJSONParser(Parser):
    """ninja's parser, refusing what json.loads would let through but nothing can store."""

    def parse_body(self, request: HttpRequest) -> Any:
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise BadBody(
                f"The request body is not UTF-8: byte {error.start} cannot be decoded."
            ) from None
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except RecursionError:
            raise BadBody("The request body is not valid JSON: it is nested too deeply.") from None
        except json.JSONDecodeError as error:
            raise BadBody(
                f"The request body is not valid JSON: {error.msg} "
                f"(line {error.lineno}, column {error.colno})."
            ) from None
        except ValueError as error:  # a number of more than 4,300 digits, NaN, Infinity
            raise BadBody(f"The request body is not valid JSON: {error}.") from None
        # Valid UTF-8 holds no surrogates, so only a \u escape can have made one.
        if "\\u" in text:
            found = lone_surrogate(data)
            if found is not None:
                where, character = found
                raise BadBody(
                    f"The request body holds a lone UTF-16 surrogate (\\u{ord(character):04x}) "
                    f"at {where}: text must be valid Unicode, with surrogates only in pairs."
                )
        return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def lone_surrogate(data: Any) -> tuple[str, str] | None:
    """Where the first lone surrogate is (as a JSON path) and which one, or None."""
    stack: list[tuple[str, Any]] = [("$", data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            match = _LONE_SURROGATE.search(value)
            if match:
                return where, match.group()
        elif isinstance(value, dict):
            for key, item in value.items():
                match = _LONE_SURROGATE.search(key)
                if match:
                    return f"{where} (a key)", match.group()
                stack.append((f"{where}.{key}", item))
        elif isinstance(value, list):
            stack.extend((f"{where}[{index}]", item) for index, item in enumerate(value))
    return None
