/* main.c - the fmnist command line: picks the subcommand (src/cli/NAME.c).
 *
 * Exit status: 0 success, 1 error (message on stderr naming the file/flag),
 * 2 usage error, 130/143 interrupted by SIGINT/SIGTERM. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} COMMANDS[] = {
    {"train", cmd_train, "train a model, report loss and accuracy every epoch"},
    {"eval", cmd_eval, "test loss, accuracy and confusion matrix of a trained model"},
    {"info", cmd_info, "summary of a checkpoint: layers, settings, progress, the epoch chosen by validation"},
    {"sweep", cmd_sweep, "train under several settings and seeds (any train flag) and compare them"},
    {"plot", cmd_plot, "chart the loss or accuracy curves of training logs as PNG"},
    {"export", cmd_export, "write a trained model as NumPy .npz (PyTorch) or ONNX"},
    {"predict", cmd_predict, "top-3 classes of pictures (PNG, PGM, JPEG) or IDX images"},
    {"wd-demo", cmd_wddemo, "the weight-decay experiment: overfitting linear regression, with and without decay"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: fmnist COMMAND [flags]\n\n"
               "Trains MLPs and conv nets on Fashion-MNIST (or any IDX data set of its kind).\n\ncommands:\n");
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        fprintf(f, "  %-9s %s\n", COMMANDS[i].name, COMMANDS[i].help);
    fprintf(f, "\n'fmnist COMMAND --help' (or 'fmnist help COMMAND') lists a command's flags; 'fmnist --version' the "
               "version.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    cli_ignore_file_size_signal();
    if (!strcmp(cmd, "help") && argc > 2) { /* fmnist help COMMAND: as fmnist COMMAND --help */
        char help[] = "--help", *args[] = {help, NULL};
        for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
            if (!strcmp(argv[2], COMMANDS[i].name)) return COMMANDS[i].run(1, args);
        fprintf(stderr, "fmnist: unknown command '%s'\n", argv[2]);
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("fmnist %s\n", FMNIST_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (!strcmp(cmd, COMMANDS[i].name)) return COMMANDS[i].run(argc - 2, argv + 2);
    fprintf(stderr, "fmnist: unknown command '%s'\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
}
