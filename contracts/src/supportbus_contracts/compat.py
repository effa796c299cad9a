"""Backward-compatibility check between a committed JSON Schema and the current one.

Rules within one major version (what a consumer of the new schema and a consumer of the old one can
both live with): a field may be added if it is optional; a field may not be removed, retyped, or
made required; an enum may gain values but not lose them. Anything else needs a new major version,
that is a new topic.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """Human-readable list of what in ``new`` breaks data or consumers written for ``old``."""
    problems: list[str] = []
    _compare(old, new, old.get("$defs", {}), new.get("$defs", {}), "$", problems)
    return problems


def _resolve(schema: Schema, defs: Schema) -> Schema:
    seen = 0
    while "$ref" in schema and seen < 32:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = defs[name]
        seen += 1
    return schema


def _variants(schema: Schema, defs: Schema) -> list[Schema]:
    schema = _resolve(schema, defs)
    if "anyOf" in schema:
        return [_resolve(s, defs) for s in schema["anyOf"]]
    return [schema]


def _type_names(schema: Schema, defs: Schema) -> set[str]:
    names: set[str] = set()
    for variant in _variants(schema, defs):
        if "const" in variant:
            names.add(f"const:{variant['const']!r}")
        elif "type" in variant:
            kind = variant["type"]
            names.update(kind if isinstance(kind, list) else [kind])
        elif "enum" in variant:
            names.add("enum")
        else:
            names.add("any")
    return names


def _compare(
    old: Schema, new: Schema, old_defs: Schema, new_defs: Schema, path: str, problems: list[str]
) -> None:
    old_types, new_types = _type_names(old, old_defs), _type_names(new, new_defs)
    if not old_types <= new_types and "any" not in new_types:
        problems.append(f"{path}: type changed from {sorted(old_types)} to {sorted(new_types)}")
        return
    old_variants, new_variants = _variants(old, old_defs), _variants(new, new_defs)
    _compare_enums(old_variants, new_variants, path, problems)
    old_obj = next((v for v in old_variants if v.get("type") == "object"), None)
    new_obj = next((v for v in new_variants if v.get("type") == "object"), None)
    if old_obj is not None and new_obj is not None:
        _compare_objects(old_obj, new_obj, old_defs, new_defs, path, problems)
    old_arr = next((v for v in old_variants if v.get("type") == "array"), None)
    new_arr = next((v for v in new_variants if v.get("type") == "array"), None)
    if old_arr is not None and new_arr is not None and "items" in old_arr:
        _compare(
            old_arr["items"], new_arr.get("items", {}), old_defs, new_defs, f"{path}[]", problems
        )


def _compare_enums(
    old_variants: list[Schema], new_variants: list[Schema], path: str, problems: list[str]
) -> None:
    old_values = {repr(v) for s in old_variants for v in s.get("enum", [])}
    new_values = {repr(v) for s in new_variants for v in s.get("enum", [])}
    if old_values and new_values and not old_values <= new_values:
        problems.append(f"{path}: enum lost values {sorted(old_values - new_values)}")


def _compare_objects(
    old: Schema, new: Schema, old_defs: Schema, new_defs: Schema, path: str, problems: list[str]
) -> None:
    old_props: Schema = old.get("properties", {})
    new_props: Schema = new.get("properties", {})
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    for name, old_prop in old_props.items():
        if name not in new_props:
            problems.append(f"{path}.{name}: field removed")
            continue
        if name in new_required and name not in old_required:
            problems.append(f"{path}.{name}: optional field made required")
        _compare(old_prop, new_props[name], old_defs, new_defs, f"{path}.{name}", problems)
    for name in new_props.keys() - old_props.keys():
        if name in new_required:
            problems.append(f"{path}.{name}: new field is required (must be optional)")
