/* main.c - the fmnist command line: picks the subcommand (src/cli/NAME.c).
 *
 * Exit status: 0 success, 1 error (message on stderr naming the file/flag),
 * 2 usage error, 130/143 interrupted by SIGINT/SIGTERM.
 *
 * The MPI build (make MPI=1, -DFMNIST_MPI) starts the team of ranks
 * (cli/mpi.h) before the command and ends it after: train and sweep share
 * their work over the ranks; the other commands refuse to run on more than
 * one (exit 2). Only rank 0 prints; every rank exits with the same status.
 * Without mpirun it is one rank, and the program runs as the plain build. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "util/suggest.h"
#ifdef FMNIST_MPI
#include "cli/mpi.h"
#endif

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
    int ranks;             /* 1: shares its work over MPI ranks; 0: one process only */
} COMMANDS[] = {
    {"train", cmd_train, "train a model, report loss and accuracy every epoch", 1},
    {"eval", cmd_eval, "test loss, accuracy and confusion matrix of a trained model", 0},
    {"info", cmd_info, "summary of a checkpoint: layers, settings, progress, the epoch chosen by validation", 0},
    {"sweep", cmd_sweep, "train under several settings and seeds (any train flag) and compare them", 1},
    {"plot", cmd_plot, "chart the loss or accuracy curves of training logs as PNG or SVG", 0},
    {"export", cmd_export, "write a trained model as NumPy .npz, safetensors (PyTorch) or ONNX", 0},
    {"predict", cmd_predict, "top-3 classes of pictures (PNG, PGM, JPEG) or IDX images", 0},
    {"wd-demo", cmd_wddemo, "the weight-decay experiment: overfitting linear regression, with and without decay", 0},
};
#define NCOMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void usage(FILE *f)
{
    if (!cli_is_lead()) return;
    fprintf(f, "usage: fmnist COMMAND [flags]\n\n"
               "Trains MLPs and conv nets on Fashion-MNIST (or any IDX data set of its kind).\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-9s %s\n", COMMANDS[i].name, COMMANDS[i].help);
    fprintf(f, "\n'fmnist COMMAND --help' (or 'fmnist help COMMAND') lists a command's flags; 'fmnist --version' the "
               "version.\n");
}

/* Unknown command: the message (with the nearest command, if one is near)
 * and the usage, on the printing rank. */
static int unknown_command(const char *cmd)
{
    Suggest s;
    suggest_init(&s, cmd);
    for (size_t i = 0; i < NCOMMANDS; i++) suggest_try(&s, COMMANDS[i].name);
    suggest_try(&s, "help");
    if (cli_is_lead()) {
        if (s.best) fprintf(stderr, "fmnist: unknown command '%s'; did you mean '%s'?\n\n", cmd, s.best);
        else fprintf(stderr, "fmnist: unknown command '%s'\n\n", cmd);
    }
    usage(stderr);
    return EXIT_USAGE;
}

/* The command line, as the plain build runs it. */
static int run_command(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    cli_ignore_file_size_signal();
    if (!strcmp(cmd, "help") && argc > 2) { /* fmnist help COMMAND: as fmnist COMMAND --help */
        char help[] = "--help", *args[] = {help, NULL};
        if (!strcmp(argv[2], "help")) {
            usage(stdout);
            return 0;
        }
        for (size_t i = 0; i < NCOMMANDS; i++)
            if (!strcmp(argv[2], COMMANDS[i].name)) return COMMANDS[i].run(1, args);
        return unknown_command(argv[2]);
    }
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        char w[160];
        printf("fmnist %s\nOpenMP waiting threads: %s\n", FMNIST_VERSION, cli_wait_policy(w, sizeof w));
        return 0;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(cmd, COMMANDS[i].name)) return COMMANDS[i].run(argc - 2, argv + 2);
    return unknown_command(cmd);
}

#ifdef FMNIST_MPI
/* A command that runs on one process only, started on more: rank 0 says
 * so; EXIT_USAGE on every rank. 0 when the command may run. */
static int refuse_on_ranks(const Team *t, int argc, char **argv)
{
    if (t->size == 1 || argc < 2) return 0;
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(argv[1], COMMANDS[i].name) && !COMMANDS[i].ranks) {
            if (t->rank == 0)
                fprintf(stderr,
                        "fmnist %s: runs on one process (only train and sweep share their work over MPI ranks); "
                        "run it without mpirun, or with -np 1\n",
                        argv[1]);
            return EXIT_USAGE;
        }
    return 0;
}

int main(int argc, char **argv)
{
    cli_wait_default(argv); /* before MPI starts: the image may run again */
    Team *t;
    Err e;
    if (mpi_team_start(&argc, &argv, &t, &e)) {
        fprintf(stderr, "fmnist: error: %s\n", e.msg);
        return 1;
    }
    cli_set_team(t);
    if (t->rank > 0 && !freopen("/dev/null", "w", stdout)) /* only rank 0 prints */
        fprintf(stderr, "fmnist: rank %d: cannot send stdout to /dev/null; its output is mixed in\n", t->rank);
    int rc = refuse_on_ranks(t, argc, argv);
    if (!rc) rc = run_command(argc, argv);
    fflush(stdout);
    rc = mpi_team_exit_code(t, rc); /* the same on every rank */
    cli_set_team(NULL);
    mpi_team_end(t);
    return rc;
}
#else
int main(int argc, char **argv)
{
    cli_wait_default(argv);
    return run_command(argc, argv);
}
#endif
