#!/usr/bin/python3
"""make_resnet.py — development step (NOT run by `make test`): train a small torchvision-style
ResNet on Fashion-MNIST with Debian's python3-torch, export it with torch.onnx.export (opset 13,
eval mode) and record the 10k-test accuracy PyTorch computes.

    apt-get install python3-torch            # development-only dependency (not in DEB_PKGS)
    /usr/bin/python3 tests/onnx/make_resnet.py [--epochs 2] [--out tests/onnx/models]

Writes into --out:
    resnet8.onnx        Conv+BN fused by the exporter (torch's eval-mode export: Conv with bias)
    resnet8_bn.onnx     the same weights with BatchNormalization nodes kept (TrainingMode.PRESERVE)
    resnet8.onnx.yaml   input preprocessing next to the model (mean/std/layout, see docs/onnx.md)
    resnet8.json        {"top1": ..., "correct": ..., "images": 10000, ...} as PyTorch measured it

The network follows torchvision's ResNet code (BasicBlock with conv3x3-BN-ReLU-conv3x3-BN, a 1x1
conv+BN downsample when the shape changes, `out += identity`, ReLU; AdaptiveAvgPool2d(1), flatten,
Linear) at Fashion-MNIST scale: a 3x3 stem without max-pool and one block per stage (16, 32, 64).
The IDX files are read with gzip + numpy; normalisation x = (pixel/255 - 0.2860) / 0.3530.
"""
import argparse
import gzip
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(split):
    pre = "train" if split == "train" else "t10k"
    x = read_idx(os.path.join(DATA, f"{pre}-images-idx3-ubyte.gz")).astype(np.float32)
    y = read_idx(os.path.join(DATA, f"{pre}-labels-idx1-ubyte.gz")).astype(np.int64)
    x = (x / np.float32(255.0) - np.float32(MEAN)) / np.float32(STD)
    return torch.from_numpy(x[:, None, :, :].copy()), torch.from_numpy(y.copy())


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    def __init__(self, layers=(1, 1, 1), widths=(16, 32, 64), num_classes=10):
        super().__init__()
        self.inplanes = widths[0]
        self.conv1 = nn.Conv2d(1, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(widths[0], layers[0], 1)
        self.layer2 = self._make_layer(widths[1], layers[1], 2)
        self.layer3 = self._make_layer(widths[2], layers[2], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[2], num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _make_layer(self, planes, blocks, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, stride, bias=False),
                                       nn.BatchNorm2d(planes))
        layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        for _ in range(1, blocks):
            layers.append(BasicBlock(planes, planes))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def evaluate(model, x, y):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 500):
            correct += int((model(x[i:i + 500]).argmax(1) == y[i:i + 500]).sum())
    return correct


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "models"))
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    xtr, ytr = load("train")
    xte, yte = load("test")
    model = ResNet()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4,
                          nesterov=True)
    steps = args.epochs * (len(xtr) // 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=steps)
    t0 = time.time()
    for ep in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xtr))
        for s in range(len(xtr) // 128):
            idx = perm[s * 128:(s + 1) * 128]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        print(f"epoch {ep + 1}: loss {loss.item():.4f}, test {evaluate(model, xte, yte) / 100:.2f}% "
              f"({time.time() - t0:.0f} s)", flush=True)
    model.eval()
    correct = evaluate(model, xte, yte)
    os.makedirs(args.out, exist_ok=True)
    dummy = torch.zeros(1, 1, 28, 28)
    common = dict(opset_version=13, input_names=["input"], output_names=["logits"],
                  dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    torch.onnx.export(model, dummy, os.path.join(args.out, "resnet8.onnx"), **common)
    torch.onnx.export(model, dummy, os.path.join(args.out, "resnet8_bn.onnx"),
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
                      **common)
    with open(os.path.join(args.out, "resnet8.onnx.yaml"), "w") as f:
        f.write("# input preprocessing of resnet8.onnx: x = (pixel/255 - mean) / std\n"
                f"mean: {MEAN}\nstd: {STD}\nlayout: NCHW\n")
    rep = {"model": "resnet8", "framework": f"torch {torch.__version__}", "opset": 13,
           "epochs": args.epochs, "top1": correct / len(xte), "correct": correct,
           "images": len(xte), "mean": MEAN, "std": STD}
    with open(os.path.join(args.out, "resnet8.json"), "w") as f:
        json.dump(rep, f, indent=1)
        f.write("\n")
    print(json.dumps(rep))


if __name__ == "__main__":
    main()
