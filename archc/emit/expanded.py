"""Emit the expanded spec as YAML: blocks, vars and expressions resolved, every default filled.

This is exactly what the compiler analyses; the output is itself a valid spec with the same
shapes, parameters and MACs.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from archc.validate import Spec

# A string written without quotes: a word that every YAML reader takes as that string.
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\Z")
_WORDS_YAML_READS_OTHERWISE = frozenset("true false null yes no on off y n".split())


def _flow(value: Any) -> str:
    """One value in YAML flow style, on one line, read back as exactly this value.

    Strings are written plain only when they are words (`conv`, `layer2.0`); anything else is
    double-quoted (JSON's escapes are YAML's), so that `1e3` or `true` stays a string.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return ".nan" if math.isnan(value) else ("-.inf" if value < 0 else ".inf")
        mantissa, e, exponent = repr(value).partition("e")
        if "." not in mantissa:  # YAML 1.1 readers need the dot: 1.0e-05, not 1e-05
            mantissa += ".0"
        return mantissa + e + exponent
    if isinstance(value, str):
        plain = _PLAIN.match(value) and value.lower() not in _WORDS_YAML_READS_OTHERWISE
        return value if plain else json.dumps(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_flow(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} in a spec")


def to_yaml(spec: Spec) -> str:
    lines = [f"archc: {spec.archc}", f"name: {_flow(spec.name)}"]
    if spec.description:
        lines.append(f"description: {_flow(spec.description)}")
    lines.append(f"input: {_flow(spec.input.model_dump())}")
    lines.append("layers:")
    for layer in spec.layers:
        fields = {k: v for k, v in layer.model_dump().items() if v is not None}
        inputs = fields.get("inputs")
        if isinstance(inputs, list) and len(inputs) == 1:
            fields["inputs"] = inputs[0]
        ordered = {k: fields.pop(k) for k in ("name", "type", "inputs")}
        lines.append(f"  - {_flow({**ordered, **fields})}")
    if spec.outputs:
        lines.append(f"outputs: {_flow(list(spec.outputs))}")
    return "\n".join(lines) + "\n"
