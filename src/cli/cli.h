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
#include "util/fileio.h"
#include "util/status.h"
#include "util/team.h"

#define FMNIST_VERSION "0.1.0"
#define EXIT_USAGE 2

/* Set by the SIGINT/SIGTERM/SIGUSR1 handler (one of the program's two globals; the
 * other is the team below). */
extern volatile sig_atomic_t cli_signal;
/* Installs the handler: the first signal sets cli_signal, a second exits. */
void cli_catch_signals(void);

/* Ignores SIGXFSZ, for every command: past a file-size limit (ulimit -f) a
 * write then fails with EFBIG, which the writer reports ("PATH: cannot write:
 * File too large", exit 1) after removing its temp file, instead of the
 * process being killed with the temp file left behind. */
void cli_ignore_file_size_signal(void);

/* The processes this run shares its work with (util/team.h): in the MPI
 * build (make MPI=1) the MPI ranks, even one alone; NULL in the plain build.
 * main.c sets it once, before any command runs (the program's second global
 * beside cli_signal), and nothing changes it afterwards. */
const Team *cli_team(void);
void cli_set_team(const Team *t);
/* 1 on the rank that prints (rank 0, or the only process). The others
 * print nothing on stdout (main.c sends it to /dev/null) and leave the
 * closing error line to rank 0, which team_agree tells what they met. */
int cli_is_lead(void);
/* Lets MPI make progress on this rank (cli/mpi.h: mpi_team_poll), so that the
 * other ranks' takes from the queue whose counter rank 0 holds need not wait
 * for rank 0's next collective call; cli_on_batch calls it each batch, cli_on_eval
 * each chunk of an evaluation.
 * Nothing in the plain build or without a team. */
void cli_team_poll(void);

/* "fmnist: error: MSG" on stderr (rank 0 only); returns the exit status (2 for ST_ERR_ARG). */
int cli_fail(Status st, const Err *e);
/* "fmnist CMD: MSG (see 'fmnist CMD --help')" (rank 0 only); returns 2. */
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
/* OpenMP's waiting threads. libgomp reads its wait settings once, as it
 * loads, before main; fmnist's default, GOMP_SPINCOUNT=CLI_SPINCOUNT (spin
 * that many rounds, then sleep: README, "Waiting threads", has the
 * measurement), is therefore set by running the program image again
 * (/proc/self/exe, same argv) with it in the environment, once. Nothing is
 * done if the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT (theirs stands),
 * in a serial build, or if the image cannot be run again (then libgomp's
 * own default stands). Call first thing in main. */
#define CLI_SPINCOUNT "1000"
void cli_wait_default(char **argv);
/* "GOMP_SPINCOUNT=1000 (fmnist's default: spin, then sleep)", or what the
 * environment set, for --version. */
const char *cli_wait_policy(char *buf, size_t len);
/* --precision NAME (fp32 | bf16) into *p, checked against this CPU
 * (math_choose): ST_ERR_ARG naming the flag, the CPU and what bf16 needs. */
Status cli_precision(const char *name, Precision *p, Err *e);
/* --tta NAME (flip | none) into *k: ST_ERR_ARG naming the flag otherwise. */
Status cli_tta(const char *name, TtaKind *k, Err *e);
/* The Math of precision p on this CPU, for the run header: "fp32", "bf16
 * (AVX512_BF16 dot products)"; p must have passed cli_precision. */
const char *cli_math_name(Precision p);
/* eval and predict: the net's products in --precision NAME if given, else
 * in precision dflt (the checkpoint's); errors as cli_precision's. */
Status cli_net_precision(Net *net, const char *name, Precision dflt, Err *e);
#define CLI_PRECISION_HELP "fp32 | bf16: the products' operands (default: the checkpoint's, else fp32)"
/* Finds the data folder (--data, else $FMNIST_DATA, else data/ or the Debian
 * folder: see data_find_dir), copies its path into dir (dirlen bytes, for
 * the run header) and loads the test split, and the training split if train
 * is not NULL (its first train_limit images if train_limit > 0). The
 * commands pass DATA_MAX_CLASSES as nclasses: a model with too few outputs
 * for the labels is then train_check_data's error, which names the model's
 * line. */
Status cli_load_data(const char *flag_dir, int nclasses, int train_limit, Dataset *train, Dataset *test, char *dir,
                     size_t dirlen, Err *e);

/* --model NAME: the model file to read, into out (see cfg_find): NAME if it
 * is a file, else a preset (mlp, cnn, ...: models/NAME.cfg) from the folders
 * next to the program, found from /proc/self/exe's folder E: E/models (the
 * clone's ./fmnist), E/../share/fmnist/models (make install: PREFIX/bin and
 * PREFIX/share/fmnist/models, with any PREFIX or DESTDIR), E/../../models
 * (the clone's build/X/fmnist). A file found under the working folder is
 * named relative to it. ST_ERR_ARG when not found. */
Status cli_find_model(const char *name, char *out, size_t len, Err *e);
/* The folders of presets cli_find_model looks in (into dirs[0..3), each
 * FM_PATH bytes); returns their number. */
int cli_model_dirs(char dirs[][FM_PATH]);

/* A command that reads its checkpoint from --weights FILE got a word
 * without a flag: the usage error, which suggests --weights WORD if the word
 * ends in .fmw or names a file. Returns EXIT_USAGE. */
int cli_stray_argument(const char *cmd, const char *word);

/* The default output folder of a run, in two steps so that nothing is
 * created before every check has passed: cli_default_out_base writes
 * runs/NAME-YYYYmmdd-HHMMSS into base (the name the checks see); then
 * cli_default_out_create makes that folder new and empty, or BASE-2, BASE-3,
 * .. if it is taken (two runs started in the same second: file_mkdir_new),
 * and copies the folder made into out. */
void cli_default_out_base(const char *name, char *base, size_t len);
Status cli_default_out_create(const char *base, char *out, size_t len, Err *e);

/* The files a command reads or writes, gathered to be checked before any
 * work. A message names a file as "BEFORE PATH AFTER" ("--log runs/a.csv",
 * "the checkpoint runs/x/model.fmw this run writes"); before and after are
 * string literals, the path is copied. */
typedef struct {
    const char *before, *after;
    char *path;
} CliFile;
typedef struct {
    CliFile *v;
    int n, cap;
    int failed;            /* out of memory: the list is incomplete */
} CliFiles;
void cli_files_add(CliFiles *l, const char *before, const char *path, const char *after);
/* Adds the four IDX files of the data folder the command will read (as
 * cli_load_data finds it) as "the data file PATH"; nothing if no folder
 * holds the data (loading it then says why). */
void cli_files_add_data(CliFiles *l, const char *flag_dir);
void cli_files_free(CliFiles *l);
/* Before any work, so that an output never replaces an input: refuses an
 * output that is the same file (file_same) as an input, as an earlier output
 * or as a folder of creates ("fmnist CMD: -o A is also the log A", exit 2);
 * then an output that is a folder, or whose folder is not one of creates
 * (the folders the command makes; NULL: none) and does not exist or cannot
 * be written into (exit 1). Prints the message and returns the exit code,
 * or 0 when every output may be written. Frees no list. */
int cli_check_files(const char *cmd, const CliFiles *in, const CliFiles *out, const CliFiles *creates);

/* Progress reporting for training hooks: the bar on stderr (only if progress
 * is set: stderr is a terminal and --no-progress was not given), redrawn in
 * place at most every 0.1 s to the terminal's width (cli_term_width), with
 * the running loss and accuracy, then "evaluating test" (and validation)
 * during the evaluations; and the epoch line on stdout (before the first
 * one with a validation set, what its star means). ctx is a CliProgress. */
typedef struct {
    int progress;
    int legend;             /* the star's meaning was printed */
    double drawn;           /* when the bar was last drawn (cli_clock) */
    int drawn_epoch;        /* its epoch */
    const char *drawn_set;  /* the evaluation it showed (NULL: training) */
} CliProgress;
void cli_on_batch(void *ctx, const BatchStats *b);
void cli_on_eval(void *ctx, const EvalStats *s);
void cli_on_epoch(void *ctx, const EpochStats *s);
/* The width of the terminal stderr is: its window size (TIOCGWINSZ), else
 * $COLUMNS, else 80. */
int cli_term_width(void);

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_wddemo(int argc, char **argv);

#endif
