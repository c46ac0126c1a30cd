# Triton Python-backend tokenizer written by `tdeploy package --tokenizer`.
#
# It takes TEXT (one string per batch row) and emits the model's integer inputs. Everything it
# needs comes from its own config.pbtxt: the output tensors (names and data types are the
# model's inputs) and `parameters`:
#   tokenizer_file   tokenizer.json in the version folder (Hugging Face `tokenizers` format)
#   padding          "max_length" (the model's sequence length is fixed) or "longest" (per request)
#   max_length       truncation length, "" for none
#   pad_id           token id used for padding; pad_type_id likewise for token_type_ids
#   source.<output>  what feeds each output: ids, attention_mask, type_ids or positions
# Needs the `tokenizers` package in the Triton Python environment (pip install tokenizers).

import json
import os

import numpy as np
import triton_python_backend_utils as pb_utils
from tokenizers import Tokenizer

# Values written into padded positions, per source.
PADDING = {
    "ids": lambda model: model.pad_id,
    "attention_mask": lambda model: 0,
    "type_ids": lambda model: model.pad_type_id,
    "positions": lambda model: 0,
}

SOURCES = {
    "ids": lambda encoding: encoding.ids,
    "attention_mask": lambda encoding: encoding.attention_mask,
    "type_ids": lambda encoding: encoding.type_ids,
    "positions": lambda encoding: range(len(encoding.ids)),
}


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {key: value["string_value"] for key, value in config.get("parameters", {}).items()}
        version_dir = os.path.join(args["model_repository"], str(args["model_version"]))
        self.tokenizer = Tokenizer.from_file(os.path.join(version_dir, params["tokenizer_file"]))
        self.max_length = int(params["max_length"]) if params.get("max_length") else None
        self.pad_to_max = params["padding"] == "max_length"
        self.pad_id = int(params["pad_id"])
        self.pad_type_id = int(params.get("pad_type_id") or 0)
        # Padding is done here, so that it follows this config whatever tokenizer.json says;
        # truncation is left to the tokenizer, which keeps special tokens such as [SEP].
        self.tokenizer.no_padding()
        if self.max_length is None:
            self.tokenizer.no_truncation()
        else:
            self.tokenizer.enable_truncation(max_length=self.max_length)
        self.text_input = config["input"][0]["name"]
        self.outputs = []
        for output in config["output"]:
            source = params["source." + output["name"]]
            if source not in SOURCES:
                raise pb_utils.TritonModelException(f"unknown source '{source}' for output '{output['name']}'")
            self.outputs.append((output["name"], source, pb_utils.triton_string_to_numpy(output["data_type"])))

    def execute(self, requests):
        responses = []
        for request in requests:
            texts = pb_utils.get_input_tensor_by_name(request, self.text_input).as_numpy().reshape(-1)
            texts = [t.decode("utf-8") if isinstance(t, bytes) else str(t) for t in texts]
            encodings = self.tokenizer.encode_batch(texts)
            tensors = [pb_utils.Tensor(name, self.pad(encodings, source, dtype)) for name, source, dtype in self.outputs]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
        return responses

    def pad(self, encodings, source, dtype):
        longest = max((len(e.ids) for e in encodings), default=0)
        length = self.max_length if self.pad_to_max else longest
        array = np.full((len(encodings), length), PADDING[source](self), dtype=dtype)
        for row, encoding in enumerate(encodings):
            values = list(SOURCES[source](encoding))[:length]
            array[row, : len(values)] = values
        return array

    def finalize(self):
        self.tokenizer = None
