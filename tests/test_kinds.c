/* test_kinds.c - the table of layer kinds and the fusion contract (layer.h).
 *
 * Every kind in the table says all the program needs (syntax, parser,
 * tensors, ONNX nodes or LAYER_DROPOUT); its tensors cover its parameter
 * counts; net_plan_fusion decides fusion alone; and no activation buffer is
 * allocated that forward does not write. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/cfg.h"
#include "nn/net.h"
#include "testutil.h"

START_TEST(test_table_is_complete)
{
    int n = 0;
    for (const LayerOps *ops; (ops = layer_ops_at(n)); n++) {
        ck_assert_ptr_eq(layer_find_ops(ops->kind), ops);
        ck_assert_msg(ops->usage && !strncmp(ops->usage, ops->kind, strlen(ops->kind)), "%s: usage", ops->kind);
        ck_assert_msg(ops->setup && ops->init && ops->forward && ops->backward, "%s: ops", ops->kind);
        ck_assert_msg(!ops->onnx != !(ops->flags & LAYER_DROPOUT), "%s: ONNX nodes or left out", ops->kind);
        ck_assert_msg(ops->parse || (!ops->nvalues && !ops->keys[0]), "%s: values but no parser", ops->kind);
        ck_assert_int_le(ops->nvalues, LAYER_MAX_ARGS);
    }
    ck_assert_int_ge(n, 8);
    ck_assert_ptr_null(layer_find_ops("input")); /* a line of the model file, not a layer */
    ck_assert_ptr_null(layer_find_ops("softmax"));
}
END_TEST

/* Each parameterized kind names and shapes exactly its nw + nb + nbuf floats,
 * in arena order (weights, biases, buffers). */
START_TEST(test_tensors_cover_the_counts)
{
    static const char *txt = "input 2x6x6\nconv 3 3x1 pad=1\nbatchnorm\nmaxpool 2\nflatten\ndense 4\nbatchnorm\n"
                             "dense 3\n";
    NetSpec c;
    Err e;
    Net *net;
    ck_assert_msg(cfg_parse_text("t", txt, &c, &e) == ST_OK && net_build(&c, 2, &net, &e) == ST_OK, "%s", e.msg);
    static const char *const names[] = {"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                                        "1.running_var", "1.num_batches_tracked", "4.weight", "4.bias",
                                        "5.weight", "5.bias", "5.running_mean", "5.running_var",
                                        "5.num_batches_tracked", "6.weight", "6.bias"};
    ck_assert_int_eq(net->ntensors, 16);
    size_t off = 0;
    for (int k = 0; k < net->ntensors; k++) {
        const ParamInfo *t = &net->tensors[k];
        ck_assert_str_eq(t->name, names[k]);
        ck_assert_uint_eq(t->offset, off);
        size_t numel = 1;
        for (int d = 0; d < t->ndim; d++) numel *= (size_t)t->dims[d];
        ck_assert_uint_eq(t->numel, numel);
        off += numel;
    }
    ck_assert_uint_eq(off, net->nparams);
    const ParamInfo *w0 = &net->tensors[0];
    ck_assert_int_eq(w0->ndim, 4);
    ck_assert(w0->dims[0] == 3 && w0->dims[1] == 2 && w0->dims[2] == 3 && w0->dims[3] == 1);
    ck_assert(net->tensors[2].is_bias && !net->tensors[2].is_buffer); /* batchnorm's scale: with the biases */
    ck_assert(net->tensors[6].is_buffer && net->tensors[6].ndim == 0);
    ck_assert_int_eq(net->tensors[7].dims[1], 3 * 4 * 3); /* dense [4, 3*4*3] after the 2x2 pool of 8x6 */
    net_free(net);
}
END_TEST

/* net_plan_fusion on bare layers: what it decides from the flags alone. */
START_TEST(test_fusion_plan)
{
    Layer l[6] = {{0}};
    const char *kinds[6] = {"conv", "relu", "maxpool", "dense", "relu", "relu"};
    for (int i = 0; i < 6; i++) l[i].ops = layer_find_ops(kinds[i]);
    l[2].is_pool2x2 = 1;
    net_plan_fusion(l, 6);
    ck_assert(l[0].fuse_relu && l[0].fuse_pool);
    ck_assert(l[3].fuse_relu && !l[3].fuse_pool); /* a dense folds no pool */
    ck_assert(!l[4].fuse_relu && !l[1].fuse_relu && !l[2].fuse_relu);
    l[2].is_pool2x2 = 0; /* e.g. maxpool 2 stride=1 */
    net_plan_fusion(l, 6);
    ck_assert(l[0].fuse_relu && !l[0].fuse_pool);
    l[1].ops = layer_find_ops("dropout"); /* a dropout 0 in between keeps them apart */
    net_plan_fusion(l, 6);
    ck_assert(!l[0].fuse_relu && !l[0].fuse_pool);
}
END_TEST

/* The buffers net_build allocates are the ones forward writes: a conv that
 * recomputes (1 channel, 9 taps) has none, its folded relu none, the pool it
 * computes one (which it writes), the flatten none. */
START_TEST(test_recomputing_conv_has_no_buffer)
{
    static const char *txt = "input 1x8x8\nconv 4 3 pad=1\nrelu\nmaxpool 2\nconv 5 3 pad=1\nrelu\nmaxpool 2\n"
                             "flatten\ndense 3\n";
    NetSpec c;
    Err e;
    Net *net;
    ck_assert_msg(cfg_parse_text("t", txt, &c, &e) == ST_OK && net_build(&c, 3, &net, &e) == ST_OK, "%s", e.msg);
    ck_assert(net->layers[0].fuse_pool && net->layers[0].pool_recompute);
    ck_assert(net->layers[3].fuse_pool && !net->layers[3].pool_recompute); /* 36 taps: stored */
    const int has[8] = {0, 0, 1, 1, 0, 1, 0, 1};
    ck_assert_int_eq(net->nlayers, 8);
    for (int i = 0; i < 8; i++) {
        ck_assert_int_eq(net_has_output(net->layers, i), has[i]);
        ck_assert_msg(!net->act[i] == !has[i], "layer %d: act %p", i, (void *)net->act[i]);
    }
    ck_assert_ptr_eq(net->layers[0].pool_out, net->act[2]);
    ck_assert_ptr_eq(net->layers[3].pool_out, net->act[5]);
    net_free(net);
}
END_TEST

/* Every allocated activation buffer is overwritten by one MODE_TRAIN forward
 * of a full batch (none is filled by nothing), for the presets and a net of
 * every kind. */
static const char *const NETS[] = {
    "models/mlp.cfg",
    "models/cnn.cfg",
    "models/cnn-bn.cfg",
    "input 1x9x7\nconv 3 3 pad=1\nrelu\nmaxpool 2\nbatchnorm\nrelu\navgpool 2 stride=1\ndropout 0.5\n"
    "flatten\ndense 6\nrelu\ndropout 0\ndense 4\n",
};

START_TEST(test_every_buffer_is_written)
{
    const uint32_t SENTINEL = 0x7fc0dead; /* a NaN that no layer computes */
    NetSpec c;
    Err e;
    Net *net;
    Status st = _i < 3 ? cfg_parse_file(NETS[_i], &c, &e) : cfg_parse_text("t", NETS[_i], &c, &e);
    ck_assert_msg(st == ST_OK && net_build(&c, 3, &net, &e) == ST_OK, "%s", e.msg);
    net_init(net, 1);
    const size_t nx = 3 * shape_numel(net->in);
    float *x = malloc(nx * sizeof *x);
    for (size_t i = 0; i < nx; i++) x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    for (int i = 0; i < net->nlayers; i++)
        if (net->act[i])
            for (size_t k = 0; k < 3 * shape_numel(net->layers[i].out); k++) memcpy(&net->act[i][k], &SENTINEL, 4);
    net_forward(net, x, 3, MODE_TRAIN, 77);
    int buffers = 0;
    for (int i = 0; i < net->nlayers; i++) {
        if (!net->act[i]) continue;
        buffers++;
        for (size_t k = 0; k < 3 * shape_numel(net->layers[i].out); k++)
            ck_assert_msg(memcmp(&net->act[i][k], &SENTINEL, 4), "%s: layer %d (%s) never writes its buffer [%zu]",
                          _i < 3 ? NETS[_i] : "net", i, net->layers[i].ops->kind, k);
    }
    ck_assert_int_gt(buffers, 2);
    free(x);
    net_free(net);
}
END_TEST

Suite *kinds_suite(void)
{
    Suite *s = suite_create("kinds");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, test_table_is_complete);
    tcase_add_test(tc, test_tensors_cover_the_counts);
    suite_add_tcase(s, tc);
    tc = tcase_create("fusion");
    tcase_add_test(tc, test_fusion_plan);
    tcase_add_test(tc, test_recomputing_conv_has_no_buffer);
    tcase_add_loop_test(tc, test_every_buffer_is_written, 0, 4);
    suite_add_tcase(s, tc);
    return s;
}
