"""Hugging Face architectures built from their configs (no weight download), as `tdeploy convert` factories.

    tdeploy convert models:bert_base --python-path bench/anchors --python <anchors venv python> ...

Each factory seeds torch before building, so a model's random weights are the same in every run; attention
is transformers' "eager" implementation, the one ONNX exporters and onnxruntime's transformers optimizer
know. `MODELS` says how each one is exported (its inputs and output names); bench/anchors/anchors.ts and the
opt-in tests read it through `python models.py` (one JSON document on stdout).
"""
import json
import sys

import torch
import transformers


def build(config_class, model_class, **overrides):
    torch.manual_seed(0)
    config = config_class(**overrides)
    config._attn_implementation = "eager"
    return model_class(config).eval()


class TextEncoder(torch.nn.Module):
    """forward(input_ids, attention_mask) -> the named outputs of a transformers model."""

    def __init__(self, model, outputs):
        super().__init__()
        self.model = model
        self.outputs = outputs

    def forward(self, input_ids, attention_mask):
        result = self.model(input_ids=input_ids, attention_mask=attention_mask, return_dict=True)
        return tuple(result[name] for name in self.outputs)


class ImageEncoder(torch.nn.Module):
    def __init__(self, model, outputs):
        super().__init__()
        self.model = model
        self.outputs = outputs

    def forward(self, pixel_values):
        result = self.model(pixel_values=pixel_values, return_dict=True)
        return tuple(result[name] for name in self.outputs)


def bert_base():
    return TextEncoder(build(transformers.BertConfig, transformers.BertModel), ["last_hidden_state", "pooler_output"])


def distilbert():
    return TextEncoder(build(transformers.DistilBertConfig, transformers.DistilBertModel), ["last_hidden_state"])


def roberta():
    # roberta-base's own sizes: RobertaConfig's defaults are BERT's vocabulary and 512 positions.
    model = build(transformers.RobertaConfig, transformers.RobertaModel, vocab_size=50265, max_position_embeddings=514)
    return TextEncoder(model, ["last_hidden_state", "pooler_output"])


def vit():
    return ImageEncoder(build(transformers.ViTConfig, transformers.ViTModel), ["last_hidden_state", "pooler_output"])


def gpt2():
    return TextEncoder(build(transformers.GPT2Config, transformers.GPT2LMHeadModel, use_cache=False), ["logits"])


def t5_encoder():
    return TextEncoder(build(transformers.T5Config, transformers.T5EncoderModel), ["last_hidden_state"])


TEXT = ["input_ids:int64:batch,seq", "attention_mask:int64:batch,seq"]

# name -> factory, --input specs, output names, what onnxruntime's transformers optimizer calls the
# architecture, and its heads and hidden size (the optimizer's fusions need them).
MODELS = {
    "bert-base": {"factory": "bert_base", "inputs": TEXT, "outputs": ["last_hidden_state", "pooler_output"], "ortType": "bert", "heads": 12, "hidden": 768},
    "distilbert": {"factory": "distilbert", "inputs": TEXT, "outputs": ["last_hidden_state"], "ortType": "bert", "heads": 12, "hidden": 768},
    "roberta": {"factory": "roberta", "inputs": TEXT, "outputs": ["last_hidden_state", "pooler_output"], "ortType": "bert", "heads": 12, "hidden": 768},
    "vit": {"factory": "vit", "inputs": ["pixel_values:float32:batch,3,224,224"], "outputs": ["last_hidden_state", "pooler_output"], "ortType": "vit", "heads": 12, "hidden": 768},
    "gpt2": {"factory": "gpt2", "inputs": TEXT, "outputs": ["logits"], "ortType": "gpt2", "heads": 12, "hidden": 768},
    "t5-encoder": {"factory": "t5_encoder", "inputs": TEXT, "outputs": ["last_hidden_state"], "ortType": "t5", "heads": 8, "hidden": 512},
}

if __name__ == "__main__":
    json.dump({"transformers": transformers.__version__, "torch": torch.__version__, "models": MODELS}, sys.stdout)
