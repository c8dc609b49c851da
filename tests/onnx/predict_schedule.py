#!/usr/bin/python3
"""predict_schedule.py — the wall time of a BRECQ recipe, predicted from a short probe run of it.

    predict_schedule.py PROBE.out PROBE.time RECIPE.yaml

PROBE.out is the stderr of `brecq quantize` run with RECIPE's keys but a few iterations per unit
(tests/onnx/realnet_steps.sh NET probe), PROBE.time its `/usr/bin/time -v` output. The progress
lines ("[reconstruct] A weights unit 3/10 NAME it 7/12 ... | 41s elapsed") give each unit's seconds
per iteration: the slope between its first and last line (1 s resolution, lines at most every 10 s).
A unit with one line only (it finished within 10 s) is bounded by the time from its line to the
next unit's first line, divided by the iterations left. Everything else the probe spent (model load,
calibration decode, Fisher pass, caches, checkpoints) does not depend on the iteration count and is
kept as measured. Predicted = that fixed part + sum over units of RECIPE's iterations x slope.
Development measurement for docs/onnx.md; not part of `make test` (tests/onnx/test_predict.sh is).
"""
import re
import sys

DONE = re.compile(r"\[reconstruct\] \S+: \d+ steps done")
LINE = re.compile(r"\[reconstruct\] (A weights|B act-steps) unit (\d+)/(\d+) (\S+) it (\d+)/(\d+) "
                  r".*\| (\d+)s elapsed")


def fail(msg):
    sys.exit("predict_schedule.py: " + msg)


def recipe_iters(path):
    """(iters, act_iters) of a recipe YAML (flat `key: value` lines; defaults as docs/formats.md)."""
    keys = {"iters": 20000, "act_iters": 5000}
    try:
        with open(path) as f:
            for line in f:
                k, _, v = line.split("#")[0].partition(":")
                if k.strip() in keys and v.strip():
                    keys[k.strip()] = int(v)
    except (OSError, ValueError) as e:
        fail(f"{path}: cannot read iters/act_iters ({e}); give the recipe YAML")
    return keys["iters"], keys["act_iters"]


def wall_seconds(path):
    """Elapsed wall seconds of a `/usr/bin/time -v` output file."""
    try:
        with open(path) as f:
            for line in f:
                if "Elapsed (wall clock)" in line:
                    parts = line.rsplit(": ", 1)[1].strip().split(":")
                    return sum(float(v) * 60 ** i for i, v in enumerate(reversed(parts)))
    except OSError as e:
        fail(f"{path}: {e.strerror}; give the /usr/bin/time -v output of the probe")
    fail(f"{path}: no 'Elapsed (wall clock)' line; give the /usr/bin/time -v output of the probe")


def unit_rates(path):
    """[(stage, unit, name, probe_iters, s_per_iter, exact)] in run order."""
    runs = []   # one entry per (stage, unit): [stage, unit, name, probe_iters, [(it, s), ...]]
    done = False
    try:
        with open(path) as f:
            for line in f:
                done = done or DONE.search(line) is not None
                m = LINE.search(line)
                if not m:
                    continue
                st, u, nu, name, it, n, s = m.groups()
                if not runs or runs[-1][:2] != [st, int(u)]:
                    runs.append([st, int(u), name, int(n), [], int(nu)])
                runs[-1][4].append((int(it), int(s)))
    except OSError as e:
        fail(f"{path}: {e.strerror}; give the probe's stderr")
    if not runs:
        fail(f"{path}: no '[reconstruct] ... it I/N ... | Ts elapsed' progress lines; "
             "give the stderr of a brecq quantize run with method brecq")
    last = runs[-1]
    if not done:   # no "N steps done": a stopped probe (killed for time); say what it covers
        print(f"incomplete probe: it stopped in {last[0]} unit {last[1]}/{last[5]}; the prediction "
              "below covers the measured units only")
    elif last[0] != "B act-steps" or last[1] != last[5]:
        # lines come at most every 10 s: units that ran between two lines have no line at all
        print(f"sparse probe: units without a progress line (last line: {last[0]} unit "
              f"{last[1]}/{last[5]}) are not in the prediction; raise PROBE_ITERS")
    out = []
    for k, (st, u, name, n, pts, _) in enumerate(runs):
        (i0, s0), (i1, s1) = pts[0], pts[-1]
        if i1 > i0:
            out.append((st, u, name, n, (s1 - s0) / (i1 - i0), True))
        else:   # one line: bound by the next unit's first line (its caches included)
            nxt = runs[k + 1][4][0][1] if k + 1 < len(runs) else None
            rate = (nxt - s0) / (n - i0 + 1) if nxt is not None else 0.0
            out.append((st, u, name, n, rate, False))
    return out


def main():
    if len(sys.argv) != 4:
        fail("usage: predict_schedule.py PROBE.out PROBE.time RECIPE.yaml")
    out_path, time_path, recipe = sys.argv[1:]
    iters, act_iters = recipe_iters(recipe)
    rates = unit_rates(out_path)
    wall = wall_seconds(time_path)
    probe_loop = sum(n * r for _, _, _, n, r, _ in rates)
    fixed = max(wall - probe_loop, 0.0)
    full = {"A weights": iters, "B act-steps": act_iters}
    print("| stage | unit | name | s / iteration | measured as |")
    print("|---|---|---|---|---|")
    pred_loop = 0.0
    for st, u, name, n, r, exact in rates:
        pred_loop += full[st] * r
        print(f"| {st[0]} | {u} | {name} | {r:.3f} | {'slope' if exact else 'bound (one line)'} |")
    pred = fixed + pred_loop
    print(f"probe: {wall:.0f} s wall, of which ~{probe_loop:.0f} s iterations and ~{fixed:.0f} s "
          f"fixed (load, data, Fisher, caches)")
    print(f"predicted for {recipe} ({iters} + {act_iters} iterations per unit): {pred:.0f} s = "
          f"{pred / 3600:.2f} h ({pred_loop:.0f} s iterations + {fixed:.0f} s fixed)")


if __name__ == "__main__":
    main()
