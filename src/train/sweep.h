/* sweep.h - one model trained under several settings and seeds, compared.
 *
 * A sweep is settings x seeds: trial k runs setting k / nseeds with seed
 * seeds[k % nseeds]. Each trial is exactly the `fmnist train` run with the
 * setting's flags and that seed (the CLI builds each setting's RunSpec from
 * the one flag table of cli/trainflags.c): it holds out spec->val
 * validation images from its own seed, as `train --val N --seed S` does,
 * and trains in OUT/SETTING/seedS/ through run.h.
 *
 * A sweep is a folder one can come back to: OUT/sweep.csv (the manifest)
 * lists every trial ever planned there; a trial whose folder holds its
 * finished run is skipped, an interrupted one resumes from its model.fmw
 * (resume.h), a folder with a run of other settings is refused, and a
 * member that cannot be read is reported (never retrained). The summary
 * (report/compare.h: summary.csv, summary.md) and the charts (report/plot.h:
 * compare_loss.png, compare_acc.png, compare_final.png) cover every finished
 * trial of the manifest, so a rerun with a subset of the settings drops
 * nothing; sweep_summarize rebuilds them from disk alone. */
#ifndef FMNIST_SWEEP_H
#define FMNIST_SWEEP_H

#include "report/compare.h"
#include "report/curve.h"
#include "train/run.h"
#include "util/args.h"
#include "util/fileio.h"
#include "util/team.h"

#define SWEEP_MAX_SETTINGS 256
#define SWEEP_MAX_SEEDS 64
#define SWEEP_MAX_TRIALS 1024

/* One setting: the train flags of every trial but the seed. */
typedef struct {
    char name[160];           /* its folder: the varied flags and values,
                                 "dropout0.3-0.5_wd1e-4" ("base" if none)   */
    char label[160];          /* in words: "dropout 0.3/0.5, wd 1e-4"       */
    RunSpec run;              /* model, TrainConfig (its seed and val are
                                 the trial's), save_every; out, log_path,
                                 overwrite and resume are the engine's      */
    int ndropout;             /* 0: the model file's rates                  */
    float dropout[ARGS_MAX_FLOATS];
    char flags[512];          /* the flags that make it, as a command line
                                 ("--dropout 0.3,0.5 --weight-decay 1e-4"):
                                 the manifest records them                   */
} SweepSetting;

typedef struct {
    const char *out;          /* the sweep's folder                         */
    const SweepSetting *settings;
    int nsettings;
    const int *seeds;         /* nseeds >= 1, distinct                      */
    int nseeds;
    int val;                  /* validation images each trial holds out (0: none) */
    int logy;                 /* compare_loss.png on a log axis             */
    int show_seeds;           /* each seed's curve drawn thin too           */
    /* One trial only (`--trial K`, a task of a job array): has_trial set,
     * trial = K. Its folder alone is checked (the other tasks may be
     * training theirs), the manifest gets the whole plan, and no summary is
     * written (sweep_summarize, once every task is done). */
    int has_trial, trial;
    /* The ranks sharing the sweep (`mpirun -np N`, util/team.h); NULL or
     * one rank: the serial sweep. With more, every rank calls
     * sweep_execute with the same spec and data (its own hooks and stop
     * flag), and the trials go out from a queue (Team.take): see
     * sweep_execute. has_trial is refused then (one trial, one process). */
    const Team *team;
} SweepSpec;

/* The number of trials, and trial k's setting and seed. */
int sweep_ntrials(const SweepSpec *s);
const SweepSetting *sweep_trial(const SweepSpec *s, int k, int *seed);

/* Trial k's folder, OUT/SETTING/seedS, into dir (len bytes; cut if too
 * long, as snprintf does); its seed into *seed if not NULL. */
void sweep_trial_dir(const SweepSpec *s, int k, char *dir, size_t len, int *seed);

/* A varied flag of a setting and its value, as given ("dropout", "0.3,0.5";
 * a switch's value is "on" or "off"). */
typedef struct {
    const char *flag;         /* without the "--"                           */
    const char *value;
} SweepValue;

/* A setting's folder name and label from its varied flags v[0..n), in
 * order: per flag a short name (dropout, wd for weight-decay, else the
 * flag's own) and the value: numbers (a comma list too) by
 * sweep_format_number, joined by '-' in the name and '/' in the label
 * ("dropout0.3-0.5", "dropout 0.3/0.5"); the model file by its base name
 * without ".cfg" ("model-cnn", "model cnn"); other words after a '-'
 * ("optim-sgd", "aug-crop2-flip"; labels "optim sgd", "aug crop=2+flip").
 * Name parts are joined by '_', label parts by ", "; a name holds only
 * [A-Za-z0-9.+-] ('=' dropped, other characters '-'). n = 0: "base".
 * ST_ERR_ARG if either does not fit. */
Status sweep_setting_names(const SweepValue *v, int n, char *name, size_t nlen, char *label, size_t llen, Err *e);

/* The flags (without "--") that name the settings of OUT/sweep.csv, as
 * its flags column gives them, in order of first appearance, into
 * names[0..max) (*n of them; 0 when OUT has no manifest), so that a rerun
 * that gives one of them a single value still names its folders with it.
 * Errors: the manifest cannot be read (naming it). */
Status sweep_manifest_flags(const char *out, char (*names)[32], int max, int *n, Err *e);

/* v written as briefly as it reads back: the shorter of "%g" and a compact
 * exponent form ("1e-4" rather than "0.0001", "0.3" rather than "3e-1"). */
void sweep_format_number(double v, char *buf, size_t len);

typedef enum {
    SWEEP_TRIAL_NEW,      /* nothing there yet: train                          */
    SWEEP_TRIAL_RESUME,   /* an interrupted run of these settings: resume it   */
    SWEEP_TRIAL_FINISHED  /* its log holds every epoch (or early stopping ended
                             it): skip                                         */
} SweepTrialState;

typedef struct {
    /* Before trial k of n: its setting, seed, folder and state; net is the
     * trial's network (for a layer table). */
    void (*on_trial)(void *ctx, int k, int n, const SweepSetting *st, int seed, const char *dir,
                     SweepTrialState state, const Net *net);
    /* Once every folder is checked, before anything is written: each
     * trial's state (n = sweep_ntrials), for a plan and an estimate. */
    void (*on_plan)(void *ctx, const SweepTrialState *states, int n);
    /* After trial k, with its training time in this session (0 if skipped):
     * for an estimate of the time left. */
    void (*on_trial_done)(void *ctx, int k, int n, double seconds);
    void *ctx;
    RunHooks run;             /* per-batch and per-epoch progress of each run */
    /* Trial k failed, e says why. Diverged (ST_ERR_DIVERGED): its folder
     * keeps its last good epoch, the sweep goes on, the summary leaves it
     * out. Under a team, any other failure of a trial too: the rank takes
     * the next one, and the sweep ends with that failure (no summary). */
    void (*on_trial_failed)(void *ctx, int k, int n, const Err *e);
} SweepHooks;

/* What a sweep has on disk: the summary of every finished trial its
 * manifest lists. */
typedef struct {
    CompareSummary sum;
    CompareSetting *settings;   /* sum.settings, owned                        */
    char (*text)[2][160];       /* each setting's name and label, owned       */
    int missing;                /* trials of the manifest not finished        */
} SweepResult;
void sweep_result_free(SweepResult *r);

/* Runs the sweep on train (the training images before any hold-out) and
 * test: first checks every setting's net against the data, every trial's
 * folder and the memory, creating nothing (an error names the setting or
 * folder); then writes the manifest and runs the trials in order; then
 * writes the summary and charts of every finished trial the manifest
 * lists (not with has_trial: *res then stays empty), into *res (if not NULL; sweep_result_free it). Returns
 * ST_ERR_INTERRUPTED when hooks->run.stop was raised (the trial's
 * model.fmw holds its position; rerunning resumes it).
 *
 * With s->team of more than one rank (each rank calls it alike): rank 0
 * alone checks everything (as above), calls on_plan and writes the
 * manifest, and every rank fails with its message if that fails. Then the
 * trials go out from the team's queue, the longest first (epochs x the
 * net's work per image; finished ones last): each rank takes the next
 * trial when done with one, and runs it as --trial K would (skipped,
 * resumed or new), with its own hooks. A raised stop flag ends the rank's
 * trial (its model.fmw saved) and its taking. Once all ranks are done,
 * rank 0 writes the summary and charts (into its *res; the others' stays
 * empty), exactly as sweep_summarize does. Every rank returns the same
 * status: that of the lowest rank that failed (ST_ERR_INTERRUPTED if it
 * was stopped), its message prefixed "rank R: " (but rank 0's check's). */
Status sweep_execute(const SweepSpec *s, const Dataset *train, const Dataset *test, const SweepHooks *h,
                     SweepResult *res, Err *e);

/* Rebuilds summary.csv, summary.md and the charts of the sweep folder out
 * from its manifest and the trials' logs, training nothing. A trial of the
 * manifest whose folder is missing or unfinished is left out and counted
 * in res->missing; one whose log or checkpoint cannot be read is an error
 * naming the file (nothing is written). */
Status sweep_summarize(const char *out, int logy, int show_seeds, SweepResult *res, Err *e);

#endif
