"""Layer kinds, one pydantic model each, registered by their YAML `type`.

Importing this package registers every kind in `Layer.registry`. A new kind is one class in
one of these modules (or a new module imported here).
"""

from archc.layers import basic, conv, merge, pool, resample  # noqa: F401  (registers kinds)
from archc.layers.base import Layer, Shape, fmt_shape

__all__ = ["Layer", "Shape", "fmt_shape"]
