/* onnx_tensor.c — decoding ONNX TensorProto messages into dense arrays (see onnx_import.h). */
#include "io/onnx_import.h"
#include "core/errmsg.h"
#include "io/onnx_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* IEEE half -> float (subnormals, inf and NaN included). */
static float half_to_float(uint16_t h) {
    int s = (h >> 15) & 1, e = (h >> 10) & 31, f = h & 1023;
    float v;
    if (e == 0) v = ldexpf((float)f, -24);
    else if (e == 31) v = f ? NAN : INFINITY;
    else v = ldexpf((float)(f | 1024), e - 25);
    return s ? -v : v;
}

/* Size in bytes of one element of raw_data for a data type, 0 when unsupported. */
static size_t elem_size(int dt) {
    switch (dt) {
    case BQ_ONNX_FLOAT: case BQ_ONNX_INT32: case BQ_ONNX_UINT32: return 4;
    case BQ_ONNX_DOUBLE: case BQ_ONNX_INT64: case BQ_ONNX_UINT64: return 8;
    case BQ_ONNX_UINT8: case BQ_ONNX_INT8: case BQ_ONNX_BOOL: return 1;
    case BQ_ONNX_UINT16: case BQ_ONNX_INT16: case BQ_ONNX_FLOAT16: return 2;
    default: return 0;
    }
}

static int is_int_type(int dt) {
    return dt != BQ_ONNX_FLOAT && dt != BQ_ONNX_DOUBLE && dt != BQ_ONNX_FLOAT16;
}

void bq_onnx_tensor_free(bq_onnx_tensor *t) {
    if (!t) return;
    free(t->f);
    free(t->i);
    memset(t, 0, sizeof(*t));
}

int bq_onnx_tensor_from_proto(bq_onnx_tensor *t, const Onnx__TensorProto *tp, char *err,
                              size_t errlen) {
    memset(t, 0, sizeof(*t));
    const char *nm = tp->name && tp->name[0] ? tp->name : "(unnamed)";
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        bq_seterr(err, errlen, "tensor '%s' keeps its data in an external file; re-export with the "
                  "weights embedded (save_as_external_data=False)", nm);
        return -1;
    }
    if (tp->segment) {
        bq_seterr(err, errlen, "tensor '%s' is segmented; segmented tensors are not supported", nm);
        return -1;
    }
    if (tp->n_dims > 8) {
        bq_seterr(err, errlen, "tensor '%s' has %zu dimensions; at most 8 are supported", nm,
                  tp->n_dims);
        return -1;
    }
    int dt = tp->has_data_type ? tp->data_type : 0;
    size_t es = elem_size(dt);
    if (!es) {
        bq_seterr(err, errlen, "tensor '%s' has data type %d; only numeric tensors are supported",
                  nm, dt);
        return -1;
    }
    size_t count = 1;
    for (size_t k = 0; k < tp->n_dims; k++) {
        if (tp->dims[k] < 0 || tp->dims[k] > BQ_ONNX_MAX_ELEMS) {
            bq_seterr(err, errlen, "tensor '%s': dimension %zu is %lld", nm, k,
                      (long long)tp->dims[k]);
            return -1;
        }
        count *= (size_t)tp->dims[k];
        if (count > BQ_ONNX_MAX_ELEMS) {
            bq_seterr(err, errlen, "tensor '%s' has more than %d elements", nm, BQ_ONNX_MAX_ELEMS);
            return -1;
        }
        t->dims[k] = tp->dims[k];
    }
    t->ndim = (int)tp->n_dims;
    t->count = count;
    t->dtype = dt;
    t->f = malloc(sizeof(float) * (count ? count : 1));
    if (is_int_type(dt)) t->i = malloc(sizeof(int64_t) * (count ? count : 1));
    if (!t->f || (is_int_type(dt) && !t->i)) {
        bq_onnx_tensor_free(t);
        bq_seterr(err, errlen, "out of memory");
        return -1;
    }
    size_t have;
    if (tp->has_raw_data) {
        have = tp->raw_data.len / es;
        if (tp->raw_data.len != count * es) goto bad_count;
        const uint8_t *r = tp->raw_data.data;
        for (size_t k = 0; k < count; k++, r += es) {
            double v = 0.0;
            int64_t iv = 0;
            switch (dt) {
            case BQ_ONNX_FLOAT: { float x; memcpy(&x, r, 4); v = x; break; }
            case BQ_ONNX_DOUBLE: { double x; memcpy(&x, r, 8); v = x; break; }
            case BQ_ONNX_FLOAT16: { uint16_t x; memcpy(&x, r, 2); v = half_to_float(x); break; }
            case BQ_ONNX_INT64: memcpy(&iv, r, 8); break;
            case BQ_ONNX_UINT64: { uint64_t x; memcpy(&x, r, 8); iv = (int64_t)(x & 0x7fffffffffffffffULL); break; }
            case BQ_ONNX_INT32: { int32_t x; memcpy(&x, r, 4); iv = x; break; }
            case BQ_ONNX_UINT32: { uint32_t x; memcpy(&x, r, 4); iv = x; break; }
            case BQ_ONNX_INT16: { int16_t x; memcpy(&x, r, 2); iv = x; break; }
            case BQ_ONNX_UINT16: { uint16_t x; memcpy(&x, r, 2); iv = x; break; }
            case BQ_ONNX_INT8: iv = (int8_t)r[0]; break;
            default: iv = r[0]; break;   /* UINT8, BOOL */
            }
            if (t->i) { t->i[k] = iv; t->f[k] = (float)iv; }
            else t->f[k] = (float)v;
        }
        return 0;
    }
    switch (dt) {
    case BQ_ONNX_FLOAT:
        have = tp->n_float_data;
        if (have != count) goto bad_count;
        for (size_t k = 0; k < count; k++) t->f[k] = tp->float_data[k];
        break;
    case BQ_ONNX_DOUBLE:
        have = tp->n_double_data;
        if (have != count) goto bad_count;
        for (size_t k = 0; k < count; k++) t->f[k] = (float)tp->double_data[k];
        break;
    case BQ_ONNX_INT64:
        have = tp->n_int64_data;
        if (have != count) goto bad_count;
        for (size_t k = 0; k < count; k++) { t->i[k] = tp->int64_data[k]; t->f[k] = (float)t->i[k]; }
        break;
    case BQ_ONNX_UINT32: case BQ_ONNX_UINT64:
        have = tp->n_uint64_data;
        if (have != count) goto bad_count;
        for (size_t k = 0; k < count; k++) {
            t->i[k] = (int64_t)(tp->uint64_data[k] & 0x7fffffffffffffffULL);
            t->f[k] = (float)t->i[k];
        }
        break;
    default:   /* FLOAT16 (bit patterns), INT32 and the small integer types live in int32_data */
        have = tp->n_int32_data;
        if (have != count) goto bad_count;
        for (size_t k = 0; k < count; k++) {
            if (dt == BQ_ONNX_FLOAT16) t->f[k] = half_to_float((uint16_t)tp->int32_data[k]);
            else { t->i[k] = tp->int32_data[k]; t->f[k] = (float)t->i[k]; }
        }
        break;
    }
    return 0;
bad_count:
    bq_seterr(err, errlen, "tensor '%s': %zu values stored for a shape of %zu elements", nm, have,
              count);
    bq_onnx_tensor_free(t);
    return -1;
}

int bq_onnx_tensor_parse(bq_onnx_tensor *t, const uint8_t *data, size_t len, char *err,
                         size_t errlen) {
    memset(t, 0, sizeof(*t));
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, data);
    if (!tp) {
        bq_seterr(err, errlen, "not a valid ONNX TensorProto (truncated or corrupt protobuf)");
        return -1;
    }
    int rc = bq_onnx_tensor_from_proto(t, tp, err, errlen);
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return rc;
}
