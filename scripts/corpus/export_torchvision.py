"""Exports torchvision architectures (weights=None: random weights, no download) to ONNX, as a user
of torch would: eval mode, a dynamic batch axis, the opset given per model. Usage:
    export_torchvision.py OUT_DIR NAME:OPSET...
Each model is written to OUT_DIR/NAME.onnx (skipped when it exists)."""
import os
import sys

import torch
import torchvision


def export(out_dir: str, name: str, opset: int) -> None:
    path = os.path.join(out_dir, f"{name}.onnx")
    if os.path.exists(path):
        return
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None).eval()
    example = torch.randn(1, 3, 224, 224)
    partial = path + ".partial"
    torch.onnx.export(model, example, partial, opset_version=opset, input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
    os.replace(partial, path)
    print(f"exported {name} at opset {opset}")


if __name__ == "__main__":
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for spec in sys.argv[2:]:
        name, opset = spec.split(":")
        export(out, name, int(opset))
