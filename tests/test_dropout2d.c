/* test_dropout2d.c - channel dropout (nn/dropout2d.c), the kind added as its
 * own file plus one table line: gradients, the mask (whole maps, the scale,
 * keyed by (key, sample, channel)), eval and MC modes, the model-file line,
 * --dropout and the checkpoint, 1 and 2 threads, resume, NPZ and ONNX, and
 * PyTorch's Dropout2d when it is installed. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/cfg.h"
#include "model/export.h"
#include "model/weights.h"
#include "nn/net.h"
#include "testutil.h"
#include "util/fileio.h"

static const struct {
    float p;
    Shape in;
    int n;
} GC[] = {
    {0.3f, {3, 4, 5}, 3},
    {0.5f, {2, 3, 3}, 2},
    {0.0f, {4, 2, 2}, 2},
    {0.8f, {5, 3, 2}, 4},
};

START_TEST(test_gradcheck)
{
    LayerSpec spec = {.kind = "dropout2d", .p = GC[_i].p};
    GcResult r;
    ck_assert(gradcheck_layer(&spec, GC[_i].in, GC[_i].n, 60 + (unsigned)_i, GC_X_AWAY_FROM_ZERO, 1e-2, 1e-3, 1e-2,
                              &r));
    ck_assert_msg(r.max_err <= 1.0, "case %d: %s[%zu] analytic %g numeric %g", _i, r.where, r.index, r.analytic,
                  r.numeric);
    ck_assert_uint_eq(r.checked, (size_t)GC[_i].n * shape_numel(GC[_i].in));
}
END_TEST

/* A standalone layer on (n, C, H, W) with rate p. */
static Layer make_layer(float p, Shape in)
{
    Layer l = {0};
    l.ops = layer_find_ops("dropout2d");
    ck_assert_ptr_nonnull(l.ops);
    l.spec.p = p;
    l.in = in;
    Err e;
    ck_assert_int_eq(l.ops->setup(&l, &e), ST_OK);
    return l;
}

static float *ramp(size_t n, float base)
{
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = base + 0.001f * (float)(i % 997) + 0.5f * (float)(i % 3);
    return v;
}

/* Whole maps are zeroed or kept and scaled by exactly 1/(1-p), as the
 * counter hash of (key, s*C + c) says; backward applies the same mask to dy. */
START_TEST(test_mask_is_whole_maps)
{
    enum { N = 16, C = 32, H = 5, W = 3, HW = H * W };
    const float p = 0.4f, scale = 1.0f / (1.0f - p);
    const uint64_t key = 0x5eed;
    Layer l = make_layer(p, (Shape){C, H, W});
    const size_t total = (size_t)N * C * HW;
    float *x = ramp(total, 0.25f), *y = malloc(total * sizeof *y), *dy = ramp(total, -0.7f);
    float *dx = malloc(total * sizeof *dx);
    l.ops->forward(&l, x, y, N, MODE_TRAIN, key);
    l.ops->backward(&l, x, y, dy, dx, N);
    int kept = 0, mixed_channel = 0;
    for (int s = 0; s < N; s++)
        for (int c = 0; c < C; c++) {
            const size_t pl = (size_t)s * C + (size_t)c;
            const int keep = rng_hash_uniform(key, pl) >= p;
            kept += keep;
            if (s > 0 && keep != (rng_hash_uniform(key, (size_t)c) >= p)) mixed_channel = 1;
            for (size_t j = 0; j < HW; j++) {
                const size_t i = pl * HW + j;
                ck_assert_msg(y[i] == (keep ? x[i] * scale : 0.0f), "y[%d,%d,%zu] = %g", s, c, j, y[i]);
                ck_assert_msg(dx[i] == (keep ? dy[i] * scale : 0.0f), "dx[%d,%d,%zu] = %g", s, c, j, dx[i]);
            }
        }
    /* 512 maps, 60% kept on average: a draw within +-0.1 of it, not all alike */
    ck_assert_msg(kept > 0.5 * N * C && kept < 0.7 * N * C, "kept %d of %d maps", kept, N * C);
    ck_assert(mixed_channel); /* a channel is kept in one sample and dropped in another */
    free(x), free(y), free(dy), free(dx);
}
END_TEST

/* Inverted dropout keeps the mean: E[y] = x. */
START_TEST(test_mean_is_kept)
{
    enum { N = 400, C = 50, HW = 4 };
    Layer l = make_layer(0.3f, (Shape){C, 2, 2});
    const size_t total = (size_t)N * C * HW;
    float *x = ramp(total, 1.0f), *y = malloc(total * sizeof *y);
    l.ops->forward(&l, x, y, N, MODE_TRAIN, 99);
    double sx = 0, sy = 0;
    for (size_t i = 0; i < total; i++) sx += x[i], sy += y[i];
    ck_assert_msg(fabs(sy / sx - 1.0) < 0.03, "mean ratio %g", sy / sx);
    free(x), free(y);
}
END_TEST

/* MODE_EVAL and a rate of 0 are the identity, bit for bit. */
START_TEST(test_eval_is_identity)
{
    const Shape in = {6, 3, 4};
    const size_t total = 5 * shape_numel(in);
    float *x = ramp(total, -0.3f), *y = malloc(total * sizeof *y), *dx = malloc(total * sizeof *dx);
    Layer l = make_layer(0.5f, in);
    l.ops->forward(&l, x, y, 5, MODE_EVAL, 7);
    ck_assert_mem_eq(x, y, total * sizeof *x);
    Layer z = make_layer(0.0f, in);
    z.ops->forward(&z, x, y, 5, MODE_TRAIN, 7);
    ck_assert_mem_eq(x, y, total * sizeof *x);
    z.ops->backward(&z, x, y, x, dx, 5);
    ck_assert_mem_eq(x, dx, total * sizeof *x);
    free(x), free(y), free(dx);
}
END_TEST

/* A conv net with dropout2d after its first relu and a dropout in the head:
 * layers 0 conv, 1 relu, 2 dropout2d, 3 maxpool, 4 flatten, 5 dense, 6 relu,
 * 7 dropout, 8 dense. */
static const char *MODEL = "input 1x28x28\n"
                           "conv 4 3 stride=2   # 4x13x13\n"
                           "relu\n"
                           "dropout2d 0.25      # whole 13x13 maps\n"
                           "maxpool 2           # 4x6x6\n"
                           "flatten\n"
                           "dense 16\n"
                           "relu\n"
                           "dropout 0.3\n"
                           "dense 10\n";

/* MODE_MC keeps the masks (a layer without buffers gets MODE_TRAIN), so two
 * keys give two predictions; MODE_EVAL gives one whatever the key. */
START_TEST(test_net_modes)
{
    NetSpec c;
    Err e;
    Net *net;
    ck_assert_msg(cfg_parse_text("m.cfg", MODEL, &c, &e) == ST_OK && net_build(&c, 4, &net, &e) == ST_OK, "%s", e.msg);
    net_init(net, 3);
    const size_t nx = 4 * 784;
    float *x = ramp(nx, -0.9f), za[40], zb[40];
    memcpy(za, net_forward(net, x, 4, MODE_EVAL, 1), sizeof za);
    memcpy(zb, net_forward(net, x, 4, MODE_EVAL, 2), sizeof zb);
    ck_assert_mem_eq(za, zb, sizeof za);
    memcpy(za, net_forward(net, x, 4, MODE_MC, 1), sizeof za);
    memcpy(zb, net_forward(net, x, 4, MODE_MC, 2), sizeof zb);
    ck_assert(memcmp(za, zb, sizeof za) != 0);
    free(x);
    net_free(net);
}
END_TEST

/* The model-file line, and --dropout's list: dropout2d lines count, in
 * model-file order with the dropout lines. */
START_TEST(test_model_file)
{
    NetSpec c;
    Err e;
    ck_assert_int_eq(cfg_parse_text("m.cfg", MODEL, &c, &e), ST_OK);
    ck_assert_str_eq(c.layers[2].kind, "dropout2d");
    ck_assert_float_eq(c.layers[2].p, 0.25f);
    ck_assert_int_eq(netspec_count_dropout(&c), 2);
    const float p[2] = {0.1f, 0.6f};
    ck_assert_int_eq(netspec_set_dropout(&c, p, 2, &e), ST_OK);
    ck_assert_float_eq(c.layers[2].p, 0.1f);
    ck_assert_float_eq(c.layers[7].p, 0.6f);
    ck_assert_int_eq(netspec_set_dropout(&c, p, 1, &e), ST_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "2 dropout layers"));
    netspec_free(&c);

    static const struct {
        const char *line, *msg;
    } BAD[] = {
        {"dropout2d 1", "m.cfg:3: dropout2d: '1' is not a rate in [0, 1)"},
        {"dropout2d -0.1", "m.cfg:3: dropout2d: '-0.1' is not a rate in [0, 1)"},
        {"dropout2d", "m.cfg:3: wrong number of values for dropout2d (expected: dropout2d P)"},
        {"dropout2d 0.2 p=1", "m.cfg:3: unknown option 'p' for dropout2d"},
    };
    for (size_t k = 0; k < sizeof BAD / sizeof BAD[0]; k++) {
        char text[200];
        snprintf(text, sizeof text, "input 1x4x4\nconv 2 3\n%s\nflatten\ndense 2\n", BAD[k].line);
        ck_assert_int_eq(cfg_parse_text("m.cfg", text, &c, &e), ST_ERR_FORMAT);
        ck_assert_msg(!strncmp(e.msg, BAD[k].msg, strlen(BAD[k].msg)), "'%s': %s", BAD[k].line, e.msg);
    }
}
END_TEST

/* A flat input is refused, naming the line (PyTorch deprecates an (N, F)
 * input to Dropout2d and drops single values of it: dropout does that), also
 * a Cx1x1 map (channel dropout is dropout there). */
START_TEST(test_flat_input_is_refused)
{
    static const char *const TEXTS[] = {"input 1x28x28\nflatten\ndropout2d 0.5\ndense 10\n",
                                        "input 1x3x3\nconv 4 3\ndropout2d 0.5\nflatten\ndense 2\n"};
    for (int k = 0; k < 2; k++) {
        NetSpec c;
        Err e;
        Net *net = NULL;
        ck_assert_int_eq(cfg_parse_text("m.cfg", TEXTS[k], &c, &e), ST_OK);
        ck_assert_int_eq(net_build(&c, 2, &net, &e), ST_ERR_SHAPE);
        ck_assert_ptr_null(net);
        ck_assert_msg(!strncmp(e.msg, "m.cfg:3: dropout2d drops whole feature maps", 43), "%s", e.msg);
        ck_assert_msg(strstr(e.msg, "use dropout"), "%s", e.msg);
    }
}
END_TEST

static char out[16384];

static void expect(const char *args, int code, const char *word) { expect_fmnist(args, code, word, out, sizeof out); }

/* Occurrences of the n bytes w in d[0..len). */
static int count_bytes(const char *d, size_t len, const void *w, size_t n)
{
    int k = 0;
    for (size_t i = 0; i + n <= len; i++) k += !memcmp(d + i, w, n);
    return k;
}

/* NPZ: no tensor of layers 2 and 7; ONNX: no node for them, the maxpool
 * reads the relu's output directly. */
static void check_exports(const Net *net)
{
    Buf b = {0};
    Err e;
    ck_assert_int_eq(export_npz_buf(net, &b, &e), ST_OK);
    ck_assert_int_eq(net->ntensors, 6);
    for (int k = 0; k < net->ntensors; k++)
        ck_assert_msg(net->tensors[k].name[0] != '2' && net->tensors[k].name[0] != '7', "%s", net->tensors[k].name);
    ck_assert_int_eq(count_bytes(b.data, b.len, ".npy", 4), 2 * 6); /* local header + directory */
    ck_assert_int_eq(count_bytes(b.data, b.len, "2.", 2), 0);
    buf_free(&b);
    ck_assert_int_eq(export_onnx_buf(net, &b, &e), ST_OK);
    ck_assert_int_eq(count_bytes(b.data, b.len, "2.dropout2d", 11), 0);
    ck_assert_int_eq(count_bytes(b.data, b.len, "2.out", 5), 0);
    ck_assert_int_eq(count_bytes(b.data, b.len, "7.dropout", 9), 0);
    /* node 3.maxpool: input "1.out", output "3.out" (fields 1, 2, 3 of NodeProto) */
    static const char node3[] = "\x0a\x05" "1.out" "\x12\x05" "3.out" "\x1a\x09" "3.maxpool";
    ck_assert_int_eq(count_bytes(b.data, b.len, node3, sizeof node3 - 1), 1);
    static const char node8[] = "\x0a\x05" "6.out";
    ck_assert_int_eq(count_bytes(b.data, b.len, node8, sizeof node8 - 1), 1); /* 8.dense reads 6.out */
    buf_free(&b);
}

/* The binary: --dropout sets both rates (model-file order) and the
 * checkpoint keeps them; 1 and 2 threads give the same weights; a run
 * resumed after epoch 1 equals one of 2 epochs; exports leave it out. */
START_TEST(test_binary_end_to_end)
{
    char *dir = make_temp_dir(), path[600], args[4096];
    ck_assert_int_eq(write_synthetic_idx(dir, "train", 300, 5), 0);
    ck_assert_int_eq(write_synthetic_idx(dir, "t10k", 100, 9), 0);
    snprintf(path, sizeof path, "%s/d2.cfg", dir);
    Err e;
    ck_assert_int_eq(file_write_atomic(path, MODEL, strlen(MODEL), &e), ST_OK);
    const char *common = "--batch 64 --lr 0.01 --seed 11 --data %s --no-progress --dropout 0.25,0.4";
    char flags[1200];
    snprintf(flags, sizeof flags, common, dir);
    for (int t = 1; t <= 2; t++) {
        snprintf(args, sizeof args, "train --model %s %s --epochs %d --threads %d --out %s/t%d", path, flags, t, t,
                 dir, t);
        expect(args, 0, "2    dropout2d p=0.25   4x13x13"); /* the layer table shows the rate */
    }
    snprintf(args, sizeof args, "train --model %s %s --epochs 2 --threads 1 --out %s/t1b", path, flags, dir);
    expect(args, 0, "epoch 2/2");
    snprintf(args, sizeof args, "train --resume %s/t1/model.fmw --epochs 2 --data %s --no-progress --threads 2 "
                                "--out %s/resumed", dir, dir, dir);
    expect(args, 0, "epoch 2/2");
    snprintf(args, sizeof args, "train --model %s --dropout 0.1 --epochs 1 --data %s --out %s/bad", path, dir, dir);
    expect(args, 2, "1 dropout rate given, but");

    Net *a, *b, *r;
    CkptState sa, sb;
    snprintf(path, sizeof path, "%s/t1b/model.fmw", dir);
    ck_assert_msg(weights_load_run(path, 0, &a, &sa, &e) == ST_OK, "%s", e.msg);
    snprintf(path, sizeof path, "%s/t2/model.fmw", dir);
    ck_assert_msg(weights_load_run(path, 0, &b, &sb, &e) == ST_OK, "%s", e.msg);
    snprintf(path, sizeof path, "%s/resumed/model.fmw", dir);
    ck_assert_msg(weights_load(path, 4, &r, NULL, &e) == ST_OK, "%s", e.msg);
    ck_assert_float_eq(a->layers[2].spec.p, 0.25f); /* the model text's rates, in model-file order */
    ck_assert_float_eq(a->layers[7].spec.p, 0.4f);
    ck_assert_float_eq(r->layers[2].spec.p, 0.25f);
    ck_assert_ptr_nonnull(strstr(a->spec.text, "\ndropout 0.4\n"));
    ck_assert_str_eq(sa.settings, sb.settings);
    ck_assert_mem_eq(a->params, b->params, a->nparams * sizeof(float)); /* 1 thread = 2 threads */
    ck_assert_mem_eq(sa.opt.m, sb.opt.m, a->nparams * sizeof(float));
    ck_assert_mem_eq(a->params, r->params, a->nparams * sizeof(float)); /* resumed = in one go */
    check_exports(a);
    weights_state_free(&sa), weights_state_free(&sb);
    net_free(a), net_free(b), net_free(r);

    snprintf(args, sizeof args, "eval --weights %s/t2/model.fmw --data %s", dir, dir);
    expect(args, 0, "test loss");
    snprintf(args, sizeof args, "export --weights %s/t2/model.fmw -o %s/m.npz", dir, dir);
    expect(args, 0, "6 tensors");
    rm_tree(dir);
    free(dir);
}
END_TEST

/* What PyTorch's Dropout2d does, as dropout2d.c says: whole maps of a
 * 4-D input, zeroed or scaled by 1/(1-p); single values of a deprecated 2-D
 * one (fmnist refuses it for dropout), or an error in a later PyTorch. Exit
 * 3: no torch. */
static const char *TORCH_PROBE =
    "import sys, warnings\n"
    "try:\n"
    "    import torch\n"
    "except ImportError:\n"
    "    sys.exit(3)\n"
    "torch.manual_seed(0)\n"
    "d = torch.nn.Dropout2d(0.5).train()\n"
    "y = d(torch.ones(8, 16, 3, 3)).reshape(128, 9)\n"
    "whole = lambda r: bool((r == 0).all() or (r == 2).all())\n"
    "maps = all(whole(r) for r in y) and 0 < int((y[:, 0] == 0).sum()) < 128\n"
    "try:\n"
    "    with warnings.catch_warnings():\n"
    "        warnings.simplefilter('ignore')\n"
    "        z = d(torch.ones(64, 10))\n"
    "    flat = 'drops single values' if bool(((z == 0) | (z == 2)).all()) and not all(whole(r) for r in z) else 'other'\n"
    "except RuntimeError:\n"
    "    flat = 'refused'\n"
    "print('maps', maps, 'flat', flat, 'torch', torch.__version__)\n"
    "sys.exit(0 if maps and flat != 'other' else 1)\n";

/* PyTorch (Debian's python3-torch for /usr/bin/python3; skipped visibly
 * without it): Dropout2d behaves as dropout2d.c says, and a trained
 * dropout2d model's NPZ loads into the nn.Sequential with nn.Dropout2d
 * (tools/torch_check.py) with fmnist eval's accuracy and loss. */
START_TEST(test_pytorch)
{
    char *dir = make_temp_dir(), path[600], args[4096], cmd[8192], mine[64], theirs[64];
    Err e;
    snprintf(path, sizeof path, "%s/probe.py", dir);
    ck_assert_int_eq(file_write_atomic(path, TORCH_PROBE, strlen(TORCH_PROBE), &e), ST_OK);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s", path);
    int rc = run_shell(cmd, out, sizeof out);
    if (rc == 3 || rc == 127) {
        printf("skipped: test_pytorch of the dropout2d suite (no python3-torch for /usr/bin/python3)\n");
        rm_tree(dir);
        free(dir);
        return;
    }
    ck_assert_msg(rc == 0, "PyTorch's Dropout2d is not what dropout2d.c says:\n%s", out);
    ck_assert_int_eq(write_synthetic_idx(dir, "train", 300, 5), 0);
    ck_assert_int_eq(write_synthetic_idx(dir, "t10k", 100, 9), 0);
    snprintf(path, sizeof path, "%s/d2.cfg", dir);
    ck_assert_int_eq(file_write_atomic(path, MODEL, strlen(MODEL), &e), ST_OK);
    snprintf(args, sizeof args, "train --model %s --epochs 2 --batch 64 --lr 0.01 --data %s --no-progress --out %s/run",
             path, dir, dir);
    expect(args, 0, "epoch 2/2");
    snprintf(args, sizeof args, "eval --weights %s/run/model.fmw --data %s", dir, dir);
    expect(args, 0, "test loss");
    const char *a = strstr(out, " acc "), *l = strstr(out, "test loss ");
    ck_assert_msg(a && l, "%s", out);
    snprintf(mine, sizeof mine, "%.*s", (int)strcspn(a + 1, "%") + 1, a + 1);
    const double my_loss = strtod(l + 10, NULL);
    snprintf(args, sizeof args, "export --weights %s/run/model.fmw -o %s/m.npz", dir, dir);
    expect(args, 0, "6 tensors");
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tools/torch_check.py %s/m.npz --checkpoint %s/run/model.fmw --data %s",
             dir, dir, dir);
    rc = run_shell(cmd, out, sizeof out);
    ck_assert_msg(rc == 0, "%s: exit %d\n%s", cmd, rc, out);
    a = strstr(out, " acc "), l = strstr(out, "test loss ");
    ck_assert_msg(a && l, "%s", out);
    snprintf(theirs, sizeof theirs, "%.*s", (int)strcspn(a + 1, "%") + 1, a + 1);
    ck_assert_msg(!strcmp(mine, theirs), "fmnist eval says %s, PyTorch %s", mine, theirs);
    ck_assert_msg(fabs(strtod(l + 10, NULL) - my_loss) <= 1.5e-4, "test loss: fmnist %.4f, PyTorch %s", my_loss, l);
    printf("PyTorch vs fmnist eval, a dropout2d model, 100 synthetic test images: %s both\n", mine);
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *dropout2d_suite(void)
{
    Suite *s = suite_create("dropout2d");
    TCase *tc = tcase_create("layer");
    tcase_add_loop_test(tc, test_gradcheck, 0, sizeof GC / sizeof GC[0]);
    tcase_add_test(tc, test_mask_is_whole_maps);
    tcase_add_test(tc, test_mean_is_kept);
    tcase_add_test(tc, test_eval_is_identity);
    suite_add_tcase(s, tc);
    tc = tcase_create("net");
    tcase_add_test(tc, test_net_modes);
    tcase_add_test(tc, test_model_file);
    tcase_add_test(tc, test_flat_input_is_refused);
    suite_add_tcase(s, tc);
    tc = tcase_create("binary");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_binary_end_to_end);
    tcase_add_test(tc, test_pytorch);
    suite_add_tcase(s, tc);
    return s;
}
