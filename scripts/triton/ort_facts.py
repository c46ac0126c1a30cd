"""Measures what one onnxruntime release loads: its max IR version and max opset per domain (by loading
tiny models until it refuses) and the com.microsoft ops its schema registry holds (the registry that
onnxruntime's docs/ContribOperators.md is generated from). Prints one JSON object.

Run inside a venv holding exactly one onnxruntime version (scripts/triton/ort-facts.sh does that).
No onnx package needed: the probe models are encoded here by hand.
"""
import json
import os
import re
import sys

import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as C


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number, value):
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def value_info(name):
    tensor = field(1, 1) + field(2, field(1, field(1, 2)))  # FLOAT, shape [2]
    return field(1, name) + field(2, field(1, tensor))


def model(ir, opsets, op_type="Identity", domain=""):
    node = field(1, "x") + field(2, "y") + field(3, "n") + field(4, op_type) + (field(7, domain) if domain else b"")
    graph = field(1, node) + field(2, "g") + field(11, value_info("x")) + field(12, value_info("y"))
    imports = b"".join(field(8, field(1, d) + field(2, v)) for d, v in opsets.items())
    return field(1, ir) + imports + field(7, graph)


def loads(data):
    try:
        ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        return True, ""
    except Exception as error:  # the refusal message is the measurement
        # keep what onnxruntime says, not the C++ signature before it
        text = str(error).splitlines()[0]
        return False, re.split(r"\) (?=[A-Z])", text, maxsplit=1)[-1][:300]


def highest(make, start, stop):
    best, refusal = None, ""
    for v in range(start, stop):
        ok, why = loads(make(v))
        if ok:
            best = v
        elif best is not None:
            refusal = why
            break
    return best, refusal


ir, ir_refusal = highest(lambda v: model(v, {"": 13}), 7, 20)
onnx_opset, onnx_refusal = highest(lambda v: model(ir, {"": v}), 13, 40)
# ai.onnx.ml has no identity op: a model importing the domain (beside ai.onnx) is enough to be checked.
ml_opset, ml_refusal = highest(lambda v: model(ir, {"": 13, "ai.onnx.ml": v}), 1, 20)
ms_opset, ms_refusal = highest(lambda v: model(ir, {"": 13, "com.microsoft": v}), 1, 20)

schemas = C.get_all_operator_schema() if hasattr(C, 'get_all_operator_schema') else None
if schemas:
    contrib = sorted({s.name for s in schemas if s.domain == "com.microsoft" and not s.deprecated})
    contrib_source = "its schema registry (the registry docs/ContribOperators.md is generated from)"
elif os.environ.get("CONTRIB_CANDIDATES"):
    # Builds without the schema API: each candidate op is loaded alone; an op the build lacks is
    # refused as "not a registered function/op", one it has fails later, on its inputs.
    candidates = open(os.environ["CONTRIB_CANDIDATES"]).read().split()
    refusals = {op: loads(model(ir, {"": 13, "com.microsoft": 1}, op, "com.microsoft"))[1] for op in candidates}
    contrib = sorted(op for op, why in refusals.items()
                     if "is not a registered function/op" not in why and "No Op registered" not in why)
    contrib_source = (f"one probe model per op of the {len(candidates)} com.microsoft ops of the later versions measured "
                      "(its wheel has no schema API; an op that later versions dropped would not be listed)")
else:
    contrib, contrib_source = None, "not measured"
since = {}
for s in schemas or []:
    d = s.domain or "ai.onnx"
    since[d] = max(since.get(d, 0), s.since_version)

json.dump({
    "onnxruntime": ort.__version__,
    "source": f"measured with the onnxruntime {ort.__version__} wheel from PyPI by scripts/triton/ort-facts.sh: "
              "probe models loaded until it refused them; contrib ops from " + contrib_source,
    "maxIrVersion": ir, "irRefusal": ir_refusal,
    "maxOpset": {"ai.onnx": onnx_opset, "ai.onnx.ml": ml_opset, "com.microsoft": ms_opset},
    "opsetRefusal": {"ai.onnx": onnx_refusal, "ai.onnx.ml": ml_refusal, "com.microsoft": ms_refusal},
    "registryMaxSince": since,
    "contribOps": contrib,
}, sys.stdout, indent=1)
print()
