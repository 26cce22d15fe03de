"""Walk the API's own OpenAPI schema, so a new operation or field is covered by the tests
that use this the day it is added."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Schema = dict[str, Any]


def load(client) -> Schema:
    return client.get("/api/openapi.json").json()


def operations(schema: Schema) -> Iterator[tuple[str, str, Schema]]:
    """(path template, METHOD, operation) for every operation in the schema."""
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method.upper(), operation


def deref(schema: Schema, node: Schema) -> Schema:
    """The node a `$ref` points at (followed until it is no reference)."""
    while "$ref" in node:
        target: Any = schema
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def body_schema(schema: Schema, operation: Schema) -> Schema | None:
    """The JSON object schema of an operation's request body, or None when it takes none."""
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    node = deref(schema, content["application/json"]["schema"])
    # An optional body (`anyOf: [object, null]`): the object it may be.
    objects = [deref(schema, option) for option in node.get("anyOf", [])]
    objects = [option for option in objects if option.get("type") == "object"]
    return objects[0] if objects else node


def accepts(schema: Schema, node: Schema, kind: str) -> bool:
    """Whether a property's schema takes a value of this JSON type (directly or in anyOf)."""
    node = deref(schema, node)
    options = node.get("anyOf") or node.get("oneOf") or [node]
    return any(deref(schema, option).get("type") == kind for option in options)


def string_properties(schema: Schema, body: Schema) -> list[str]:
    """The body's free-text properties: strings that are not an enum of fixed values."""
    names = []
    for name, node in body.get("properties", {}).items():
        node = deref(schema, node)
        options = [deref(schema, option) for option in node.get("anyOf") or [node]]
        if any(option.get("type") == "string" and "enum" not in option for option in options):
            names.append(name)
    return names
