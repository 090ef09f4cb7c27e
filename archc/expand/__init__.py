"""Stage 2, expand: positioned spec data -> the flat spec the compiler really sees.

In order: ``--set`` overrides are applied to the data; ``vars`` are resolved (they may refer to
each other; a cycle is an error); every ``$name`` / ``${expression}`` value is evaluated; block
instances (``type: <block>``, with ``repeat`` and ``first`` overrides) are replaced by their
layers under hierarchical names (``layer2.0.conv1``); layers switched off with ``when`` pass
their input through; and every layer gets an explicit name and explicit inputs.

Positions survive expansion: a layer that came from a block definition points at that
definition's line. The instances are recorded so that emitters can rebuild the hierarchy.

`definitions` parses the ``blocks:`` map, `expander` expands the layers and `instances`
the block instances among them; `records` holds what they share and what they record.
"""

from archc.expand.definitions import INSTANCE_KEYS, PARAM_TYPES, Block, Param
from archc.expand.expander import expand
from archc.expand.records import MAX_BLOCK_DEPTH, MAX_LAYERS, MAX_REPEAT, Expansion, Instance

__all__ = [
    "INSTANCE_KEYS",
    "MAX_BLOCK_DEPTH",
    "MAX_LAYERS",
    "MAX_REPEAT",
    "PARAM_TYPES",
    "Block",
    "Expansion",
    "Instance",
    "Param",
    "expand",
]
