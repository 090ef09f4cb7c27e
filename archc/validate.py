"""Stage 3, validate: expanded spec data -> a typed `Spec`, or every mistake with its position.

The `Spec` model is pydantic v2 with a discriminated union over the registered layer kinds.
pydantic's errors are translated into archc diagnostics: each one is placed at the YAML node its
`loc` names, gets a stable code, and a "did you mean" where a name was misspelt.
"""

from __future__ import annotations

import difflib
import functools
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from archc.errors import Diagnostic, Pos, SpecError
from archc.layers import Layer
from archc.layers.base import Name, PositiveInt, Reference, Unchecked
from archc.load import Document, YMap, YSeq

# A discriminated union over every registered layer kind (built from the registry, so a new
# kind needs no edit here).
LayerSpec = Annotated[Union[tuple(Layer.registry.values())], Field(discriminator="type")]  # noqa: UP007


def _version(value: Any) -> int:
    if type(value) is not int or value != 1:  # `true` and `1.0` equal 1 but are not a version
        raise PydanticCustomError("archc_version", "must be 1, the spec language version")
    return value


class InputSpec(BaseModel):
    """The network input, without the batch: [C, H, W], [C, L] or [F]."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)

    shape: Annotated[list[PositiveInt], Field(min_length=1, max_length=4)]
    name: Name = "input"


class Spec(BaseModel):
    """A whole architecture: metadata, the input, and layers in order."""

    # Compiled at its first use, not at import (the layer kinds are deferred likewise).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)

    archc: Annotated[Literal[1], PlainValidator(_version), WithJsonSchema({"const": 1})] = Field(
        description="Version of the spec language"
    )
    name: Name = Field(description="Name of the network; the generated class is called this")
    description: str = ""
    input: InputSpec
    layers: Annotated[list[LayerSpec], Field(min_length=1)]
    outputs: list[Reference] | None = Field(
        default=None, description="Layers whose outputs the network returns (default: the last)"
    )

    _source: Document | None = PrivateAttr(default=None)

    @property
    def source(self) -> Document | None:
        """The positioned document this spec was validated from, for error positions."""
        return self._source


def validate(doc: Document) -> Spec:
    """Validate expanded spec data. Raises SpecError with every mistake found.

    Layers without a `name` get a readable default: their type and a count (``conv2``).
    """
    try:
        spec = Spec.model_validate(doc.data)
    except ValidationError as exc:
        errors = _one_per_field(_without_consequences(exc.errors()), doc)
        if not errors:  # only values archc filled in are wrong: report those after all
            errors = _one_per_field(exc.errors(), doc, keep_synthesized=True)
        diagnostics = [_diagnostic(error, doc) for error in errors]
        raise SpecError([*doc.problems, *diagnostics], doc.text) from None
    if doc.problems:
        raise SpecError(list(doc.problems), doc.text)
    spec = with_default_names(spec)
    spec._source = doc
    return spec


def partial_spec(doc: Document) -> Spec | None:
    """The spec with each invalid layer replaced by an `Unchecked` stand-in, so that the other
    layers can be analysed while the invalid ones are reported; None when the input itself is
    invalid (then nothing can be analysed). Invalid outputs are left out."""
    layers = doc.data.get("layers")
    if not isinstance(layers, YSeq) or not layers:
        return None
    # What the analysis needs besides the layers, which are checked one by one below.
    header = {
        "archc": 1,
        "name": "Partial",
        "input": doc.data.get("input"),
        "layers": [{"type": "identity"}],
    }
    try:
        spec = Spec.model_validate({**header, "outputs": doc.data.get("outputs")})
    except ValidationError:
        try:
            spec = Spec.model_validate(header)
        except ValidationError:
            return None
    adapter = _layer_adapter()
    checked: list[Layer] = []
    for raw in layers:
        try:
            checked.append(adapter.validate_python(raw))
        except ValidationError:
            checked.append(_stand_in(raw))
    spec = with_default_names(spec.model_copy(update={"layers": checked}))
    spec._source = doc
    return spec


def _stand_in(raw: Any) -> Unchecked:
    """An `Unchecked` layer with the raw layer's name and inputs, where they are text."""
    raw = raw if isinstance(raw, YMap) else {}
    name = raw.get("name") if isinstance(raw.get("name"), str) else None
    inputs = raw.get("inputs")
    if not (
        isinstance(inputs, str)
        or (isinstance(inputs, list) and all(isinstance(i, str) for i in inputs))
    ):
        inputs = None
    return Unchecked.model_construct(type="unchecked", name=name, inputs=inputs)


@functools.cache
def _layer_adapter() -> TypeAdapter:
    return TypeAdapter(LayerSpec)


def default_names(kinds: list[str], names: list[str | None]) -> list[str]:
    """Fill missing names with ``<type><n>``, counting per type and skipping taken names."""
    taken = {n for n in names if n}
    counts: dict[str, int] = {}
    out = []
    for kind, name in zip(kinds, names):
        if name is None:
            while True:
                counts[kind] = counts.get(kind, 0) + 1
                name = f"{kind}{counts[kind]}"
                if name not in taken:
                    break
            taken.add(name)
        out.append(name)
    return out


def with_default_names(spec: Spec) -> Spec:
    names = default_names([la.type for la in spec.layers], [la.name for la in spec.layers])
    if names == [la.name for la in spec.layers]:
        return spec
    layers = [
        la if la.name == n else la.model_copy(update={"name": n})
        for la, n in zip(spec.layers, names)
    ]
    return spec.model_copy(update={"layers": layers})


# -- pydantic errors -> diagnostics ----------------------------------------------------------


def layer_name(data: Any, path: tuple) -> str | None:
    if len(path) >= 2 and path[0] == "layers" and isinstance(data.get("layers"), YSeq):
        layer = data["layers"][path[1]]
        if isinstance(layer, YMap) and isinstance(layer.get("name"), str):
            return layer["name"]
        return f"#{path[1] + 1}"
    return None


def _without_consequences(errors: list[dict]) -> list[dict]:
    """Drop "missing `kernel`" where the same mapping has a misspelt key close to `kernel`."""
    unknown: dict[tuple, list[str]] = {}
    for e in errors:
        if e["type"] == "extra_forbidden":
            unknown.setdefault(tuple(e["loc"][:-1]), []).append(str(e["loc"][-1]))
    return [
        e
        for e in errors
        if not (
            e["type"] == "missing"
            and difflib.get_close_matches(
                str(e["loc"][-1]), unknown.get(tuple(e["loc"][:-1]), []), n=1, cutoff=0.6
            )
        )
    ]


def _one_per_field(errors: list[dict], doc: Document, keep_synthesized: bool = False) -> list[dict]:
    """One error per field: a union (a name or a list of names) fails once per member."""
    best: dict[tuple, tuple[int, dict]] = {}
    for error in errors:
        _, path = doc.locate(tuple(error["loc"]))
        if not keep_synthesized and _synthesized(doc, path):
            continue  # archc filled this in from a name already reported where it is written
        key = path[:3] if path[:1] == ("layers",) else path[:2]
        if error["type"] in ("extra_forbidden", "missing"):
            key = (*path, str(error["loc"][-1]))
        if key not in best or len(path) > best[key][0]:  # the most specific one
            best[key] = (len(path), error)
    return [error for _, error in best.values()]


def _synthesized(doc: Document, path: tuple) -> bool:
    node = doc.data
    for part in path:
        node = node[part]
        if getattr(node, "synthesized", False):
            return True
    return False


def _diagnostic(error: dict, doc: Document) -> Diagnostic:
    kind, loc = error["type"], tuple(error["loc"])
    if kind == "archc_rule":  # a rule over several fields: at the field it names, if written
        ctx = error["ctx"]
        pos, path = doc.locate(loc)
        if ctx["field"] is not None:
            at, at_path = doc.locate((*loc, ctx["field"]))
            if len(at_path) > len(path):
                pos = at
        return Diagnostic(ctx["code"], error["msg"], doc.path, pos, layer_name(doc.data, path))
    pos, path = doc.locate(loc, key=kind == "extra_forbidden")
    field = str(path[-1]) if path else "spec"
    if len(path) >= 2 and isinstance(path[-1], int):
        field = f"{path[-2]}[{path[-1]}]"
    code, message, help = _describe(kind, error, field, path, doc.data)
    if help is None and kind.startswith("archc_int") and isinstance(error.get("input"), float):
        help = _division_help(doc.text, pos)
    layer = layer_name(doc.data, path)
    made = doc.expansion.where_made(layer) if doc.expansion and layer and "." in layer else None
    notes = (made,) if made else ()
    return Diagnostic(code, message, doc.path, pos, layer, notes, help)


def _division_help(text: str, pos: Pos) -> str | None:
    """A float where an integer belongs, from an expression that divides with `/`."""
    lines = text.splitlines()
    if not 0 < pos.line <= len(lines) or pos.origin:
        return None
    written = lines[pos.line - 1][pos.col - 1 : (pos.end_col - 1) if pos.end_col else None]
    if "${" in written and "/" in written.replace("//", ""):
        return "`/` divides to a float; use `//` for whole-number division"
    return None


def _describe(kind: str, error: dict, field: str, path: tuple, data: Any) -> tuple:
    """(code, message, help) for one pydantic error."""
    ctx = error.get("ctx") or {}
    value = error.get("input")
    if kind == "extra_forbidden":
        allowed = _fields_at(path[:-1], data)
        help = _did_you_mean(field, allowed, "key")
        if field in ("repeat", "first") and path[:1] == ("layers",):
            help = f"`{field}` works on block instances: define the layers under `blocks:`"
        return "E201", f"unknown key `{field}`", help
    if kind == "missing":
        missing = error["loc"][-1]
        where = "layer" if len(path) == 2 and path[0] == "layers" else f"`{field}`"
        if not path:
            where = "the spec"
        return "E202", f"{where} is missing the required key `{missing}`", None
    if kind == "union_tag_invalid":
        tag = ctx.get("tag")
        kinds = sorted(Layer.registry)
        help = _did_you_mean(str(tag), kinds, "layer type")
        if help is None:
            help = "layer types are: " + ", ".join(kinds)
        return "E203", f"unknown layer type `{tag}`", help
    if kind == "union_tag_not_found":
        return (
            "E202",
            "layer is missing `type`",
            "layer types are: " + ", ".join(sorted(Layer.registry)),
        )
    if kind == "literal_error":
        expected = ctx.get("expected", "")
        options = [o.strip().strip("'") for o in expected.replace(" or ", ",").split(",")]
        help = _did_you_mean(str(value), options, "value") if isinstance(value, str) else None
        return "E204", f"`{field}` must be one of {expected}. Received: {field}={value!r}", help
    message = error["msg"]
    message = message[0].lower() + message[1:] if message else kind
    if kind in ("list_type", "model_type", "dict_type", "model_attributes_type"):
        message = f"expected a {'list' if kind == 'list_type' else 'mapping'}"
    help = None
    if isinstance(value, str) and kind.startswith("archc_int"):
        help = _number_help(value)
    return "E204", f"`{field}` {_verb(message)}. Received: {field}={_show(value)}", help


def _verb(message: str) -> str:
    return message if message.startswith(("must", "is ", "should")) else f"is invalid: {message}"


def _show(value: Any) -> str:
    if isinstance(value, (YMap, dict)):
        return "{...}"
    if isinstance(value, (YSeq, list)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return (
        repr(value)
        if isinstance(value, str)
        else str(value).lower()
        if isinstance(value, bool)
        else str(value)
    )


def _number_help(text: str) -> str | None:
    """Explain YAML 1.1 number spellings that archc reads as text."""
    try:
        number = int(text.replace("_", ""), 0)
    except ValueError:
        return None
    return f"archc reads only plain decimal integers; write {number}"


def _fields_at(path: tuple, data: Any) -> list[str]:
    """Keys allowed at the mapping `path` names (for "did you mean")."""
    if not path:
        return list(Spec.model_fields)
    if path == ("input",):
        return list(InputSpec.model_fields)
    if len(path) == 2 and path[0] == "layers":
        layer = data["layers"][path[1]]
        cls = Layer.registry.get(layer.get("type")) if isinstance(layer, YMap) else None
        return list(cls.model_fields) if cls else []
    return []


def _did_you_mean(word: str, options: list[str], what: str) -> str | None:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None
