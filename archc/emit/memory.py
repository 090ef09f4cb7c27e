"""Whether `archc build` can instantiate and run a model on this machine, known beforehand.

Building allocates every parameter (float32) and the shape check keeps every layer's output
for a batch of two. A spec within the parameter budget can still need more memory than the
machine has free; `build` then refuses with E503 instead of being killed halfway.
"""

from __future__ import annotations

import resource

from archc.analyse import Graph
from archc.errors import Diagnostic, SpecError
from archc.layers.base import prod

BYTES_PER_VALUE = 4  # float32
SHARE = 0.8  # of the free memory that a build may take


def build_bytes(graph: Graph, batch: int = 2) -> int:
    """Parameters, every layer's output at `batch`, and the largest one twice more (the
    module's own forward and the comparison of its result)."""
    activations = [prod(node.shape) for node in graph.nodes] or [0]
    values = graph.params + batch * (sum(activations) + 2 * max(activations))
    return BYTES_PER_VALUE * values


def free_bytes() -> int | None:
    """Memory this process may still take: the system's available memory, capped by an
    address-space limit if one is set; None where neither can be read."""
    free = None
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    free = int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    limit, _ = resource.getrlimit(resource.RLIMIT_AS)
    if limit != resource.RLIM_INFINITY:
        room = limit - _address_space()
        free = room if free is None else min(free, room)
    return free


def _address_space() -> int:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def check_fits(graph: Graph, free: int | None = None) -> None:
    """Raise SpecError (E503) when building `graph` needs more than the free memory."""
    free = free_bytes() if free is None else free
    need = build_bytes(graph)
    if free is None or need <= SHARE * free:
        return
    raise SpecError([not_enough_memory(graph, need, free)], _text(graph))


def _text(graph: Graph) -> str | None:
    return graph.spec.source.text if graph.spec.source else None


def not_enough_memory(graph: Graph, need: int, free: int | None) -> Diagnostic:
    """E503 at the layer with the most parameters (or the largest output)."""
    node = max(graph.nodes, key=lambda n: (n.params, prod(n.shape)))
    source = graph.spec.source
    pos = source.where("layers", node.index, "name") if source else None
    have = f"; this machine has {_gb(free)} free" if free is not None else ""
    return Diagnostic(
        "E503",
        f"building the model needs about {_gb(need)} ({graph.params:,} parameters and "
        f"every layer's output for a batch of 2){have}",
        source.path if source else "<spec>",
        *((pos,) if pos else ()),
        layer=node.name,
        help="`archc check` and `summary` need no memory for the model; reduce the sizes "
        "to build it",
    )


def _gb(n: int) -> str:
    return f"{n / 1e9:.1f} GB"
