"""Exports a PyTorch model to ONNX for `tdeploy convert`, in one interpreter start.

    python -B export_onnx.py '<request JSON>'

The request names the source (a TorchScript or torch.export archive, or `package.module:factory`),
the inputs (name, dtype, dims with symbolic names), the example tensors (.npz), the output names,
the opset, and where to write the ONNX model and the reference .npz. This script learns the
versions of torch and the opsets it can export, loads the model, runs it on the examples for the
reference outputs, exports, and prints ONE JSON line on stdout: {"ok": true, ...} or
{"ok": false, "kind": ..., "message": ..., "hint": ...}. Everything else (torch's warnings, the
user's prints) goes to stderr, which tdeploy shows with --verbose.
"""
import contextlib
import importlib
import inspect
import json
import os
import re
import sys
import time
import traceback
import zipfile

# The result channel is a private copy of stdout; fd 1 itself now points at stderr, so prints from
# torch's C++ side and from the user's code cannot corrupt the JSON line.
RESULT = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.stdout = sys.stderr

SOURCE_HINT = ("tdeploy converts TorchScript archives saved by torch.jit.save (.pt/.pth), torch.export "
               "archives (.pt2, torch >= 2.5) and package.module:factory callables")
PICKLE_HINT = ("save the model with torch.jit.save(torch.jit.trace(model, example_inputs), 'model.pt'), "
               "or pass the function that builds it as package.module:factory (with --python-path DIR)")


class Failure(Exception):
    """A failure to report to tdeploy: `kind` decides the exit code there."""

    def __init__(self, kind, message, hint=None):
        super().__init__(message)
        self.kind = kind
        self.hint = hint


# TorchScript puts its serialized traceback first and the error itself on the last line.
TORCHSCRIPT_TRACEBACK = "The following operation failed in the TorchScript interpreter"


def first_line(error):
    """The one line that says what went wrong, as the library that raised it wrote it."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    return lines[-1] if lines[0].startswith(TORCHSCRIPT_TRACEBACK) else lines[0]


def explain(error):
    """`first_line`, led by the exception's type unless the line already names one."""
    line = first_line(error)
    return line if re.match(r"^[A-Za-z_.]*(Error|Exception):", line) else f"{type(error).__name__}: {line}"


def import_required(name, install):
    """Imports a module the export needs; the message completes "Python <path> (<version>) ..."."""
    try:
        return importlib.import_module(name)
    except Exception as error:  # also broken installs: missing shared libraries, ABI mismatches
        missing = isinstance(error, ModuleNotFoundError) and error.name == name
        message = f"has no {name} module" if missing else f"has {name}, but importing it failed: {first_line(error)}"
        raise Failure(f"no-{name}", message, install)


def version_tuple(text):
    parts = []
    for piece in text.split("+")[0].split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def package_version(name):
    from importlib import metadata
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


# Where each torch generation keeps the opset range of its TorchScript-based exporter, newest first.
OPSET_CONSTANTS = [
    ("torch.onnx._constants", "ONNX_MIN_OPSET", "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET"),
    ("torch.onnx._constants", "ONNX_MIN_OPSET", "ONNX_MAX_OPSET"),
    ("torch.onnx._constants", "onnx_stable_opsets", "onnx_main_opset"),
    ("torch.onnx.symbolic_helper", "_onnx_stable_opsets", "_onnx_main_opset"),
]


def opset_range():
    for module_name, low_name, high_name in OPSET_CONSTANTS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        low, high = getattr(module, low_name, None), getattr(module, high_name, None)
        if high is not None and low is not None:
            return (min(low) if isinstance(low, (tuple, list)) else low), high
    return None


# torch.export.save writes serialized_exported_program.json (torch 2.1 to 2.5), or a PT2 archive
# with archive_format and models/<name>.json (torch 2.6 on).
EXPORT_ARCHIVE = re.compile(r"(^|/)(serialized_exported_program\.json|archive_format|models/[^/]+\.json)$")


def sniff(path):
    """What a model file holds, from its zip directory (no unpickling): torchscript, export, pickle or None."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
        if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
            return "torchscript"
        if any(EXPORT_ARCHIVE.search(n) for n in names):
            return "export"
        if any(n.endswith("data.pkl") for n in names):
            return "pickle"
        return None
    with open(path, "rb") as f:
        head = f.read(2)
    # torch.save before torch 1.6 (or with _use_new_zipfile_serialization=False): a bare pickle.
    if len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"
    return None


def load_torchscript(torch, path):
    try:
        return torch.jit.load(path, map_location="cpu")
    except Exception as error:
        raise Failure("unreadable", f"cannot load {path} as TorchScript: {first_line(error)}", SOURCE_HINT)


def load_exported_program(torch, path):
    # torch.export.load exists from torch 2.1, but only torch 2.5's torch.export-based ONNX exporter
    # (export_program below) keeps a program's symbolic shapes.
    if version_tuple(torch.__version__) < (2, 5):
        raise Failure("torch-too-old", f"{path} is a torch.export archive (.pt2), which needs torch >= 2.5; this Python has torch {torch.__version__}",
                      "upgrade torch (pip install 'torch>=2.5' onnxscript), point --python at a Python that has it, or save the model with torch.jit.save")
    try:
        program = torch.export.load(path)
    except Exception as error:
        raise Failure("unreadable", f"cannot load {path} as a torch.export archive: {first_line(error)}", SOURCE_HINT)
    names = [str(name) for name in program.graph_signature.user_inputs]
    return program, {"names": names, "required": len(names), "varargs": False}


def load_factory(torch, spec, python_path):
    for folder in reversed(python_path):
        sys.path.insert(0, folder)
    module_name, _, attribute = spec.partition(":")
    try:
        target = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        raise Failure("import", f"cannot import {module_name}: {first_line(error)}",
                      "add the folder that holds it with --python-path DIR")
    except Exception as error:
        raise Failure("factory", f"importing {module_name} failed: {explain(error)}")
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise Failure("import", f"{module_name} has no attribute {attribute}")
        target = getattr(target, part)
    if not callable(target):
        raise Failure("import", f"{spec} is not callable", "pass a function or class that returns the torch.nn.Module")
    try:
        model = target()
    except Exception as error:
        raise Failure("factory", f"{spec}() raised {explain(error)}")
    if not isinstance(model, torch.nn.Module):
        raise Failure("not-a-module", f"{spec}() returned {type(model).__name__}, not a torch.nn.Module")
    return model


def forward_parameters(torch, model):
    """Names of forward's positional parameters, how many are required, and whether it takes *args."""
    if isinstance(model, torch.jit.ScriptModule):
        arguments = model.forward.schema.arguments[1:]
        return {"names": [a.name for a in arguments], "required": sum(not a.has_default_value() for a in arguments), "varargs": False}
    try:
        parameters = inspect.signature(model.forward).parameters.values()
    except (TypeError, ValueError):
        return None
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return {
        "names": [p.name for p in positional],
        "required": sum(p.default is p.empty for p in positional),
        "varargs": any(p.kind == p.VAR_POSITIONAL for p in parameters),
    }


def load_model(torch, request):
    source = request["source"]
    if "factory" in source:
        model = load_factory(torch, source["factory"], request["pythonPath"])
        return model, "factory", forward_parameters(torch, model)
    path = source["path"]
    kind = sniff(path) or ("export" if path.endswith(".pt2") else "torchscript")
    if kind == "pickle":
        raise Failure("pickle", f"{path} was saved with torch.save (a pickle that needs the model's Python classes), not as TorchScript", PICKLE_HINT)
    if kind == "export":
        program, forward = load_exported_program(torch, path)
        return program, kind, forward
    model = load_torchscript(torch, path)
    return model, kind, forward_parameters(torch, model)


def describe(forward):
    return f"forward({', '.join(forward['names'])}{', *args' if forward['varargs'] else ''})"


def check_inputs(forward, names):
    if forward is None:
        if not names:
            raise Failure("inputs", "no inputs declared and forward's signature is unknown", "declare each forward argument with --input name:dtype:dims")
        return
    given, required, known = len(names), forward["required"], len(forward["names"])
    if required <= given and (given <= known or forward["varargs"]):
        if given > 1 and sorted(names) == sorted(forward["names"][:given]) and names != forward["names"][:given]:
            raise Failure("inputs", f"--input order {', '.join(names)} does not follow {describe(forward)}",
                          "inputs are passed to forward by position: give --input in forward's order")
        return
    if forward["varargs"]:
        expected = f"at least {required}"
    else:
        expected = str(known) if required == known else f"{required} to {known}"
    example = " ".join(f"--input {n}:DTYPE:DIMS" for n in forward["names"][:max(required, 1)])
    raise Failure("inputs", f"{describe(forward)} takes {expected} input{'' if expected == '1' else 's'}, but {given} {'was' if given == 1 else 'were'} given with --input",
                  f"declare each forward argument, in order: {example}")


def flatten_outputs(torch, value, prefix="output"):
    """The model's outputs as (default name, tensor) pairs, in the order torch.onnx.export flattens them."""
    if isinstance(value, torch.Tensor):
        return [(prefix, value)]
    if isinstance(value, dict):
        return [pair for key, item in value.items() for pair in flatten_outputs(torch, item, str(key))]
    if isinstance(value, (tuple, list)):
        return [pair for i, item in enumerate(value) for pair in flatten_outputs(torch, item, f"{prefix}_{i}")]
    raise Failure("outputs", f"the model returns a {type(value).__name__}, which ONNX cannot represent",
                  "return tensors (or tuples, lists or dicts of tensors) from forward")


def output_names(torch, outputs, requested):
    pairs = flatten_outputs(torch, outputs)
    names = requested or [name for name, _ in pairs]
    if len(names) != len(pairs):
        raise Failure("outputs", f"the model returns {len(pairs)} output{'' if len(pairs) == 1 else 's'} but --output-names gives {len(names)}")
    return names, [tensor for _, tensor in pairs]


@contextlib.contextmanager
def reference_mode(torch):
    """How the reference outputs are computed: no autograd, and TorchScript without its optimizing
    executor, whose first calls cost ten times the model's run (and whose fusions the export does
    not see either)."""
    with torch.no_grad(), torch.jit.optimized_execution(False):
        yield


def grown(torch, tensor, axes):
    """The tensor one element longer on each given axis, repeating its last slice (values stay valid)."""
    for axis in axes:
        tensor = torch.cat([tensor, tensor.narrow(axis, tensor.shape[axis] - 1, 1)], axis)
    return tensor


def output_axes(torch, model, inputs, tensors, outputs, names):
    """
    Names the output axes that follow a symbolic input dim. The model runs once more with every
    symbolic dim one larger: an output axis that grows with exactly one dim gets that dim's name.
    Axes it cannot attribute keep the names torch's shape inference gives them.
    """
    sizes = {}
    for spec, tensor in zip(inputs, tensors):
        for axis, dim in enumerate(spec["dims"]):
            if isinstance(dim, str):
                sizes[dim] = tensor.shape[axis]
    if not sizes:
        return {}
    bigger = [grown(torch, t, [a for a, d in enumerate(spec["dims"]) if isinstance(d, str)]) for spec, t in zip(inputs, tensors)]
    try:
        with reference_mode(torch):
            _, second = output_names(torch, model(*bigger), names)
    except Exception as error:
        print(f"tdeploy: output dims keep torch's names: the model did not run with every symbolic dim one larger ({first_line(error)})", file=sys.stderr)
        return {}
    axes = {}
    for name, first, again in zip(names, outputs, second):
        for axis in range(min(first.dim(), again.dim())):
            matches = [d for d, size in sizes.items() if first.shape[axis] == size and again.shape[axis] == size + 1]
            if len(matches) == 1:
                axes.setdefault(name, {})[axis] = matches[0]
    return axes


def export(torch, request):
    timings = {}
    started = time.perf_counter()
    versions = {"torch": torch.__version__, "onnx": package_version("onnx")}
    opsets = opset_range()
    opset = request.get("opset")
    if opsets and opset is not None and not opsets[0] <= opset <= opsets[1]:
        raise Failure("opset", f"--opset {opset}: torch {torch.__version__} exports opsets {opsets[0]} to {opsets[1]}")
    if opset is None and opsets:
        opset = opsets[1]

    program, kind, forward = load_model(torch, request)
    # A torch.export program was traced in the mode it was exported in; its module refuses eval()
    # and train() ("not supported yet", torch 2.1 to 2.15 at least).
    model = program.module() if kind == "export" else program.eval()
    inputs = request["inputs"]
    names = [spec["name"] for spec in inputs]
    check_inputs(forward, names)
    timings["load"] = time.perf_counter() - started

    import numpy
    with numpy.load(request["examples"]) as archive:
        arrays = [archive[name] for name in names]
    tensors = [torch.from_numpy(array) for array in arrays]
    started = time.perf_counter()
    try:
        with reference_mode(torch):
            result = model(*tensors)
    except Exception as error:
        raise Failure("forward", f"the model failed on the example inputs: {explain(error)}",
                      "check each --input's dtype and dims against what forward expects")
    outputs, tensors_out = output_names(torch, result, request.get("outputNames"))
    clash = sorted(set(names) & set(outputs))
    if clash:
        raise Failure("outputs", f"output name {clash[0]} is also an input name", "give other names with --output-names")
    axes = output_axes(torch, model, inputs, tensors, tensors_out, outputs)
    timings["run"] = time.perf_counter() - started

    dynamic = {spec["name"]: {a: d for a, d in enumerate(spec["dims"]) if isinstance(d, str)} for spec in inputs}
    dynamic = {name: dims for name, dims in {**dynamic, **axes}.items() if dims}
    started = time.perf_counter()
    try:
        if kind == "export":
            export_program(torch, program, tensors, request["onnx"], names, outputs, opset, dynamic)
        else:
            options = {"input_names": names, "output_names": outputs, "dynamic_axes": dynamic or None,
                       "opset_version": opset, "do_constant_folding": True}
            # torch 2.9 made the torch.export-based exporter the default; modules go through the TorchScript one.
            if "dynamo" in inspect.signature(torch.onnx.export).parameters:
                options["dynamo"] = False
            torch.onnx.export(model, tuple(tensors), request["onnx"], **options)
    except Failure:
        raise
    except Exception as error:
        raise Failure("export", first_line(error),
                      "try another --opset or a newer torch, or change that part of the model; --verbose shows torch's whole output")
    timings["export"] = time.perf_counter() - started

    with open(request["reference"], "wb") as f:
        numpy.savez(f, **dict(zip(names, arrays)), **{n: t.detach().cpu().numpy() for n, t in zip(outputs, tensors_out)})
    return {"format": kind, "opset": opset, "opsets": opsets, "timings": timings, **versions}


# Above this many bytes of weights the export needs ONNX external data (protobuf stops at 2 GiB).
EXTERNAL_DATA_BYTES = 1 << 30


def export_program(torch, program, tensors, path, names, outputs, opset, dynamic):
    """
    A torch.export program goes through the torch.export-based exporter (`dynamo=True`), the
    only one that keeps its symbolic shapes: the TorchScript exporter traces the program's module and bakes
    every size computed from a shape into the graph. Torch names the dynamic dims after its own symbols
    (s0, s43, ...); they are renamed to the --input dims and the output axes found for them.
    """
    onnx = import_required("onnx", "pip install onnx onnxscript (the torch.export-based exporter needs both)")
    import_required("onnxscript", "pip install onnxscript (the torch.export-based exporter needs it)")
    weights = sum(t.numel() * t.element_size() for t in program.state_dict.values())
    torch.onnx.export(program, tuple(tensors), path, input_names=names, output_names=outputs, opset_version=opset,
                      dynamo=True, external_data=weights > EXTERNAL_DATA_BYTES)
    model = onnx.load(path, load_external_data=False)
    renames = {}
    for value in list(model.graph.input) + list(model.graph.output):
        for axis, dim in enumerate(value.type.tensor_type.shape.dim):
            wanted = dynamic.get(value.name, {}).get(axis)
            if wanted and dim.dim_param:
                renames.setdefault(dim.dim_param, wanted)
    for value in list(model.graph.input) + list(model.graph.output) + list(model.graph.value_info):
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param in renames:
                dim.dim_param = renames[dim.dim_param]
    onnx.save(model, path)


def respond(payload, code):
    """Writes the result line and ends the process."""
    payload.update({"python": sys.executable, "pythonVersion": sys.version.split()[0]})
    RESULT.write(json.dumps(payload) + "\n")
    RESULT.flush()
    sys.stderr.flush()
    # Every file is closed and the result written; tearing down torch's modules would only add
    # about 0.3 s before tdeploy may go on.
    os._exit(code)


def main():
    request = json.loads(sys.argv[1])
    started = time.perf_counter()
    try:
        torch = import_required("torch", "apt-get install python3-torch, or pip install torch")
        import_required("numpy", "apt-get install python3-numpy, or pip install numpy")
        imported = time.perf_counter() - started
        result = export(torch, request)
        result["timings"]["import"] = imported
        respond({"ok": True, **result}, 0)
    except Failure as failure:
        torch = sys.modules.get("torch")
        respond({"ok": False, "kind": failure.kind, "message": str(failure), "hint": failure.hint,
                 "torch": getattr(torch, "__version__", None)}, 1)
    except Exception as error:  # a bug here or a torch surprise: the traceback goes to --verbose
        traceback.print_exc()
        respond({"ok": False, "kind": "internal", "message": explain(error)}, 1)


if __name__ == "__main__":
    main()
