/* cli.h - what the subcommands of the fmnist program share.
 *
 * The CLI is a thin layer: each src/cli/NAME.c parses its flags with
 * util/args, calls the library and prints. These files are linked into the
 * fmnist binary only, not into libfmnist.a. */
#ifndef FMNIST_CLI_H
#define FMNIST_CLI_H

#include <signal.h>

#include "data/dataset.h"
#include "train/train.h"
#include "util/status.h"

#define FMNIST_VERSION "0.1.0"
#define EXIT_USAGE 2

/* Set by the SIGINT/SIGTERM handler (the program's only global). */
extern volatile sig_atomic_t cli_signal;
/* Installs the handler: the first signal sets cli_signal, a second exits. */
void cli_catch_signals(void);

/* "fmnist: error: MSG" on stderr; returns the exit status (2 for ST_ERR_ARG). */
int cli_fail(Status st, const Err *e);
/* "fmnist CMD: MSG (see 'fmnist CMD --help')"; returns 2. */
int cli_usage_error(const char *cmd, const Err *e);
/* The most threads --threads and OMP_NUM_THREADS may ask for. */
#define CLI_MAX_THREADS 1024
#define CLI_STR_(x) #x
#define CLI_STR(x) CLI_STR_(x)
#define CLI_THREADS_HELP "OpenMP threads, 1-" CLI_STR(CLI_MAX_THREADS) " (default: $OMP_NUM_THREADS, else all cores)"
/* Sets the OpenMP team size to threads (--threads) if > 0; otherwise the
 * runtime's own choice stands, which is OMP_NUM_THREADS if set: that must
 * then be 1..CLI_MAX_THREADS (or a comma list of such), else this prints a
 * usage error for cmd naming the variable and returns EXIT_USAGE. Returns 0
 * when all is well. (A serial build ignores both.) */
int cli_set_threads(const char *cmd, int threads);
int cli_max_threads(void);
/* Finds the data folder (--data, else $FMNIST_DATA, else data/ or the Debian
 * folder: see data_find_dir), copies its path into dir (dirlen bytes, for
 * the run header) and loads the test split, and the training split if train
 * is not NULL (its first train_limit images if train_limit > 0). */
Status cli_load_data(const char *flag_dir, int nclasses, int train_limit, Dataset *train, Dataset *test, char *dir,
                     size_t dirlen, Err *e);

/* The default output folder of a run: runs/NAME-YYYYmmdd-HHMMSS, or with
 * -2, -3, .. appended if that is taken (two runs started in the same second),
 * created new and empty (file_mkdir_new) and copied into out (len bytes). */
Status cli_default_out(const char *name, char *out, size_t len, Err *e);

/* Progress reporting for training hooks: the bar on stderr (only if progress
 * is set: stderr is a terminal and --no-progress was not given) and the epoch
 * line on stdout. ctx is a CliProgress. */
typedef struct {
    int progress;
    int batch;
    int epochs;
} CliProgress;
void cli_on_batch(void *ctx, int epoch, int done, int total, double elapsed);
void cli_on_epoch(void *ctx, const EpochStats *s);

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_wddemo(int argc, char **argv);

#endif
