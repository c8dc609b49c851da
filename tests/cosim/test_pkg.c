/* test_pkg — the co-simulation driver's package reader (sim/bq_pkg.c), under ASan+UBSan: a fresh
 * package of the tiny test model loads with every layer, range and self-test vector in place; a
 * corrupted part or a missing package is refused with one message naming the file (the reader runs
 * bq_export_check first) and leaves nothing allocated. */
#include "testutil.h"

#include <string.h>
#include <unistd.h>

#include "bq_pkg.h"
#include "core/fileio.h"
#include "io/export.h"
#include "nn/exec.h"
#include "quant/fakequant.h"
#include "quant/qmodel.h"
#include "export_fixture.h"

static int setup(void **state) { return export_fixture_setup(state, "pkg", "test_pkg", 0); }
static int teardown(void **state) { return export_fixture_teardown(state); }

static void test_load_fresh(void **state) {
    export_fixture *f = *state;
    char err[512];
    assert_int_equal(bq_export(&f->q, &f->hw, &f->d, 2, f->dir, err, sizeof err), 0);
    bq_pkg p;
    assert_int_equal(bq_pkg_load(&p, f->dir, err, sizeof err), 0);
    assert_int_equal(p.n_layers, f->q.n_layers);
    assert_true(p.hw_hash == f->hw.hash && p.qmodel_hash == bq_qmodel_hash(&f->q));
    assert_int_equal(p.n_tests, 2);
    assert_non_null(bq_pkg_test_of(&p, 0));
    assert_non_null(bq_pkg_test_of(&p, 1));
    assert_null(bq_pkg_test_of(&p, 2));
    for (int l = 0; l < p.n_layers; l++) {
        const bq_pkg_layer *L = &p.layers[l];
        assert_int_equal(L->index, l);
        assert_ptr_equal(bq_pkg_find(&p, L->name), L);
        assert_true(L->w_size > 0 && L->w_off + L->w_size <= p.weights_len);
        assert_true(L->prog_len[1] > 0 && L->prog_off[1] + 16 * L->prog_len[1] <= p.programs_len);
        for (int t = 0; t < 2; t++) {
            assert_true(p.test[t].codes_size[l] > 0);
            assert_true(p.test[t].codes_off[l] + p.test[t].codes_size[l] <= p.tests_len);
        }
    }
    assert_int_equal(p.test[0].codes_size[0], 5 * 9 * 9);   /* stem: (5, 9, 9) u8 codes */
    assert_int_equal(p.test[1].codes_size[p.n_layers - 1], 3 * 4);   /* RAW32 fc: 3 int32 logits */
    assert_null(bq_pkg_find(&p, "nosuch"));
    bq_pkg_free(&p);
}

static void test_refused(void **state) {
    export_fixture *f = *state;
    char err[512], path[256];
    bq_pkg p;
    assert_int_equal(bq_pkg_load(&p, f->dir, err, sizeof err), -1);   /* nothing exported yet */
    assert_non_null(strstr(err, "manifest.json"));
    assert_int_equal(bq_export(&f->q, &f->hw, &f->d, 1, f->dir, err, sizeof err), 0);
    /* one flipped byte of requant.bin: the checker names the file and the layer's range */
    snprintf(path, sizeof path, "%s/requant.bin", f->dir);
    unsigned char *d;
    size_t n;
    assert_int_equal(bq_read_file(path, &d, &n, err, sizeof err), 0);
    d[0] ^= 0x10;
    assert_int_equal(bq_write_file_atomic(path, d, n, err, sizeof err), 0);
    free(d);
    assert_int_equal(bq_pkg_load(&p, f->dir, err, sizeof err), -1);
    assert_non_null(strstr(err, "requant.bin: CRC-32 of 'layers[0].requant.'"));
    assert_null(p.layers);
    assert_null(p.test);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_fresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
