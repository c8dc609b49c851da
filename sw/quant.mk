# sw/quant.mk — quantizers, integer reference, export (issue 3).
# `brecq quantize` calls the BRECQ engine (sw/reconstruct.c) for methods other than rtn; the CLI is
# told whether the engine is part of this build (a header alone is not enough to link).
ifneq ($(wildcard sw/reconstruct.c),)
CFLAGS     += -DBQ_HAVE_RECONSTRUCT=1
CFLAGS_SAN += -DBQ_HAVE_RECONSTRUCT=1
endif
