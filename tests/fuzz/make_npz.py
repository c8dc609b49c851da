#!/usr/bin/env python3
"""make_npz.py: the .npz seeds of tests/fuzz/corpus/npz/ from the .npy seeds (a development tool;
python3 standard library only, the outputs are committed). Run after make_seeds (see make_seeds.c).
Members are named x.npy / y.npy, as numpy.savez(x=..., y=...) names them; one archive is stored,
one deflated (numpy.savez_compressed), one has a third member before them. Fixed timestamps, so the
same bytes every run."""
import zipfile

C = "tests/fuzz/corpus/"


def member(z, name, path, method):
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = method
    z.writestr(info, open(C + "npy/" + path, "rb").read())


for out, method, extra in (("stored.npz", zipfile.ZIP_STORED, False),
                           ("deflated.npz", zipfile.ZIP_DEFLATED, False),
                           ("three.npz", zipfile.ZIP_DEFLATED, True)):
    with zipfile.ZipFile(C + "npz/" + out, "w") as z:
        if extra:
            member(z, "mean.npy", "f32_2x3x2x1.npy", method)
        member(z, "x.npy", "u8_2x1x3x3.npy", method)
        member(z, "y.npy", "i64_3.npy", method)
print("make_npz: done")
