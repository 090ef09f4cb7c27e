"""archc: a declarative architecture compiler for convolutional networks.

A YAML spec is loaded with positions, expanded, validated by pydantic models, analysed
statically (shapes, parameters and MACs, without torch) and emitted as a summary, JSON,
PyTorch source, an in-process ``nn.Module`` or a Graphviz diagram.
"""

from archc.analyse import Budget, Graph, Node
from archc.api import analyse, load, loads, to_graphviz, to_source, to_torch
from archc.errors import ArchcError, Diagnostic, SpecError, UsageError
from archc.validate import Spec

__version__ = "0.1.0"

__all__ = [
    "ArchcError",
    "Budget",
    "Diagnostic",
    "Graph",
    "Node",
    "Spec",
    "SpecError",
    "UsageError",
    "analyse",
    "load",
    "loads",
    "to_graphviz",
    "to_source",
    "to_torch",
]
