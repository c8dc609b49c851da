#!/usr/bin/python3
"""fit_resources.py docs/resource_calib.json [--patch hw_model/resources.c] -- least-squares fit of the resource model's LUT and FF
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
        ub, d, w, rb = p["UB"], p["D"], p["W"], p["RowBits"]; x[1] = d; cols = [0, 1, 2]
        if ub <= w:
            g = d // (w // ub); ffx = rb + (clog2(g) if g > 1 else 1); x[1] = g
        else:
            x[2] = ub - w; ffx = rb + clog2(ub // w) + (clog2(d) if d > 1 else 1) + ub - w
    elif name == "bqa_exec":
        x[1] = p["WAddrBits"] + p["AAddrBits"]; cols = [0, 1]
    elif name == "bqa_array":
        x[1] = p["Dm"] * p["Dn"] + p["Dn"]; cols = [0, 1]
    elif name == "bqa_result":
        e = p["Dm"] * p["Dn"]; x[1] = e; x[2] = e * p["Lanes"]; x[3] = 32 * e // p["W"]; ffx = 40 * e
        cols = [0, 1, 2, 3]
    elif name == "bqa_fetch":
        x[1] = p["Dm"] + p["Dn"]; cols = [0, 1]
    return x, ffx, cols

# modules whose FF term is exact up to a fitted constant (and, for bqa_result, + E*Lanes)
FF_COLS = {"bqa_dpu": 1, "bqa_unpack": 1, "bqa_result": 3}

def main():
    runs = json.load(open(sys.argv[1]))["runs"]
    by = {}; rows = []
    for r in runs:
        if r["kind"] == "module" and r["role"] == "calib" and r["target"] != "bqa_ram_1r1w":
            by.setdefault(r["target"], []).append(r)
        # bqa_top's own glue (a few gates): from the whole-config run of tiny
        if r["kind"] == "config" and r.get("own") and r["target"] == "tiny":
            by["bqa_top"] = [{"params": {}, "own": r["own"]}]
            print("bqa_top glue from", r["id"])
    for name, rs in sorted(by.items()):
        X = []; yl = []; yf = []; cols = None
        for r in rs:
            x, ffx, cols = features(name, r["params"])
            X.append(x); yl.append(r["own"]["lut"]); yf.append(r["own"]["ff"] - ffx)
        X = np.array(X)[:, cols]
        # fewer runs than columns: keep the leading columns only (a constant at least)
        k = min(len(cols), len(rs)); X = X[:, :k]; cols = cols[:k]
        cl = np.linalg.lstsq(X, np.array(yl, float), rcond=None)[0]
        # FFs the RTL declares are counted exactly; then only a constant is fitted
        kf = FF_COLS.get(name, k)
        cf = np.linalg.lstsq(X[:, :kf], np.array(yf, float), rcond=None)[0]
        full_l = [0.0] * 4; full_f = [0.0] * 4
        for i, c in enumerate(cols):
            full_l[c] = round(float(cl[i]), 3)
            if i < kf:
                full_f[c] = round(float(cf[i]), 3)
        print("%-13s lut %s ff %s  (%d runs)" % (name, full_l, full_f, len(rs)))
        rows.append('    {"%s", {%s}, {%s}},' % (name, ", ".join("%g" % (c or 0.0) for c in full_l),
                                                 ", ".join("%g" % (c or 0.0) for c in full_f)))
    if len(sys.argv) > 3 and sys.argv[2] == "--patch":   # rewrite kCoef in resources.c
        src = open(sys.argv[3]).read()
        a = src.index("/* fit:begin */") + len("/* fit:begin */")
        b = src.index("    /* fit:end */")
        open(sys.argv[3], "w").write(src[:a] + "\n" + "\n".join(rows) + "\n" + src[b:])

main()
