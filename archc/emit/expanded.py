"""Emit the expanded spec as YAML: blocks, vars and expressions resolved, every default filled.

This is exactly what the compiler analyses; the output is itself a valid spec with the same
shapes, parameters and MACs.
"""

from __future__ import annotations

from typing import Any

import yaml

from archc.validate import Spec


def _flow(value: Any) -> str:
    """One value in YAML flow style, on one line."""
    text = yaml.safe_dump([value], default_flow_style=True, sort_keys=False, width=10**6)
    return text.strip()[1:-1]


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
