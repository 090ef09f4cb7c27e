"""Output-size formulas, one spatial dimension at a time, exactly as PyTorch computes them.

Each function is pure and shared by 1-D, 2-D and 3-D layers: a layer applies it per spatial
dimension. A result below 1 is returned as is; the caller turns it into an error that shows the
arithmetic (see `explain_*`).
"""

from __future__ import annotations

import math


def conv_out(size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Convolution and max pooling: ``floor((in + 2p - d*(k-1) - 1) / s) + 1``."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def pool_out(
    size: int,
    kernel: int,
    stride: int,
    padding: int = 0,
    dilation: int = 1,
    ceil: bool = False,
) -> int:
    """Pooling: ``floor`` (or ``ceil``) of ``(in + 2p - d*(k-1) - 1) / s``, plus 1.

    With ``ceil`` a last window that would start inside the right padding is dropped:
    ``if (out - 1) * s >= in + p: out -= 1`` (PyTorch's ``pooling_output_shape``).
    Average pooling is the same formula with ``d = 1``.
    """
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if not ceil:
        return span // stride + 1
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + padding:
        out -= 1
    return out


def conv_transpose_out(
    size: int,
    kernel: int,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> int:
    """Transposed convolution: ``(in - 1)*s - 2p + d*(k-1) + output_padding + 1``."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def same_padding(kernel: int, dilation: int = 1) -> tuple[int, int]:
    """Padding that keeps the size at stride 1: ``d*(k-1)`` split, the odd one on the right."""
    total = dilation * (kernel - 1)
    return total // 2, total - total // 2


def upsample_out(size: int, scale: float) -> int:
    """Upsampling by a scale factor: ``floor(in * scale)``."""
    return math.floor(size * scale)
