"""Stage 2, expand: positioned data -> the flat spec the compiler really sees.

Applies ``--set key=value`` overrides to the loaded data.
"""

from __future__ import annotations

from collections.abc import Sequence

from archc.load import Document


def expand(doc: Document, overrides: Sequence[str] = ()) -> Document:
    return doc
