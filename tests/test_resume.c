/* test_resume.c - the version 2 checkpoint and `train --resume`: every field
 * round-trips bit for bit; every flipped byte and every truncation is refused;
 * a structurally hostile file with a valid CRC never crashes the reader; old
 * versions get a clear message; a run interrupted and resumed equals the
 * uninterrupted run (log and weights), for the MLP and the conv net on
 * synthetic data, and through the binary on real Fashion-MNIST images. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "model/cfg.h"
#include "model/weights.h"
#include "report/log.h"
#include "testutil.h"
#include "train/resume.h"
#include "train/run.h"
#include "util/fileio.h"

static char out[1 << 16];

static Net *build_net(const char *text, const float *dropout, int ndropout, int batch)
{
    NetSpec c;
    Err e;
    ck_assert_msg(cfg_parse_text("t.cfg", text, &c, &e) == ST_OK, "%s", e.msg);
    if (ndropout) ck_assert_int_eq(netspec_set_dropout(&c, dropout, ndropout, &e), ST_OK);
    Net *net;
    ck_assert_msg(net_build(&c, batch, &net, &e) == ST_OK, "%s", e.msg);
    return net;
}

static const char *TINY = "input 1x4x3\nflatten\ndense 5\nrelu\ndropout 0.25\ndense 3\n";

/* A tiny net with a full state: progress, optimizer moments, meta, log. */
static Net *tiny_with_state(CkptState *st)
{
    float p = 0.375f; /* differs from the model text's 0.25: the DROP section must carry it */
    Net *net = build_net(TINY, &p, 1, 4);
    net_init(net, 3);
    OptConfig oc = optim_defaults();
    oc.kind = OPT_SGD;
    oc.lr = 0.0123f;
    oc.momentum = 0.9f;
    oc.nesterov = 1;
    oc.weight_decay = 1e-4f;
    oc.decay_bias = 1;
    memset(st, 0, sizeof *st);
    Err e;
    ck_assert_int_eq(optim_init(&st->opt, &oc, net->nparams, &e), ST_OK);
    for (size_t i = 0; i < net->nparams; i++) {
        st->opt.m[i] = (float)i * 0.001f - 0.02f;
        ck_assert_ptr_null(st->opt.v); /* SGD has no second moment: none is allocated, OPTM holds zeros */
    }
    st->opt.t = 77;
    st->has_optim = 1;
    st->has_progress = 1;
    st->epoch = 3;
    st->step = 77;
    st->settings = "model=t.cfg\nepochs=9\nbatch=4\ntrain_n=123\nseed=20015998343868\n";
    st->log = LOG_CSV_HEADER "1,2.000000,0.100000,2.000000,0.100000,0.010\n";
    return net;
}

static char *tmp_path(const char *dir, const char *name)
{
    static char p[3][600]; /* a few at a time */
    static int k;
    k = (k + 1) % 3;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, name);
    return p[k];
}

/* Plain write (no fsync): the damage loops write thousands of files. */
static void write_raw(const char *path, const void *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(d, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static void fix_crc(unsigned char *d, size_t len)
{
    uint32_t c = (uint32_t)crc32(crc32(0L, Z_NULL, 0), d, (uInt)(len - 4));
    for (int i = 0; i < 4; i++) d[len - 4 + i] = (unsigned char)(c >> (8 * i));
}

START_TEST(test_full_state_round_trip)
{
    char *dir = make_temp_dir();
    const char *path = tmp_path(dir, "m.fmw");
    CkptState st;
    Net *net = tiny_with_state(&st);
    Err e;
    ck_assert_msg(weights_save_run(path, net, &st, &e) == ST_OK, "%s", e.msg);
    Net *back;
    CkptState ld;
    ck_assert_msg(weights_load_run(path, 0, &back, &ld, &e) == ST_OK, "%s", e.msg);
    ck_assert_int_eq(back->max_batch, 4); /* 0 = the run's own batch */
    ck_assert_int_eq(memcmp(back->params, net->params, net->nparams * sizeof(float)), 0);
    ck_assert_str_eq(back->spec.text, "input 1x4x3\nflatten\ndense 5\nrelu\ndropout 0.375\ndense 3\n"); /* the rate used */
    ck_assert_float_eq(back->layers[3].spec.p, 0.375f);
    ck_assert_str_eq(ld.settings, st.settings);
    ck_assert_str_eq(ld.log, st.log);
    ck_assert(ld.has_progress && ld.has_optim);
    ck_assert_int_eq(ld.epoch, 3);
    ck_assert(ld.step == 77);
    ck_assert_int_eq((int)ld.opt.t, 77); /* the hyper-parameters are settings, not OPTM's */
    ck_assert_int_eq(memcmp(ld.opt.m, st.opt.m, net->nparams * sizeof(float)), 0);
    for (size_t i = 0; i < net->nparams; i++) ck_assert(ld.opt.v[i] == 0.0f); /* written as zeros */
    weights_state_free(&ld);
    net_free(back);
    /* the weights-only reader takes the same file; its dropout rates too */
    char *meta;
    ck_assert_int_eq(weights_load(path, 2, &back, &meta, &e), ST_OK);
    ck_assert_float_eq(back->layers[3].spec.p, 0.375f);
    ck_assert_str_eq(meta, st.settings);
    free(meta);
    net_free(back);
    /* a weights-only file has no state: loading it with batch 0 and resuming it fail clearly */
    ck_assert_int_eq(weights_save(path, net, NULL, &e), ST_OK);
    ck_assert_int_eq(weights_load_run(path, 0, &back, &ld, &e), ST_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "no training progress"));
    ResumedRun r;
    ck_assert_int_eq(resume_load(path, 5, &r, &e), ST_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(e.msg, "weights only"));
    optim_free(&st.opt);
    net_free(net);
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_every_flipped_byte_and_truncation_is_refused)
{
    char *dir = make_temp_dir();
    const char *path = tmp_path(dir, "m.fmw"), *bad = tmp_path(dir, "bad.fmw");
    CkptState st;
    Net *net = tiny_with_state(&st);
    Err e;
    ck_assert_int_eq(weights_save_run(path, net, &st, &e), ST_OK);
    char *data;
    size_t len;
    ck_assert_int_eq(file_read_all(path, 1 << 20, &data, &len, &e), ST_OK);
    ck_assert(len > 300);
    for (size_t i = 0; i < len; i++) {
        unsigned char bit = (unsigned char)(1u << (i % 8));
        data[i] ^= (char)bit;
        write_raw(bad, data, len);
        data[i] ^= (char)bit;
        Net *n2 = (Net *)1;
        CkptState s2;
        Status rc = weights_load_run(bad, 0, &n2, &s2, &e);
        ck_assert_msg(rc == ST_ERR_FORMAT, "flipped bit at %zu: status %d", i, rc);
        ck_assert_ptr_null(n2);
        ck_assert_ptr_nonnull(strstr(e.msg, bad));
        if (i >= 4) ck_assert_msg(strstr(e.msg, "damaged"), "offset %zu: %s", i, e.msg);
    }
    for (size_t cut = 0; cut < len; cut++) {
        write_raw(bad, data, cut);
        Net *n2 = (Net *)1;
        ck_assert_int_eq(weights_load(bad, 4, &n2, NULL, &e), ST_ERR_FORMAT);
        ck_assert_ptr_null(n2);
    }
    free(data);
    optim_free(&st.opt);
    net_free(net);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* With the CRC recomputed, damage reaches the parser: every outcome must be
 * a clean load or ST_ERR_FORMAT, never a crash or an out-of-bounds read (the
 * SAN=1 build checks the latter). */
START_TEST(test_hostile_files_with_valid_crc)
{
    char *dir = make_temp_dir();
    const char *path = tmp_path(dir, "m.fmw"), *bad = tmp_path(dir, "bad.fmw");
    CkptState st;
    Net *net = tiny_with_state(&st);
    Err e;
    ck_assert_int_eq(weights_save_run(path, net, &st, &e), ST_OK);
    char *data;
    size_t len;
    ck_assert_int_eq(file_read_all(path, 1 << 20, &data, &len, &e), ST_OK);
    unsigned char *u = (unsigned char *)data;
    const unsigned char values[] = {0x00, 0xff, 0x80, 0x01};
    int loaded = 0, refused = 0;
    for (size_t i = 4; i < len - 4; i++)
        for (size_t k = 0; k < sizeof values; k++) {
            unsigned char keep = u[i];
            if (keep == values[k]) continue;
            u[i] = values[k];
            fix_crc(u, len);
            write_raw(bad, u, len);
            u[i] = keep;
            Net *n2 = NULL;
            CkptState s2;
            Status rc = weights_load_run(bad, 0, &n2, &s2, &e);
            ck_assert_msg(rc == ST_OK || rc == ST_ERR_FORMAT, "byte %zu = %u: status %d (%s)", i, values[k], rc,
                          e.msg);
            if (rc == ST_OK) {
                loaded++;
                weights_state_free(&s2);
                net_free(n2);
            } else {
                refused++;
                ck_assert_ptr_null(n2);
            }
        }
    ck_assert(loaded > 0 && refused > 0);
    /* a version this reader does not know: a clear message */
    fix_crc(u, len);
    for (unsigned v = 1; v <= 4; v += 3) { /* 2 and 3 are read */
        u[4] = (unsigned char)v;
        fix_crc(u, len);
        write_raw(bad, u, len);
        Net *n2;
        ck_assert_int_eq(weights_load(bad, 4, &n2, NULL, &e), ST_ERR_FORMAT);
        char want[64];
        snprintf(want, sizeof want, "checkpoint version %u is not supported", v);
        ck_assert_msg(strstr(e.msg, want) != NULL, "%s", e.msg);
    }
    free(data);
    optim_free(&st.opt);
    net_free(net);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* ---- resume equals uninterrupted, on synthetic data, through run_train ---- */

typedef struct {
    int stop_after;
    volatile sig_atomic_t stop;
} Stopper;

static void stop_on_epoch(void *ctx, const EpochStats *s)
{
    Stopper *st = ctx;
    if (s->epoch == st->stop_after) st->stop = 1;
}

/* Trains 4 epochs straight into A, and into B a run stopped (like Ctrl-C)
 * during epoch 3, then resumed from B's checkpoint with the run's own target
 * (resume_load(..., 0)); compares logs and every byte of weights and
 * optimizer state. */
static void resume_case_lr(const char *model, const float *dropout, int ndropout, OptConfig oc, LrSchedule lr)
{
    char *dir = make_temp_dir();
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    Dataset train = {0}, test = {0};
    synthetic_dataset(&train, 120, 1);
    synthetic_dataset(&test, 30, 2);
    Err e;
    for (int k = 0; k < 2; k++) {
        Net *net;
        ck_assert_msg(run_build_net(model, dropout, ndropout, 32, &net, &e) == ST_OK, "%s", e.msg);
        net_init(net, 5);
        RunSpec spec = {.model = model, .out = k ? b : a};
        spec.train = (TrainConfig){.epochs = 4, .batch = 32, .seed = 5, .opt = oc, .lr = lr};
        Stopper sp = {.stop_after = k ? 2 : 0};
        RunHooks hooks = {NULL, stop_on_epoch, &sp, &sp.stop, NULL, NULL};
        ck_assert_int_eq(run_prepare(&spec, &e), ST_OK);
        Status rc = run_train(&spec, net, &train, &test, &hooks, &e);
        ck_assert_int_eq(rc, k ? ST_ERR_INTERRUPTED : ST_OK);
        net_free(net);
    }
    char path[700];
    snprintf(path, sizeof path, "%s/model.fmw", b);
    ResumedRun r;
    ck_assert_msg(resume_load(path, 0, &r, &e) == ST_OK, "%s", e.msg);
    ck_assert_int_eq(r.spec.resume->epoch, 2);
    ck_assert_int_eq(r.spec.train.epochs, 4);
    ck_assert_int_eq((int)r.spec.resume->step, 2 * 4); /* 120 images in batches of 32 (the last of 24) */
    r.spec.out = b;
    r.spec.overwrite = 1;
    ck_assert_int_eq(run_train(&r.spec, r.net, &train, &test, NULL, &e), ST_OK);
    resume_free(&r);
    char pa[700], pb[700];
    snprintf(pa, sizeof pa, "%s/log.csv", a);
    snprintf(pb, sizeof pb, "%s/log.csv", b);
    char *la = read_all_or_fail(pa, NULL), *lb = read_all_or_fail(pb, NULL);
    csv_strip_seconds(la);
    csv_strip_seconds(lb);
    ck_assert_str_eq(la, lb);
    ck_assert_ptr_nonnull(strstr(la, "\n4,"));
    free(la), free(lb);
    snprintf(pa, sizeof pa, "%s/model.fmw", a);
    Net *na, *nb;
    CkptState sa, sb;
    ck_assert_int_eq(weights_load_run(pa, 0, &na, &sa, &e), ST_OK);
    ck_assert_int_eq(weights_load_run(path, 0, &nb, &sb, &e), ST_OK);
    ck_assert_int_eq(memcmp(na->params, nb->params, na->nparams * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(sa.opt.m, sb.opt.m, na->nparams * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(sa.opt.v, sb.opt.v, na->nparams * sizeof(float)), 0);
    ck_assert_int_eq((int)sa.opt.t, (int)sb.opt.t);
    ck_assert_str_eq(sa.settings, sb.settings); /* the same settings, epochs=4 included */
    ck_assert(sa.epoch == 4 && sb.epoch == 4 && sa.step == sb.step);
    weights_state_free(&sa), weights_state_free(&sb);
    net_free(na), net_free(nb);
    dataset_free(&train);
    dataset_free(&test);
    rm_tree(dir);
    free(dir);
}

static void resume_case(const char *model, const float *dropout, int ndropout, OptConfig oc)
{
    resume_case_lr(model, dropout, ndropout, oc, (LrSchedule){.kind = LRS_CONSTANT, .base = oc.lr});
}

/* One cycle over the 4 epochs, stopped in epoch 3: the rate and the cycled
 * Nesterov momentum of every later step are the uninterrupted run's. */
START_TEST(test_resume_onecycle_sgd_nesterov)
{
    OptConfig oc = optim_defaults();
    oc.kind = OPT_SGD, oc.lr = 0.05f, oc.nesterov = 1;
    resume_case_lr("models/mlp.cfg", NULL, 0, oc, (LrSchedule){.kind = LRS_ONECYCLE, .base = oc.lr, .epochs = 4});
}
END_TEST

START_TEST(test_resume_mlp_adamw_dropout_override)
{
    OptConfig oc = optim_defaults();
    oc.kind = OPT_ADAMW;
    oc.weight_decay = 0.01f;
    float p[2] = {0.2f, 0.4f};
    resume_case("models/mlp.cfg", p, 2, oc);
}
END_TEST

START_TEST(test_resume_cnn_sgd_nesterov)
{
    if (!file_exists("models/cnn.cfg")) {
        printf("skipped: test_resume_cnn_sgd_nesterov (models/cnn.cfg not in the tree)\n");
        return;
    }
    OptConfig oc = optim_defaults();
    oc.kind = OPT_SGD;
    oc.lr = 0.01f;
    oc.momentum = 0.9f;
    oc.nesterov = 1;
    resume_case("models/cnn.cfg", NULL, 0, oc);
}
END_TEST

/* ---- the binary: real data ---- */

static void expect(const char *args, int code, const char *word) { expect_fmnist(args, code, word, out, sizeof out); }

START_TEST(test_cli_resume_equals_uninterrupted)
{
    if (!have_real_data()) {
        printf("skipped: test_cli_resume_equals_uninterrupted (Fashion-MNIST not installed)\n");
        return;
    }
    char *dir = make_temp_dir();
    char args[4096];
    const char *common = "--train-limit 600 --batch 64 --seed 3 --no-progress";
    snprintf(args, sizeof args, "train --epochs 4 %s --out %s/full", common, dir);
    expect(args, 0, "epoch 4/4");
    snprintf(args, sizeof args, "train --epochs 2 %s --out %s/part", common, dir);
    expect(args, 0, "epoch 2/2");
    /* flags that would change the run are refused; so is a target already reached */
    const char *refused[] = {"--lr 0.01", "--model models/mlp.cfg", "--optim sgd", "--batch 32", "--dropout 0,0",
                             "--seed 4", "--train-limit 100", "--weight-decay 0.1", "--log x.csv"};
    for (size_t k = 0; k < sizeof refused / sizeof refused[0]; k++) {
        snprintf(args, sizeof args, "train --resume %s/part/model.fmw --epochs 4 %s", dir, refused[k]);
        expect(args, 2, "cannot be combined with --resume");
    }
    snprintf(args, sizeof args, "train --resume %s/part/model.fmw --epochs 2", dir);
    expect(args, 2, "already trained 2 epochs");
    snprintf(args, sizeof args, "train --resume %s/nothing.fmw --epochs 4", dir);
    expect(args, 1, "nothing.fmw");
    /* into another folder holding a run: refused */
    snprintf(args, sizeof args, "train --resume %s/part/model.fmw --epochs 4 --out %s/full --no-progress", dir, dir);
    expect(args, 1, "already holds a run");
    /* the real thing: continues in its own folder, appending to its log */
    snprintf(args, sizeof args, "train --resume %s/part/model.fmw --epochs 4 --threads 1 --no-progress", dir);
    expect(args, 0, "after epoch 2 of 4");
    ck_assert_ptr_nonnull(strstr(out, "epoch 4/4"));
    ck_assert_ptr_null(strstr(out, "epoch 2/4"));
    char pa[700], pb[700];
    snprintf(pa, sizeof pa, "%s/full/log.csv", dir);
    snprintf(pb, sizeof pb, "%s/part/log.csv", dir);
    char *la = read_all_or_fail(pa, NULL), *lb = read_all_or_fail(pb, NULL);
    csv_strip_seconds(la);
    csv_strip_seconds(lb);
    ck_assert_str_eq(la, lb);
    free(la), free(lb);
    snprintf(pa, sizeof pa, "%s/full/model.fmw", dir);
    snprintf(pb, sizeof pb, "%s/part/model.fmw", dir);
    Net *na, *nb;
    CkptState sa, sb;
    Err e;
    ck_assert_int_eq(weights_load_run(pa, 0, &na, &sa, &e), ST_OK);
    ck_assert_int_eq(weights_load_run(pb, 0, &nb, &sb, &e), ST_OK);
    ck_assert_int_eq(memcmp(na->params, nb->params, na->nparams * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(sa.opt.m, sb.opt.m, na->nparams * sizeof(float)), 0);
    ck_assert_int_eq(memcmp(sa.opt.v, sb.opt.v, na->nparams * sizeof(float)), 0);
    /* the same settings but the span of a cosine schedule (none here), which stays the 2 epochs
     * the run was started with */
    ck_assert_ptr_nonnull(strstr(sa.settings, "\nlr_epochs=4\n"));
    ck_assert_ptr_nonnull(strstr(sb.settings, "\nlr_epochs=2\n"));
    strstr(sb.settings, "\nlr_epochs=2\n")[11] = '4';
    ck_assert_str_eq(sa.settings, sb.settings);
    weights_state_free(&sa), weights_state_free(&sb);
    net_free(na), net_free(nb);
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *resume_suite(void)
{
    Suite *s = suite_create("resume");
    TCase *fmt = tcase_create("format"), *syn = tcase_create("synthetic"), *cli = tcase_create("cli");
    tcase_add_test(fmt, test_full_state_round_trip);
    tcase_add_test(fmt, test_every_flipped_byte_and_truncation_is_refused);
    tcase_add_test(fmt, test_hostile_files_with_valid_crc);
    tcase_set_timeout(fmt, 60);
    tcase_add_test(syn, test_resume_mlp_adamw_dropout_override);
    tcase_add_test(syn, test_resume_cnn_sgd_nesterov);
    tcase_add_test(syn, test_resume_onecycle_sgd_nesterov);
    tcase_set_timeout(syn, 120);
    tcase_add_test(cli, test_cli_resume_equals_uninterrupted);
    tcase_set_timeout(cli, 120);
    suite_add_tcase(s, fmt);
    suite_add_tcase(s, syn);
    suite_add_tcase(s, cli);
    return s;
}
