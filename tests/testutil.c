/* testutil.c - gradient checking and process helpers for the test suites. */
#define _GNU_SOURCE
#include "testutil.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "model/weights.h"
#include "util/fileio.h"
#include "util/rng.h"

static double loss_of(Layer *l, const float *x, float *y, int n, const float *r, size_t ny)
{
    l->ops->forward(l, x, y, n, MODE_TRAIN, 12345);
    double s = 0;
    for (size_t i = 0; i < ny; i++) s += (double)r[i] * y[i];
    return s;
}

static void compare(GcResult *res, const char *where, size_t i, double a, double num, double atol, double rtol)
{
    double err = fabs(a - num) / (atol + rtol * fmax(fabs(a), fabs(num)));
    res->checked++;
    if (err > res->max_err) {
        res->max_err = err;
        res->where = where;
        res->index = i;
        res->analytic = a;
        res->numeric = num;
    }
}

/* Perturbs v[i] by +-h and returns the central difference of the loss. */
static double central(Layer *l, float *x, float *y, int n, const float *r, size_t ny, float *v, size_t i, double h)
{
    float keep = v[i];
    v[i] = (float)(keep + h);
    double lp = loss_of(l, x, y, n, r, ny);
    v[i] = (float)(keep - h);
    double lm = loss_of(l, x, y, n, r, ny);
    v[i] = keep;
    /* the step actually taken in float */
    double step = (double)(float)(keep + h) - (double)(float)(keep - h);
    return (lp - lm) / step;
}

int gradcheck_layer(const LayerSpec *spec, Shape in, int n, unsigned long long seed, GcInput xmode, double h,
                    double atol, double rtol, GcResult *res)
{
    return gradcheck_layer_ops(layer_find_ops(spec->kind), spec, in, n, seed, xmode, h, atol, rtol, res);
}

int gradcheck_layer_ops(const LayerOps *ops, const LayerSpec *spec, Shape in, int n, unsigned long long seed,
                        GcInput xmode, double h, double atol, double rtol, GcResult *res)
{
    memset(res, 0, sizeof *res);
    Layer l = {0};
    l.spec = *spec;
    l.in = in;
    l.ops = ops;
    Err e;
    if (!l.ops || l.ops->setup(&l, &e) != ST_OK) return 0;
    size_t nx = (size_t)n * shape_numel(in), ny = (size_t)n * shape_numel(l.out);
    float *x = malloc(nx * sizeof *x), *y = malloc(ny * sizeof *y), *r = malloc(ny * sizeof *r);
    float *dx = malloc(nx * sizeof *dx);
    float *w = calloc(l.nw + 1, sizeof *w), *b = calloc(l.nb + 1, sizeof *b);
    float *dw = calloc(l.nw + 1, sizeof *dw), *db = calloc(l.nb + 1, sizeof *db);
    float *ws = malloc((l.ws_per_sample * (size_t)n + 1) * sizeof *ws);
    float *buf = calloc(l.nbuf + 1, sizeof *buf); /* batchnorm's running statistics */
    l.w = w, l.b = b, l.dw = dw, l.db = db, l.ws = ws, l.buf = buf;
    Rng rng;
    rng_seed(&rng, seed);
    l.ops->init(&l, &rng);
    for (size_t i = 0; i < l.nb; i++) b[i] += 0.1f * (2 * rng_uniform(&rng) - 1); /* non-zero biases */
    if (xmode == GC_X_DISTINCT) {
        for (size_t i = 0; i < nx; i++) x[i] = -1.0f + 0.05f * (float)(i % 41) + 0.001f * (float)(i / 41);
        for (size_t i = nx - 1; i > 0; i--) {
            size_t j = rng_below(&rng, (uint32_t)(i + 1));
            float t = x[i];
            x[i] = x[j], x[j] = t;
        }
    } else {
        for (size_t i = 0; i < nx; i++) {
            float u = 0.1f + 0.9f * rng_uniform(&rng);
            x[i] = rng_uniform(&rng) < 0.5f ? -u : u;
        }
    }
    for (size_t i = 0; i < ny; i++) r[i] = 2 * rng_uniform(&rng) - 1;

    loss_of(&l, x, y, n, r, ny);
    l.ops->backward(&l, x, y, r, dx, n); /* dL/dy = r */
    for (size_t i = 0; i < nx; i++) compare(res, "dx", i, dx[i], central(&l, x, y, n, r, ny, x, i, h), atol, rtol);
    for (size_t i = 0; i < l.nw; i++) compare(res, "dw", i, dw[i], central(&l, x, y, n, r, ny, w, i, h), atol, rtol);
    for (size_t i = 0; i < l.nb; i++) compare(res, "db", i, db[i], central(&l, x, y, n, r, ny, b, i, h), atol, rtol);
    free(x), free(y), free(r), free(dx), free(w), free(b), free(dw), free(db), free(ws), free(buf);
    return 1;
}

char *make_temp_dir(void)
{
    char tmpl[] = "/tmp/fmnist-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

void rm_tree(const char *path)
{
    if (!path || strncmp(path, "/tmp/", 5) != 0) return;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", path);
}

int run_fmnist(const char *args, char *out, size_t len)
{
    const char *bin = getenv("FMNIST_BIN");
    if (!bin || !*bin) bin = "./fmnist";
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin, args);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t got = 0;
    if (len) {
        size_t k;
        char tmp[4096];
        while ((k = fread(tmp, 1, sizeof tmp, p)) > 0) {
            size_t room = len - 1 - got;
            if (k > room) k = room;
            memcpy(out + got, tmp, k);
            got += k;
        }
        out[got] = 0;
    }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int have_real_data(void)
{
    char dir[4096];
    return data_find_dir(NULL, getenv("FMNIST_DATA"), dir, sizeof dir, NULL) == ST_OK; /* as the binary looks */
}

static int put_be32(FILE *f, unsigned v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                          (unsigned char)v};
    return fwrite(b, 1, 4, f) == 4 ? 0 : -1;
}

int write_synthetic_idx(const char *dir, const char *prefix, int n, unsigned seed)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", dir, prefix);
    FILE *fi = fopen(path, "wb");
    snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte", dir, prefix);
    FILE *fl = fopen(path, "wb");
    int bad = !fi || !fl;
    if (!bad) {
        bad |= put_be32(fi, 0x803) | put_be32(fi, (unsigned)n) | put_be32(fi, 28) | put_be32(fi, 28);
        bad |= put_be32(fl, 0x801) | put_be32(fl, (unsigned)n);
        unsigned s = seed;
        for (int i = 0; i < n && !bad; i++) {
            int c = i % 10;
            unsigned char img[784];
            for (int p = 0; p < 784; p++) {
                s = s * 1103515245u + 12345u;
                int row = p / 28, band = row >= 2 * c + 4 && row < 2 * c + 9;
                img[p] = (unsigned char)((s >> 16) % 90 + (band ? 160 : 0));
            }
            unsigned char label = (unsigned char)c;
            bad |= fwrite(img, 1, 784, fi) != 784 || fwrite(&label, 1, 1, fl) != 1;
        }
    }
    if (fi && fclose(fi) != 0) bad = 1;
    if (fl && fclose(fl) != 0) bad = 1;
    return bad ? -1 : 0;
}

const ParamInfo OPTIM_FIXTURE_TENSORS[2] = {
    {.name = "0.weight", .offset = 0, .numel = 2, .is_bias = 0},
    {.name = "0.bias", .offset = 2, .numel = 1, .is_bias = 1},
};

int optim_fixture_steps(OptConfig c, int steps, float out[3])
{
    float w[3] = {1.0f, -2.0f, 0.5f}, g[3] = {0.1f, 0.2f, -0.3f};
    Optim o;
    Err e;
    if (optim_init(&o, &c, 3, &e) != ST_OK) return -1;
    for (int s = 0; s < steps; s++) optim_step(&o, w, g, OPTIM_FIXTURE_TENSORS, 2);
    optim_free(&o);
    memcpy(out, w, sizeof w);
    return 0;
}

void synthetic_dataset(Dataset *d, int n, int seed)
{
    d->n = n, d->h = 28, d->w = 28, d->alloc_n = 0; /* every field set: a Dataset on the stack need not be zeroed */
    d->pixels = malloc((size_t)n * 784);
    d->labels = malloc((size_t)n);
    Rng r;
    rng_seed(&r, (uint64_t)seed);
    for (int i = 0; i < n; i++) {
        int y = (int)rng_below(&r, 10);
        d->labels[i] = (uint8_t)y;
        for (int j = 0; j < 784; j++) /* a class-dependent band plus noise: learnable */
            d->pixels[(size_t)i * 784 + j] =
                (uint8_t)((j / 28 >= 2 * y && j / 28 < 2 * y + 6 ? 150 : 0) + rng_below(&r, 100));
    }
}

void expect_fmnist(const char *args, int code, const char *word, char *out, size_t len)
{
    int rc = run_fmnist(args, out, len);
    ck_assert_msg(rc == code, "fmnist %s: exit %d, expected %d; output:\n%s", args, rc, code, out);
    if (word) ck_assert_msg(strstr(out, word) != NULL, "fmnist %s: output lacks '%s':\n%s", args, word, out);
}

int run_shell(const char *cmd, char *buf, size_t len)
{
    char full[8400];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t got = fread(buf, 1, len - 1, p);
    buf[got] = 0;
    while (fgetc(p) != EOF) {
    }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

char *read_all_or_fail(const char *path, size_t *len)
{
    char *d = NULL;
    size_t n = 0;
    Err e;
    ck_assert_msg(file_read_all(path, 1 << 26, &d, &n, &e) == ST_OK, "%s", e.msg);
    if (len) *len = n;
    return d;
}

void csv_strip_seconds(char *csv)
{
    char *w = csv;
    int col = 0;
    for (char *r = csv; *r; r++) {
        if (*r == '\n') col = 0;
        else if (*r == ',' && ++col == 5) continue; /* the comma before seconds */
        if (col != 5) *w++ = *r;
    }
    *w = 0;
}

void test_mlp_setting(SweepSetting *st, const char *name, float lr, int epochs)
{
    memset(st, 0, sizeof *st);
    snprintf(st->name, sizeof st->name, "%s", name);
    snprintf(st->label, sizeof st->label, "label of %s", name);
    snprintf(st->flags, sizeof st->flags, "--x %s", name);
    TrainConfig tc = {.epochs = epochs, .batch = 50, .seed = 1, .opt = optim_defaults()};
    tc.opt.lr = lr;
    tc.lr = (LrSchedule){.kind = LRS_CONSTANT, .base = lr, .step = 5, .gamma = 0.1f, .epochs = epochs};
    st->run = (RunSpec){.model = "models/mlp.cfg", .train = tc, .save_every = 1};
}

/* The parameters, settings text and log (without seconds) of two runs are
 * the same. */
void test_same_run(const char *a_dir, const char *b_dir)
{
    char pa[1400], pb[1400];
    snprintf(pa, sizeof pa, "%s/log.csv", a_dir);
    snprintf(pb, sizeof pb, "%s/log.csv", b_dir);
    char *la = read_all_or_fail(pa, NULL), *lb = read_all_or_fail(pb, NULL);
    csv_strip_seconds(la);
    csv_strip_seconds(lb);
    ck_assert_str_eq(la, lb);
    free(la), free(lb);
    snprintf(pa, sizeof pa, "%s/model.fmw", a_dir);
    snprintf(pb, sizeof pb, "%s/model.fmw", b_dir);
    Net *na, *nb;
    CkptState ca, cb;
    Err e;
    ck_assert_int_eq(weights_load_run(pa, 1, &na, &ca, &e), ST_OK);
    ck_assert_int_eq(weights_load_run(pb, 1, &nb, &cb, &e), ST_OK);
    ck_assert_int_eq(na->nparams, nb->nparams);
    ck_assert_msg(!memcmp(na->params, nb->params, na->nparams * sizeof(float)), "%s and %s differ", pa, pb);
    ck_assert_str_eq(ca.settings, cb.settings);
    ck_assert_int_eq(ca.epoch, cb.epoch);
    ck_assert(ca.step == cb.step);
    net_free(na), net_free(nb);
    weights_state_free(&ca), weights_state_free(&cb);
}

int bbox28(const uint8_t *m, int *x0, int *y0, int *x1, int *y1)
{
    *x0 = *y0 = 28, *x1 = *y1 = -1;
    for (int y = 0; y < 28; y++)
        for (int x = 0; x < 28; x++)
            if (m[y * 28 + x] > 127) {
                if (x < *x0) *x0 = x;
                if (x > *x1) *x1 = x;
                if (y < *y0) *y0 = y;
                if (y > *y1) *y1 = y;
            }
    return *x1 >= 0;
}
