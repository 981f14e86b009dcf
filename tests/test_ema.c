/* test_ema.c - --ema DECAY (issue 17): the update against hand-computed
 * values and against PyTorch's float32 arithmetic (skipped visibly without
 * torch); a run whose evaluations, model.fmw, best.fmw and final net are the
 * average recomputed step by step from the live weights, while its training
 * (train loss, live weights) is the plain run's; a run stopped mid-epoch and
 * resumed equals the uninterrupted one (log, average, live weights,
 * validation's record); through the binary, 1 thread = 2 threads + resume,
 * the run header, eval, and the flags refused; the LIVE section's checks. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "model/cfg.h"
#include "model/weights.h"
#include "nn/ema.h"
#include "nn/penalty.h"
#include "report/curve.h"
#include "testutil.h"
#include "train/resume.h"
#include "train/run.h"
#include "train/settings.h"
#include "util/fileio.h"

static char out[1 << 16];

/* A dense layer with batchnorm after it: weights, biases, running
 * statistics and a count. */
static const char *BN_MODEL = "input 1x28x28\nflatten\ndense 12\nbatchnorm\nrelu\ndense 10\n";

/* ---- the update ---- */

/* Tensors of a hand-made arena: w [2] a weight, b [1] a bias, m [1] a
 * running mean (buffer), c a count (0-d buffer). */
static const ParamInfo T[4] = {
    {.name = "w", .ndim = 1, .dims = {2}, .offset = 0, .numel = 2},
    {.name = "b", .ndim = 1, .dims = {1}, .offset = 2, .numel = 1, .is_bias = 1},
    {.name = "m", .ndim = 1, .dims = {1}, .offset = 3, .numel = 1, .is_buffer = 1},
    {.name = "c", .ndim = 0, .offset = 4, .numel = 1, .is_buffer = 1},
};

START_TEST(test_update_by_hand)
{
    /* decay 0.75 toward constant weights 1 from 0: 1 - 0.75^t, exact in binary */
    float e[5] = {0, 0, 0, 0, 0}, w[5] = {1, 1, 1, 1, 7};
    const float want[3] = {0.25f, 0.4375f, 0.578125f};
    for (int t = 0; t < 3; t++) {
        ema_update(e, w, T, 4, 0.75f);
        for (int i = 0; i < 4; i++) ck_assert_float_eq(e[i], want[t]);
        ck_assert_float_eq(e[4], 7.0f); /* the count is copied, not averaged */
    }
    /* decay 0.5, moving weights: e = (e + w) / 2 per value */
    float e2[5] = {1, -2, 0.5f, 0, 0}, w1[5] = {3, 2, 0.5f, 4, 1}, w2[5] = {3, 2, 1.5f, -4, 2};
    ema_update(e2, w1, T, 4, 0.5f);
    const float s1[5] = {2, 0, 0.5f, 2, 1};
    ck_assert_mem_eq(e2, s1, sizeof s1);
    ema_update(e2, w2, T, 4, 0.5f);
    const float s2[5] = {2.5f, 1, 1, -1, 2};
    ck_assert_mem_eq(e2, s2, sizeof s2);
    /* 0.9: a*e + b*w with b = 1 - a in float, each product rounded (no FMA) */
    float e3[5] = {1, 1, 1, 1, 1}, w3[5] = {0.3f, -0.7f, 2, 0, 5};
    ema_update(e3, w3, T, 4, 0.9f);
    volatile float a = 0.9f, b = 1.0f - a;
    for (int i = 0; i < 4; i++) {
        volatile float keep = a * 1.0f, take = b * w3[i];
        float x = keep + take;
        ck_assert_msg(memcmp(&e3[i], &x, 4) == 0, "value %d: %.9g, expected %.9g", i, (double)e3[i], (double)x);
        ck_assert_double_eq_tol(e3[i], 0.9 + 0.1 * w3[i], 1e-6);
    }
    ck_assert_float_eq(b, 0.100000024f); /* 1 - 0.9f, exact: a + b == 1 */
    ck_assert_float_eq(a + b, 1.0f);
    /* the range */
    ck_assert(ema_decay_ok(0.5f) && ema_decay_ok(0.999f) && ema_decay_ok(0x1.fffffep-1f) && ema_decay_ok(1e-30f));
    ck_assert(!ema_decay_ok(0.0f) && !ema_decay_ok(1.0f) && !ema_decay_ok(-0.5f) && !ema_decay_ok(NAN) &&
              !ema_decay_ok(INFINITY));
}
END_TEST

/* PyTorch's float32 ops (Debian's python3-torch for /usr/bin/python3): the
 * file holds u32 steps, u32 n, f32 a, f32 b, then n floats of the start and
 * n of each step's weights; the script writes back n floats: e.mul_(a);
 * e.add_(w * b) after each step. Exit 3: no torch. */
static const char *TORCH_EMA =
    "import sys, struct\n"
    "try:\n"
    "    import torch\n"
    "except ImportError:\n"
    "    sys.exit(3)\n"
    "raw = open(sys.argv[1], 'rb').read()\n"
    "steps, n = struct.unpack_from('<II', raw, 0)\n"
    "a, b = struct.unpack_from('<ff', raw, 8)\n"
    "v = torch.frombuffer(bytearray(raw[16:]), dtype=torch.float32).reshape(steps + 1, n)\n"
    "e = v[0].clone()\n"
    "ta, tb = torch.tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32)\n"
    "for s in range(1, steps + 1):\n"
    "    e.mul_(ta)\n"
    "    e.add_(v[s] * tb)\n"
    "open(sys.argv[2], 'wb').write(e.numpy().astype('<f4').tobytes())\n"
    "print('torch', torch.__version__)\n";

START_TEST(test_pytorch_same_bits)
{
    enum { N = 1000, STEPS = 20 };
    const float decay = 0.999f;
    char *dir = make_temp_dir(), script[600], in[600], res[600], cmd[2000];
    Err e;
    snprintf(script, sizeof script, "%s/ema.py", dir);
    ck_assert_int_eq(file_write_atomic(script, TORCH_EMA, strlen(TORCH_EMA), &e), ST_OK);
    /* one weight tensor of N values: start and steps of pseudo-random values */
    static float v[(STEPS + 1) * N], mine[N];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        x = x * 1664525u + 1013904223u;
        v[i] = ((float)(x >> 8) / 16777216.0f - 0.5f) * (i < N ? 2.0f : 3.0f);
    }
    ParamInfo t = {.name = "w", .ndim = 1, .dims = {N}, .numel = N};
    memcpy(mine, v, sizeof mine);
    for (int s = 1; s <= STEPS; s++) ema_update(mine, v + (size_t)s * N, &t, 1, decay);
    Buf b = {0};
    buf_u32(&b, STEPS);
    buf_u32(&b, N);
    float ab[2] = {decay, 1.0f - decay};
    buf_put(&b, ab, sizeof ab); /* little-endian host: the tests run on x86-64 */
    buf_put(&b, v, sizeof v);
    snprintf(in, sizeof in, "%s/in.bin", dir);
    snprintf(res, sizeof res, "%s/out.bin", dir);
    ck_assert_int_eq(file_write_atomic(in, b.data, b.len, &e), ST_OK);
    buf_free(&b);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s %s", script, in, res);
    int rc = run_shell(cmd, out, sizeof out);
    if (rc == 3 || rc == 127) {
        printf("skipped: test_pytorch_same_bits of the ema suite (no python3-torch for /usr/bin/python3)\n");
        rm_tree(dir);
        free(dir);
        return;
    }
    ck_assert_msg(rc == 0, "the PyTorch script failed:\n%s", out);
    size_t len;
    char *theirs = read_all_or_fail(res, &len);
    ck_assert_int_eq(len, sizeof mine);
    int differ = 0;
    for (int i = 0; i < N; i++) differ += memcmp(theirs + 4 * i, &mine[i], 4) != 0;
    ck_assert_msg(!differ, "%d of %d values differ from PyTorch's", differ, N);
    free(theirs);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* ---- runs through the library ---- */

static char *write_model(const char *dir)
{
    static char path[700];
    Err e;
    snprintf(path, sizeof path, "%s/bn.cfg", dir);
    ck_assert_int_eq(file_write_atomic(path, BN_MODEL, strlen(BN_MODEL), &e), ST_OK);
    return path;
}

static Net *bn_net(const char *model, int batch, int seed)
{
    Net *net;
    Err e;
    ck_assert_msg(run_build_net(model, NULL, 0, batch, &net, &e) == ST_OK, "%s", e.msg);
    net_init(net, (uint64_t)seed);
    return net;
}

/* The average recomputed from the live weights after every step (an
 * implementation of its own), and the last live weights. */
typedef struct {
    Net *net;
    float *ref, *live;
    float decay;
    int steps;
    int stop_epoch, stop_batch;
    volatile sig_atomic_t stop;
} Follow;

static void follow(void *ctx, const BatchStats *bs)
{
    Follow *f = ctx;
    const Net *net = f->net;
    const float a = f->decay, b = 1.0f - f->decay;
    for (int k = 0; k < net->ntensors; k++) {
        const ParamInfo *t = &net->tensors[k];
        for (size_t i = t->offset; i < t->offset + t->numel; i++) {
            if (t->is_buffer && t->ndim == 0) {
                f->ref[i] = net->params[i];
                continue;
            }
            volatile float keep = a * f->ref[i], take = b * net->params[i];
            f->ref[i] = keep + take;
        }
    }
    memcpy(f->live, net->params, net->nparams * sizeof(float));
    f->steps++;
    if (bs->epoch == f->stop_epoch && bs->done == f->stop_batch) f->stop = 1;
}

typedef struct {
    Dataset train, test, val;
} Sets;

static void sets_make(Sets *s)
{
    synthetic_dataset(&s->train, 120, 1);
    synthetic_dataset(&s->test, 50, 2);
    synthetic_dataset(&s->val, 40, 3);
}

static void sets_free(Sets *s)
{
    dataset_free(&s->train), dataset_free(&s->test), dataset_free(&s->val);
}

static TrainConfig config(const Sets *s, float ema, int early_stop)
{
    OptConfig oc = optim_defaults();
    oc.kind = OPT_SGD, oc.lr = 0.3f, oc.momentum = 0.9f;
    return (TrainConfig){.epochs = 3, .batch = 30, .micro_batch = 8, .seed = 6, .opt = oc, .val = &s->val,
                         .early_stop = early_stop, .ema = ema};
}

START_TEST(test_run_saves_the_average)
{
    char *dir = make_temp_dir(), a[600], b[600], p[700];
    const char *model = write_model(dir);
    snprintf(a, sizeof a, "%s/ema", dir);
    snprintf(b, sizeof b, "%s/plain", dir);
    Sets s;
    sets_make(&s);
    Err e;
    /* with --ema 0.9 */
    Net *net = bn_net(model, 30, 4);
    Follow f = {.net = net, .decay = 0.9f};
    f.ref = malloc(net->nparams * sizeof(float)), f.live = malloc(net->nparams * sizeof(float));
    memcpy(f.ref, net->params, net->nparams * sizeof(float)); /* the average starts at the first weights */
    RunSpec spec = {.model = model, .out = a, .train = config(&s, 0.9f, 0)};
    RunHooks hooks = {follow, NULL, &f, NULL, NULL, NULL};
    ck_assert_int_eq(run_prepare(&spec, &e), ST_OK);
    ck_assert_msg(run_train(&spec, net, &s.train, &s.test, &hooks, &e) == ST_OK, "%s", e.msg);
    ck_assert_int_eq(f.steps, 12);
    ck_assert_mem_eq(net->params, f.ref, net->nparams * sizeof(float)); /* the net is left with the average */
    ck_assert(memcmp(f.ref, f.live, net->nparams * sizeof(float)) != 0);
    /* model.fmw: TENS the average, LIVE the live weights */
    Net *saved;
    CkptState ck;
    snprintf(p, sizeof p, "%s/model.fmw", a);
    ck_assert_msg(weights_load_run(p, 0, &saved, &ck, &e) == ST_OK, "%s", e.msg);
    ck_assert_mem_eq(saved->params, f.ref, net->nparams * sizeof(float));
    ck_assert_ptr_nonnull(ck.live);
    ck_assert_mem_eq(ck.live, f.live, net->nparams * sizeof(float));
    ck_assert_ptr_nonnull(strstr(ck.settings, "\nema=0.9\n"));
    /* the count of the running statistics is the live one, a whole number */
    int counts = 0;
    for (int k = 0; k < net->ntensors; k++) {
        size_t at = net->tensors[k].offset;
        if (!net_tensor_is_count(&net->tensors[k])) continue;
        ck_assert_float_eq(saved->params[at], f.live[at]);
        ck_assert(f.live[at] >= 12.0f && f.live[at] == floorf(f.live[at]));
        counts++;
    }
    ck_assert_int_eq(counts, 1);
    /* the log's test figures are the average's */
    Curve c;
    snprintf(p, sizeof p, "%s/log.csv", a);
    ck_assert_int_eq(curve_read(p, &c, &e), ST_OK);
    double loss, acc;
    ck_assert_int_eq(train_evaluate(saved, &s.test, &loss, &acc, &e), ST_OK);
    ck_assert_double_eq_tol(c.test_loss[2], loss, 1e-6);
    ck_assert_double_eq_tol(c.test_acc[2], acc, 1e-6);
    ck_assert_double_eq_tol(c.weight_norm[2], penalty_weight_norm(saved), 1e-5);
    net_free(saved);
    weights_state_free(&ck);
    /* the same run without --ema: the same training (train loss, live weights), other test figures */
    Net *plain = bn_net(model, 30, 4);
    RunSpec ps = {.model = model, .out = b, .train = config(&s, 0.0f, 0)};
    ck_assert_int_eq(run_prepare(&ps, &e), ST_OK);
    ck_assert_msg(run_train(&ps, plain, &s.train, &s.test, NULL, &e) == ST_OK, "%s", e.msg);
    ck_assert_mem_eq(plain->params, f.live, net->nparams * sizeof(float));
    Curve pc;
    snprintf(p, sizeof p, "%s/log.csv", b);
    ck_assert_int_eq(curve_read(p, &pc, &e), ST_OK);
    for (int k = 0; k < 3; k++) ck_assert_double_eq(pc.train_loss[k], c.train_loss[k]);
    ck_assert(pc.test_loss[2] != c.test_loss[2]);
    snprintf(p, sizeof p, "%s/model.fmw", b);
    ck_assert_int_eq(weights_load_run(p, 0, &saved, &ck, &e), ST_OK);
    ck_assert_ptr_null(ck.live); /* no LIVE without --ema */
    ck_assert_ptr_nonnull(strstr(ck.settings, "\nema=0\n"));
    net_free(saved);
    weights_state_free(&ck);
    curve_free(&c), curve_free(&pc);
    net_free(plain);
    net_free(net);
    free(f.ref), free(f.live);
    sets_free(&s);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* Stopped in epoch 2 after batch 2 and resumed: the uninterrupted run's
 * log, average, live weights and validation record (early stopping: its
 * weights are the average of the best epoch, as best.fmw's). */
START_TEST(test_resume_mid_epoch)
{
    char *dir = make_temp_dir(), a[600], b[600], pa[700], pb[700];
    const char *model = write_model(dir);
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    Sets s;
    sets_make(&s);
    Err e;
    for (int k = 0; k < 2; k++) {
        Net *net = bn_net(model, 30, 5);
        Follow f = {.net = net, .decay = 0.8f, .stop_epoch = k ? 2 : 0, .stop_batch = 2};
        f.ref = malloc(net->nparams * sizeof(float)), f.live = malloc(net->nparams * sizeof(float));
        memcpy(f.ref, net->params, net->nparams * sizeof(float));
        RunSpec spec = {.model = model, .out = k ? b : a, .train = config(&s, 0.8f, 2)};
        RunHooks hooks = {follow, NULL, &f, &f.stop, NULL, NULL};
        ck_assert_int_eq(run_prepare(&spec, &e), ST_OK);
        ck_assert_int_eq(run_train(&spec, net, &s.train, &s.test, &hooks, &e), k ? ST_ERR_INTERRUPTED : ST_OK);
        if (k) ck_assert_mem_eq(net->params, f.ref, net->nparams * sizeof(float)); /* stopped: the model in the net */
        net_free(net);
        free(f.ref), free(f.live);
    }
    snprintf(pb, sizeof pb, "%s/model.fmw", b);
    ResumedRun r;
    ck_assert_msg(resume_load(pb, 0, &r, &e) == ST_OK, "%s", e.msg);
    ck_assert(r.progress.epoch == 1 && r.progress.batch == 2 && r.progress.live);
    r.spec.out = b;
    r.spec.overwrite = 1;
    r.spec.train.val = &s.val;
    ck_assert_msg(run_train(&r.spec, r.net, &s.train, &s.test, NULL, &e) == ST_OK, "%s", e.msg);
    resume_free(&r);
    test_same_run(a, b);
    Net *na, *nb;
    CkptState sa, sb;
    snprintf(pa, sizeof pa, "%s/model.fmw", a);
    ck_assert_int_eq(weights_load_run(pa, 0, &na, &sa, &e), ST_OK);
    ck_assert_int_eq(weights_load_run(pb, 0, &nb, &sb, &e), ST_OK);
    ck_assert(sa.live && sb.live && sa.val_best_params && sb.val_best_params);
    ck_assert_mem_eq(sa.live, sb.live, na->nparams * sizeof(float));
    ck_assert_mem_eq(sa.val_best_params, sb.val_best_params, na->nparams * sizeof(float));
    ck_assert(sa.val_best == sb.val_best && sa.val_best_epoch == sb.val_best_epoch);
    /* best.fmw: the average of validation's epoch, the record's weights */
    Net *best;
    snprintf(pa, sizeof pa, "%s/best.fmw", a);
    ck_assert_int_eq(weights_load(pa, 1, &best, NULL, &e), ST_OK);
    ck_assert_mem_eq(best->params, sa.val_best_params, na->nparams * sizeof(float));
    net_free(best);
    weights_state_free(&sa), weights_state_free(&sb);
    net_free(na), net_free(nb);
    sets_free(&s);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* ---- the checkpoint's LIVE section ---- */

/* The bytes of path with the CRC made right again, written back. */
static void fix_crc(const char *path, char *data, size_t len)
{
    uint32_t c = (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const unsigned char *)data, (uInt)(len - 4));
    for (int i = 0; i < 4; i++) data[len - 4 + i] = (char)(unsigned char)(c >> (8 * i));
    Err e;
    ck_assert_int_eq(file_write_atomic(path, data, len, &e), ST_OK);
}

static char *find_tag(char *data, size_t len, const char *tag)
{
    for (size_t i = 12; i + 4 <= len; i++)
        if (!memcmp(data + i, tag, 4)) return data + i;
    return NULL;
}

START_TEST(test_live_section)
{
    char *dir = make_temp_dir(), path[700], bad[700];
    const char *model = write_model(dir);
    Err e;
    Net *net = bn_net(model, 4, 1);
    float *live = malloc(net->nparams * sizeof(float));
    for (size_t i = 0; i < net->nparams; i++) live[i] = (float)i * 0.25f - 3.0f;
    RunSettings rs;
    settings_defaults(&rs);
    snprintf(rs.model, sizeof rs.model, "%s", model);
    rs.train.epochs = 2, rs.train.batch = 4, rs.train_n = 8, rs.train.ema = 0.99f;
    Buf text = {0};
    settings_format(&rs, &text);
    buf_put(&text, "", 1);
    ck_assert_ptr_nonnull(strstr(text.data, "\nema=0.99\n"));
    Optim opt;
    OptConfig oc = optim_defaults();
    ck_assert_int_eq(optim_init(&opt, &oc, net->nparams, &e), ST_OK);
    CkptState st = {.settings = text.data, .log = "", .has_progress = 1, .has_optim = 1, .opt = opt, .live = live};
    snprintf(path, sizeof path, "%s/m.fmw", dir);
    ck_assert_int_eq(weights_save_run(path, net, &st, &e), ST_OK);
    /* read back: TENS and LIVE apart, and a resumable run whose progress has the live weights */
    ResumedRun r;
    ck_assert_msg(resume_load(path, 0, &r, &e) == ST_OK, "%s", e.msg);
    ck_assert_mem_eq(r.net->params, net->params, net->nparams * sizeof(float));
    ck_assert_mem_eq(r.progress.live, live, net->nparams * sizeof(float));
    ck_assert_float_eq(r.spec.train.ema, 0.99f);
    resume_free(&r);
    /* the size weights_file_bytes promises holds it */
    size_t len;
    char *data = read_all_or_fail(path, &len);
    ck_assert(len <= weights_file_bytes(net, 1, 0, 1, strlen(text.data)));
    /* LIVE with a wrong count: refused */
    snprintf(bad, sizeof bad, "%s/bad.fmw", dir);
    char *at = find_tag(data, len, "LIVE");
    ck_assert_ptr_nonnull(at);
    at[12] ^= 1; /* n, after the tag and the section length */
    fix_crc(bad, data, len);
    CkptState got;
    ck_assert_int_eq(weights_load_run(bad, 0, &r.net, &got, &e), ST_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "LIVE"));
    at[12] ^= 1;
    /* LIVE twice: refused */
    size_t sec = len - 4 - (size_t)(at - data); /* LIVE is the last section */
    char *twice = malloc(len + sec);
    memcpy(twice, data, len - 4);
    memcpy(twice + len - 4, at, sec);
    twice[8]++; /* the section count */
    fix_crc(bad, twice, len + sec);
    ck_assert_int_eq(weights_load_run(bad, 0, &r.net, &got, &e), ST_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "appears twice"));
    free(twice);
    free(data);
    /* settings with ema but no LIVE, LIVE without ema: not resumed */
    st.live = NULL;
    ck_assert_int_eq(weights_save_run(bad, net, &st, &e), ST_OK);
    ck_assert_int_eq(resume_load(bad, 0, &r, &e), ST_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "no live weights"));
    rs.train.ema = 0.0f;
    text.len = 0;
    settings_format(&rs, &text);
    buf_put(&text, "", 1);
    st.settings = text.data, st.live = live;
    ck_assert_int_eq(weights_save_run(bad, net, &st, &e), ST_OK);
    ck_assert_int_eq(resume_load(bad, 0, &r, &e), ST_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "but its settings have no ema"));
    /* the settings' range: below 1 */
    RunSettings back;
    const char *vals[] = {"1", "1.5", "-0.1", "x", "nan"};
    for (int i = 0; i < 5; i++) {
        char t[300];
        snprintf(t, sizeof t, "model=m\nepochs=1\nbatch=1\nseed=1\ntrain_n=1\noptim=adam\nlr=0.1\nema=%s\n", vals[i]);
        ck_assert_int_eq(settings_parse("m.fmw", t, &back, &e), ST_ERR_FORMAT);
        ck_assert_ptr_nonnull(strstr(e.msg, "for ema"));
    }
    ck_assert_int_eq(settings_parse("m.fmw", "model=m\nepochs=1\nbatch=1\nseed=1\ntrain_n=1\noptim=adam\nlr=0.1\n"
                                             "ema=0.99999994\n", &back, &e), ST_OK);
    ck_assert_float_eq(back.train.ema, 0x1.fffffep-1f);
    /* train_run refuses a decay outside [0, 1) and live weights that do not match the setting */
    Sets s;
    sets_make(&s);
    /* the memory estimate counts the second arena and LIVE */
    RunSpec ms = {.model = model, .out = dir, .train = config(&s, 0.0f, 0)};
    RunMemory m0, m1;
    run_memory(&ms, net, &s.train, &s.test, &m0);
    ms.train.ema = 0.9f;
    run_memory(&ms, net, &s.train, &s.test, &m1);
    ck_assert(m0.ema == 0 && m1.ema == net->nparams * sizeof(float));
    ck_assert(m1.checkpoint >= m0.checkpoint + net->nparams * sizeof(float));
    Net *n2 = bn_net(model, 30, 1);
    TrainConfig tc = config(&s, 1.0f, 0);
    ck_assert_int_eq(train_run(n2, &s.train, &s.test, &tc, NULL, NULL, &e), ST_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(e.msg, "--ema"));
    tc.ema = 0.0f;
    TrainProgress pr = {.opt = &opt, .live = live};
    ck_assert_int_eq(train_run(n2, &s.train, &s.test, &tc, &pr, NULL, &e), ST_ERR_ARG);
    tc.ema = 0.5f, pr.live = NULL;
    ck_assert_int_eq(train_run(n2, &s.train, &s.test, &tc, &pr, NULL, &e), ST_ERR_ARG);
    net_free(n2);
    sets_free(&s);
    optim_free(&opt);
    buf_free(&text);
    free(live);
    net_free(net);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* ---- the binary ---- */

static void expect(const char *args, int code, const char *word)
{
    expect_fmnist(args, code, word, out, sizeof out);
}

/* 1 thread = 2 threads stopped after epoch 1 and resumed (log, average,
 * live weights); the run header; eval reads the average; the flags. */
START_TEST(test_binary)
{
    char *dir = make_temp_dir(), args[8000], p[700];
    const char *model = write_model(dir);
    ck_assert_int_eq(write_synthetic_idx(dir, "train", 300, 5), 0);
    ck_assert_int_eq(write_synthetic_idx(dir, "t10k", 100, 9), 0);
    char flags[1200];
    snprintf(flags, sizeof flags, "--data %s --model %s --batch 50 --val 60 --ema 0.95 --no-progress", dir, model);
    snprintf(args, sizeof args, "train %s --epochs 2 --threads 1 --out %s/t1", flags, dir);
    expect(args, 0, "weights: EMA decay 0.95 (evaluated and saved); the train loss is the live weights'");
    snprintf(args, sizeof args, "train %s --epochs 1 --threads 2 --out %s/t2", flags, dir);
    expect(args, 0, "epoch 1/1");
    snprintf(args, sizeof args, "train --resume %s/t2/model.fmw --epochs 2 --data %s --no-progress", dir, dir);
    expect(args, 0, "weights: EMA decay 0.95");
    /* the same log (but its seconds: a run of 1 epoch resumed to 2 has other settings' epochs) */
    char q[700];
    snprintf(p, sizeof p, "%s/t1/log.csv", dir);
    snprintf(q, sizeof q, "%s/t2/log.csv", dir);
    char *la = read_all_or_fail(p, NULL), *lb = read_all_or_fail(q, NULL);
    csv_strip_seconds(la), csv_strip_seconds(lb);
    ck_assert_str_eq(la, lb);
    free(la), free(lb);
    Net *n1, *n2;
    CkptState c1, c2;
    Err e;
    snprintf(p, sizeof p, "%s/t1/model.fmw", dir);
    snprintf(q, sizeof q, "%s/t2/model.fmw", dir);
    ck_assert_int_eq(weights_load_run(p, 0, &n1, &c1, &e), ST_OK);
    ck_assert_int_eq(weights_load_run(q, 0, &n2, &c2, &e), ST_OK);
    ck_assert(c1.live && c2.live && c1.val_best_epoch == c2.val_best_epoch && c1.val_best == c2.val_best);
    ck_assert_mem_eq(n1->params, n2->params, n1->nparams * sizeof(float));
    ck_assert_mem_eq(c1.live, c2.live, n1->nparams * sizeof(float));
    /* eval: the average's figures, those of the log's last row */
    Curve c;
    snprintf(q, sizeof q, "%s/t1/log.csv", dir);
    ck_assert_int_eq(curve_read(q, &c, &e), ST_OK);
    snprintf(args, sizeof args, "eval --weights %s --data %s", p, dir);
    expect(args, 0, "test loss");
    const char *l = strstr(out, "test loss ");
    ck_assert_msg(l, "%s", out);
    ck_assert_double_eq_tol(strtod(l + 10, NULL), c.test_loss[1], 1e-4);
    ck_assert_ptr_nonnull(strstr(out, "weights: EMA decay 0.95"));
    curve_free(&c);
    weights_state_free(&c1), weights_state_free(&c2);
    net_free(n1), net_free(n2);
    /* refused: out of range, not a number, with --resume */
    const char *bad[] = {"0", "1", "1.5", "-0.1", "abc", "nan"};
    for (int i = 0; i < 6; i++) {
        snprintf(args, sizeof args, "train --data %s --model %s --epochs 1 --ema %s --out %s/bad", dir, model, bad[i],
                 dir);
        expect(args, 2, "--ema");
    }
    snprintf(args, sizeof args, "train --resume %s/t2/model.fmw --epochs 3 --ema 0.9", dir);
    expect(args, 2, "--ema cannot be combined with --resume");
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *ema_suite(void)
{
    Suite *s = suite_create("ema");
    TCase *u = tcase_create("update");
    tcase_add_test(u, test_update_by_hand);
    tcase_add_test(u, test_pytorch_same_bits);
    tcase_set_timeout(u, 60);
    suite_add_tcase(s, u);
    TCase *r = tcase_create("runs");
    tcase_add_test(r, test_run_saves_the_average);
    tcase_add_test(r, test_resume_mid_epoch);
    tcase_add_test(r, test_live_section);
    tcase_add_test(r, test_binary);
    tcase_set_timeout(r, 120);
    suite_add_tcase(s, r);
    return s;
}
