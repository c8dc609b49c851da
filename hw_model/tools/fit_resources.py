#!/usr/bin/python3
"""fit_resources.py docs/resource_calib.json -- least-squares fit of the resource model's LUT and FF
coefficients (hw_model/resources.c, kModules) from the calibration runs with role "calib".
Development tool (Debian python3 + python3-numpy), never run by a build or a test: its output is
pasted into resources.c and tests/unit/hw_model/test_resources.c checks the result on every run.
The features are those of resources.c's features(); keep the two in step."""
import json, math, sys
import numpy as np

def clog2(v):
    b = 0
    while (1 << b) < v:
        b += 1
    return b

def features(name, p):
    """-> (x[4], ff_exact, used columns) as resources.c computes them."""
    x = [1.0, 0.0, 0.0, 0.0]; ffx = 0.0; cols = [0]
    if name == "bqa_dpu":
        pcb = clog2(p["Dk"] + 1); x[1] = p["Dk"]; x[2] = pcb; ffx = 64 + pcb; cols = [0, 1, 2]
    elif name == "bqa_unpack":
        ub, d, w = p["UB"], p["D"], p["W"]; x[1] = d; cols = [0, 1, 2]
        if ub <= w:
            g = d // (w // ub); ffx = 16 + (clog2(g) if g > 1 else 1)
        else:
            x[2] = ub - w; ffx = 16 + clog2(ub // w) + (clog2(d) if d > 1 else 1) + ub - w
    elif name == "bqa_exec":
        x[1] = p["WAddrBits"] + p["AAddrBits"]; cols = [0, 1]
    elif name == "bqa_array":
        x[1] = p["Dm"] * p["Dn"] + p["Dn"]; cols = [0, 1]
    elif name == "bqa_result":
        e = p["Dm"] * p["Dn"]; w = p["W"]; tpbb = -(-e // w) * w; rb = 8 * tpbb
        ob = max(8 * tpbb, e * 32); x[1] = ob; x[2] = e * p["Lanes"]; x[3] = rb; ffx = rb + ob
        cols = [0, 1, 2, 3]
    elif name == "bqa_fetch":
        x[1] = p["WAddrBits"] + p["AAddrBits"] + p["QAddrBits"]; cols = [0, 1]
    return x, ffx, cols

def main():
    runs = json.load(open(sys.argv[1]))["runs"]
    by = {}
    for r in runs:
        if r["kind"] == "module" and r["role"] == "calib" and r["target"] != "bqa_ram_1r1w":
            by.setdefault(r["target"], []).append(r)
        if r["kind"] == "config" and r["target"] == "tiny":   # bqa_top's own glue
            by.setdefault("bqa_top", []).append({"params": {}, "own": r["own"]})
    for name, rs in sorted(by.items()):
        X = []; yl = []; yf = []; cols = None
        for r in rs:
            x, ffx, cols = features(name, r["params"])
            X.append(x); yl.append(r["own"]["lut"]); yf.append(r["own"]["ff"] - ffx)
        X = np.array(X)[:, cols]
        # fewer runs than columns: keep the leading columns only (a constant at least)
        k = min(len(cols), len(rs)); X = X[:, :k]; cols = cols[:k]
        cl = np.linalg.lstsq(X, np.array(yl, float), rcond=None)[0]
        cf = np.linalg.lstsq(X, np.array(yf, float), rcond=None)[0]
        full_l = [0.0] * 4; full_f = [0.0] * 4
        for i, c in enumerate(cols):
            full_l[c] = round(float(cl[i]), 3); full_f[c] = round(float(cf[i]), 3)
        print("%-13s lut %s ff %s  (%d runs)" % (name, full_l, full_f, len(rs)))

main()
