"""onnxruntime's own tools on a float32 ONNX model, as their documentation recommends using them.

    python ort_tools.py '<request JSON>'

request: {"model": fp32.onnx, "outDir": dir, "calibration": npz (samples along axis 0), "ortType": bert|gpt2|vit|t5,
          "heads": n, "hidden": n}; ortType null (a CNN, which the transformers optimizer does not know): no ort-opt* recipes
Writes into outDir, one model per recipe:
  ort-opt.onnx           transformers optimizer (fusions: Attention, SkipLayerNormalization, Gelu, ...)
  ort-opt-fp16.onnx      the same, converted to float16 by the optimizer (keep_io_types)
  ort-dynamic.onnx       quantize_dynamic (QOperator: DynamicQuantizeLinear + MatMulInteger) on the
                         pre-processed model (quant_pre_process: shape inference + ORT's basic optimizations;
                         without symbolic shape inference where it gives up, as the docs advise)
  ort-opt-dynamic.onnx   quantize_dynamic on the optimizer's output: onnxruntime's recipe for transformers
  ort-static.onnx        quantize_static, QDQ, MinMax calibration on the calibration data, pre-processed model
Prints one JSON line: {"onnxruntime": version, "models": {name: path}, "seconds": {name: s}, "failed": {name: message}}.
Each recipe runs with the tools' default settings, the ones a user who follows the docs gets.
"""
import json
import os
import sys
import time
import traceback

import numpy as np
import onnx
import onnxruntime
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_dynamic, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process
from onnxruntime.transformers.optimizer import optimize_model


class NpzReader(CalibrationDataReader):
    """The calibration .npz, one sample at a time (as tdeploy's calibration splits it, in batches of one)."""

    def __init__(self, path):
        with np.load(path) as archive:
            self.arrays = {name: archive[name] for name in archive.files}
        self.count = len(next(iter(self.arrays.values())))
        self.index = 0

    def get_next(self):
        if self.index >= self.count:
            return None
        sample = {name: array[self.index:self.index + 1] for name, array in self.arrays.items()}
        self.index += 1
        return sample


def main():
    request = json.loads(sys.argv[1])
    out = request["outDir"]
    path = lambda name: os.path.join(out, f"{name}.onnx")
    models, seconds, failed = {}, {}, {}

    def recipe(name, make):
        started = time.perf_counter()
        try:
            make(path(name))
        except Exception as error:  # one recipe failing is a finding, not the end of the others
            traceback.print_exc()
            failed[name] = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
            return
        seconds[name] = time.perf_counter() - started
        models[name] = path(name)

    def optimized(dest, fp16=False):
        model = optimize_model(request["model"], model_type=request["ortType"], num_heads=request["heads"],
                               hidden_size=request["hidden"], opt_level=None)
        if fp16:
            model.convert_float_to_float16(keep_io_types=True)
        model.save_model_to_file(dest)

    def preprocess(dest):
        try:
            quant_pre_process(request["model"], dest)
        except Exception as error:  # the docs' fallback where symbolic shape inference gives up
            print(f"quant_pre_process: {error}; again with skip_symbolic_shape=True", file=sys.stderr)
            quant_pre_process(request["model"], dest, skip_symbolic_shape=True)

    preprocessed = path("preprocessed")
    recipe("preprocessed", preprocess)
    source = models.pop("preprocessed", request["model"])
    if request["ortType"] is not None:
        recipe("ort-opt", optimized)
        recipe("ort-opt-fp16", lambda dest: optimized(dest, fp16=True))
    recipe("ort-dynamic", lambda dest: quantize_dynamic(source, dest))
    if "ort-opt" in models:
        # The fused ops have no type inference in onnx, so the quantizer needs the default tensor type (its own hint).
        recipe("ort-opt-dynamic", lambda dest: quantize_dynamic(models["ort-opt"], dest, extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT}))
    recipe("ort-static", lambda dest: quantize_static(source, dest, NpzReader(request["calibration"]), quant_format=QuantFormat.QDQ))
    if os.path.exists(preprocessed):
        os.remove(preprocessed)
    print(json.dumps({"onnxruntime": onnxruntime.__version__, "models": models, "seconds": seconds, "failed": failed}))


if __name__ == "__main__":
    main()
