"""archc: a declarative architecture compiler for convolutional networks.

A YAML spec is loaded with positions, expanded, validated by pydantic models, analysed
statically (shapes, parameters and MACs, without torch) and emitted as a summary, JSON,
PyTorch source, an in-process ``nn.Module`` or a Graphviz diagram.
"""

import os as _os
import sys as _sys

try:
    from archc import notebook as _notebook  # noqa: F401  (Jupyter reprs of Spec and Graph)
    from archc.analyse import Budget, Graph, Node
    from archc.api import analyse, export, load, loads, to_graphviz, to_source, to_torch, train
    from archc.errors import ArchcError, Diagnostic, SpecError, UsageError
    from archc.validate import Spec
except KeyboardInterrupt:
    # Ctrl-C while the `archc` command is still starting: exit as an interrupted command
    # does, without a traceback. Imported as a library, the interrupt is the caller's.
    if _os.path.basename(_sys.argv[0]) not in ("archc", "-m", "__main__.py"):
        raise
    _sys.exit(130)

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
    "export",
    "load",
    "loads",
    "to_graphviz",
    "to_source",
    "to_torch",
    "train",
]
