"""The `archc` command: check, summary, build, diagram, expand and schema.

Exit codes: 0 success, 1 the spec is invalid, 2 bad command-line use or an unreadable file,
3 an internal error (a bug in archc; ARCHC_DEBUG=1 shows the traceback). Only `build`
imports torch.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from archc import api, extras
from archc.analyse import Budget, Graph
from archc.errors import Diagnostic, SpecError, UsageError, print_diagnostics
from archc.validate import Spec

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
DIAGRAM_FORMATS = ("svg", "png", "pdf", "dot")


def main(argv: Sequence[str] | None = None) -> int:
    # archc's models are compiled at their first use, after this line: no pydantic plugin
    # observes them, so the command does not scan every installed package for plugins.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except SpecError as exc:
        print_diagnostics(
            exc.diagnostics,
            exc.source,
            args.format,
            sys.stdout if args.format == "json" else sys.stderr,
        )
        return EXIT_INVALID
    except UsageError as exc:
        _report(args, exc.code, str(exc))
        return EXIT_USAGE
    except BrokenPipeError:  # the reader stopped early (`archc summary ... | head`)
        _silence_stdout()
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: report it briefly, never as a bare traceback
        if os.environ.get("ARCHC_DEBUG"):
            raise
        _report(
            args,
            "internal",
            f"internal error: {type(exc).__name__}: {exc}\n"
            "  (this is a bug in archc; run with ARCHC_DEBUG=1 to see the traceback)",
        )
        return EXIT_INTERNAL


def _report(args: argparse.Namespace, code: str, message: str) -> None:
    """An error that belongs to no line of the spec: as JSON, or as one `archc:` line."""
    if args.format == "json":
        diagnostic = Diagnostic(code, message.split("\n")[0], getattr(args, "spec", ""))
        print(json.dumps([diagnostic.to_json()]))
    elif code == "internal":
        print(f"archc: {message}", file=sys.stderr)
    else:
        print(f"archc: error[{code}]: {message}", file=sys.stderr)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass  # stdout is not a file (tests capture it): nothing will flush to a closed pipe


# -- commands --------------------------------------------------------------------------------


def _graph(args: argparse.Namespace) -> Graph:
    spec: Spec = api.load(args.spec, args.set)
    return api.analyse(spec, Budget(args.max_params, args.max_activation))


def cmd_check(args: argparse.Namespace) -> int:
    from archc.emit.summary import shape_text

    graph = _graph(args)
    if args.format == "json":
        print(
            json.dumps({"ok": True, "name": graph.name, "params": graph.params, "macs": graph.macs})
        )
        return EXIT_OK
    outputs = ", ".join(shape_text(s) for s in graph.output_shapes())
    print(
        f"OK {args.spec}: {graph.name}, {shape_text(graph.input_shape)} -> {outputs}, "
        f"{graph.params:,} params, {graph.macs:,} MACs"
    )
    return EXIT_OK


def cmd_summary(args: argparse.Namespace) -> int:
    from archc.emit import summary

    graph = _graph(args)
    if args.json:
        print(json.dumps(summary.to_json(graph), indent=2))
    elif args.flops:
        from archc.emit import ops

        print(ops.table(graph))
    else:
        print(summary.table(graph, args.depth))
    return EXIT_OK


def cmd_build(args: argparse.Namespace) -> int:
    from archc.emit import summary
    from archc.emit.source import to_source

    extras.require_for_verb("build", "torch", extras.TORCH)
    graph = _graph(args)
    source = to_source(graph)
    problems = _check_in_torch(graph)
    if problems:
        _report(args, "internal", "internal error: " + "; ".join(problems))
        return EXIT_INTERNAL
    target = Path(args.output) / f"{graph.name}.py"
    write_atomic(target, source.encode())
    print(summary.table(graph))
    print(f"\nwrote {target} (checked in PyTorch: every layer's shape and parameter count)")
    return EXIT_OK


def _check_in_torch(graph: Graph) -> list[str]:
    """Build the module and run a batch through it: where PyTorch disagrees with archc.

    A model larger than the free memory is refused before torch is imported (E503). What
    PyTorch warns about is passed on as one note per warning.
    """
    from archc.emit import memory

    memory.check_fits(graph)
    from archc.emit.torch import check_params, check_shapes, module_class  # torch: valid specs

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            module = module_class(graph)()
            problems = [
                f"layer `{m.layer}` gives {list(m.real)} in PyTorch but archc computed "
                f"{list(m.static)}"
                for m in check_shapes(module, graph)
            ] + check_params(module, graph)
    except (MemoryError, RuntimeError) as exc:  # torch reports a failed allocation as either
        if isinstance(exc, RuntimeError) and "allocate" not in str(exc):
            raise
        need = memory.build_bytes(graph)
        raise SpecError([memory.not_enough_memory(graph, need, memory.free_bytes())]) from None
    for text in dict.fromkeys(str(w.message).split(" (Triggered internally")[0] for w in caught):
        print(f"archc: note: PyTorch warns: {text}", file=sys.stderr)
    return problems


def cmd_diagram(args: argparse.Namespace) -> int:
    import graphviz

    graph = _graph(args)
    target = Path(args.output or f"build/{graph.name}.svg")
    fmt = target.suffix.lstrip(".").lower() or "svg"
    fmt = "dot" if fmt == "gv" else fmt
    if fmt not in DIAGRAM_FORMATS:
        raise UsageError(
            f"unknown diagram format `.{fmt}`; use one of: "
            + ", ".join(f".{f}" for f in DIAGRAM_FORMATS),
            code="E005",
        )
    dot = api.to_graphviz(graph, rankdir=args.rankdir, collapse=args.collapse, depth=args.depth)
    if fmt == "dot":
        write_atomic(target, dot.source.encode())
    else:
        try:
            data = dot.pipe(format=fmt)
        except graphviz.ExecutableNotFound:
            target = target.with_suffix(".dot")
            write_atomic(target, dot.source.encode())
            print(
                f"wrote {target}: Graphviz's `dot` is not installed, so no .{fmt} was drawn; "
                "install Graphviz (apt-get install graphviz, brew install graphviz) and rerun"
            )
            return EXIT_OK
        write_atomic(target, data)
    print(f"wrote {target}")
    return EXIT_OK


def cmd_expand(args: argparse.Namespace) -> int:
    from archc.emit.expanded import to_yaml

    print(to_yaml(api.load(args.spec, args.set)), end="")
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from archc.schema import json_schema

    print(json.dumps(json_schema(), indent=2))
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from archc import exporter

    fmt = exporter.resolve_format(args.output, args.to)
    needs = exporter.FORMATS[fmt]
    extras.require_for_verb(f"export --format {fmt}", needs.extra, needs.packages)
    graph = _graph(args)
    target = Path(args.output) if args.output else exporter.default_path(graph, fmt)
    print(api.export(graph, target, fmt, args.weights).text())
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    from archc.training import require, verbs

    require("train")
    return verbs.train(args, _graph(args))


def cmd_evaluate(args: argparse.Namespace) -> int:
    from archc.training import require, verbs

    require("evaluate")
    return verbs.evaluate(args, _graph(args))


def cmd_predict(args: argparse.Namespace) -> int:
    from archc.training import require, verbs

    require("predict")
    return verbs.predict(args, _graph(args))


def cmd_memory(args: argparse.Namespace) -> int:
    from archc.emit import memory_bill

    graph = _graph(args)
    result = memory_bill.bill(graph, args.batch, args.dtype, args.optimizer, args.inference)
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(memory_bill.table(result, graph.name))
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    from archc.emit import explain

    graph = _graph(args)
    explained = explain.explain(graph, args.layer)
    if args.format == "json":
        print(json.dumps(explain.to_json(graph, explained), indent=2))
    elif args.format == "markdown":
        print(explain.to_markdown(graph, explained), end="")
    else:
        print(explain.to_text(graph, explained), end="")
    return EXIT_OK


def write_atomic(target: Path, data: bytes) -> None:
    """Write through a temporary file and a rename: readers see the old file or the new one."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}", code="E003") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual mode
        os.replace(tmp, target)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise UsageError(f"cannot write {target}: {exc.strerror or exc}", code="E003") from None
        raise


# -- argument parsing ------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="archc",
        description="Compile a YAML network spec: check shapes, build PyTorch code, draw diagrams.",
    )
    parser.add_argument("--version", action="version", version="archc 0.1.0")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _command(sub, "check", cmd_check, "validate and analyse a spec")
    p = _command(
        sub, "summary", cmd_summary, "print the per-layer table of shapes, params and MACs"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument(
        "--depth",
        type=_count,
        default=None,
        metavar="N",
        help="fold block internals below this depth of the layer names",
    )
    p.add_argument(
        "--flops",
        action="store_true",
        help="MACs, FLOPs (as torch.utils.flop_counter) and the other operations, per layer",
    )
    p = _command(sub, "build", cmd_build, "compile to a PyTorch module file and check it runs")
    p.add_argument(
        "-o", "--output", default="build", metavar="DIR", help="output directory (default: build)"
    )
    p = _command(sub, "diagram", cmd_diagram, "draw the network with Graphviz")
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="output file; format from its extension: .svg (default), .png, .pdf, .dot",
    )
    p.add_argument("--rankdir", choices=("TB", "LR"), default="TB", help="layout direction")
    p.add_argument("--collapse", action="store_true", help="draw each block as one node")
    p.add_argument(
        "--depth",
        type=_count,
        default=None,
        metavar="N",
        help="fold blocks below this depth of the layer names (default: fit 4,000 px)",
    )
    _command(sub, "expand", cmd_expand, "print the fully expanded spec, every default filled in")
    _command(sub, "schema", cmd_schema, "print the JSON Schema of the spec format", spec=False)
    from archc.exporter import FORMATS

    p = _command(
        sub,
        "export",
        cmd_export,
        "export to ONNX, torch.export (.pt2) or TorchScript, checked by running the file",
        error_format=False,
    )
    p.add_argument(
        "--format",
        dest="to",
        choices=tuple(FORMATS),
        help="file format (default: from the -o suffix .onnx/.pt2/.pt, else onnx)",
    )
    p.add_argument(
        "-o", "--output", metavar="FILE", help="output file (default: build/<Name>.onnx/.pt2/.pt)"
    )
    p.add_argument(
        "--weights",
        metavar="CKPT",
        help="a saved state dict or `archc train` checkpoint (default: fresh random weights)",
    )
    from archc.training.verbs import add_parsers

    verbs = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict}
    add_parsers(sub, _command, verbs)
    p = _command(
        sub, "memory", cmd_memory, "the bytes of one training step: weights, state, activations"
    )
    p.add_argument("--batch", type=_count, required=True, metavar="N", help="batch size")
    p.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default="float32")
    p.add_argument("--optimizer", choices=("sgd", "momentum", "adam", "adamw"), default="sgd")
    p.add_argument(
        "--inference", action="store_true", help="one forward pass without autograd instead"
    )
    p.add_argument("--json", action="store_true", help="print JSON (bytes) instead of a table")
    p = _command(
        sub, "explain", cmd_explain, "show the arithmetic of every layer, numbers substituted"
    )
    p.add_argument("--layer", metavar="NAME", help="only this layer, or every layer of a block")
    for action in p._actions:  # the shared --format also chooses how the explanation prints
        if action.dest == "format":
            action.choices = ("text", "markdown", "json")
            action.help = "text, markdown or json (errors print as JSON with json)"
    return parser


def _command(
    sub: argparse._SubParsersAction,
    name: str,
    run: Callable,
    help: str,
    spec: bool = True,
    error_format: bool = True,
) -> argparse.ArgumentParser:
    """A subcommand; those that read a spec share its options (--set, --format, budgets).

    `error_format=False` leaves out --format (errors as text or JSON) for a command whose
    --format means something else (`export`)."""
    p = sub.add_parser(name, help=help, description=help)
    p.set_defaults(run=run, format="text")
    if not spec:
        return p
    p.add_argument("spec", metavar="SPEC", help="the YAML spec file")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a value, e.g. --set input.shape=[3,64,64]",
    )
    if error_format:
        p.add_argument(
            "--format",
            choices=("text", "json"),
            default="text",
            help="how to print errors (json for editors and CI)",
        )
    p.add_argument(
        "--max-params",
        type=_count,
        default=Budget.max_params,
        metavar="N",
        help="parameter budget (default %(default)s)",
    )
    p.add_argument(
        "--max-activation",
        type=_count,
        default=Budget.max_activation,
        metavar="N",
        help="largest activation, in values (default %(default)s)",
    )
    return p


def _count(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


if __name__ == "__main__":
    sys.exit(main())
