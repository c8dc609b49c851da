#!/usr/bin/python3
"""make_torchvision.py — development step (NOT run by `make test`): torchvision layouts for the flow.

Uses Debian's python3-torch / python3-torchvision. No pretrained weights are reachable offline, so
every network here has random (seeded) weights; the BatchNorm running statistics are set from a few
forward batches in train mode (cumulative average), then the model is exported in eval mode. These
networks are for plumbing: their accuracy means nothing. See docs/onnx.md "Real-size networks".

    /usr/bin/python3 tests/onnx/make_torchvision.py --small   # committed fixtures (tests/onnx/models)
    /usr/bin/python3 tests/onnx/make_torchvision.py --big     # 224x224 networks into build/realnet
    /usr/bin/python3 tests/onnx/make_torchvision.py --rgb224  # the same at full width on RGB images

--small  tv_mbv2: torchvision MobileNetV2(width_mult=0.25, 3 inverted-residual stages: 16/24/32
         channels, the identity-shortcut blocks features.3, .5, .6) and tv_res: a torchvision
         ResNet layout (7x7/2 stem, 3x3/2 max pool, torchvision BasicBlock, 1x1 conv+BN downsample,
         widths 8/16/24/32, blocks 2/1/1/1), both at 1x28x28 so the CLI (which reads Fashion-MNIST
         today) can quantize, evaluate and export them. Each with 4 reference images (.input.txt)
         and PyTorch's logits (.logits.txt), one float per line.
--big    resnet18 and mobilenet_v2 (torchvision, num_classes=10) at 3x224x224 (`<name>_224.onnx`,
         import / info / float logits / latency), the same networks with a 1-channel stem
         (`<name>_g224.onnx`) for the steps that need data, and a Fashion-MNIST subset upsampled
         to 224x224 as IDX files (build/realnet/fmnist224: 1024 train, 500 test images) that the
         engine's existing reader loads (`--data build/realnet/fmnist224`). Inputs and logits as
         .npy and .txt.
--rgb224 full width (issue 20 item 4): a 3-channel image-folder data set and the 3x224x224 networks
         whose BN statistics come from it. Needs build/realdata/png (tests/data/realdata.py render:
         Fashion-MNIST as 32x32 RGB PNGs). Writes build/realnet/rgb224/train (the first 1024
         training PNGs, copied) and build/realnet/rgb224/val (the first 500 test images re-encoded
         as JPEG, quality 90, so both decoders run), build/realnet/rgb224.yaml (resize 256, crop
         224: torchvision's evaluation transform) and `<name>_rgb224.onnx` (random weights, seed 0;
         BN statistics from 4 batches of 16 training images prepared as the YAML says, with
         torch's bilinear interpolate standing in for the engine's resize).
"""
import argparse
import gzip
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models.resnet import BasicBlock, conv1x1

FMNIST = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530   # the engine's Fashion-MNIST default preprocessing


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    nd = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * nd).reshape(dims)


def write_idx(path, arr):
    """gzip IDX (ubyte): 0x0803 for (n, h, w) images, 0x0801 for (n) labels."""
    hdr = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    with gzip.open(path, "wb", compresslevel=6) as f:
        f.write(hdr + np.ascontiguousarray(arr, np.uint8).tobytes())


def fmnist_images(split, n, size):
    """First n images of a split, (n, 1, size, size) uint8 (bilinear upsampling) and labels."""
    pre = "t10k" if split == "test" else "train"
    x = torch.from_numpy(read_idx(f"{FMNIST}/{pre}-images-idx3-ubyte.gz")[:n].astype(np.float32))
    y = read_idx(f"{FMNIST}/{pre}-labels-idx1-ubyte.gz")[:n]
    x = x[:, None]
    if size != x.shape[-1]:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8), y


def normalise(u8):
    return (u8.float() / 255.0 - MEAN) / STD


class TvResNet(nn.Module):
    """torchvision.models.ResNet's forward with narrow widths (torchvision fixes 64..512)."""

    def __init__(self, widths=(8, 16, 24, 32), blocks=(2, 1, 1, 1), in_ch=1, num_classes=10):
        super().__init__()
        self.inplanes = widths[0]
        self.conv1 = nn.Conv2d(in_ch, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(widths[0], blocks[0], 1)
        self.layer2 = self._make_layer(widths[1], blocks[1], 2)
        self.layer3 = self._make_layer(widths[2], blocks[2], 2)
        self.layer4 = self._make_layer(widths[3], blocks[3], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[3], num_classes)

    def _make_layer(self, planes, n, stride):
        down = None
        if stride != 1 or self.inplanes != planes:
            down = nn.Sequential(conv1x1(self.inplanes, planes, stride), nn.BatchNorm2d(planes))
        layers = [BasicBlock(self.inplanes, planes, stride, down)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes) for _ in range(n - 1)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def small_mbv2():
    setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2]]   # t, c, n, s
    m = torchvision.models.mobilenet_v2(num_classes=10, width_mult=0.25,
                                        inverted_residual_setting=setting)
    stem = m.features[0][0]
    m.features[0][0] = nn.Conv2d(1, stem.out_channels, 3, 2, 1, bias=False)
    return m


def gray_stem(m, name):
    """Replace the first conv by the same conv on 1 input channel (Fashion-MNIST is grey)."""
    if name == "resnet18":
        m.conv1 = nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    else:
        c = m.features[0][0]
        m.features[0][0] = nn.Conv2d(1, c.out_channels, 3, 2, 1, bias=False)
    return m


def set_bn_stats(model, batches):
    """BN running statistics = cumulative average over `batches` (train-mode forwards)."""
    for mod in model.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.reset_running_stats()
            mod.momentum = None
    model.train()
    with torch.no_grad():
        for x in batches:
            model(x)
    model.eval()


def write_floats(path, t):
    with open(path, "w") as f:
        for v in t.reshape(-1).tolist():
            f.write(f"{v:.9g}\n")


def export(model, x, path):
    torch.onnx.export(model, x[:1], path, opset_version=13, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                      do_constant_folding=True)


def save_ref(model, x, base, npy):
    with torch.no_grad():
        y = model(x)
    write_floats(base + ".input.txt", x)
    write_floats(base + ".logits.txt", y)
    if npy:
        np.save(base + ".input.npy", x.numpy())
        np.save(base + ".logits.npy", y.numpy())


def make_small(out):
    xs, _ = fmnist_images("train", 256, 28)
    batches = [normalise(xs[i:i + 64]) for i in range(0, 256, 64)]
    ref = normalise(fmnist_images("test", 4, 28)[0])
    for name, model in (("tv_mbv2", small_mbv2()), ("tv_res", TvResNet())):
        set_bn_stats(model, batches)
        path = os.path.join(out, name + ".onnx")
        export(model, ref, path)
        save_ref(model, ref, os.path.join(out, name), npy=False)
        print(name, os.path.getsize(path), "bytes")


def make_big(out):
    data = os.path.join(out, "fmnist224")
    os.makedirs(data, exist_ok=True)
    for split, n, pre in (("train", 1024, "train"), ("test", 500, "t10k")):
        x, y = fmnist_images(split, n, 224)
        write_idx(os.path.join(data, f"{pre}-images-idx3-ubyte.gz"), x[:, 0].numpy())
        write_idx(os.path.join(data, f"{pre}-labels-idx1-ubyte.gz"), y)
    grey, _ = fmnist_images("train", 64, 224)
    grey_batches = [normalise(grey[i:i + 16]) for i in range(0, 64, 16)]
    grey_ref = normalise(fmnist_images("test", 2, 224)[0])
    g = torch.Generator().manual_seed(7)
    rgb_batches = [torch.randn(16, 3, 224, 224, generator=g) for _ in range(4)]
    rgb_ref = torch.randn(2, 3, 224, 224, generator=g)
    for name in ("resnet18", "mobilenet_v2"):
        for tag, batches, ref in (("224", rgb_batches, rgb_ref), ("g224", grey_batches, grey_ref)):
            torch.manual_seed(0)
            model = getattr(torchvision.models, name)(num_classes=10)
            if tag == "g224":
                model = gray_stem(model, name)
            set_bn_stats(model, batches)
            base = os.path.join(out, f"{name}_{tag}")
            export(model, ref, base + ".onnx")
            save_ref(model, ref, base, npy=True)
            print(base + ".onnx", os.path.getsize(base + ".onnx"), "bytes")


RGB_MEAN, RGB_STD = [0.1482, 0.1476, 0.1476], [0.2367, 0.2356, 0.2356]  # realdata.py's YAML


def first_files(root, per_class_total):
    """[(class, file)] of the first per_class_total images in the engine's order (sorted class
    folders, sorted names), round-robin over classes so every class is present."""
    classes = sorted(os.listdir(root))
    files = {c: sorted(os.listdir(os.path.join(root, c))) for c in classes}
    out, i = [], 0
    while len(out) < per_class_total:
        for c in classes:
            if i < len(files[c]) and len(out) < per_class_total:
                out.append((c, files[c][i]))
        i += 1
    return out


def make_rgb224(out, png_root):
    from PIL import Image
    data = os.path.join(out, "rgb224")
    for split, src, n, jpeg in (("train", "train", 1024, False), ("val", "test", 500, True)):
        for c, f in first_files(os.path.join(png_root, src), n):
            os.makedirs(os.path.join(data, split, c), exist_ok=True)
            with Image.open(os.path.join(png_root, src, c, f)) as im:
                if jpeg:
                    im.convert("RGB").save(os.path.join(data, split, c, f[:-4] + ".jpg"), quality=90)
                else:
                    im.save(os.path.join(data, split, c, f))
    with open(os.path.join(out, "rgb224.yaml"), "w") as f:
        f.write("# written by tests/onnx/make_torchvision.py --rgb224 (docs/onnx.md Real-size networks)\n"
                "kind: images\ncalib: rgb224/train\neval: rgb224/val\nresize: 256\ncrop: 224\n"
                f"color: rgb\nmean: {RGB_MEAN}\nstd: {RGB_STD}\n")
    files = first_files(os.path.join(data, "train"), 64)
    x = torch.stack([torch.from_numpy(np.asarray(Image.open(os.path.join(data, "train", c, f))
                                                 .convert("RGB")).copy()).permute(2, 0, 1)
                     for c, f in files]).float()
    x = F.interpolate(x, size=(256, 256), mode="bilinear", align_corners=False)[:, :, 16:240, 16:240]
    x = (x.round().clamp(0, 255) / 255.0 - torch.tensor(RGB_MEAN).view(1, 3, 1, 1)) \
        / torch.tensor(RGB_STD).view(1, 3, 1, 1)
    batches = [x[i:i + 16] for i in range(0, 64, 16)]
    for name in ("resnet18", "mobilenet_v2"):
        torch.manual_seed(0)
        model = getattr(torchvision.models, name)(num_classes=10)
        set_bn_stats(model, batches)
        base = os.path.join(out, f"{name}_rgb224")
        export(model, x[:2], base + ".onnx")
        save_ref(model, x[:2], base, npy=False)
        print(base + ".onnx", os.path.getsize(base + ".onnx"), "bytes")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--big", action="store_true")
    ap.add_argument("--rgb224", action="store_true")
    ap.add_argument("--png", default="build/realdata/png", help="realdata.py's PNG tree (--rgb224)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.manual_seed(0)
    here = os.path.dirname(os.path.abspath(__file__))
    if args.small:
        out = args.out or os.path.join(here, "models")
        os.makedirs(out, exist_ok=True)
        make_small(out)
    if args.big:
        out = args.out or os.path.join(here, "..", "..", "build", "realnet")
        os.makedirs(out, exist_ok=True)
        make_big(out)
    if args.rgb224:
        out = args.out or os.path.join(here, "..", "..", "build", "realnet")
        os.makedirs(out, exist_ok=True)
        make_rgb224(out, args.png)
    if not (args.small or args.big or args.rgb224):
        ap.error("give --small, --big and/or --rgb224")


if __name__ == "__main__":
    main()
