/* eval.c - `fmnist eval`: what it evaluates (the checkpoint, its model,
 * epoch and settings: train/ckptinfo.h), then the test loss and accuracy of
 * the saved model, its confusion matrix with per-class accuracy, and on
 * request the matrix as a heat map (--confusion), a grid of misclassified test images (--errors) and
 * Monte-Carlo dropout figures beside the deterministic ones (--mc N). With
 * flip test-time augmentation (--tta flip, or the checkpoint's setting) the
 * loss, accuracy, confusion matrix and deterministic figures are those of
 * the mean logits of each image and its mirror (train/tta.h); the MC dropout
 * passes mirror nothing. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "report/plot.h"
#include "train/ckptinfo.h"
#include "train/confusion.h"
#include "train/mc.h"
#include "train/train.h"
#include "util/args.h"

#define ERRORS_SHOWN 64
#define ECE_BINS 15

/* Everything after the loss line: confusion table and PNGs, MC dropout. */
static Status analyse(Net *net, const Dataset *test, TtaKind tta, const char *confusion_png, const char *errors_png,
                      int mc, int seed, Err *e)
{
    int n = test->n, k = net->nclasses;
    float *probs = malloc((size_t)n * (size_t)k * sizeof *probs);
    int *pred = malloc((size_t)n * sizeof *pred), *truth = malloc((size_t)n * sizeof *truth);
    long *cm = malloc((size_t)k * (size_t)k * sizeof *cm);
    const char **names = malloc((size_t)k * sizeof *names);
    char (*numbers)[8] = malloc((size_t)k * sizeof *numbers);
    Image im = {0};
    Buf b = {0};
    Status st = ST_OK;
    if (!probs || !pred || !truth || !cm || !names || !numbers) {
        st = err_set(e, ST_ERR_NOMEM, "out of memory for %d predictions", n);
        goto done;
    }
    for (int c = 0; c < k; c++) names[c] = confusion_class_name(c, k, numbers[c], sizeof numbers[c]);
    if ((st = mc_predict_tta(net, test, tta, probs, pred, NULL, e))) goto done;
    confusion_count(pred, test->labels, n, k, cm);
    confusion_format(cm, k, names, &b);
    fputs(b.data ? b.data : "", stdout);
    if (confusion_png) {
        if ((st = plot_confusion(cm, k, names, NULL, &im, e)) || (st = plot_write_image(&im, confusion_png, e)))
            goto done;
        draw_image_free(&im);
        printf("wrote %s\n", confusion_png);
    }
    if (errors_png) {
        int idx[ERRORS_SHOWN], wrong = 0;
        float *conf = malloc((size_t)n * sizeof *conf); /* the predicted class's probability */
        if (!conf) {
            st = err_set(e, ST_ERR_NOMEM, "out of memory for %d predictions", n);
            goto done;
        }
        for (int i = 0; i < n; i++)
            truth[i] = test->labels[i], wrong += pred[i] != truth[i], conf[i] = probs[(size_t)i * (size_t)k + pred[i]];
        int shown = confusion_errors_first(pred, test->labels, n, ERRORS_SHOWN, idx);
        char title[160];
        snprintf(title, sizeof title, "%d of %d test images misclassified; %d shown, misclassified first", wrong, n,
                 shown);
        st = plot_image_grid(test->pixels, test->h, test->w, idx, shown, truth, pred, conf, names, 8, title, &im, e);
        free(conf);
        if (st || (st = plot_write_image(&im, errors_png, e))) goto done;
        printf("wrote %s\n", errors_png);
    }
    if (mc > 0) {
        McStats det, sto;
        mc_summarize(probs, pred, test->labels, n, k, ECE_BINS, &det);
        if ((st = mc_predict(net, test, mc, (uint64_t)seed, probs, pred, NULL, e))) goto done;
        mc_summarize(probs, pred, test->labels, n, k, ECE_BINS, &sto);
        if (tta != TTA_NONE) printf("(deterministic: with %s test-time augmentation; the MC passes without)\n",
                                    tta_name(tta));
        printf("Monte-Carlo dropout: %d stochastic passes averaged (seed %d)\n"
               "                      accuracy     NLL  entropy  ECE (%d bins)\n",
               mc, seed, ECE_BINS);
        printf("  deterministic        %6.2f%%  %6.4f   %6.4f   %6.4f\n", 100 * det.acc, det.nll, det.entropy, det.ece);
        char label[32];
        snprintf(label, sizeof label, "MC dropout (N=%d)", mc);
        printf("  %-19s  %6.2f%%  %6.4f   %6.4f   %6.4f\n", label, 100 * sto.acc, sto.nll, sto.entropy, sto.ece);
    }
done:
    draw_image_free(&im);
    buf_free(&b);
    free(probs), free(pred), free(truth), free(cm), free(names), free(numbers);
    return st;
}

/* What is evaluated, before the figures: the file, its model, where its
 * run stood (epoch, batch), the epoch chosen by validation, the settings. */
static void print_what(const char *path, const CkptInfo *ci)
{
    Buf b = {0};
    buf_printf(&b, "evaluating ");
    ckptinfo_header(path, ci, &b);
    ckptinfo_progress(ci, &b);
    ckptinfo_settings(ci, &b);
    if (b.failed) fputs("evaluating (out of memory for its description)\n", stdout);
    else fwrite(b.data, 1, b.len, stdout);
    buf_free(&b);
}

int cmd_eval(int argc, char **argv)
{
    const char *weights = NULL, *data = NULL, *confusion = NULL, *errors = NULL, *precision = NULL, *tta_flag = NULL;
    int batch = 256, threads = 0, mc = 0, seed = 1;
    ArgSpec specs[] = {
        {"weights", ARG_STR, &weights, 0, 0, "FILE", "checkpoint written by train (model.fmw)", 0},
        {"data", ARG_STR, &data, 0, 0, "DIR", "folder with the IDX files (default: see README)", 0},
        {"batch", ARG_INT, &batch, 1, 65536, "N", "evaluation batch size (default 256)", 0},
        {"threads", ARG_INT, &threads, 1, CLI_MAX_THREADS, "N", CLI_THREADS_HELP, 0},
        {"confusion", ARG_STR, &confusion, 0, 0, "FILE", "write the confusion matrix as a heat map (.png or .svg)",
         0},
        {"errors", ARG_STR, &errors, 0, 0, "FILE",
         "write a grid of test images, misclassified first, each with its test index and confidence (.png or .svg)",
         0},
        {"mc", ARG_INT, &mc, 1, 100000, "N", "also average N passes with dropout on (MC dropout)", 0},
        {"seed", ARG_INT, &seed, 0, 2147483647, "N", "seed of the MC dropout masks (default 1)", 0},
        {"precision", ARG_STR, &precision, 0, 0, "P", CLI_PRECISION_HELP, 0},
        {"tta", ARG_STR, &tta_flag, 0, 0, "NAME",
         "flip | none: test-time augmentation (flip: the mean logits of each image and its mirror image; default: "
         "the checkpoint's setting, else none)", 0},
    };
    int nspecs = (int)(sizeof specs / sizeof specs[0]), npos, help;
    const char *pos[1];
    Err e;
    Status st = args_parse(argc, argv, specs, nspecs, pos, 1, &npos, &help, &e);
    if (st) return cli_usage_error("eval", &e);
    if (npos && !help) return cli_stray_argument("eval", pos[0]);
    if (help) {
        printf("usage: fmnist eval --weights FILE [flags]\n\nPrints the test loss and accuracy of a trained "
               "model, its confusion matrix and per-class\naccuracy; --mc N adds accuracy, entropy and calibration "
               "of Monte-Carlo dropout.\n\n");
        args_print_help(specs, nspecs, stdout);
        return 0;
    }
    if (!weights) {
        err_set(&e, ST_ERR_ARG, "--weights FILE is required");
        return cli_usage_error("eval", &e);
    }
    Precision prec;
    if (precision && cli_precision(precision, &prec, &e)) return cli_usage_error("eval", &e);
    TtaKind tta = TTA_NONE;
    if (tta_flag && cli_tta(tta_flag, &tta, &e)) return cli_usage_error("eval", &e);
    CliFiles in = {0}, out = {0}; /* the pictures replace no input, and their folders exist */
    cli_files_add(&in, "the checkpoint --weights", weights, "");
    cli_files_add_data(&in, data);
    if (confusion) cli_files_add(&out, "--confusion", confusion, "");
    if (errors) cli_files_add(&out, "--errors", errors, "");
    int rc = cli_check_files("eval", &in, &out, NULL);
    cli_files_free(&in);
    cli_files_free(&out);
    if (rc) return rc;
    DrawFormat fmt = DRAW_PNG; /* before anything is loaded */
    if ((confusion && draw_format("--confusion", confusion, &fmt, &e)) ||
        (errors && draw_format("--errors", errors, &fmt, &e)))
        return cli_usage_error("eval", &e);
    if (cli_set_threads("eval", threads)) return EXIT_USAGE;
    CkptInfo ci;
    if ((st = ckptinfo_load(weights, batch, &ci, &e))) return cli_fail(st, &e);
    Net *net = ci.net;
    if ((st = cli_net_precision(net, precision, ci.has_settings ? ci.settings.train.precision : PREC_FP32, &e))) {
        ckptinfo_free(&ci);
        return cli_fail(st, &e);
    }
    Dataset test = {0};
    char data_dir[FM_PATH];
    if ((st = cli_load_data(data, DATA_MAX_CLASSES, 0, NULL, &test, data_dir, sizeof data_dir, &e))) {
        ckptinfo_free(&ci);
        return cli_fail(st, &e);
    }
    if (!tta_flag && ci.has_settings) tta = ci.settings.train.tta;
    print_what(weights, &ci);
    double loss, acc;
    st = train_evaluate_tta(net, &test, tta, &loss, &acc, &e);
    if (!st) {
        printf("test loss %.4f acc %.2f%% (%d images from %s%s%s%s)\n", loss, 100 * acc, test.n, data_dir,
               net->math != MATH_FP32 ? "; products in " : "", net->math != MATH_FP32 ? math_name(net->math) : "",
               tta != TTA_NONE ? "; flip test-time augmentation: mean logits of each image and its mirror" : "");
        st = analyse(net, &test, tta, confusion, errors, mc, seed, &e);
    }
    dataset_free(&test);
    ckptinfo_free(&ci);
    return st ? cli_fail(st, &e) : 0;
}
