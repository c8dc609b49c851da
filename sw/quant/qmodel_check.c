/* qmodel_check.c — see qmodel_check.h. */
#include "quant/qmodel_check.h"
#include "core/errmsg.h"
#include "quant/quant.h"

#include <math.h>

/* The recipe defaults stored in the header: wbits 2..8, abits 2..8 or 32 (float), flag 0/1. */
static int check_opts(const bq_qmodel *q, const char *path, char *err, size_t errlen) {
    const bq_qmodel_opts *o = &q->opts;
    if (o->wbits < BQ_QBITS_MIN || o->wbits > BQ_QBITS_MAX ||
        ((o->abits < BQ_QBITS_MIN || o->abits > BQ_QBITS_MAX) && o->abits != 32) ||
        (unsigned)o->first_last_8bit > 1) {
        bq_seterr(err, errlen, "%s: header wbits %d / abits %d / first_last_8bit %d out of range "
                  "(%d..%d, %d..%d or 32, 0/1); re-run `brecq quantize`", path, o->wbits, o->abits,
                  o->first_last_8bit, BQ_QBITS_MIN, BQ_QBITS_MAX, BQ_QBITS_MIN, BQ_QBITS_MAX);
        return -1;
    }
    return 0;
}

static int check_layers(const bq_qmodel *q, const char *path, char *err, size_t errlen) {
    for (int l = 0; l < q->n_layers; l++) {
        const bq_qlayer *L = &q->layers[l];
        if (L->node < 0 || L->node >= q->model.n_nodes || L->aq_in < 0 || L->aq_in >= q->n_aq ||
            L->aq_out < -1 || L->aq_out >= q->n_aq || L->aq_res < -1 || L->aq_res >= q->n_aq) {
            bq_seterr(err, errlen, "%s: layer %d: node or quantizer index out of range; re-run "
                      "`brecq quantize`", path, l);
            return -1;
        }
        const char *name = q->model.nodes[L->node].name;
        if (L->wbits < BQ_QBITS_MIN || L->wbits > BQ_QBITS_MAX) {
            bq_seterr(err, errlen, "%s: layer '%s': wbits %d is outside %d..%d; re-run `brecq "
                      "quantize`", path, name, L->wbits, BQ_QBITS_MIN, BQ_QBITS_MAX);
            return -1;
        }
        for (int c = 0; c < L->cout; c++)
            if (!isfinite(L->scale[c]) || !(L->scale[c] > 0.0f)) {
                bq_seterr(err, errlen, "%s: layer '%s' channel %d: weight scale %g must be finite "
                          "and > 0; re-run `brecq quantize`", path, name, c, (double)L->scale[c]);
                return -1;
            }
    }
    return 0;
}

static int check_quantizers(const bq_qmodel *q, const char *path, char *err, size_t errlen) {
    for (int a = 0; a < q->n_aq; a++) {
        const bq_aquant *A = &q->aq[a];
        if (A->node < 0 || A->node >= q->model.n_nodes) {
            bq_seterr(err, errlen, "%s: quantizer %d: node %d out of range; re-run `brecq quantize`",
                      path, a, A->node);
            return -1;
        }
        const char *name = q->model.nodes[A->node].name;
        if ((unsigned)A->role > BQ_AQ_LAST_IN || (unsigned)A->initialized > 1) {
            bq_seterr(err, errlen, "%s: quantizer %d ('%s'): role %d / initialized %d unknown "
                      "(roles 0..%d, initialized 0/1); re-run `brecq quantize`", path, a, name,
                      (int)A->role, A->initialized, (int)BQ_AQ_LAST_IN);
            return -1;
        }
        if ((A->bits != 0 && (A->bits < BQ_QBITS_MIN || A->bits > BQ_QBITS_MAX)) ||
            !isfinite(A->scale) || !(A->scale > 0.0f)) {
            bq_seterr(err, errlen, "%s: quantizer %d ('%s'): bits %d (0 or %d..%d) / scale %g "
                      "(finite > 0) out of range; re-run `brecq quantize`", path, a, name, A->bits,
                      BQ_QBITS_MIN, BQ_QBITS_MAX, (double)A->scale);
            return -1;
        }
    }
    return 0;
}

int bq_qmodel_validate(const bq_qmodel *q, const char *path, char *err, size_t errlen) {
    if (check_opts(q, path, err, errlen) || check_layers(q, path, err, errlen) ||
        check_quantizers(q, path, err, errlen))
        return -1;
    return 0;
}
