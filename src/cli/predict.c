/* predict.c - `fmnist predict`: the top-3 classes of pictures or IDX images.
 *
 * Pictures (PNG, PGM, JPEG, ...) are converted to the look of a Fashion-MNIST
 * image first (model/image.c); IDX images are taken as they are. Both are then
 * normalized exactly as in training (dataset_batch) and run in eval mode.
 * --logits prints the raw outputs too (used to compare with ONNX runtimes). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "data/idx.h"
#include "model/image.h"
#include "model/weights.h"
#include "train/mc.h"
#include "util/args.h"

#define MAX_IMAGES 4096

static const char *const FASHION_CLASSES[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

static const char *class_name(int k, int nclasses, char *buf, size_t len)
{
    if (nclasses == 10) return FASHION_CLASSES[k];
    snprintf(buf, len, "class %d", k);
    return buf;
}

typedef struct {
    int logits, show;
    int mc;          /* Monte-Carlo dropout passes (0: deterministic) */
    int seed;        /* of the MC dropout masks                       */
    int count;       /* images predicted so far (each gets its own masks) */
} Options;

/* Runs one image (h*w bytes) and prints its line(s). */
static void predict_one(Net *net, Options *o, const char *label, const uint8_t *px, int truth)
{
    int h = net->in.h, w = net->in.w, k = net->nclasses;
    float *x = malloc((size_t)h * w * sizeof *x);
    double *p = malloc((size_t)k * sizeof *p);
    if (!x || !p) {
        free(x), free(p);
        printf("%s: out of memory\n", label);
        return;
    }
    Dataset d = {.n = 1, .h = h, .w = w, .pixels = (uint8_t *)px};
    uint8_t lab = 0;
    d.labels = &lab;
    uint32_t idx = 0;
    int y;
    dataset_batch(&d, &idx, 1, net->spec.mean, net->spec.std, x, &y);
    const float *z = net_forward(net, x, 1, MODE_EVAL, 0);
    /* softmax in double, shifted by the max */
    double zmax = z[0], sum = 0, entropy = 0;
    for (int c = 1; c < k; c++) zmax = z[c] > zmax ? z[c] : zmax;
    for (int c = 0; c < k; c++) sum += p[c] = exp((double)z[c] - zmax);
    float *zc = malloc((size_t)k * sizeof *zc), *q = malloc((size_t)k * sizeof *q);
    if (zc) memcpy(zc, z, (size_t)k * sizeof *zc); /* the deterministic logits, for --logits */
    if (o->mc > 0 && zc && q) { /* MC dropout: the mean softmax of o->mc passes with dropout on */
        float h;
        Err e;
        uint64_t key = rng_mix64((uint64_t)o->seed ^ 0x9ed1c7ULL) + (uint64_t)o->count * (uint64_t)o->mc;
        if (mc_predict_batch(net, x, 1, o->mc, key, q, NULL, &h, &e) == ST_OK) {
            for (int c = 0; c < k; c++) p[c] = q[c];
            sum = 1.0;
            entropy = h;
        }
    }
    o->count++;
    int top[3], ntop = k < 3 ? k : 3;
    for (int t = 0; t < ntop; t++) { /* the t-th largest: the largest not yet taken (ties: lower class) */
        top[t] = -1;
        for (int c = 0; c < k; c++) {
            int taken = 0;
            for (int u = 0; u < t; u++) taken |= top[u] == c;
            if (!taken && (top[t] < 0 || p[c] > p[top[t]])) top[t] = c;
        }
    }
    char b1[32], b2[32], b3[32];
    char *bufs[3] = {b1, b2, b3};
    printf("%s:", label);
    for (int t = 0; t < ntop; t++)
        printf("%s %s %.1f%%", t ? "," : "", class_name(top[t], k, bufs[t], 32), 100.0 * p[top[t]] / sum);
    if (o->mc > 0) printf("  (MC dropout, %d passes: entropy %.3f nats)", o->mc, entropy);
    if (truth >= 0) printf("  (true: %s)", class_name(truth, k, b1, sizeof b1));
    printf("\n");
    if (o->logits && zc) {
        printf("  logits:");
        for (int c = 0; c < k; c++) printf(" %.9g", (double)zc[c]);
        printf("\n");
    }
    if (o->show)
        for (int r = 0; r < h; r++) {
            printf("  |");
            for (int c = 0; c < w; c++) putchar(" .:-=+*#%@"[px[(size_t)r * w + c] * 10 / 256]);
            printf("|\n");
        }
    free(x);
    free(p);
    free(zc);
    free(q);
}

/* The label file beside an IDX image file ("...images-idx3..." ->
 * "...labels-idx1..."), or NULL labels if there is none. */
static void read_labels_beside(const char *images, IdxLabels *lb)
{
    memset(lb, 0, sizeof *lb);
    const char *at = strstr(images, "images-idx3");
    if (!at) return;
    char path[4200];
    snprintf(path, sizeof path, "%.*slabels-idx1%s", (int)(at - images), images, at + strlen("images-idx3"));
    Err e;
    if (idx_read_labels(path, lb, &e)) memset(lb, 0, sizeof *lb);
}

int cmd_predict(int argc, char **argv)
{
    const char *weights = NULL, *idx = NULL;
    int index = 0, count = 1, threads = 0;
    Options o = {.seed = 1};
    ArgSpec specs[] = {
        {"weights", ARG_STR, &weights, 0, 0, "FILE", "checkpoint written by train (model.fmw)", 0},
        {"idx", ARG_STR, &idx, 0, 0, "FILE", "take images from this IDX image file (raw or .gz)", 0},
        {"index", ARG_INT, &index, 0, 2147483647, "K", "with --idx: the first image, from 0 (default 0)", 0},
        {"count", ARG_INT, &count, 1, 1000000, "N", "with --idx: how many images from K (default 1)", 0},
        {"logits", ARG_SWITCH, &o.logits, 0, 0, NULL, "also print the raw logits", 0},
        {"show", ARG_SWITCH, &o.show, 0, 0, NULL, "also draw the network's input as text", 0},
        {"mc", ARG_INT, &o.mc, 1, 100000, "N", "Monte-Carlo dropout: average N passes with dropout on", 0},
        {"seed", ARG_INT, &o.seed, 0, 2147483647, "N", "with --mc: seed of the dropout masks (default 1)", 0},
        {"threads", ARG_INT, &threads, 1, CLI_MAX_THREADS, "N", CLI_THREADS_HELP, 0},
    };
    int nspecs = (int)(sizeof specs / sizeof specs[0]), npos, help;
    const char *pos[MAX_IMAGES];
    Err e;
    Status st = args_parse(argc, argv, specs, nspecs, pos, MAX_IMAGES, &npos, &help, &e);
    if (st) return cli_usage_error("predict", &e);
    if (help) {
        printf("usage: fmnist predict --weights FILE IMAGE... | --idx FILE [--index K] [--count N]\n\n"
               "Prints the three most likely classes of each image. Pictures (PNG, PGM, JPEG, BMP, ...) are\n"
               "made to look like Fashion-MNIST first: gray, light object on black (inverted if the border\n"
               "is light), cropped to the object, scaled so its longer side spans 28 pixels keeping its\n"
               "aspect (as Fashion-MNIST's objects do), centered in 28x28.\n\n");
        args_print_help(specs, nspecs, stdout);
        return 0;
    }
    if (!weights) {
        err_set(&e, ST_ERR_ARG, "--weights FILE is required");
        return cli_usage_error("predict", &e);
    }
    if (!idx && !npos) {
        err_set(&e, ST_ERR_ARG, "give image files, or --idx FILE");
        return cli_usage_error("predict", &e);
    }
    if (!idx && (specs[2].seen || specs[3].seen)) {
        err_set(&e, ST_ERR_ARG, "--index and --count go with --idx FILE");
        return cli_usage_error("predict", &e);
    }
    if (cli_set_threads("predict", threads)) return EXIT_USAGE;
    Net *net;
    if ((st = weights_load(weights, 1, &net, NULL, &e))) return cli_fail(st, &e);
    int rc = 0;
    if (net->in.c != 1) {
        err_set(&e, ST_ERR_SHAPE, "%s: the model takes %d-channel images; predict reads gray images only", weights,
                net->in.c);
        rc = cli_fail(ST_ERR_SHAPE, &e);
        goto done;
    }
    if (idx) {
        IdxImages im;
        IdxLabels lb;
        if ((st = idx_read_images(idx, &im, &e))) {
            rc = cli_fail(st, &e);
            goto done;
        }
        if ((int)im.rows != net->in.h || (int)im.cols != net->in.w || (uint32_t)index >= im.n) {
            if ((uint32_t)index >= im.n)
                err_set(&e, ST_ERR_ARG, "--index %d: %s holds %u images", index, idx, im.n);
            else
                err_set(&e, ST_ERR_SHAPE, "%s: images are %ux%u, the model's input is %dx%d", idx, im.rows, im.cols,
                        net->in.h, net->in.w);
            rc = cli_fail(index >= 0 && (uint32_t)index >= im.n ? ST_ERR_ARG : ST_ERR_SHAPE, &e);
            idx_images_free(&im);
            goto done;
        }
        read_labels_beside(idx, &lb);
        size_t hw = (size_t)im.rows * im.cols;
        for (uint32_t k = (uint32_t)index; k < im.n && k < (uint32_t)index + (uint32_t)count; k++) {
            char label[4300];
            snprintf(label, sizeof label, "%s[%u]", idx, k);
            int truth = lb.n == im.n && lb.labels[k] < net->nclasses ? lb.labels[k] : -1;
            predict_one(net, &o, label, im.pixels + k * hw, truth);
        }
        idx_labels_free(&lb);
        idx_images_free(&im);
    }
    uint8_t *px = malloc((size_t)net->in.h * net->in.w);
    for (int i = 0; px && i < npos; i++) {
        GrayImage img;
        if ((st = image_load_gray(pos[i], &img, &e))) {
            rc = cli_fail(st, &e); /* the other images are still predicted */
            continue;
        }
        image_to_mnist(img.px, img.w, img.h, px, net->in.h, net->in.w);
        image_free(&img);
        predict_one(net, &o, pos[i], px, -1);
    }
    if (!px) rc = cli_fail(err_set(&e, ST_ERR_NOMEM, "out of memory"), &e);
    free(px);
done:
    net_free(net);
    return rc;
}
