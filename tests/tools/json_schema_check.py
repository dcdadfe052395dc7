#!/usr/bin/env python3
"""Validates JSON documents against a JSON Schema, standard library only.

usage: json_schema_check.py SCHEMA DOCUMENT...

Implements the subset of JSON Schema that doc/inspect.schema.json uses:
type, required, properties, items, additionalProperties (false only) and
enum; $schema, $id, title and description are annotations.  Any other
keyword in the schema is an error, so the schema cannot rely on something
this checker would silently skip.  Every object schema must say
additionalProperties: false and require all its properties: a field added
to the output without the schema fails.  Prints every problem with its JSON
path; exits 0 when all documents are valid, 1 otherwise, 2 on usage errors.
"""
import json
import sys

ANNOTATIONS = {"$schema", "$id", "title", "description"}
KEYWORDS = {"type", "required", "properties", "items", "additionalProperties", "enum"}
TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def check_schema(schema, path="#"):
    """Problems in the schema itself: unknown keywords, open objects."""
    problems = []
    unknown = set(schema) - KEYWORDS - ANNOTATIONS
    if unknown:
        problems.append("%s: unsupported keywords %s" % (path, sorted(unknown)))
    if schema.get("type") not in TYPES:
        problems.append("%s: missing or unknown type %r" % (path, schema.get("type")))
    if schema.get("type") == "object":
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is not False:
            problems.append("%s: an object schema must say additionalProperties: false" % path)
        if sorted(schema.get("required", [])) != sorted(properties):
            problems.append("%s: required must list every property" % path)
        for name, sub in properties.items():
            problems += check_schema(sub, "%s/properties/%s" % (path, name))
    if "items" in schema:
        problems += check_schema(schema["items"], path + "/items")
    return problems


def validate(value, schema, path="$"):
    """Problems of value against schema."""
    kind = schema["type"]
    if not TYPES[kind](value):
        return ["%s: expected %s, got %s" % (path, kind, type(value).__name__)]
    if "enum" in schema and value not in schema["enum"]:
        return ["%s: %r is not one of %r" % (path, value, schema["enum"])]
    problems = []
    if kind == "object":
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                problems.append("%s: missing field %r" % (path, name))
        for name, item in value.items():
            if name in properties:
                problems += validate(item, properties[name], "%s.%s" % (path, name))
            elif schema.get("additionalProperties") is False:
                problems.append("%s: field %r is not in the schema" % (path, name))
    if kind == "array" and "items" in schema:
        for index, item in enumerate(value):
            problems += validate(item, schema["items"], "%s[%d]" % (path, index))
    return problems


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    with open(argv[1]) as handle:
        schema = json.load(handle)
    problems = check_schema(schema)
    for document in argv[2:]:
        try:
            with open(document) as handle:
                value = json.load(handle)
        except ValueError as error:
            problems.append("%s: not JSON: %s" % (document, error))
            continue
        problems += ["%s: %s" % (document, problem) for problem in validate(value, schema)]
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
