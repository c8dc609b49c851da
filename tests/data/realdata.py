#!/usr/bin/python3
"""realdata.py — development script (NOT run by `make test`; `make realdata` runs it): issue 20's
honest real-data check, the PyTorch half. Debian's python3-torch only; nothing downloaded.

    /usr/bin/python3 tests/data/realdata.py [--work build/realdata] [--keep tests/data/realdata]
                                           [--epochs 2] [--seed 0] [STAGE...]

Stages (default all, in this order; each skips itself when its outputs exist, so a killed run
resumes where it stopped):
  render  Fashion-MNIST (Debian dataset-fashion-mnist, IDX) -> WORK/png/{train,test}/<k_name>/*.png:
          32x32 RGB. Each 28x28 grey image is padded by 2 zero pixels on every side (no resampling,
          so nothing depends on a resize filter) and tinted by a per-image colour (R, G, B factors
          uniform in [0.35, 1], seeded): 3 channels that differ, a data set that exists only as images.
          Also writes WORK/fmnist_rgb.yaml (the engine's dataset YAML) with the per-channel mean/std
          of the training PNGs (rounded to 4 decimals; PyTorch uses the same rounded values).
  train   a small CNN (below) trained on the training PNGs (decoded with PIL): Adam, one-cycle LR,
          EPOCHS epochs, batch 128, seeded, 1 thread (on a shared 2-core machine a second OpenMP
          thread mostly spins) -> WORK/cnn.pt; ONNX export -> KEEP/cnn.onnx. Skipped when
          KEEP/cnn.onnx exists (it is committed): delete it to retrain.
  eval    PyTorch top-1 on the 10,000 test PNGs with exactly the YAML's preprocessing
          (PIL RGB decode, x = (pixel/255 - mean)/std per channel, float32, no resize/crop)
          -> KEEP/torch_eval.json (top-1, per-image predictions in the folder order the engine uses).
  fixture 20 test PNGs (the first two of every class) -> KEEP/png20/<k_name>/, KEEP/png20.yaml and
          PyTorch's logits for them -> KEEP/png20_logits.txt (20 lines of 10), for `make test-data`.
  jpg20   the same 20 images as JPEG (PIL, quality 90) -> KEEP/jpg20/<k_name>/*.jpg: the folder of
          JPEGs of docs/data.md's worked example (tests/data/worked_example.sh runs it).

The CNN (3x32x32 -> 10; ~9.9 M MACs, ~107 k parameters):
  conv3x3 3->16 BN ReLU (32x32); conv3x3 s2 16->32 BN ReLU (16x16); conv3x3 32->32 BN ReLU;
  conv3x3 s2 32->64 BN ReLU (8x8); basic block 64 (conv-BN-ReLU-conv-BN + identity, ReLU);
  global average pool; linear 64->10.
"""
import argparse
import gzip
import json
import os
import sys

import numpy as np

CLASSES = ["0_tshirt_top", "1_trouser", "2_pullover", "3_dress", "4_coat", "5_sandal", "6_shirt",
           "7_sneaker", "8_bag", "9_ankle_boot"]
IDX_DIR = os.environ.get("BQ_DATA_DIR", "/usr/share/datasets/fashion-mnist")


def read_idx(split):
    """(images (n, 28, 28) uint8, labels (n,) uint8) of the IDX split 'train' or 't10k'."""
    with gzip.open(os.path.join(IDX_DIR, f"{split}-images-idx3-ubyte.gz")) as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(os.path.join(IDX_DIR, f"{split}-labels-idx1-ubyte.gz")) as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8)
    return x, y


def png_paths(root):
    """[(path, label)] in the engine's order: sorted class folders, sorted file names (byte order)."""
    out = []
    for k, name in enumerate(sorted(os.listdir(root))):
        for f in sorted(os.listdir(os.path.join(root, name))):
            if not f.startswith("."):
                out.append((os.path.join(root, name, f), k))
    return out


def render(work, seed):
    from PIL import Image
    yaml_path = os.path.join(work, "fmnist_rgb.yaml")
    if os.path.exists(yaml_path):
        print("render: done already (" + yaml_path + ")")
        return
    rng = np.random.default_rng(seed)
    total = np.zeros(3)
    total_sq = np.zeros(3)
    count = 0
    for split, name in (("train", "train"), ("t10k", "test")):
        x, y = read_idx(split)
        tint = rng.uniform(0.35, 1.0, size=(len(x), 3))
        for k in CLASSES:
            os.makedirs(os.path.join(work, "png", name, k), exist_ok=True)
        for i in range(len(x)):
            g = np.pad(x[i], 2).astype(np.float64)                      # 32x32, zero border
            rgb = np.rint(g[:, :, None] * tint[i][None, None, :]).astype(np.uint8)
            Image.fromarray(rgb, "RGB").save(os.path.join(work, "png", name, CLASSES[y[i]],
                                                          f"{i:05d}.png"))
            if name == "train":
                v = rgb.reshape(-1, 3) / 255.0
                total += v.sum(0)
                total_sq += (v * v).sum(0)
                count += v.shape[0]
        print(f"render: {len(x)} {name} PNGs")
    mean = total / count
    std = np.sqrt(total_sq / count - mean * mean)
    mean = [round(float(v), 4) for v in mean]
    std = [round(float(v), 4) for v in std]
    with open(yaml_path + ".tmp", "w") as f:
        f.write("# written by tests/data/realdata.py: Fashion-MNIST as 32x32 RGB PNG class folders\n"
                "kind: images\ncalib: png/train\neval: png/test\ncolor: rgb\n"
                f"mean: {mean}\nstd: {std}\n")
    os.replace(yaml_path + ".tmp", yaml_path)


def read_yaml_stats(work):
    """mean, std lists from WORK/fmnist_rgb.yaml (the one place they are written)."""
    stats = {}
    with open(os.path.join(work, "fmnist_rgb.yaml")) as f:
        for line in f:
            if line.startswith(("mean:", "std:")):
                key, val = line.split(":", 1)
                stats[key] = json.loads(val)
    return stats["mean"], stats["std"]


def load_pngs(root):
    """(x (n, 3, 32, 32) uint8, y (n,) int64) decoded by PIL, in png_paths order."""
    from PIL import Image
    items = png_paths(root)
    x = np.empty((len(items), 3, 32, 32), np.uint8)
    for i, (p, _) in enumerate(items):
        with Image.open(p) as im:
            x[i] = np.asarray(im.convert("RGB")).transpose(2, 0, 1)
    return x, np.array([k for _, k in items], np.int64)


def normalise(x_u8, mean, std):
    """The engine's preprocessing: (pixel/255 - mean)/std per channel, float32 (docs/data.md)."""
    import torch
    m = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return (torch.from_numpy(x_u8).float() / 255.0 - m) / s


def make_cnn():
    import torch.nn as nn

    def cbr(cin, cout, stride):
        return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    class Block(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.c1, self.b1 = nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c)
            self.c2, self.b2 = nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c)
            self.relu = nn.ReLU()

        def forward(self, x):
            y = self.relu(self.b1(self.c1(x)))
            return self.relu(self.b2(self.c2(y)) + x)

    class Cnn(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(*cbr(3, 16, 1), *cbr(16, 32, 2), *cbr(32, 32, 1),
                                          *cbr(32, 64, 2), Block(64))
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            return self.fc(self.pool(self.features(x)).flatten(1))

    return Cnn()


def train(work, keep, epochs, seed):
    import torch
    onnx_path = os.path.join(keep, "cnn.onnx")
    pt_path = os.path.join(work, "cnn.pt")
    # The committed ONNX file is the model every number of docs/data.md belongs to: keep it (and
    # skip 12 min of training) when it exists; delete it to retrain (cnn.pt is rewritten then).
    if os.path.exists(onnx_path):
        print("train: done already (" + onnx_path + "; delete it to retrain)")
        return
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    mean, std = read_yaml_stats(work)
    x, y = load_pngs(os.path.join(work, "png", "train"))
    print(f"train: {len(x)} training PNGs decoded", flush=True)
    x = normalise(x, mean, std)
    y = torch.from_numpy(y)
    model = make_cnn()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    batch = 128
    steps = epochs * ((len(x) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(x), generator=gen)
        loss_sum, correct = 0.0, 0
        for s in range(0, len(x), batch):
            idx = perm[s:s + batch]
            out = model(x[idx])
            loss = torch.nn.functional.cross_entropy(out, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss) * len(idx)
            correct += int((out.argmax(1) == y[idx]).sum())
            if (s // batch) % 100 == 99:
                print(f"train: epoch {ep + 1} batch {s // batch + 1}", flush=True)
        print(f"train: epoch {ep + 1}/{epochs} loss {loss_sum / len(x):.4f} "
              f"train top-1 {100.0 * correct / len(x):.2f} %", flush=True)
    model.eval()
    torch.save(model.state_dict(), pt_path + ".tmp")
    os.replace(pt_path + ".tmp", pt_path)
    os.makedirs(keep, exist_ok=True)
    torch.onnx.export(model, torch.zeros(1, 3, 32, 32), onnx_path + ".tmp", opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "n"}, "logits": {0: "n"}})
    os.replace(onnx_path + ".tmp", onnx_path)


def load_model(work):
    import torch
    pt_path = os.path.join(work, "cnn.pt")
    if not os.path.exists(pt_path):
        sys.exit(f"realdata.py: {pt_path} is missing (training was skipped because the committed "
                 "cnn.onnx exists): delete tests/data/realdata/cnn.onnx to retrain")
    model = make_cnn()
    model.load_state_dict(torch.load(pt_path))
    model.eval()
    return model


def evaluate(work, keep, epochs, seed):
    import torch
    out_path = os.path.join(keep, "torch_eval.json")
    if os.path.exists(out_path):
        print("eval: done already (" + out_path + ")")
        return
    torch.set_num_threads(1)
    mean, std = read_yaml_stats(work)
    x, y = load_pngs(os.path.join(work, "png", "test"))
    model = load_model(work)
    preds = []
    with torch.no_grad():
        for s in range(0, len(x), 500):
            preds += model(normalise(x[s:s + 500], mean, std)).argmax(1).tolist()
    correct = int((torch.tensor(preds) == torch.from_numpy(y)).sum())
    res = {"what": "PyTorch float top-1 of tests/data/realdata/cnn.onnx on the 10,000 Fashion-MNIST "
                   "test images rendered as 32x32 RGB PNGs (tests/data/realdata.py)",
           "torch": torch.__version__, "seed": seed, "epochs": epochs, "mean": mean, "std": std,
           "n": len(preds), "correct": correct, "top1": 100.0 * correct / len(preds),
           "preds": preds}
    with open(out_path + ".tmp", "w") as f:
        json.dump(res, f)
        f.write("\n")
    os.replace(out_path + ".tmp", out_path)
    print(f"eval: PyTorch top-1 {res['top1']:.2f} % ({correct}/{len(preds)})")


def fixture(work, keep, epochs, seed):
    import shutil
    import torch
    logits_path = os.path.join(keep, "png20_logits.txt")
    if os.path.exists(logits_path):
        print("fixture: done already (" + logits_path + ")")
        return
    mean, std = read_yaml_stats(work)
    src = os.path.join(work, "png", "test")
    for k in CLASSES:
        os.makedirs(os.path.join(keep, "png20", k), exist_ok=True)
        for f in sorted(os.listdir(os.path.join(src, k)))[:2]:
            shutil.copyfile(os.path.join(src, k, f), os.path.join(keep, "png20", k, f))
    with open(os.path.join(keep, "png20.yaml"), "w") as f:
        f.write("# written by tests/data/realdata.py: 20 of the realdata test PNGs (2 per class)\n"
                f"kind: images\neval: png20\ncolor: rgb\ncache: false\nmean: {mean}\nstd: {std}\n")
    x, _ = load_pngs(os.path.join(keep, "png20"))
    with torch.no_grad():
        logits = load_model(work)(normalise(x, mean, std))
    with open(logits_path + ".tmp", "w") as f:
        for row in logits.tolist():
            f.write(" ".join(f"{v:.7g}" for v in row) + "\n")
    os.replace(logits_path + ".tmp", logits_path)
    print("fixture: 20 PNGs and their logits in " + keep)


def jpg20(work, keep, epochs, seed):
    from PIL import Image
    src = os.path.join(keep, "png20")
    for p, k in png_paths(src):
        d = os.path.join(keep, "jpg20", CLASSES[k])
        os.makedirs(d, exist_ok=True)
        with Image.open(p) as im:
            im.convert("RGB").save(os.path.join(d, os.path.basename(p)[:-4] + ".jpg"), quality=90)
    print("jpg20: 20 JPEGs in " + os.path.join(keep, "jpg20"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default="build/realdata")
    ap.add_argument("--keep", default="tests/data/realdata")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("stages", nargs="*", default=["render", "train", "eval", "fixture", "jpg20"])
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    os.makedirs(a.keep, exist_ok=True)
    for s in a.stages:
        if s == "render":
            render(a.work, a.seed)
        elif s in ("train", "eval", "fixture", "jpg20"):
            {"train": train, "eval": evaluate, "fixture": fixture, "jpg20": jpg20}[s](
                a.work, a.keep, a.epochs, a.seed)
        else:
            sys.exit(f"realdata.py: unknown stage '{s}' (render, train, eval, fixture, jpg20)")


if __name__ == "__main__":
    main()
