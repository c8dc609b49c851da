/*
 * search_model.h — the search problem of a real model: quantizer placement from a bq_qmodel
 * (sw/quant/qmodel.h) and latency from the hw_model cost table (hw_model/costtab.h). The modelling is
 * docs/search.md section 1.
 *
 * Index conventions (the sensitivity pass maps candidates back to the qmodel with them):
 *   - search quantizer l            (0 <= l < q->n_layers)  = the weights of qmodel layer l;
 *   - search quantizer n_layers + a (0 <= a < q->n_aq)      = qmodel activation quantizer a;
 *   - search layer l = qmodel layer l = hw net layer l; hw net quantizer indices = qmodel aq indices.
 * Groups: one per residual block (graph.h blocks, in order), then one per layer outside blocks.
 * Fixed (not searched): the network input and downsample-shortcut quantizers (8 bits), and, when
 * q->opts.first_last_8bit, the first/last layers' weights, the first layer's output and the
 * classifier's input (8 bits). Every other quantizer takes the candidate set of its kind.
 *
 * Example:
 *   bq_hw_net net; bq_costtab tab; bq_search_problem p; bq_search_space sp;
 *   bq_search_space_default(&sp);
 *   bq_search_hw_net(&net, &q, err, n);  bq_costtab_build(&tab, &cfg, &net, err, n);
 *   bq_search_from_qmodel(&p, &q, &tab, cfg.clock_mhz, &sp, err, n);   // candidates, sens NaN
 *   bq_search_fill_sens(&p, brecq_sensitivity, &ctx, err, n);  bq_search_finalize(&p, err, n);
 */
#ifndef BQ_SEARCH_MODEL_H
#define BQ_SEARCH_MODEL_H

#include <stddef.h>

#include "costtab.h"
#include "quant/qmodel.h"
#include "search/search.h"

typedef struct {
    int n_wbits, wbits[BQ_SEARCH_MAX_BITS];   /* candidate weight bit-widths, ascending */
    int n_abits, abits[BQ_SEARCH_MAX_BITS];   /* candidate activation bit-widths, ascending */
} bq_search_space;

/* {2,3,4,8} for both. */
void bq_search_space_default(bq_search_space *sp);

/* Parse a comma-separated list of bit-widths ("2,3,4,8") into bits[]/n (ascending, unique, each
 * 1..8). Returns 0 or -1 with "what; how to fix". */
int bq_search_parse_bits(const char *s, int *bits, int *n, char *err, size_t errlen);

/* The accelerator's view of q: bq_lower_hw_net (sw/lower/lower.h), the one lowering; quantizer
 * indices in_q/out_q/res_q = qmodel aq indices. With whole_network != 0 (the config is an ISA v2
 * build: window_bytes > 0) also the whole-network view (bq_lower_hw_net_v2), so the latency and
 * the cost table are the one program's (docs/whole_network.md §13); a model without a
 * whole-network program (a max pool on the path) is then an error naming the layer, never v1
 * costs in silence. 0 or -1 + err. */
int bq_search_hw_net(bq_hw_net *net, const bq_qmodel *q, int whole_network, char *err,
                     size_t errlen);

/* Build the (unfinalized) problem: groups, quantizers, layers with the table's rows, and every
 * group's full candidate product with sensitivity NaN. Fails when an activation quantizer is read
 * by layers of two groups (the message names them), or when the table does not match q.
 * Returns 0 or -1 + err; on failure p is freed. */
int bq_search_from_qmodel(bq_search_problem *p, const bq_qmodel *q, const bq_costtab *t,
                          double clock_mhz, const bq_search_space *sp, char *err, size_t errlen);

#endif
