#!/usr/bin/env python3
"""pkg_rehash.py PKG LAYER BYTE BIT [codes|out] -- simulate an export bug that no hash can see: flip bit
BIT of byte BYTE of layer LAYER's weights range in PKG/weights.bin (with `codes` / `out`: of its
expected output codes / expected output tiles of test 0 in PKG/tests.bin), then recompute the range's CRC-32, the file's CRC-32 and
manifest_crc32 (docs/formats.md "Export package"), editing the manifest text in place so every
other byte stays as the exporter wrote it. `brecq export --check` then passes unless its recompute
of test 0 sees the change (export with --tests 0 to hide a weight flip): only the co-simulation's
independent integer reference (or, for `codes`, its comparison with tests.bin) can catch the
package (tests/cosim/test_cosim.sh). Errors: one line naming the argument, exit 2."""
import json
import sys
import zlib


def crc(b):
    return "%08x" % (zlib.crc32(b) & 0xFFFFFFFF)


def main():
    if len(sys.argv) not in (5, 6) or (len(sys.argv) == 6 and sys.argv[5] not in ("codes", "out")):
        sys.exit("usage: pkg_rehash.py PKG LAYER BYTE BIT [codes|out]")
    pkg, name, byte, bit = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    codes = sys.argv[5] if len(sys.argv) == 6 else None
    mpath = pkg + "/manifest.json"
    text = open(mpath, encoding="utf-8").read()
    man = json.loads(text)
    layers = [l for l in man["layers"] if l["name"] == name]
    if not layers:
        print("pkg_rehash: %s: no layer '%s'" % (mpath, name), file=sys.stderr)
        sys.exit(2)
    r = layers[0]["weights"]
    fname = "weights.bin"
    if codes:
        tl = [t for t in man["tests"][0]["layers"] if t["layer"] == layers[0]["index"]] if man["tests"] else []
        if not tl:
            print("pkg_rehash: %s: no test vector of layer '%s'" % (mpath, name), file=sys.stderr)
            sys.exit(2)
        r, fname = tl[0][codes], "tests.bin"
    if not 0 <= byte < r["size"] or not 0 <= bit < 8:
        print("pkg_rehash: byte %d bit %d outside the %d bytes of '%s'" % (byte, bit, r["size"], name),
              file=sys.stderr)
        sys.exit(2)
    wpath = pkg + "/" + fname
    w = bytearray(open(wpath, "rb").read())
    w[r["offset"] + byte] ^= 1 << bit
    open(wpath, "wb").write(w)
    old = '{"offset": %d, "size": %d, "crc32": "%s"}' % (r["offset"], r["size"], r["crc32"])
    new = '{"offset": %d, "size": %d, "crc32": "%s"}' % (r["offset"], r["size"], crc(w[r["offset"]:r["offset"] + r["size"]]))
    f = [x for x in man["files"] if x["name"] == fname][0]
    fold = '"name": "%s", "size": %d, "crc32": "%s"' % (fname, f["size"], f["crc32"])
    fnew = '"name": "%s", "size": %d, "crc32": "%s"' % (fname, f["size"], crc(bytes(w)))
    if text.count(old) != 1 or text.count(fold) != 1:
        print("pkg_rehash: %s: the range or file entry is not where the exporter writes it" % mpath,
              file=sys.stderr)
        sys.exit(2)
    text = text.replace(old, new).replace(fold, fnew)
    cut = text.index('  "manifest_crc32": ')
    text = text[:cut] + '  "manifest_crc32": "%s"\n}\n' % crc(text[:cut].encode("utf-8"))
    open(mpath, "w", encoding="utf-8").write(text)


if __name__ == "__main__":
    main()
