"""The `Layer` base class, its registry, and the field types layers share.

A layer kind is one pydantic model: its fields are the spec keys, its `type` literal registers
it, and three methods hold its arithmetic: `output_shape`, `param_count`, `mac_count`. Shapes
exclude the batch: ``(C, H, W)`` for images, ``(C, L)`` for sequences, ``(F,)`` for features.
"""

from __future__ import annotations

import keyword
import math
import re
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from archc.errors import LayerError
from archc.layers.footprint import Footprint
from archc.receptive import Field, Window

Shape = tuple[int, ...]

# Attributes of torch.nn.Module (and names the generated code uses) that a layer name must not
# shadow: `self.<name>` holds the layer's module. tests/test_names.py checks this list against
# dir(torch.nn.Module), so it stays complete without importing torch here.
RESERVED_NAMES = frozenset(
    """
    T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda
    double dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter
    get_submodule half ipu load_state_dict modules mtia named_buffers named_children
    named_modules named_parameters parameters register_backward_hook register_buffer
    register_forward_hook register_forward_pre_hook register_full_backward_hook
    register_full_backward_pre_hook register_load_state_dict_post_hook
    register_load_state_dict_pre_hook register_module register_parameter
    register_state_dict_post_hook register_state_dict_pre_hook requires_grad_
    set_extra_state set_submodule share_memory smart_apply state_dict to to_empty train
    training type xpu zero_grad
    self torch nn F super range min max abs getattr
    """.split()
)

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def check_name(value: Any) -> str:
    """A layer name: an ASCII Python identifier, no keyword, no dunder, no nn.Module attribute."""
    if not isinstance(value, str):
        raise PydanticCustomError("archc_name", "a name must be a string")
    if not _IDENTIFIER.match(value):
        raise PydanticCustomError(
            "archc_name",
            "`{name}` is not a valid name: use ASCII letters, digits and `_`, not starting "
            "with a digit",
            {"name": value},
        )
    if keyword.iskeyword(value) or keyword.issoftkeyword(value):
        raise PydanticCustomError(
            "archc_name", "`{name}` is a Python keyword and cannot name a layer", {"name": value}
        )
    if value.startswith("_"):
        raise PydanticCustomError(
            "archc_name",
            "`{name}` starts with `_`: such names are private to PyTorch modules",
            {"name": value},
        )
    if value in RESERVED_NAMES:
        raise PydanticCustomError(
            "archc_name",
            "`{name}` is reserved (it would shadow a name the generated module uses)",
            {"name": value},
        )
    return value


# Each dotted part is a nested module; blocks nest at most 16 deep, two parts each at most.
MAX_NAME_PARTS = 64


def check_path(value: Any) -> str:
    """A layer's full name: names joined by dots, as blocks produce (``layer2.0.conv1``).

    Parts after the first may be numbers: the children of a repeated block or of a block whose
    layers are unnamed, as in ``nn.Sequential``.
    """
    if not isinstance(value, str):
        raise PydanticCustomError("archc_name", "a name must be a string")
    first, *rest = value.split(".")
    check_name(first)
    if len(rest) >= MAX_NAME_PARTS:
        raise PydanticCustomError(
            "archc_name",
            "a name of more than {limit} dotted parts nests modules deeper than PyTorch's "
            "recursive module walks allow",
            {"limit": MAX_NAME_PARTS},
        )
    for part in rest:
        if not part.isdigit() or not part.isascii():
            check_name(part)
        elif str(int(part)) != part:  # `01` and `1` would be the same child
            raise PydanticCustomError(
                "archc_name",
                "`{name}`: a numbered part is written without leading zeros",
                {"name": value},
            )
    return value


# A name, then names or numbers, joined by dots (JSON Schema's dialect: no \Z anchor).
_PATH_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*(\.([A-Za-z][A-Za-z0-9_]*|[0-9]+))*$"

LayerPath = Annotated[
    str,
    PlainValidator(check_path),
    WithJsonSchema({"type": "string", "pattern": _PATH_PATTERN}),
]


def rule_error(message: str, code: str, field: str | None = None) -> PydanticCustomError:
    """A rule about several fields of one layer, raised from a model validator: reported with
    `code`, at `field` where the spec writes it (else at the layer)."""
    return PydanticCustomError("archc_rule", message, {"code": code, "field": field})


def check_reference(value: Any) -> str:
    """A name in `inputs`: any text. Whether it names a layer is the analyse stage's question
    (E402), so a badly named layer is reported once, not again at every reference to it."""
    if not isinstance(value, str) or not value:
        raise PydanticCustomError("archc_name", "a layer name must be a non-empty string")
    return value


Reference = Annotated[
    str,
    PlainValidator(check_reference),
    WithJsonSchema({"type": "string", "pattern": _PATH_PATTERN}),
]

Name = Annotated[
    str,
    PlainValidator(check_name),
    WithJsonSchema({"type": "string", "pattern": _IDENTIFIER.pattern}),
]


# The largest size a spec may write (a kernel, a stride, a channel count, an input side).
# PyTorch computes output sizes such as (in + 2*p - d*(k-1) - 1) / s + 1 in 64-bit integers,
# which larger values overflow (a crash, not an error), and its GPU kernels index with 32-bit
# integers; no real network comes near.
MAX_INT = 2**31 - 1


def _int_check(value: Any, minimum: int, field_hint: str) -> int:
    if type(value) is not int:
        if isinstance(value, float) and value.is_integer():
            raise PydanticCustomError(
                "archc_int",
                "expected an integer{hint}, got the float {value}",
                {"hint": field_hint, "value": value},
            )
        raise PydanticCustomError("archc_int", "expected an integer{hint}", {"hint": field_hint})
    if value < minimum:
        raise PydanticCustomError("archc_range", "must be at least {minimum}", {"minimum": minimum})
    if value > MAX_INT:
        raise PydanticCustomError(
            "archc_range", f"must be at most {MAX_INT:,}, the largest size PyTorch computes with"
        )
    return value


def sizes(minimum: int, words: tuple[str, ...] = ()) -> Any:
    """A per-dimension size: one int for every spatial dimension, or a list of 1 to 3 ints.

    `words` are strings also accepted (``same``/``valid`` for padding, ``global`` for kernels).
    """

    def validate(value: Any) -> int | list[int] | str:
        if isinstance(value, str) and value in words:
            return value
        if isinstance(value, list):
            if not 1 <= len(value) <= 3:
                raise PydanticCustomError(
                    "archc_size", "expected 1 to 3 values, one per spatial dimension"
                )
            return [_int_check(v, minimum, "") for v in value]
        hint = " or a list like [h, w]" + "".join(f" or `{w}`" for w in words)
        return _int_check(value, minimum, hint)

    schema: dict[str, Any] = {
        "anyOf": [
            {"type": "integer", "minimum": minimum, "maximum": MAX_INT},
            {
                "type": "array",
                "items": {"type": "integer", "minimum": minimum, "maximum": MAX_INT},
                "minItems": 1,
                "maxItems": 3,
            },
            *({"const": w} for w in words),
        ]
    }
    return Annotated[Any, PlainValidator(validate), WithJsonSchema(schema)]


def integer(minimum: int) -> Any:
    """A plain int of at least `minimum` (bools and floats are refused, not coerced)."""
    return Annotated[
        int,
        PlainValidator(lambda v: _int_check(v, minimum, "")),
        WithJsonSchema({"type": "integer", "minimum": minimum, "maximum": MAX_INT}),
    ]


PositiveInt = integer(1)
NonNegativeInt = integer(0)
Size = sizes(1)  # kernel, stride, dilation
Padding = sizes(0)

Activation = Literal[
    "none",
    "relu",
    "relu6",
    "leaky_relu",
    "sigmoid",
    "tanh",
    "gelu",
    "silu",
    "hardswish",
    "softmax",
]


class Layer(BaseModel):
    """Base of every layer kind. Subclasses declare ``type: Literal["<kind>"]`` and fields."""

    # defer_build: a kind's own validator is compiled only if it is used on its own; the
    # `Spec` validator, which holds every kind, is compiled once at its first use.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)

    registry: ClassVar[dict[str, type[Layer]]] = {}
    # How many inputs the layer takes (merges take two or more).
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int | None] = 1

    type: str
    name: LayerPath | None = None
    inputs: Reference | list[Reference] | None = None

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        kinds = get_args(cls.model_fields["type"].annotation)
        if len(kinds) == 1:
            Layer.registry[kinds[0]] = cls

    @classmethod
    def kind(cls) -> str:
        return get_args(cls.model_fields["type"].annotation)[0]

    def output_shape(self, inputs: list[Shape]) -> Shape:
        raise NotImplementedError(f"{type(self).__name__}.output_shape")

    def param_count(self, inputs: list[Shape], output: Shape) -> int:
        """Trainable parameters."""
        return 0

    def mac_count(self, inputs: list[Shape], output: Shape) -> int:
        """Multiply-accumulates for one sample: one per use of a weight."""
        return 0

    def op_count(self, inputs: list[Shape], output: Shape) -> dict[str, int]:
        """Operations for one sample besides the MACs, by category (see archc/emit/ops.py)."""
        return {}

    def footprint(self, inputs: list[Shape], output: Shape) -> Footprint:
        """What its backward keeps and what buffers it holds (see layers/footprint.py); by
        default, as most operations with an input-dependent gradient do, all its inputs."""
        return Footprint(saves_inputs=tuple(range(len(inputs))))

    def windows(self, inputs: list[Shape], output: Shape) -> tuple[Window, ...] | None:
        """Per spatial axis, the window of its input that one output element reads
        (archc/receptive.py); None for a layer that leaves every element where it is."""
        return None

    def receptive_field(
        self, fields: list[Field], inputs: list[Shape], output: Shape
    ) -> Field | None:
        """The output's receptive field, from the input's: through `windows`, else the same
        where the layer keeps the spatial layout; None where the output has no spatial axes."""
        windows = self.windows(inputs, output)
        if windows is not None:
            return fields[0].through(windows)
        if len(output) < 2 or output[1:] != inputs[0][1:]:
            return None
        return fields[0]


class Activated(BaseModel):
    """Mixin for layers followed by an activation function (``activation: relu``)."""

    model_config = ConfigDict(defer_build=True)

    activation: Activation = "none"


# -- helpers for shape rules -----------------------------------------------------------------


def fmt_shape(shape: Shape) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


def spatial_rank(layer: str, shape: Shape, ranks: tuple[int, ...] = (1, 2, 3)) -> int:
    """Number of spatial dims of a [C, *spatial] input, or a LayerError if unsupported."""
    rank = len(shape) - 1
    if rank not in ranks:
        forms = {1: "[C, L]", 2: "[C, H, W]", 3: "[C, D, H, W]"}
        wanted = " or ".join(forms[r] for r in ranks)
        hint = "; a flat input cannot be convolved or pooled" if rank == 0 else ""
        raise LayerError(
            f"{layer} needs an input of shape {wanted}{hint}. Received: input {fmt_shape(shape)}"
        )
    return rank


def per_dim(value: int | list[int], rank: int, field: str) -> tuple[int, ...]:
    """Expand an int to one value per spatial dim, or check a list has exactly `rank` values."""
    if isinstance(value, int):
        return (value,) * rank
    if len(value) == 1:
        return tuple(value) * rank
    if len(value) != rank:
        dims = f"{rank} spatial dimension{'s' if rank != 1 else ''}"
        raise LayerError(
            f"`{field}` has {len(value)} values but the input has {dims}. "
            f"Received: {field}={value}",
            field=field,
        )
    return tuple(value)


def prod(values: Shape) -> int:
    return math.prod(values)


class Unchecked(Layer):
    """Stands in for a layer whose own fields are invalid (already reported), so that the rest
    of the network can still be analysed and its independent mistakes reported in the same
    run. Never registered: no spec can name it, and nothing downstream of it is analysed."""

    type: str = "unchecked"
    min_inputs: ClassVar[int] = 0
    max_inputs: ClassVar[int | None] = None

    def output_shape(self, inputs: list[Shape]) -> Shape:
        raise Unanalysable


class Unanalysable(Exception):
    """A layer without a shape, whose mistake is already reported elsewhere."""
