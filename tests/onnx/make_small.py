#!/usr/bin/python3
"""make_small.py — development step (NOT run by `make test`): export tiny ONNX models with Debian's
python3-torch for the importer's unit tests (tests/unit/io/test_onnx.c) and the fuzzing seeds
(tests/fuzz/corpus/onnx/). Weights are random (seeded); each model is written with a reference input and
the logits PyTorch computes for it, as text (one float per line), so the unit test can check the
engine's forward pass without Python.

    /usr/bin/python3 tests/onnx/make_small.py [--out tests/onnx/models]

tiny_res:  conv-BN-ReLU stem; a basic block with identity shortcut; a block with a strided 1x1
           conv+BN downsample; GlobalAveragePool; Flatten; Linear (Gemm). Exported unfused
           (BatchNormalization nodes kept) -> 2 residual blocks.
tiny_mb:   conv + ReLU6 (Clip 0..6); an inverted residual block (1x1 expand, 3x3 depthwise,
           1x1 project, Add without activation); MaxPool; AveragePool with pads;
           reshape(-1, C*H*W); MatMul by a parameter + bias (MatMul then Add of a constant).
"""
import argparse
import os

import torch
import torch.nn as nn
import torch.nn.functional as F


class TinyRes(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.a1 = nn.Conv2d(4, 4, 3, 1, 1, bias=False)
        self.abn1 = nn.BatchNorm2d(4)
        self.a2 = nn.Conv2d(4, 4, 3, 1, 1, bias=False)
        self.abn2 = nn.BatchNorm2d(4)
        self.b1 = nn.Conv2d(4, 8, 3, 2, 1, bias=False)
        self.bbn1 = nn.BatchNorm2d(8)
        self.b2 = nn.Conv2d(8, 8, 3, 1, 1, bias=False)
        self.bbn2 = nn.BatchNorm2d(8)
        self.down = nn.Conv2d(4, 8, 1, 2, 0, bias=False)
        self.dbn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.abn1(self.a1(x)))
        x = F.relu(self.abn2(self.a2(y)) + x)
        y = F.relu(self.bbn1(self.b1(x)))
        x = F.relu(self.bbn2(self.b2(y)) + self.dbn(self.down(x)))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


class TinyMb(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, 1, 1)
        self.expand = nn.Conv2d(4, 8, 1)
        self.dw = nn.Conv2d(8, 8, 3, 1, 1, groups=8)
        self.project = nn.Conv2d(8, 4, 1)
        self.w = nn.Parameter(torch.randn(4 * 2 * 2, 10) * 0.3)
        self.b = nn.Parameter(torch.randn(10) * 0.1)

    def forward(self, x):
        x = F.relu6(self.stem(x))
        y = F.relu6(self.dw(F.relu6(self.expand(x))))
        x = self.project(y) + x
        x = F.max_pool2d(x, 2, 2)                                  # 8x8 -> 4x4
        x = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)      # 4x4 -> 2x2
        x = torch.reshape(x, (-1, 4 * 2 * 2))
        return x @ self.w + self.b


def randomize_bn(model):
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.weight.data = 0.5 + torch.rand(n, generator=g)
            m.bias.data = 0.2 * torch.randn(n, generator=g)
            m.running_mean.data = 0.2 * torch.randn(n, generator=g)
            m.running_var.data = 0.5 + torch.rand(n, generator=g)


def write_floats(path, t):
    with open(path, "w") as f:
        for v in t.reshape(-1).tolist():
            f.write(f"{v:.9g}\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "models"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    for name, model in (("tiny_res", TinyRes()), ("tiny_mb", TinyMb())):
        randomize_bn(model)
        model.eval()
        x = torch.randn(2, 1, 8, 8)
        with torch.no_grad():
            y = model(x)
        path = os.path.join(args.out, name + ".onnx")
        torch.onnx.export(model, x[:1], path, opset_version=13, input_names=["input"],
                          output_names=["logits"],
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                          training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True)
        write_floats(os.path.join(args.out, name + ".input.txt"), x)
        write_floats(os.path.join(args.out, name + ".logits.txt"), y)
        print(name, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
