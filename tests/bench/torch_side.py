#!/usr/bin/env python3
"""torch_side.py -- the PyTorch half of `make bench-torch` (issue 19 item 5). A development
script: nothing of the build, the CLI or `make test` needs it or PyTorch.

    torch_side.py ENGINE.json --out build/bench/torch_side.json --md build/bench/torch_side.md

ENGINE.json is what build/bench_torch_side wrote in the same run: the thread count, the engine's
timings, and every reconstruction unit of fres20 and mbv2t (W4A4, BN folded) node by node, plus
each float model's graph. This script rebuilds each unit in PyTorch with random weights of the
same shapes and times one reconstruction iteration in the style of the reference implementation
(our own re-implementation on the same shapes, not the reference repository):

  stage A  batch of 32 gathered from a cache of 8 x 32 unit inputs / FP targets / Fisher weights;
           AdaRound soft weights h(V) = clamp(sigmoid(V) * 1.2 - 0.1, 0, 1) on floor(w / s_w)
           with per-output-channel s_w, z_w, recomputed every iteration; activation quantization
           off; loss = Fisher-weighted MSE on the unit output, sum over channels, mean over the
           rest, + 0.01 * sum(1 - |2h - 1|^beta); backward; Adam (lr 1e-3) on V.
  stage B  FP unit input through the unit's (fixed) input quantizer; hard weights; the BN-folded
           biases re-quantized with the live input step (no gradient); every quantizer inside the
           unit a fake-quant with a learned step (round with straight-through gradient, clamp,
           LSQ-style step gradient by autograd); loss = mean_{n,h,w} sum_c |y_hat - y|^2.4;
           backward; Adam (lr 4e-4) with cosine annealing on the steps.

Both sides time R repeats of K iterations after 3 warm-up iterations and report the median over
the repeats of the mean per iteration. Also: FP training img/s of fres20 (batch 128, SGD
momentum 0.9 nesterov, weight decay 5e-4, one synthetic batch reused: no augmentation on either
side) and float eval img/s (batch 100, BN in eval mode) of both models, from the same graphs.
Without PyTorch the table is written with the engine columns only (one-line note).
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

ZETA, GAMMA = 1.1, -0.1
WARMUP = 3


def load_torch():
    try:
        import torch  # noqa: F401
        return torch
    except ImportError:
        return None


# ----------------------------------------------------------------------------- one unit, stage A/B

def weight_grid(torch, w, bits):
    """Per-output-channel asymmetric min/max grid of w (cout, ...): s (cout,1..), z, qmax."""
    qmax = 2 ** bits - 1
    flat = w.reshape(w.shape[0], -1)
    lo = torch.clamp(flat.min(1).values, max=0.0)
    hi = torch.clamp(flat.max(1).values, min=0.0)
    s = torch.clamp((hi - lo) / qmax, min=1e-8)
    z = torch.round(-lo / s)
    view = (-1,) + (1,) * (w.dim() - 1)
    return s.view(view), z.view(view), qmax


def fake_quant(torch, x, s, z, qmax):
    """The reference's UniformAffineQuantizer: round with a straight-through gradient, clamp."""
    xs = x / s
    x_int = (torch.round(xs) - xs).detach() + xs + z
    return (torch.clamp(x_int, 0, qmax) - z) * s


class Unit:
    """One reconstruction unit rebuilt from its node list, for stage 'A' or 'B'."""

    def __init__(self, torch, desc, stage, gen):
        self.t, self.desc, self.stage = torch, desc, stage
        self.nodes = desc["nodes"]
        self.layers = {}      # name -> dict(w or w_floor/alpha, s, z, qmax, b)
        self.steps = {}       # node name -> learned step (stage B)
        self.params = []
        for nd in self.nodes:
            if nd["op"] in ("conv", "linear"):
                self._add_layer(nd, gen)
            if stage == "B" and nd.get("aq"):
                s = torch.tensor(float(nd["aq"]["scale"]), requires_grad=True)
                self.steps[nd["name"]] = (s, float(nd["aq"]["zero"]), 2 ** nd["aq"]["bits"] - 1)
                self.params.append(s)
        self.in_aq = desc["input"]["aq"]

    def _add_layer(self, nd, gen):
        t = self.t
        cout = nd["shape"][0]
        if nd["op"] == "conv":
            kh, kw = nd["kernel"]
            shape = (cout, nd["cin"] // nd["groups"], kh, kw)
        else:
            shape = (cout, nd["cin"])
        fan_in = math.prod(shape[1:])
        w = t.randn(shape, generator=gen) * math.sqrt(2.0 / fan_in)
        s, z, qmax = weight_grid(t, w, nd["wbits"])
        L = {"s": s, "z": z, "qmax": qmax,
             "b": t.randn(cout, generator=gen) * 0.1 if nd["bias"] else None}
        if self.stage == "A" and nd["trained"]:
            L["w_floor"] = t.floor(w / s)
            rest = (w / s - L["w_floor"]).clamp(1e-4, 1 - 1e-4)   # AdaRound init: h(V) = rest
            L["alpha"] = (-t.log((ZETA - GAMMA) / (rest - GAMMA) - 1)).requires_grad_(True)
            self.params.append(L["alpha"])
        else:   # stage B: weights frozen at their hard codes
            L["w"] = (t.clamp(t.round(w / s) + z, 0, qmax) - z) * s
        self.layers[nd["name"]] = L

    def soft_h(self, L):
        return self.t.clamp(self.t.sigmoid(L["alpha"]) * (ZETA - GAMMA) + GAMMA, 0, 1)

    def weight(self, L):
        if "alpha" not in L:
            return L["w"]
        q = self.t.clamp(L["w_floor"] + self.soft_h(L) + L["z"], 0, L["qmax"])
        return (q - L["z"]) * L["s"]

    def bias(self, nd, L, env_steps):
        """Stage B: round(b / (s_w s_a)) * s_w s_a with the live input step (no gradient)."""
        b = L["b"]
        if b is None or self.stage == "A" or not nd.get("aq_in"):
            return b
        sa = env_steps.get(nd["in"][0], float(nd["aq_in"]["scale"]))
        with self.t.no_grad():
            sws = L["s"].view(-1) * float(sa)
            return self.t.round(b / sws) * sws

    def forward(self, x):
        F = self.t.nn.functional
        env = {self.desc["input"]["name"]: x}
        live = {k: v[0].detach() for k, v in self.steps.items()}
        for nd in self.nodes:
            a = [env[n] for n in nd["in"]]
            op = nd["op"]
            if op == "conv":
                L = self.layers[nd["name"]]
                pt, pl, pb, pr = nd["pad"]
                inp = a[0] if (pt, pl) == (pb, pr) else F.pad(a[0], (pl, pr, pt, pb))
                pad = (pt, pl) if (pt, pl) == (pb, pr) else 0
                y = F.conv2d(inp, self.weight(L), self.bias(nd, L, live), tuple(nd["stride"]), pad,
                             1, nd["groups"])
            elif op == "linear":
                L = self.layers[nd["name"]]
                y = F.linear(a[0].flatten(1), self.weight(L), self.bias(nd, L, live))
            elif op == "relu":
                y = F.relu(a[0])
            elif op in ("relu6", "clamp"):
                y = F.hardtanh(a[0], nd["lo"], nd["hi"])
            elif op == "add":
                y = a[0] + a[1]
            elif op == "flatten":
                y = a[0].flatten(1)
            else:
                raise SystemExit(f"torch_side.py: unit {self.desc['name']}: op '{op}' not handled")
            if nd["name"] in self.steps:
                s, z, qmax = self.steps[nd["name"]]
                y = fake_quant(self.t, y, s, z, qmax)
            env[nd["name"]] = y
        return env[self.desc["output"]]

    def regulariser(self, beta):
        reg = 0.0
        for L in self.layers.values():
            if "alpha" in L:
                reg = reg + (1 - (2 * self.soft_h(L) - 1).abs().pow(beta)).sum()
        return 0.01 * reg


def relu_like(torch, shape, gen):
    """Cache rows like the engine's bench caches: uniform [0, 1) with ~40 % zeros."""
    return torch.clamp((torch.rand(shape, generator=gen) - 0.4) / 0.6, min=0.0)


def time_unit(torch, desc, stage, batch, reps, iters):
    """Median over reps of the mean ms of `iters` iterations (after WARMUP); 0 if nothing learns."""
    gen = torch.Generator().manual_seed(1)
    unit = Unit(torch, desc, stage, gen)
    if not unit.params:
        return 0.0
    n_cache = 8 * batch
    cin = relu_like(torch, [n_cache] + desc["input"]["shape"], gen)
    out_shape = next(nd["shape"] for nd in desc["nodes"] if nd["name"] == desc["output"])
    ycache = relu_like(torch, [n_cache] + out_shape, gen)
    if out_shape[1:] == [1, 1] and desc["nodes"][-1]["op"] == "linear":
        ycache = ycache.flatten(1)
    fcache = 0.5 + torch.rand(ycache.shape, generator=gen)     # Fisher weights (stage A)
    total = WARMUP + reps * iters
    if stage == "A":
        opt = torch.optim.Adam(unit.params, lr=1e-3)
        sched = None
    else:
        opt = torch.optim.Adam(unit.params, lr=4e-4)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total, eta_min=0.0)
    in_aq = unit.in_aq

    def step(t):
        idx = torch.randint(n_cache, (batch,), generator=gen)
        x, y = cin[idx], ycache[idx]
        opt.zero_grad()
        if stage == "A":
            out = unit.forward(x)
            rec = ((out - y).pow(2) * fcache[idx]).sum(1).mean()
            beta = 20 + (2 - 20) * t / total                     # annealed 20 -> 2
            loss = rec + unit.regulariser(beta)
        else:
            if in_aq:
                with torch.no_grad():
                    x = fake_quant(torch, x, float(in_aq["scale"]), float(in_aq["zero"]),
                                   2 ** in_aq["bits"] - 1)
            out = unit.forward(x)
            loss = (out - y).abs().pow(2.4).sum(1).mean()
        loss.backward()
        opt.step()
        if sched:
            sched.step()
            with torch.no_grad():
                for s in unit.params:
                    s.clamp_(min=1e-8)

    for t in range(WARMUP):
        step(t)
    per = []
    for r in range(reps):
        t0 = time.perf_counter()
        for k in range(iters):
            step(WARMUP + r * iters + k)
        per.append((time.perf_counter() - t0) / iters * 1e3)
    return statistics.median(per)


# ----------------------------------------------------------------------------- whole models

def build_net(torch, graph):
    """A torch.nn.Module running the float graph (BN not folded) node by node."""
    nn = torch.nn
    F = nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.graph = graph
            self.mods = nn.ModuleDict()
            for i, nd in enumerate(graph):
                if nd["op"] == "conv":
                    (pt, pl, pb, pr), (kh, kw) = nd["pad"], nd["kernel"]
                    assert (pt, pl) == (pb, pr), "asymmetric padding"
                    self.mods[str(i)] = nn.Conv2d(nd["cin"], nd["shape"][0], (kh, kw),
                                                  tuple(nd["stride"]), (pt, pl),
                                                  groups=nd["groups"], bias=nd["bias"])
                elif nd["op"] == "bn":
                    self.mods[str(i)] = nn.BatchNorm2d(nd["shape"][0])
                elif nd["op"] == "linear":
                    self.mods[str(i)] = nn.Linear(nd["cin"], nd["shape"][0], bias=nd["bias"])

        def forward(self, x):
            env = {}
            for i, nd in enumerate(self.graph):
                op, a = nd["op"], [env[n] for n in nd["in"]]
                if op == "input":
                    y = x
                elif op in ("conv", "bn"):
                    y = self.mods[str(i)](a[0])
                elif op == "linear":
                    y = self.mods[str(i)](a[0].flatten(1))
                elif op == "relu":
                    y = F.relu(a[0])
                elif op in ("relu6", "clamp"):
                    y = F.hardtanh(a[0], nd["lo"], nd["hi"])
                elif op == "add":
                    y = a[0] + a[1]
                elif op == "gap":
                    y = F.adaptive_avg_pool2d(a[0], 1)
                elif op == "flatten":
                    y = a[0].flatten(1)
                else:
                    raise SystemExit(f"torch_side.py: op '{op}' not handled in the model graph")
                env[nd["name"]] = y
            return env[self.graph[-1]["name"]]

    return Net()


def images(torch, n, shape):
    """The engine's synthetic images: ((i * 37) % 255 / 255 - 0.286) / 0.353."""
    i = torch.arange(n * math.prod(shape), dtype=torch.int64)
    return (((i * 37) % 255).float() / 255.0 - 0.286).div(0.353).view([n] + list(shape))


def train_img_s(torch, m, batch, reps):
    net = build_net(torch, m["graph"]).train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    x = images(torch, batch, m["input"])
    y = torch.arange(batch) * 7 % m["classes"]
    per = []
    for r in range(-1, reps):            # r = -1: two warm-up steps
        t0 = time.perf_counter()
        for _ in range(2 if r < 0 else 3):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()
        if r >= 0:
            per.append((time.perf_counter() - t0) / 3)
    return batch / statistics.median(per)


def eval_img_s(torch, net, shape, batch, batches, reps):
    x = images(torch, batch, shape)
    per = []
    with torch.no_grad():
        for r in range(-1, reps):
            t0 = time.perf_counter()
            for _ in range(batches):
                net(x)
            if r >= 0:
                per.append(time.perf_counter() - t0)
    return batch * batches / statistics.median(per)


def int8_img_s(torch, m, batch, batches, reps):
    """PyTorch's integer eval: the float graph through FX post-training static quantization
    (int8 weights per channel, uint8 activations; PyTorch has no 4-bit CPU kernels), on the
    first quantized engine of onednn / fbgemm / qnnpack this build has. (img/s, engine name)."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
    engines = torch.backends.quantized.supported_engines
    eng = next((e for e in ("onednn", "x86", "fbgemm", "qnnpack") if e in engines), None)
    if eng is None:
        return None, None
    torch.backends.quantized.engine = eng
    net = build_net(torch, m["graph"]).eval()
    x = images(torch, batch, m["input"])
    prepared = prepare_fx(net, get_default_qconfig_mapping(eng), example_inputs=(x,))
    with torch.no_grad():
        prepared(x)                       # calibration: the observers see one batch
    qnet = convert_fx(prepared)
    return eval_img_s(torch, qnet, m["input"], batch, batches, reps), eng


# ----------------------------------------------------------------------------- the joint table

def load1():
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except OSError:
        return -1.0


def unit_shapes(u):
    """'16x28x28 -> 16x28x28: 3x3, 3x3' (dw = depthwise, /2 = stride 2)."""
    convs = []
    for nd in u["nodes"]:
        if nd["op"] == "conv":
            k = "%dx%d" % tuple(nd["kernel"])
            if nd["groups"] > 1 and nd["groups"] == nd["cin"]:
                k = "dw" + k
            if nd["stride"][0] > 1:
                k += "/2"
            convs.append(k)
        elif nd["op"] == "linear":
            convs.append("fc")
    out = next(nd["shape"] for nd in u["nodes"] if nd["name"] == u["output"])
    fmt = lambda s: "x".join(str(v) for v in s)   # noqa: E731
    return "%s -> %s: %s" % (fmt(u["input"]["shape"]), fmt(out), ", ".join(convs))


def cell(v, fmt="%.2f"):
    return "-" if v is None or v == 0 else fmt % v


def ratio(num, den):
    return num / den if num and den else None


def markdown(d, note):
    eng_load = (d["load_before"], d["load_after"])
    lines = ["# Engine vs PyTorch, same shapes and threads (`make bench-torch`)", "",
             "%d threads; W4A4; reconstruction batch %d; median of %d repeats x %d iterations "
             "(engine and PyTorch alike)%s. Load average: engine %.2f -> %.2f, PyTorch %s. "
             "Speed-up = PyTorch ms / engine ms (> 1: the engine is faster)."
             % (d["threads"], d["recon_batch"], d["reps"], d["iters"],
                "; each unit on the engine right before PyTorch" if d.get("interleaved") else "",
                eng_load[0], eng_load[1],
                "%.2f -> %.2f" % tuple(d["torch_load"]) if d.get("torch_load") else "-"), ""]
    if note:
        lines += [note, ""]
    lines += ["| model | unit | shapes | engine A ms | PyTorch A ms | A speed-up | "
              "engine B ms | PyTorch B ms | B speed-up |", "|---|---|---|---|---|---|---|---|---|"]
    for m in d["models"]:
        for u in m["units"]:
            ea, eb = u.get("engine_a_ms"), u.get("engine_b_ms")
            ta, tb = u.get("torch_a_ms"), u.get("torch_b_ms")
            lines.append("| %s | %d %s | %s | %s | %s | %s | %s | %s | %s |" % (
                m["model"], u["unit"], u["name"], unit_shapes(u), cell(ea, "%.3f"), cell(ta, "%.3f"),
                cell(ratio(ta, ea)), cell(eb, "%.3f"), cell(tb, "%.3f"), cell(ratio(tb, eb))))
    lines += ["", "| model | measure | engine img/s | PyTorch img/s | engine / PyTorch |",
              "|---|---|---|---|---|"]
    for m in d["models"]:
        for key, what in (("train_img_s", "FP training, batch %d, SGD" % d["train_batch"]),
                          ("eval_img_s", "float eval, batch %d" % d["eval_batch"])):
            e, t = m.get("engine_" + key), m.get("torch_" + key)
            if e:
                lines.append("| %s | %s | %s | %s | %s |" % (m["model"], what, cell(e, "%.0f"),
                                                             cell(t, "%.0f"), cell(ratio(e, t))))
    fl = next((m.get("engine_eval_img_s") for m in d["models"] if m["model"] == "fres20"), None)
    for q in d.get("int_eval", []):
        best = max(q["float_kernel_img_s"], q["int16_kernel_img_s"])
        t = q.get("torch_int8_img_s")
        lines.append("| fres20 | integer eval %s W%dA%d, batch %d (engine: float / int16 kernel; "
                     "PyTorch: int8 %s) | %.0f / %.0f | %s | %s |" % (
                         os.path.basename(q["qmodel"]), q["wbits"], q["abits"], d["eval_batch"],
                         q.get("torch_int8_engine", "-"), q["float_kernel_img_s"],
                         q["int16_kernel_img_s"], cell(t, "%.0f"), cell(ratio(best, t))))
    if fl and d.get("int_eval"):
        lines += ["", "Engine integer eval / engine float eval (fres20, faster kernel): " + ", ".join(
            "W%dA%d %.2fx" % (q["wbits"], q["abits"],
                              max(q["float_kernel_img_s"], q["int16_kernel_img_s"]) / fl)
            for q in d["int_eval"])]
    return "\n".join(lines) + "\n"


def write_atomic(path, text):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def engine_unit(binary, d, arch, u):
    """The engine's stage A/B ms of one unit, measured now (bench_torch_side --only), on the
    thread count of the engine JSON: right before PyTorch times the same unit, so both see the
    same machine load."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "unit.json")
        env = dict(os.environ, BQ_NUM_THREADS=str(d["threads"]))
        subprocess.run([binary, "--json", out, "--only", "%s:%d" % (arch, u["unit"]), "--reps",
                        str(d["reps"]), "--iters", str(d["iters"])], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        with open(out) as f:
            e = json.load(f)
    m = next(m for m in e["models"] if m["model"] == arch)
    return m["units"][u["unit"]]


def run_torch(torch, d, only, binary):
    torch.set_num_threads(d["threads"])
    torch.manual_seed(0)
    d["torch_version"] = torch.__version__
    d["torch_threads"] = torch.get_num_threads()
    la = load1()
    for m in d["models"]:
        for u in m["units"]:
            if only and u["name"] not in only:
                continue
            if binary:
                e = engine_unit(binary, d, m["model"], u)
                for k in ("engine_a_ms", "engine_b_ms", "a_mflop", "b_mflop"):
                    u[k] = e[k]
                print("engine %-6s unit %2d %-8s stage A %8.3f, B %8.3f ms/iter" % (
                    m["model"], u["unit"], u["name"], u["engine_a_ms"], u["engine_b_ms"]))
            for st in ("A", "B"):
                ms = time_unit(torch, u, st, d["recon_batch"], d["reps"], d["iters"])
                u["torch_%s_ms" % st.lower()] = round(ms, 4)
                print("torch  %-6s unit %2d %-8s stage %s %8.3f ms/iter" % (m["model"], u["unit"],
                                                                           u["name"], st, ms))
        if "engine_train_img_s" in m:
            m["torch_train_img_s"] = round(train_img_s(torch, m, d["train_batch"], d["reps"]), 1)
        net = build_net(torch, m["graph"]).eval()
        m["torch_eval_img_s"] = round(eval_img_s(torch, net, m["input"], d["eval_batch"],
                                                 d["eval_batches"], d["reps"]), 1)
        print("torch  %-6s float eval %.0f img/s, training %s img/s" % (
            m["model"], m["torch_eval_img_s"], m.get("torch_train_img_s", "-")))
    fres20 = next((m for m in d["models"] if m["model"] == "fres20"), None)
    if fres20 and any(q["wbits"] == 8 and q["abits"] == 8 for q in d.get("int_eval", [])):
        rate, eng = int8_img_s(torch, fres20, d["eval_batch"], d["eval_batches"], d["reps"])
        for q in d["int_eval"]:
            if q["wbits"] == 8 and q["abits"] == 8 and rate:
                q["torch_int8_img_s"], q["torch_int8_engine"] = round(rate, 1), eng
        print("torch  fres20 int8 eval %s img/s (%s)" % ("%.0f" % rate if rate else "-", eng))
    d["torch_load"] = [la, load1()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("engine_json")
    ap.add_argument("--out", default="build/bench/torch_side.json")
    ap.add_argument("--md", default="build/bench/torch_side.md")
    ap.add_argument("--units", default="", help="comma-separated unit names to time (default: all)")
    ap.add_argument("--interleave", metavar="BENCH_TORCH_SIDE", default="",
                    help="time each unit on the engine (this binary, --only) right before PyTorch")
    a = ap.parse_args()
    try:
        with open(a.engine_json) as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit("torch_side.py: %s: %s; run build/bench_torch_side --json %s first"
                 % (a.engine_json, e, a.engine_json))
    torch = load_torch()
    note = None
    if torch is None:
        note = ("PyTorch is not importable here (python3-torch): the PyTorch columns are "
                "skipped; the engine columns stand.")
        print("torch_side.py: " + note)
    else:
        run_torch(torch, d, set(filter(None, a.units.split(","))), a.interleave)
        d["interleaved"] = bool(a.interleave)
    table = markdown(d, note)
    for m in d["models"]:
        m.pop("graph", None)    # the description is in the engine JSON; keep results lean
    write_atomic(a.out, json.dumps(d, indent=1) + "\n")
    write_atomic(a.md, table)
    print(table)
    print("wrote %s and %s" % (a.out, a.md))


if __name__ == "__main__":
    main()
