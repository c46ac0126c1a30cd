"""The part of Triton's triton_python_backend_utils that templates/tokenizer/model.py uses, for tests
that run the model outside Triton. Requests carry numpy arrays; responses keep their tensors."""

import numpy as np

# Triton's TYPE_* names and the numpy types the real module maps them to.
_NUMPY = {
    "TYPE_BOOL": np.bool_, "TYPE_UINT8": np.uint8, "TYPE_UINT16": np.uint16, "TYPE_UINT32": np.uint32,
    "TYPE_UINT64": np.uint64, "TYPE_INT8": np.int8, "TYPE_INT16": np.int16, "TYPE_INT32": np.int32,
    "TYPE_INT64": np.int64, "TYPE_FP16": np.float16, "TYPE_FP32": np.float32, "TYPE_FP64": np.float64,
    "TYPE_STRING": np.object_,
}


class TritonModelException(Exception):
    pass


def triton_string_to_numpy(name):
    return _NUMPY[name]


class Tensor:
    def __init__(self, name, array):
        self._name = name
        self._array = array

    def name(self):
        return self._name

    def as_numpy(self):
        return self._array


class InferenceRequest:
    def __init__(self, inputs):
        self.inputs = {t.name(): t for t in inputs}


class InferenceResponse:
    def __init__(self, output_tensors, error=None):
        self._tensors = output_tensors
        self.error = error

    def output_tensors(self):
        return self._tensors


def get_input_tensor_by_name(request, name):
    return request.inputs.get(name)
