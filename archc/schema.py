"""JSON Schema of the spec format, for editors (`archc schema`).

The schema comes from the pydantic models, widened where the file format is richer than the
expanded spec the models check: any field may hold a ``$name`` / ``${...}`` value, a layer may
instantiate a block, and `vars` and `blocks` are allowed at the top level.
"""

from __future__ import annotations

import copy
from typing import Any

from archc.expand import PARAM_TYPES
from archc.layers import Layer
from archc.validate import Spec

EXPRESSION = {"type": "string", "pattern": r"^\$", "description": "$name or ${expression}"}
NAME = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"}


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a spec file, as `archc schema` prints it."""
    schema = Spec.model_json_schema()
    _allow_expressions(schema["$defs"])
    layer = copy.deepcopy(schema["properties"]["layers"]["items"])
    layers = {"type": "array", "items": {"anyOf": [layer, _INSTANCE]}}
    schema["properties"]["layers"] = {**layers, "minItems": 1}
    schema["properties"]["vars"] = {
        "type": "object",
        "description": "named values for $name and ${...}",
        "propertyNames": NAME,
    }
    schema["properties"]["blocks"] = _blocks(layers)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "archc spec"
    return _ecma_patterns(schema)


def _allow_expressions(defs: dict[str, Any]) -> None:
    """Every layer field but type, name and inputs may be an expression; any layer a `when`."""
    for cls in Layer.registry.values():
        props = defs[cls.__name__]["properties"]
        for field, prop in props.items():
            if field not in ("type", "name", "inputs"):
                props[field] = {"anyOf": [prop, EXPRESSION]}
        props["when"] = {
            "anyOf": [{"type": "boolean"}, EXPRESSION],
            "description": "inside a block: leave the layer out when false",
        }


_INSTANCE = {
    "type": "object",
    "description": "an instance of a block from `blocks`; other keys are its parameters",
    "properties": {
        "type": {"type": "string", "not": {"enum": sorted(Layer.registry)}},
        "name": NAME,
        "inputs": {"anyOf": [NAME, {"type": "array", "items": NAME}]},
        "repeat": {"anyOf": [{"type": "integer", "minimum": 1}, EXPRESSION]},
        "first": {"type": "object", "description": "parameters of the first copy"},
        "when": {"anyOf": [{"type": "boolean"}, EXPRESSION]},
    },
    "required": ["type"],
}

_PARAM = {
    "anyOf": [
        {"enum": sorted(PARAM_TYPES)},
        {
            "type": "object",
            "properties": {"type": {"enum": sorted(PARAM_TYPES)}, "default": {}},
            "additionalProperties": False,
        },
        {"type": ["integer", "number", "boolean", "string", "array"]},
    ]
}


def _blocks(layers: dict[str, Any]) -> dict[str, Any]:
    """The top-level `blocks` map: block name -> definition."""
    return {
        "type": "object",
        "propertyNames": NAME,
        "additionalProperties": {
            "type": "object",
            "properties": {
                "description": {"type": "string"},
                "params": {"type": "object", "additionalProperties": _PARAM},
                "inputs": {"anyOf": [NAME, {"type": "array", "items": NAME}]},
                "layers": layers,
                "output": NAME,
            },
            "required": ["layers"],
            "additionalProperties": False,
        },
    }


def _ecma_patterns(node: Any) -> Any:
    """Python's `\\Z` anchors become JSON Schema's `^...$`."""
    if isinstance(node, dict):
        out = {k: _ecma_patterns(v) for k, v in node.items()}
        if isinstance(out.get("pattern"), str) and out["pattern"].endswith("\\Z"):
            out["pattern"] = "^" + out["pattern"][:-2] + "$"
        return out
    if isinstance(node, list):
        return [_ecma_patterns(v) for v in node]
    return node
