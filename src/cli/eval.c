/* eval.c - `fmnist eval`: test loss and accuracy of a saved model. */
#include <stdio.h>

#include "cli/cli.h"
#include "model/weights.h"
#include "train/train.h"
#include "util/args.h"

int cmd_eval(int argc, char **argv)
{
    const char *weights = NULL, *data = NULL;
    int batch = 256, threads = 0;
    ArgSpec specs[] = {
        {"weights", ARG_STR, &weights, 0, 0, "FILE", "checkpoint written by train (model.fmw)", 0},
        {"data", ARG_STR, &data, 0, 0, "DIR", "folder with the IDX files (default: see README)", 0},
        {"batch", ARG_INT, &batch, 1, 65536, "N", "evaluation batch size (default 256)", 0},
        {"threads", ARG_INT, &threads, 1, 1024, "N", "OpenMP threads (default: all cores)", 0},
    };
    int nspecs = (int)(sizeof specs / sizeof specs[0]), npos, help;
    const char *pos[1];
    Err e;
    Status st = args_parse(argc, argv, specs, nspecs, pos, 0, &npos, &help, &e);
    if (st) return cli_usage_error("eval", &e);
    if (help) {
        printf("usage: fmnist eval --weights FILE [flags]\n\nPrints the test loss and accuracy of a trained "
               "model.\n\n");
        args_print_help(specs, nspecs, stdout);
        return 0;
    }
    if (!weights) {
        err_set(&e, ST_ERR_ARG, "--weights FILE is required");
        return cli_usage_error("eval", &e);
    }
    cli_set_threads(threads);
    Net *net;
    if ((st = weights_load(weights, batch, &net, NULL, &e))) return cli_fail(st, &e);
    Dataset test = {0};
    if ((st = cli_load_data(data, net->nclasses, 0, NULL, &test, &e))) {
        net_free(net);
        return cli_fail(st, &e);
    }
    double loss, acc;
    st = train_evaluate(net, &test, &loss, &acc, &e);
    if (!st) printf("test loss %.4f acc %.2f%% (%d images)\n", loss, 100 * acc, test.n);
    dataset_free(&test);
    net_free(net);
    return st ? cli_fail(st, &e) : 0;
}

