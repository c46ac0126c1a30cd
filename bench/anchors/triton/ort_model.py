"""A Triton Python-backend model that runs the model.onnx beside it with onnxruntime.

PyTriton's tritonserver has no onnxruntime backend; with this as model.py (and `backend: "python"` in place of
`platform: "onnxruntime_onnx"`), a config.pbtxt that tdeploy wrote for an ONNX model is served with its inputs,
outputs, batching and instance settings as they are.
"""
import json
import os

import numpy as np
import onnxruntime
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        folder = os.path.join(args["model_repository"], str(args["model_version"]))
        self.session = onnxruntime.InferenceSession(os.path.join(folder, "model.onnx"), providers=["CPUExecutionProvider"])
        self.inputs = [i["name"] for i in config["input"]]
        self.outputs = [(o["name"], pb_utils.triton_string_to_numpy(o["data_type"])) for o in config["output"]]

    def execute(self, requests):
        responses = []
        for request in requests:
            feeds = {name: pb_utils.get_input_tensor_by_name(request, name).as_numpy() for name in self.inputs}
            values = self.session.run([name for name, _ in self.outputs], feeds)
            tensors = [pb_utils.Tensor(name, np.asarray(value, dtype=dtype)) for (name, dtype), value in zip(self.outputs, values)]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
        return responses
