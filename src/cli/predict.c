/* predict.c - `fmnist predict`: the top-3 classes of pictures or IDX images.
 *
 * Pictures (PNG, PGM, JPEG, ...) are converted to the look of a Fashion-MNIST
 * image first (model/image.c: a picture without an object is refused, one of
 * the input's size only inverted if need be), or with --raw taken as they are
 * (28x28 gray only); IDX images are taken as they are. Both are then
 * normalized exactly as in training (dataset_batch) and run in eval mode.
 * --logits prints the raw outputs too (used to compare with ONNX runtimes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "data/idx.h"
#include "model/image.h"
#include "model/weights.h"
#include "nn/softmax.h"
#include "train/mc.h"
#include "train/settings.h"
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
    int logits, show, raw;
    int mc;          /* Monte-Carlo dropout passes (0: deterministic) */
    int seed;        /* of the MC dropout masks                       */
    int count;       /* images predicted so far (each gets its own masks) */
} Options;

/* The line(s) of one image: its three most likely classes (z: the logits,
 * p: the probabilities), then on request the logits and the picture. */
static void print_prediction(const Net *net, const Options *o, const char *label, const char *note,
                             const uint8_t *px, int truth, const float *z, const double *p, float entropy)
{
    int h = net->in.h, w = net->in.w, k = net->nclasses, top[3], ntop = k < 3 ? k : 3;
    softmax_topk(p, k, ntop, top);
    char names[3][32];
    printf("%s:", label);
    for (int t = 0; t < ntop; t++)
        printf("%s %s %.1f%%", t ? "," : "", class_name(top[t], k, names[t], sizeof names[t]), 100.0 * p[top[t]]);
    if (o->mc > 0) printf("  (MC dropout, %d passes: entropy %.3f nats)", o->mc, (double)entropy);
    if (truth >= 0) printf("  (true: %s)", class_name(truth, k, names[0], sizeof names[0]));
    printf("\n");
    if (o->logits) {
        printf("  logits:");
        for (int c = 0; c < k; c++) printf(" %.9g", (double)z[c]);
        printf("\n");
    }
    if (o->show && note) printf("  %s\n", note);
    if (o->show)
        for (int r = 0; r < h; r++) {
            printf("  |");
            for (int c = 0; c < w; c++) putchar(" .:-=+*#%@"[px[(size_t)r * w + c] * 10 / 256]);
            printf("|\n");
        }
}

/* Runs one image (h*w bytes), normalized as in training, and prints its
 * line(s) (note: what the conversion found, for --show; may be NULL); the
 * probabilities are mc_predict_one's. */
static Status predict_one(Net *net, Options *o, const char *label, const char *note, const uint8_t *px, int truth,
                          Err *e)
{
    int h = net->in.h, w = net->in.w, k = net->nclasses;
    float *x = malloc((size_t)h * w * sizeof *x), *z = malloc((size_t)k * sizeof *z), entropy = 0;
    double *p = malloc((size_t)k * sizeof *p);
    Status st = ST_OK;
    if (!x || !z || !p) {
        st = err_set(e, ST_ERR_NOMEM, "%s: out of memory", label);
    } else {
        uint8_t lab = 0;
        Dataset d = {.n = 1, .h = h, .w = w, .pixels = (uint8_t *)px, .labels = &lab};
        uint32_t idx = 0;
        int y;
        dataset_batch(&d, &idx, 1, net->spec.mean, net->spec.std, x, &y);
        uint64_t key = mc_image_key((uint64_t)o->seed, (uint64_t)o->count++, o->mc);
        if (!(st = mc_predict_one(net, x, o->mc, key, z, p, &entropy, e)))
            print_prediction(net, o, label, note, px, truth, z, p, entropy);
    }
    free(x);
    free(z);
    free(p);
    return st;
}

/* The label file beside an IDX image file ("...images-idx3..." ->
 * "...labels-idx1..."), or NULL labels if there is none. */
static void read_labels_beside(const char *images, IdxLabels *lb)
{
    memset(lb, 0, sizeof *lb);
    const char *at = strstr(images, "images-idx3");
    if (!at) return;
    char path[FM_PATH_NAME];
    snprintf(path, sizeof path, "%.*slabels-idx1%s", (int)(at - images), images, at + strlen("images-idx3"));
    Err e;
    if (idx_read_labels(path, lb, &e)) memset(lb, 0, sizeof *lb);
}

typedef struct {
    const char *weights, *idx, *precision;
    int index, count, threads;
    Options o;
    const char *pos[MAX_IMAGES];
    int npos;
} PredictArgs;

/* The flags and the images: -1 to go on, else the exit code (0 after --help). */
static int predict_parse(int argc, char **argv, PredictArgs *a)
{
    *a = (PredictArgs){.count = 1, .o = {.seed = 1}};
    ArgSpec specs[] = {
        {"weights", ARG_STR, &a->weights, 0, 0, "FILE", "checkpoint written by train (model.fmw)", 0},
        {"idx", ARG_STR, &a->idx, 0, 0, "FILE", "take images from this IDX image file (raw or .gz)", 0},
        {"index", ARG_INT, &a->index, 0, 2147483647, "K", "with --idx: the first image, from 0 (default 0)", 0},
        {"count", ARG_INT, &a->count, 1, 1000000, "N",
         "with --idx: how many images from K (default 1; all must be in the file)", 0},
        {"logits", ARG_SWITCH, &a->o.logits, 0, 0, NULL, "also print the raw logits", 0},
        {"show", ARG_SWITCH, &a->o.show, 0, 0, NULL, "also draw the network's input as text", 0},
        {"raw", ARG_SWITCH, &a->o.raw, 0, 0, NULL,
         "take pictures as they are, no conversion: 28x28 gray pictures only", 0},
        {"mc", ARG_INT, &a->o.mc, 1, 100000, "N", "Monte-Carlo dropout: average N passes with dropout on", 0},
        {"seed", ARG_INT, &a->o.seed, 0, 2147483647, "N", "with --mc: seed of the dropout masks (default 1)", 0},
        {"threads", ARG_INT, &a->threads, 1, CLI_MAX_THREADS, "N", CLI_THREADS_HELP, 0},
        {"precision", ARG_STR, &a->precision, 0, 0, "P", CLI_PRECISION_HELP, 0},
    };
    int nspecs = (int)(sizeof specs / sizeof specs[0]), help;
    Err e;
    if (args_parse(argc, argv, specs, nspecs, a->pos, MAX_IMAGES, &a->npos, &help, &e))
        return cli_usage_error("predict", &e);
    if (help) {
        printf("usage: fmnist predict --weights FILE IMAGE... | --idx FILE [--index K] [--count N]\n\n"
               "Prints the three most likely classes of each image. Pictures (PNG, PGM, JPEG, BMP, ...) are\n"
               "made to look like Fashion-MNIST first, a light object on black:\n"
               "  - the background is the border's most common gray level; the object is what differs\n"
               "    from it by more than 12 levels. If the object is darker than the background (a\n"
               "    dark shirt on white paper), the picture is inverted; a light object stays light,\n"
               "    whatever the background (a white shirt on light gray keeps its shape);\n"
               "  - if (almost) nothing differs from the background by %d levels or more (a blank or\n"
               "    nearly uniform picture, or a few stray pixels: fewer than 1 in 4096), it says \"no\n"
               "    object found\" and does not classify it (exit 1; the other pictures are still\n"
               "    predicted);\n"
               "  - a picture of the model's input size (28x28) is taken as it is, only inverted if it\n"
               "    is dark on light: a Fashion-MNIST image saved as a PNG gets the same input as --idx;\n"
               "  - any other size: the levels are stretched (background 0, object up to 255), the\n"
               "    picture cropped to the object, scaled so its longer side spans 28 pixels keeping\n"
               "    its aspect (as Fashion-MNIST's objects do) and centered.\n"
               "--show draws the input the network gets, and says what the conversion found; --raw skips\n"
               "the conversion. IDX images (--idx) are always taken as they are.\n\n",
               IMAGE_MIN_CONTRAST);
        args_print_help(specs, nspecs, stdout);
        return 0;
    }
    const char *fmw = NULL; /* predict model.fmw img.png: the checkpoint without its flag */
    for (int i = 0; i < a->npos && !fmw; i++)
        if (strlen(a->pos[i]) > 4 && !strcmp(a->pos[i] + strlen(a->pos[i]) - 4, ".fmw")) fmw = a->pos[i];
    if (!a->weights && fmw) err_set(&e, ST_ERR_ARG, "--weights FILE is required (did you mean --weights %s?)", fmw);
    else if (!a->weights) err_set(&e, ST_ERR_ARG, "--weights FILE is required");
    else if (!a->idx && !a->npos) err_set(&e, ST_ERR_ARG, "give image files, or --idx FILE");
    else if (!a->idx && (args_given(specs, nspecs, &a->index) || args_given(specs, nspecs, &a->count)))
        err_set(&e, ST_ERR_ARG, "--index and --count go with --idx FILE");
    else if (a->precision && cli_precision(a->precision, &(Precision){0}, &e)) (void)0;
    else return cli_set_threads("predict", a->threads) ? EXIT_USAGE : -1;
    return cli_usage_error("predict", &e);
}

/* --idx FILE: images K .. K+N-1, with their labels if the label file is
 * beside it; K+N past the file's end is a usage error (nothing predicted).
 * Returns the exit code. */
static int predict_idx(Net *net, PredictArgs *a)
{
    IdxImages im;
    IdxLabels lb;
    Err e;
    Status st = idx_read_images(a->idx, &im, &e);
    if (st) return cli_fail(st, &e);
    if ((uint32_t)a->index >= im.n)
        st = err_set(&e, ST_ERR_ARG, "--index %d: %s holds %u images (--index 0 to %u)", a->index, a->idx, im.n,
                     im.n - 1);
    else if ((uint64_t)a->index + (uint64_t)a->count > im.n)
        st = err_set(&e, ST_ERR_ARG, "--index %d --count %d: %s holds %u images (0 to %u), so from --index %d "
                     "--count can be at most %u", a->index, a->count, a->idx, im.n, im.n - 1, a->index,
                     im.n - (uint32_t)a->index);
    else if ((int)im.rows != net->in.h || (int)im.cols != net->in.w)
        st = err_set(&e, ST_ERR_SHAPE, "%s: images are %ux%u, the model's input is %dx%d", a->idx, im.rows, im.cols,
                     net->in.h, net->in.w);
    if (st) {
        idx_images_free(&im);
        return cli_fail(st, &e);
    }
    read_labels_beside(a->idx, &lb);
    size_t hw = (size_t)im.rows * im.cols;
    uint32_t end = (uint32_t)a->index + (uint32_t)a->count;
    for (uint32_t k = (uint32_t)a->index; !st && k < im.n && k < end; k++) {
        char label[FM_PATH_NAME];
        snprintf(label, sizeof label, "%s[%u]", a->idx, k);
        int truth = lb.n == im.n && lb.labels[k] < net->nclasses ? lb.labels[k] : -1;
        st = predict_one(net, &a->o, label, NULL, im.pixels + k * hw, truth, &e);
    }
    idx_labels_free(&lb);
    idx_images_free(&im);
    return st ? cli_fail(st, &e) : 0;
}

/* --raw: the picture's levels as the input, if it is a gray picture of
 * the model's input size. */
static Status raw_picture(const char *path, const GrayImage *img, const Net *net, uint8_t *px, Err *e)
{
    int h = net->in.h, w = net->in.w;
    if (img->w != w || img->h != h)
        return err_set(e, ST_ERR_FORMAT, "%s: --raw takes a %dx%d gray picture (the model's input), this one is %dx%d",
                       path, w, h, img->w, img->h);
    if (img->channels > 2)
        return err_set(e, ST_ERR_FORMAT, "%s: --raw takes a %dx%d gray picture, this one is in colour (%s)", path, w,
                       h, img->channels == 4 ? "RGBA" : "RGB");
    if (!img->opaque)
        return err_set(e, ST_ERR_FORMAT, "%s: --raw takes a %dx%d gray picture, this one has transparent pixels",
                       path, w, h);
    memcpy(px, img->px, (size_t)w * h);
    return ST_OK;
}

/* The picture made to look like Fashion-MNIST (model/image.h); a picture
 * without an object is refused. note: what the conversion found. */
static Status convert_picture(const char *path, const GrayImage *img, const Net *net, uint8_t *px, char *note,
                              size_t len, Err *e)
{
    ImageInfo info;
    image_to_mnist(img->px, img->w, img->h, px, net->in.h, net->in.w, &info);
    if (!info.found)
        return err_set(e, ST_ERR_FORMAT,
                       "%s: no object found: the picture is blank or nearly uniform (its largest difference from "
                       "the background level %d is %d of 255, below the %d an object needs); not classified",
                       path, info.background, info.contrast, IMAGE_MIN_CONTRAST);
    snprintf(note, len, "picture: background level %d, the object %s (contrast %d of 255); %s", info.background,
             info.inverted ? "darker: inverted" : "lighter: not inverted", info.contrast,
             info.as_is ? "taken as it is (the input's size)" : "stretched, cropped to it, scaled and centered");
    return ST_OK;
}

/* The picture files: one that cannot be read, or holds no object, is an
 * error (exit 1), and the others are still predicted. Returns the exit code. */
static int predict_pictures(Net *net, PredictArgs *a)
{
    Err e;
    uint8_t *px = malloc((size_t)net->in.h * net->in.w);
    if (!px) return cli_fail(err_set(&e, ST_ERR_NOMEM, "out of memory"), &e);
    int rc = 0;
    for (int i = 0; i < a->npos; i++) {
        GrayImage img;
        Status st = image_load_gray(a->pos[i], &img, &e);
        if (st) {
            rc = cli_fail(st, &e);
            continue;
        }
        char note[256] = "picture: taken as it is (--raw)";
        if (a->o.raw) st = raw_picture(a->pos[i], &img, net, px, &e);
        else st = convert_picture(a->pos[i], &img, net, px, note, sizeof note, &e);
        image_free(&img);
        if (st) {
            rc = cli_fail(st, &e);
            continue;
        }
        if ((st = predict_one(net, &a->o, a->pos[i], note, px, -1, &e))) {
            rc = cli_fail(st, &e);
            break;
        }
    }
    free(px);
    return rc;
}

/* The precision a checkpoint was trained in: its settings' (fp32 if it has
 * none, or none that parse: eval reports those). */
static Precision checkpoint_precision(const char *path, const char *text)
{
    RunSettings s;
    Err e;
    return text && *text && !settings_parse(path, text, &s, &e) ? s.train.precision : PREC_FP32;
}

int cmd_predict(int argc, char **argv)
{
    PredictArgs *a = malloc(sizeof *a); /* MAX_IMAGES names: not on the stack */
    Err e;
    if (!a) return cli_fail(err_set(&e, ST_ERR_NOMEM, "out of memory"), &e);
    int rc = predict_parse(argc, argv, a);
    Net *net = NULL;
    char *text = NULL;
    Status st;
    if (rc >= 0) goto done;
    rc = 0;
    if ((st = weights_load(a->weights, 1, &net, &text, &e)) ||
        (st = cli_net_precision(net, a->precision, checkpoint_precision(a->weights, text), &e))) {
        rc = cli_fail(st, &e);
    } else if (net->in.c != 1) {
        err_set(&e, ST_ERR_SHAPE, "%s: the model takes %d-channel images; predict reads gray images only",
                a->weights, net->in.c);
        rc = cli_fail(ST_ERR_SHAPE, &e);
    } else {
        if (a->idx) rc = predict_idx(net, a);
        if (!rc) rc = predict_pictures(net, a);
    }
done:
    free(text);
    net_free(net);
    free(a);
    return rc;
}
