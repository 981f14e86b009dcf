/* sweep.c - `fmnist sweep`: one model trained under several settings and
 * seeds, compared. Every flag of `train` (cli/trainflags.c) is taken; a
 * flag given more than once (or a number flag given a comma list) is an
 * axis, and the settings are the cross product of the axes. Each trial
 * trains in OUT/SETTING/seedS/ through train/sweep.c, which also writes the
 * manifest, the summary and the charts; `--summarize DIR` rebuilds those
 * from disk, `--list` prints the trials. Under `mpirun -np N` (a Team of
 * N ranks) the ranks take the trials from a queue: rank 0 prints the
 * header, the plan and the summary, every rank one line per trial it
 * starts and ends ("[rank R] ...", on stderr), no progress bars. This file parses and
 * prints. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/trainflags.h"
#include "report/log.h"
#include "train/sweep.h"
#include "util/args.h"

/* ---- the flags ---- */

#define SWEEP_OWN 8

/* One flag of the table as the command line gives it. */
typedef struct {
    const ArgSpec *spec;        /* the table's row (of SweepArgs.table)         */
    int first;                  /* argv index of its first occurrence           */
    int nocc;                   /* occurrences                                  */
    int nvals;                  /* values: one per occurrence, or per number of
                                   a number flag's comma lists                  */
    const char *vals[SWEEP_MAX_SETTINGS];
} FlagVals;

typedef struct {
    TrainFlags tf;                      /* where the table's specs point (unused) */
    ArgSpec table[TRAINFLAGS_MAX];
    int ntable;
    FlagVals flags[TRAINFLAGS_MAX];     /* indexed like table                     */
    int axes[TRAINFLAGS_MAX], naxes;    /* flags with several values, by first use */
    int named[TRAINFLAGS_MAX], nnamed;  /* the flags in the names: the axes and those
                                           OUT/sweep.csv's settings vary, by first use */
    char *copies[2 * SWEEP_MAX_SETTINGS]; /* comma lists split in place (owned)   */
    int ncopies;
    /* sweep's own flags */
    const char *out, *seeds, *summarize;
    int repeats, logy, show_seeds, list, trial;
    int has_trial;                      /* --trial K given                        */
    ArgSpec own[SWEEP_OWN];
    /* what they make */
    SweepSetting settings[SWEEP_MAX_SETTINGS];
    int nsettings;
    int seedv[SWEEP_MAX_SEEDS], nseeds;
    TrainFlags first;                   /* setting 1's flags (the fixed ones are
                                           every setting's)                        */
    int val_given;
    char models[SWEEP_MAX_SETTINGS][FM_PATH]; /* each setting's model file (cli_find_model) */
} SweepArgs;

static void own_specs(SweepArgs *a)
{
    const ArgSpec own[SWEEP_OWN] = {
        {"seeds", ARG_STR, &a->seeds, 0, 0, "S1,S2,..", "train every setting once per seed (default: --seed)", 0},
        {"repeats", ARG_INT, &a->repeats, 1, SWEEP_MAX_SEEDS, "N",
         "train every setting with seeds S..S+N-1 (S = --seed, default 1)", 0},
        {"out", ARG_STR, &a->out, 0, 0, "DIR", "folder of the sweep (default runs/sweep-TIME)", 0},
        {"logy", ARG_SWITCH, &a->logy, 0, 0, NULL, "compare_loss.png with a logarithmic loss axis", 0},
        {"show-seeds", ARG_SWITCH, &a->show_seeds, 0, 0, NULL, "draw each seed's curve (thin) beside the means", 0},
        {"list", ARG_SWITCH, &a->list, 0, 0, NULL, "print the trials (index, setting, seed, folder) and exit", 0},
        {"summarize", ARG_STR, &a->summarize, 0, 0, "DIR",
         "rebuild DIR's summary and charts from its files (trains nothing)", 0},
        {"trial", ARG_INT, &a->trial, 0, SWEEP_MAX_TRIALS - 1, "K",
         "run only trial K of --list (a job array's task); needs --out; then --summarize OUT", 0},
    };
    memcpy(a->own, own, sizeof own);
}

/* The table's specs; --val takes 0 (none) in a sweep and has a default. */
static void table_specs(TrainFlags *tf, ArgSpec *specs, int *n)
{
    *tf = trainflags_defaults();
    *n = trainflags_specs(tf, specs);
    ArgSpec *val = (ArgSpec *)args_find(specs, *n, &tf->val);
    val->lo = 0;
    val->help = "validation images each trial holds out, drawn from its seed (default: the training images / 12; "
                "0: none)";
}

static ArgSpec *find_spec(ArgSpec *specs, int n, const char *name, size_t len)
{
    for (int k = 0; k < n; k++)
        if (strlen(specs[k].name) == len && !strncmp(specs[k].name, name, len)) return &specs[k];
    return NULL;
}

/* A switch's value in a sweep: bare, =1 or =on: "on"; =0 or =off: "off". */
static const char *switch_value(const char *name, const char *eq, Err *e)
{
    if (!eq || !strcmp(eq + 1, "1") || !strcmp(eq + 1, "on")) return "on";
    if (!strcmp(eq + 1, "0") || !strcmp(eq + 1, "off")) return "off";
    err_set(e, ST_ERR_ARG, "--%s=%s: a switch takes =0 or =1 (off or on) in a sweep", name, eq + 1);
    return NULL;
}

/* Adds value (of argv index i) to the flag's values: a number flag's comma
 * list is split into its numbers. */
static Status add_value(SweepArgs *a, FlagVals *fv, int i, const char *value, Err *e)
{
    if (!fv->nocc++) fv->first = i;
    int split = (fv->spec->type == ARG_INT || fv->spec->type == ARG_FLOAT) && strchr(value, ',') &&
                !trainflags_fixed(fv->spec->name);
    char *copy = NULL;
    if (split) {
        if (a->ncopies == (int)(sizeof a->copies / sizeof a->copies[0]) || !(copy = strdup(value)))
            return err_set(e, ST_ERR_ARG, "--%s: too many values", fv->spec->name);
        a->copies[a->ncopies++] = copy;
    }
    for (char *t = copy, *save = NULL; ; ) {
        const char *v = value;
        if (split && !(v = strtok_r(t, ",", &save))) break;
        t = NULL;
        if (fv->nvals == SWEEP_MAX_SETTINGS)
            return err_set(e, ST_ERR_ARG, "--%s: more than %d values", fv->spec->name, SWEEP_MAX_SETTINGS);
        fv->vals[fv->nvals++] = v;
        if (!split) break;
    }
    if (split && (value[0] == ',' || value[strlen(value) - 1] == ',' || strstr(value, ",,")))
        return err_set(e, ST_ERR_ARG, "--%s: expected comma-separated numbers, got '%s'", fv->spec->name, value);
    return ST_OK;
}

/* Groups argv's flags: the table's into a->flags (their values), sweep's
 * own into own_argv (parsed by args_parse later). */
static Status group_flags(SweepArgs *a, int argc, char **argv, char **own_argv, int *nown, int *help, Err *e)
{
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            *help = 1;
            continue;
        }
        if (strncmp(arg, "--", 2) || !arg[2])
            return err_set(e, ST_ERR_ARG, "unexpected argument '%s' (flags are --name VALUE)", arg);
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        ArgSpec *own = find_spec(a->own, SWEEP_OWN, name, len);
        ArgSpec *t = own ? NULL : find_spec(a->table, a->ntable, name, len);
        if (!own && !t) {
            char msg[sizeof e->msg];
            return err_set(e, ST_ERR_ARG, "%s", args_unknown(name, len, a->table, a->ntable, a->own, SWEEP_OWN, msg,
                                                             sizeof msg));
        }
        int takes = (own ? own : t)->type != ARG_SWITCH;
        if (takes && !eq && i + 1 >= argc)
            return err_set(e, ST_ERR_ARG, "--%s needs a value (%s)", (own ? own : t)->name, (own ? own : t)->meta);
        if (own) {
            own_argv[(*nown)++] = argv[i];
            if (takes && !eq) own_argv[(*nown)++] = argv[++i];
            continue;
        }
        const char *value = !takes ? switch_value(t->name, eq, e) : eq ? eq + 1 : argv[++i];
        if (!value) return ST_ERR_ARG;
        Status st = add_value(a, &a->flags[t - a->table], i, value, e);
        if (st) return st;
    }
    return ST_OK;
}

/* A flag given twice that a sweep does not vary: a usage error saying why. */
static Status check_fixed(const SweepArgs *a, Err *e)
{
    for (int k = 0; k < a->ntable; k++) {
        const FlagVals *fv = &a->flags[k];
        const char *why = trainflags_fixed(fv->spec->name);
        if (why && fv->nocc > 1)
            return err_set(e, ST_ERR_ARG, "--%s given twice: it is not a sweep axis (%s)", fv->spec->name, why);
    }
    return ST_OK;
}

/* Each value alone against the table: a malformed value is an error naming
 * its flag, before any setting is made of it. */
static Status check_values(const SweepArgs *a, Err *e)
{
    for (int k = 0; k < a->ntable; k++)
        for (int v = 0; v < a->flags[k].nvals; v++) {
            const FlagVals *fv = &a->flags[k];
            if (fv->spec->type == ARG_SWITCH || !strcmp(fv->vals[v], "none")) continue;
            TrainFlags tf;
            ArgSpec specs[TRAINFLAGS_MAX];
            int n, npos, help;
            table_specs(&tf, specs, &n);
            char flag[64];
            snprintf(flag, sizeof flag, "--%s", fv->spec->name);
            char *argv[2] = {flag, (char *)fv->vals[v]};
            const char *pos[1];
            Status st = args_parse(2, argv, specs, n, pos, 0, &npos, &help, e);
            if (st) return st;
        }
    return ST_OK;
}

/* Sorts the flag indexes v[0..n) by first occurrence. */
static void by_first_use(const SweepArgs *a, int *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && a->flags[v[j]].first < a->flags[v[j - 1]].first; j--) {
            int t = v[j];
            v[j] = v[j - 1], v[j - 1] = t;
        }
}

/* The flags in the names: the axes, and the flags given once that the
 * settings of --out's manifest (from earlier sweeps) vary. */
static Status find_named(SweepArgs *a, Err *e)
{
    char earlier[TRAINFLAGS_MAX][32];
    int nearlier = 0;
    Status st = a->out ? sweep_manifest_flags(a->out, earlier, TRAINFLAGS_MAX, &nearlier, e) : ST_OK;
    if (st) return st;
    a->nnamed = 0;
    for (int k = 0; k < a->ntable; k++) {
        int in = a->flags[k].nvals > 1;
        for (int i = 0; i < nearlier && !in && a->flags[k].nvals == 1; i++)
            in = !strcmp(earlier[i], a->flags[k].spec->name);
        if (in) a->named[a->nnamed++] = k;
    }
    by_first_use(a, a->named, a->nnamed);
    return ST_OK;
}

/* The axes (flags with several values) in order of first use, and the
 * number of settings. */
static Status find_axes(SweepArgs *a, Err *e)
{
    a->naxes = 0;
    long n = 1;
    for (int k = 0; k < a->ntable; k++)
        if (a->flags[k].nvals > 1) a->axes[a->naxes++] = k;
    by_first_use(a, a->axes, a->naxes);
    for (int i = 0; i < a->naxes; i++) {
        n *= a->flags[a->axes[i]].nvals;
        if (n > SWEEP_MAX_SETTINGS) break;
    }
    if (n > SWEEP_MAX_SETTINGS) {
        char what[512] = "";
        for (int i = 0; i < a->naxes && strlen(what) < 400; i++)
            snprintf(what + strlen(what), sizeof what - strlen(what), "%s%d values of --%s", i ? " x " : "",
                     a->flags[a->axes[i]].nvals, a->flags[a->axes[i]].spec->name);
        return err_set(e, ST_ERR_ARG, "%s: more than %d settings", what, SWEEP_MAX_SETTINGS);
    }
    a->nsettings = (int)n;
    return ST_OK;
}

/* Setting i's value of flag k (axes: the first axis varies slowest). */
static const char *value_of(const SweepArgs *a, int i, int k)
{
    const FlagVals *fv = &a->flags[k];
    if (fv->nvals <= 1) return fv->nvals ? fv->vals[0] : NULL;
    int div = 1;
    for (int x = a->naxes - 1; x >= 0 && a->axes[x] != k; x--) div *= a->flags[a->axes[x]].nvals;
    return fv->vals[(i / div) % fv->nvals];
}

/* Setting i's flags as a command line of the table (argv, at most
 * 2 * TRAINFLAGS_MAX): a switch "off" and --aug none are left out. */
static int setting_argv(const SweepArgs *a, int i, char flags[][40], char **argv)
{
    int n = 0;
    for (int k = 0; k < a->ntable; k++) {
        const char *v = value_of(a, i, k);
        const ArgSpec *s = a->flags[k].spec;
        if (!v || !strcmp(v, "off") || (s->type == ARG_STRS && !strcmp(v, "none"))) continue;
        snprintf(flags[k], sizeof flags[k], "--%s", s->name);
        argv[n++] = flags[k];
        if (s->type != ARG_SWITCH) argv[n++] = (char *)v;
    }
    return n;
}

/* Setting i's name, label and the varied flags as a command line. */
static Status setting_names(const SweepArgs *a, int i, SweepSetting *st, Err *e)
{
    SweepValue v[TRAINFLAGS_MAX];
    size_t len = 0;
    st->flags[0] = 0;
    for (int x = 0; x < a->nnamed; x++) {
        const ArgSpec *s = a->flags[a->named[x]].spec;
        v[x] = (SweepValue){s->name, value_of(a, i, a->named[x])};
        if (s->type == ARG_SWITCH)
            len += (size_t)snprintf(st->flags + len, sizeof st->flags - len, "%s--%s=%d", x ? " " : "", s->name,
                                    !strcmp(v[x].value, "on"));
        else
            len += (size_t)snprintf(st->flags + len, sizeof st->flags - len, "%s--%s %s", x ? " " : "", s->name,
                                    v[x].value);
        if (len >= sizeof st->flags) return err_set(e, ST_ERR_ARG, "the flags of setting %d are too long", i + 1);
    }
    return sweep_setting_names(v, a->nnamed, st->name, sizeof st->name, st->label, sizeof st->label, e);
}

/* Setting i: its flags parsed with the table and checked by
 * trainflags_run, exactly as `train` checks them. */
static Status make_setting(SweepArgs *a, int i, Err *e)
{
    SweepSetting *st = &a->settings[i];
    memset(st, 0, sizeof *st);
    Status r = setting_names(a, i, st, e);
    if (r) return r;
    char flags[TRAINFLAGS_MAX][40], *argv[2 * TRAINFLAGS_MAX];
    int argc = setting_argv(a, i, flags, argv), n, npos, help;
    TrainFlags f;
    ArgSpec specs[TRAINFLAGS_MAX];
    table_specs(&f, specs, &n);
    const char *pos[1];
    if ((r = args_parse(argc, argv, specs, n, pos, 0, &npos, &help, e))) return r;
    a->val_given = args_given(specs, n, &f.val);
    int val = f.val;
    if (!a->val_given) f.val = 1; /* the default: known once the data is loaded, checked then */
    if ((r = trainflags_run(&f, specs, n, &st->run, e))) {
        if (a->nsettings > 1) err_prefix(e, st->label);
        return r;
    }
    f.val = val;
    if ((r = cli_find_model(f.model, a->models[i], sizeof a->models[i], e))) {
        if (a->nsettings > 1) err_prefix(e, st->label);
        return r;
    }
    st->run.model = f.model = a->models[i]; /* a preset's file, wherever fmnist runs */
    st->ndropout = f.dropout.n;
    memcpy(st->dropout, f.dropout.v, sizeof(float) * (size_t)f.dropout.n);
    if (!i) a->first = f;
    for (int j = 0; j < i; j++)
        if (!strcmp(a->settings[j].name, st->name))
            return err_set(e, ST_ERR_ARG, "the setting %s is given twice", st->name);
    return ST_OK;
}

/* --seeds, --repeats or --seed: the seeds of every setting. */
static Status make_seeds(SweepArgs *a, int seed_given, Err *e)
{
    if (a->seeds && a->repeats) return err_set(e, ST_ERR_ARG, "give --seeds or --repeats, not both");
    if (a->seeds && seed_given)
        return err_set(e, ST_ERR_ARG, "give --seeds or --seed, not both (--repeats N starts at --seed)");
    a->nseeds = 0;
    if (!a->seeds) {
        int n = a->repeats ? a->repeats : 1;
        if ((long long)a->first.seed + n - 1 > INT_MAX)
            return err_set(e, ST_ERR_ARG, "--repeats %d from --seed %d goes past %d", n, a->first.seed, INT_MAX);
        for (int i = 0; i < n; i++) a->seedv[a->nseeds++] = a->first.seed + i;
        return ST_OK;
    }
    const char *p = a->seeds;
    for (;;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || (*end && *end != ',') || v < 0 || v > INT_MAX || *p == '-' || *p == '+' || *p == ' ')
            return err_set(e, ST_ERR_ARG, "--seeds: expected comma-separated whole numbers from 0 to %d, got '%s'",
                           INT_MAX, a->seeds);
        for (int i = 0; i < a->nseeds; i++)
            if (a->seedv[i] == v) return err_set(e, ST_ERR_ARG, "--seeds: the seed %ld is given twice", v);
        if (a->nseeds == SWEEP_MAX_SEEDS) return err_set(e, ST_ERR_ARG, "--seeds: more than %d seeds", SWEEP_MAX_SEEDS);
        a->seedv[a->nseeds++] = (int)v;
        if (!*end) return ST_OK;
        p = end + 1;
    }
}

static void print_help(SweepArgs *a)
{
    printf("usage: fmnist sweep [training flags, some given several times] [--seeds S1,S2,..] [--out DIR]\n"
           "       fmnist sweep [the same flags] --out DIR --trial K   (one run: a job array's task)\n"
           "       fmnist sweep --summarize DIR [--logy] [--show-seeds]\n\n"
           "Trains one model under several settings and seeds, and compares them. Every flag of\n"
           "`fmnist train` is taken; a flag given more than once is an axis, one value per\n"
           "occurrence (a number flag takes a comma list too: --lr 1e-3,3e-3), and the settings\n"
           "are the cross product of the axes. --dropout and --aug: one setting per occurrence\n"
           "(--aug none: none); switches vary as --nesterov=0 --nesterov=1. Each run holds out a\n"
           "validation set from its seed (--val) and trains in OUT/SETTING/seedS/ exactly as\n"
           "`fmnist train` with those flags; then the summary (printed, OUT/summary.csv and\n"
           "summary.md) and the charts (OUT/compare_loss.png, compare_acc.png and\n"
           "compare_final.png, each also as .svg).\n"
           "Run the same command again after Ctrl-C: finished runs are skipped, an interrupted\n"
           "one resumes from its model.fmw. OUT/sweep.csv lists every run planned in OUT.\n\n");
    args_print_help(a->table, a->ntable, stdout);
    args_print_help(a->own, SWEEP_OWN, stdout);
}

/* --trial K: one of the trials, into the folder every task shares. */
static Status check_trial(SweepArgs *a, Err *e)
{
    a->has_trial = args_given(a->own, SWEEP_OWN, &a->trial);
    if (!a->has_trial) return ST_OK;
    if (!a->out)
        return err_set(e, ST_ERR_ARG, "--trial %d needs --out DIR: every task of a job array writes into the same "
                                      "sweep folder", a->trial);
    if (a->list) return err_set(e, ST_ERR_ARG, "--trial and --list: give one");
    int n = a->nsettings * a->nseeds;
    if (a->trial >= n)
        return err_set(e, ST_ERR_ARG, "--trial %d: this sweep has trials 0 to %d (see --list)", a->trial, n - 1);
    return ST_OK;
}

/* -1 to go on, else the exit code (0 after --help). */
static int sweep_parse(int argc, char **argv, SweepArgs *a)
{
    table_specs(&a->tf, a->table, &a->ntable);
    for (int k = 0; k < a->ntable; k++) a->flags[k].spec = &a->table[k];
    own_specs(a);
    char **own_argv = malloc(sizeof(char *) * (size_t)(argc + 1));
    int nown = 0, help = 0, npos;
    const char *pos[1];
    Err e;
    Status st = own_argv ? group_flags(a, argc, argv, own_argv, &nown, &help, &e)
                         : err_set(&e, ST_ERR_NOMEM, "out of memory");
    int h2 = 0;
    if (!st) st = args_parse(nown, own_argv, a->own, SWEEP_OWN, pos, 0, &npos, &h2, &e);
    free(own_argv);
    if (!st && help) {
        print_help(a);
        return 0;
    }
    if (!st && a->summarize) {
        for (int k = 0; k < SWEEP_OWN; k++)
            if (a->own[k].seen && strcmp(a->own[k].name, "summarize") && strcmp(a->own[k].name, "logy") &&
                strcmp(a->own[k].name, "show-seeds"))
                st = err_set(&e, ST_ERR_ARG, "--summarize DIR takes only --logy and --show-seeds, not --%s",
                             a->own[k].name);
        for (int k = 0; !st && k < a->ntable; k++)
            if (a->flags[k].nocc)
                st = err_set(&e, ST_ERR_ARG, "--summarize DIR trains nothing: --%s cannot be given",
                             a->table[k].name);
        return st ? cli_usage_error("sweep", &e) : -1;
    }
    if (!st) st = check_fixed(a, &e);
    if (!st) st = check_values(a, &e);
    if (!st) st = find_axes(a, &e);
    if (!st && (st = find_named(a, &e)) != ST_OK) return cli_fail(st, &e);
    for (int i = 0; !st && i < a->nsettings; i++) st = make_setting(a, i, &e);
    if (!st) st = make_seeds(a, a->flags[args_find(a->table, a->ntable, &a->tf.seed) - a->table].nocc > 0, &e);
    if (!st && a->nsettings * a->nseeds > SWEEP_MAX_TRIALS)
        st = err_set(&e, ST_ERR_ARG, "%d settings x %d seeds = %d runs, more than %d", a->nsettings, a->nseeds,
                     a->nsettings * a->nseeds, SWEEP_MAX_TRIALS);
    if (!st) st = check_trial(a, &e);
    return st ? cli_usage_error("sweep", &e) : -1;
}

/* ---- files and data ---- */

/* The model files and the data against every file of the sweep (best.fmw
 * with a validation set only): 0, or the exit code after the message. */
static int check_files(const SweepArgs *a, const SweepSpec *s, int val)
{
    CliFiles in = {0}, outs = {0}, made = {0};
    cli_files_add(&made, "the output folder", s->out, "");
    for (int i = 0; i < s->nsettings; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++) seen |= !strcmp(s->settings[j].run.model, s->settings[i].run.model);
        if (!seen) cli_files_add(&in, "the model file --model", s->settings[i].run.model, "");
    }
    cli_files_add_data(&in, a->first.data);
    static const char *const RUN[4][2] = {{"the checkpoint", "model.fmw"}, {"the log", "log.csv"},
                                          {"the chart", "curves.png"}, {"the best checkpoint", "best.fmw"}};
    static const char *const SWEEP[9][2] = {{"the manifest", "sweep.csv"},      {"the summary", "summary.csv"},
                                            {"the summary", "summary.md"},      {"the chart", "compare_loss.png"},
                                            {"the chart", "compare_acc.png"},   {"the chart", "compare_final.png"},
                                            {"the chart", "compare_loss.svg"},  {"the chart", "compare_acc.svg"},
                                            {"the chart", "compare_final.svg"}};
    char dir[FM_PATH_NAME + FM_NAME], path[FM_PATH_NAME + 2 * FM_NAME];
    for (int i = 0; i < s->nsettings; i++) {
        snprintf(dir, sizeof dir, "%s/%s", s->out, s->settings[i].name);
        cli_files_add(&made, "the folder", dir, "");
    }
    for (int k = 0; k < sweep_ntrials(s); k++) {
        sweep_trial_dir(s, k, dir, sizeof dir, NULL);
        cli_files_add(&made, "the folder", dir, "");
        for (int f = 0; f < (val ? 4 : 3); f++) {
            snprintf(path, sizeof path, "%s/%s", dir, RUN[f][1]);
            cli_files_add(&outs, RUN[f][0], path, "");
        }
    }
    for (int f = 0; f < 9; f++) {
        snprintf(path, sizeof path, "%s/%s", s->out, SWEEP[f][1]);
        cli_files_add(&outs, SWEEP[f][0], path, "");
    }
    int rc = cli_check_files("sweep", &in, &outs, &made);
    cli_files_free(&in);
    cli_files_free(&outs);
    cli_files_free(&made);
    return rc;
}

/* A sweep: its spec, data and folder. */
typedef struct {
    SweepSpec spec;
    const Team *team;         /* the ranks (NULL: one process)               */
    Dataset train, test;
    char data_dir[FM_PATH];
    char outbase[FM_PATH], outbuf[FM_PATH];
} SweepJob;

/* Every setting's net from its model file (a dropout list that does not fit
 * is a usage error naming the setting). Returns 0 or the exit code. */
static int check_nets(const SweepArgs *a)
{
    for (int i = 0; i < a->nsettings; i++) {
        const SweepSetting *st = &a->settings[i];
        Net *net;
        Err e;
        Status r = run_build_net(st->run.model, st->dropout, st->ndropout, st->run.train.batch, &net, &e);
        if (r) {
            if (a->nsettings > 1) err_prefix(&e, st->label);
            return r == ST_ERR_ARG ? cli_usage_error("sweep", &e) : cli_fail(r, &e);
        }
        net_free(net);
    }
    return 0;
}

/* `--list`: the trials with their indexes; creates nothing. */
static int print_list(const SweepArgs *a, const SweepSpec *s)
{
    printf("%d setting%s x %d seed%s = %d run%s (trial k: setting k / %d, seed k %% %d)\n", s->nsettings,
           s->nsettings == 1 ? "" : "s", s->nseeds, s->nseeds == 1 ? "" : "s", sweep_ntrials(s),
           sweep_ntrials(s) == 1 ? "" : "s", s->nseeds, s->nseeds);
    printf("%5s  %-32s  %-32s  %10s  %s\n", "trial", "setting", "label", "seed", "folder");
    char dir[FM_PATH_NAME + FM_NAME];
    for (int k = 0; k < sweep_ntrials(s); k++) {
        int seed;
        const SweepSetting *st = sweep_trial(s, k, NULL);
        sweep_trial_dir(s, k, dir, sizeof dir, &seed);
        printf("%5d  %-32s  %-32s  %10d  %s\n", k, st->name, st->label, seed, dir);
    }
    (void)a;
    return 0;
}

/* The spec from the flags (its out: --out, or runs/sweep-TIME named yet). */
static void make_spec(SweepArgs *a, SweepJob *j)
{
    if (!a->out) cli_default_out_base("sweep", j->outbase, sizeof j->outbase);
    j->spec = (SweepSpec){.out = a->out ? a->out : j->outbase, .settings = a->settings, .nsettings = a->nsettings,
                          .seeds = a->seedv, .nseeds = a->nseeds, .val = a->first.val, .logy = a->logy,
                          .show_seeds = a->show_seeds, .has_trial = a->has_trial, .trial = a->trial,
                          .team = j->team};
}

/* The files, the data and the validation size; the default folder is made
 * only once all passed. Returns 0 or the exit code. */
static int sweep_check(SweepArgs *a, SweepJob *j)
{
    int rc = check_files(a, &j->spec, !a->val_given || a->first.val > 0);
    if (rc) return rc;
    Err e;
    Status st = cli_load_data(a->first.data, DATA_MAX_CLASSES, a->first.train_limit, &j->train, &j->test, j->data_dir,
                              sizeof j->data_dir, &e);
    if (st) return cli_fail(st, &e);
    if (!a->val_given) j->spec.val = j->train.n / 12;
    for (int i = 0; i < a->nsettings; i++)
        if (!j->spec.val && a->settings[i].run.train.early_stop) {
            err_set(&e, ST_ERR_ARG, "--early-stop needs a validation set: %d training images give none by default "
                                    "(give --val N)", j->train.n);
            return cli_usage_error("sweep", &e);
        }
    if (j->spec.val && j->spec.val >= j->train.n) {
        err_set(&e, ST_ERR_ARG, "--val %d: the %d training images cannot spare it (give fewer, or --val 0)",
                j->spec.val, j->train.n);
        return cli_usage_error("sweep", &e);
    }
    if (!a->out) {
        if ((st = cli_default_out_create(j->outbase, j->outbuf, sizeof j->outbuf, &e))) return cli_fail(st, &e);
        j->spec.out = j->outbuf;
    }
    return 0;
}

/* ---- printing ---- */

/* The flags given once, as a command line ("" if none). */
static void base_flags(const SweepArgs *a, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = 0;
    for (int k = 0; k < a->ntable && n < len; k++) {
        const FlagVals *fv = &a->flags[k];
        if (fv->nvals != 1 || !strcmp(fv->spec->name, "threads") || !strcmp(fv->spec->name, "no-progress")) continue;
        if (fv->spec->type == ARG_SWITCH)
            n += (size_t)snprintf(buf + n, len - n, "%s--%s%s", n ? " " : "", fv->spec->name,
                                  strcmp(fv->vals[0], "on") ? "=0" : "");
        else
            n += (size_t)snprintf(buf + n, len - n, "%s--%s %s", n ? " " : "", fv->spec->name, fv->vals[0]);
    }
}

/* The first run's settings in words (settings_describe), as `train` prints
 * its own: every other run differs only by its setting's flags and seed. */
static void print_first_run(const SweepJob *j)
{
    const SweepSpec *s = &j->spec;
    const SweepSetting *st = &s->settings[0];
    Net *net = NULL;
    Err e;
    RunSpec rs = st->run;
    rs.train.seed = (uint64_t)s->seeds[0];
    RunSettings set;
    run_settings(&rs, j->train.n - s->val, &set);
    set.val = s->val;
    Buf b = {0};
    if (!run_build_net(rs.model, st->dropout, st->ndropout, rs.train.batch, &net, &e))
        settings_describe(&set, net, &b);
    net_free(net);
    if (b.data && !b.failed)
        printf("the first run (%s, seed %d); the others differ only by their setting and seed:\n%.*s", st->label,
               s->seeds[0], (int)b.len, b.data);
    buf_free(&b);
}

static void print_header(const SweepArgs *a, const SweepJob *j)
{
    const SweepSpec *s = &j->spec;
    printf("fmnist %s sweep: %s", FMNIST_VERSION, s->settings[0].run.model);
    for (int i = 1; i < s->nsettings; i++)
        if (strcmp(s->settings[i].run.model, s->settings[0].run.model)) printf(", %s", s->settings[i].run.model);
    printf(", data from %s\n", j->data_dir);
    int val = s->val;
    printf("images: %d training, %d validation (%s), %d test\n", j->train.n - val, val,
           val ? (a->val_given ? "held out of the training images by each run's seed; --val N to change, --val 0 "
                                 "for none"
                               : "1/12 of the training images, held out by each run's seed; --val N to change, "
                                 "--val 0 for none")
               : "--val 0: none; nothing is chosen, settings are compared with the first",
           j->test.n);
    char base[2048];
    base_flags(a, base, sizeof base);
    printf("base settings: %s%s\n", base[0] ? base : "train's defaults",
           base[0] ? " (the rest: train's defaults)" : "");
    print_first_run(j);
    printf("settings:\n");
    for (int i = 0; i < s->nsettings; i++) printf("  %-32s  %s\n", s->settings[i].name, s->settings[i].label);
    int emin = s->settings[0].run.train.epochs, emax = emin;
    for (int i = 1; i < s->nsettings; i++) {
        int ep = s->settings[i].run.train.epochs;
        emin = ep < emin ? ep : emin, emax = ep > emax ? ep : emax;
    }
    printf("%d setting%s x %d seed%s (", s->nsettings, s->nsettings == 1 ? "" : "s", s->nseeds,
           s->nseeds == 1 ? "" : "s");
    for (int i = 0; i < s->nseeds; i++) printf("%s%d", i ? ", " : "", s->seeds[i]);
    if (emin == emax) printf(") = %d run%s of %d epoch%s", sweep_ntrials(s), sweep_ntrials(s) == 1 ? "" : "s", emin,
                             emin == 1 ? "" : "s");
    else printf(") = %d runs of %d to %d epochs", sweep_ntrials(s), emin, emax);
    if (team_size(j->team) > 1)
        printf("; %d ranks of %d thread%s take them from a queue, the longest first; writing %s\n",
               team_size(j->team), cli_max_threads(), cli_max_threads() == 1 ? "" : "s", s->out);
    else printf("; %d thread%s; writing %s\n", cli_max_threads(), cli_max_threads() == 1 ? "" : "s", s->out);
    if (s->has_trial) {
        int seed;
        const SweepSetting *st = sweep_trial(s, s->trial, &seed);
        printf("this task: trial %d of the %d (%s, seed %d) alone\n", s->trial, sweep_ntrials(s), st->label, seed);
    }
    fflush(stdout);
}

/* The hooks' context: progress, and the plan for the time left. */
typedef struct {
    CliProgress pr;           /* first: the ctx of cli_on_batch and cli_on_epoch */
    SweepTrialState plan[SWEEP_MAX_TRIALS];
    int trained;              /* runs trained (or resumed) in this session       */
    int one;                  /* --trial K: no plan, no estimate                 */
    double seconds;           /* and their time                                  */
    int rank, ranks;          /* under a team: each trial's lines "[rank R] ..." */
    EpochStats last;          /* and the last epoch's figures, for its end line  */
} SweepCtx;

static void on_plan(void *ctx, const SweepTrialState *states, int n)
{
    SweepCtx *c = ctx;
    int count[3] = {0, 0, 0};
    if (c->one) return; /* the other trials are other tasks' */
    for (int k = 0; k < n; k++) count[states[k]]++, c->plan[k] = states[k];
    if (count[SWEEP_TRIAL_RESUME] || count[SWEEP_TRIAL_FINISHED])
        printf("in this folder already: %d run%s finished (skipped), %d interrupted (resumed); %d to train\n",
               count[SWEEP_TRIAL_FINISHED], count[SWEEP_TRIAL_FINISHED] == 1 ? "" : "s", count[SWEEP_TRIAL_RESUME],
               count[SWEEP_TRIAL_NEW]);
    fflush(stdout);
}

static void on_trial(void *ctx, int k, int n, const SweepSetting *st, int seed, const char *dir,
                     SweepTrialState state, const Net *net)
{
    SweepCtx *c = ctx;
    (void)net;
    static const char *const WHAT[3] = {"", " (resuming its model.fmw)", ": finished earlier, skipped"};
    if (c->ranks > 1) {
        /* on stderr: ranks above 0 have no stdout (main.c) */
        fprintf(stderr, "[rank %d] run %d/%d (trial %d): %s, seed %d -> %s%s\n", c->rank, k + 1, n, k, st->label,
                seed, dir, WHAT[state]);
        return;
    }
    printf("%srun %d/%d (trial %d): %s, seed %d -> %s%s\n", state == SWEEP_TRIAL_FINISHED ? "" : "\n", k + 1, n, k,
           st->label, seed, dir, WHAT[state]);
    fflush(stdout);
}

/* Under a team: the epoch's figures kept for the trial's end line. */
static void on_epoch_quiet(void *ctx, const EpochStats *s)
{
    SweepCtx *c = ctx;
    c->last = *s;
}

/* Under a team: a trained trial's end, with its last epoch's figures. */
static void team_trial_done(const SweepCtx *c, int k, int n, double seconds)
{
    char val[48] = "";
    if (c->last.has_val) snprintf(val, sizeof val, ", validation loss %.4f", c->last.val_loss);
    fprintf(stderr, "[rank %d] run %d/%d (trial %d) done in %.1f s: test acc %.2f%%%s\n", c->rank, k + 1, n, k,
            seconds, 100.0 * c->last.test_acc, val);
}

static void on_trial_done(void *ctx, int k, int n, double seconds)
{
    SweepCtx *c = ctx;
    if (seconds > 0 && c->ranks > 1) team_trial_done(c, k, n, seconds);
    if (seconds <= 0 || c->one || c->ranks > 1) return;
    c->trained++;
    c->seconds += seconds;
    int left = 0;
    for (int i = k + 1; i < n; i++) left += c->plan[i] != SWEEP_TRIAL_FINISHED;
    if (!left) return;
    double est = c->seconds / c->trained * left;
    printf("run %d took %.1f s; about %d min %02d s left for %d more run%s\n", k + 1, seconds, (int)(est / 60),
           (int)est % 60, left, left == 1 ? "" : "s");
    fflush(stdout);
}

static void on_trial_failed(void *ctx, int k, int n, const Err *e)
{
    SweepCtx *c = ctx;
    FILE *f = c->ranks > 1 ? stderr : stdout; /* ranks above 0 have no stdout (main.c) */
    if (c->ranks > 1) fprintf(f, "[rank %d] ", c->rank);
    fprintf(f, "run %d/%d (trial %d) stopped: %s; its folder keeps what it last saved; the sweep goes on without it\n",
            k + 1, n, k, e->msg);
    fflush(f);
}

/* The summary as text, what is missing and the files written. Returns the
 * exit code. */
static int print_summary(const char *out, const SweepResult *res)
{
    Buf b = {0};
    compare_format(&res->sum, COMPARE_TEXT, &b);
    Err e;
    if (b.failed) {
        buf_free(&b);
        return cli_fail(err_set(&e, ST_ERR_NOMEM, "out of memory for the summary"), &e);
    }
    printf("\n%.*s", (int)b.len, b.data ? b.data : "");
    buf_free(&b);
    if (res->missing)
        printf("%d run%s of %s/sweep.csv %s not finished (not run yet, interrupted or diverged): left out of the "
               "summary\n", res->missing, res->missing == 1 ? "" : "s", out, res->missing == 1 ? "is" : "are");
    printf("wrote %s/summary.csv, %s/summary.md, %s/compare_loss.png, %s/compare_acc.png and %s/compare_final.png "
           "(and each chart as .svg)\n",
           out, out, out, out, out);
    return 0;
}

/* --trial K done: where it is and what comes next. Returns the exit code. */
static int print_trial_done(const SweepSpec *s)
{
    char dir[FM_PATH_NAME + FM_NAME];
    sweep_trial_dir(s, s->trial, dir, sizeof dir, NULL);
    printf("trial %d is in %s; once every trial is done, 'fmnist sweep --summarize %s' writes the summary and "
           "charts\n", s->trial, dir, s->out);
    return 0;
}

/* The exit code of a stopped sweep: 128 + the signal (SIGINT if another
 * rank was stopped, not this one). */
static int interrupted_rc(void) { return 128 + (int)(cli_signal ? cli_signal : SIGINT); }

/* Trains every trial (or --trial K's), then prints the comparison. Returns
 * the exit code. */
static int sweep_go(const SweepArgs *a, SweepJob *j)
{
    const int rank = team_rank(j->team), ranks = team_size(j->team);
    if (!rank) print_header(a, j);
    SweepCtx *c = calloc(1, sizeof *c);
    Err e;
    if (!c) return cli_fail(err_set(&e, ST_ERR_NOMEM, "out of memory"), &e);
    c->pr = (CliProgress){.progress = !a->first.no_progress && isatty(STDERR_FILENO) && ranks == 1};
    c->one = j->spec.has_trial;
    c->rank = rank, c->ranks = ranks;
    SweepHooks hooks = {on_trial, on_plan, on_trial_done, c,
                        {cli_on_batch, cli_on_epoch, c, &cli_signal, NULL, cli_on_eval}, on_trial_failed};
    if (ranks > 1) /* no bars, no epoch lines */
        hooks.run.on_batch = NULL, hooks.run.on_eval = NULL, hooks.run.on_epoch = on_epoch_quiet;
    SweepResult res;
    cli_catch_signals();
    Status st = sweep_execute(&j->spec, &j->train, &j->test, &hooks, &res, &e);
    if (c->pr.progress) report_progress_clear(stderr);
    free(c);
    int rc;
    if (rank > 0) { /* every rank has rank 0's status; rank 0 says it */
        sweep_result_free(&res);
        return st == ST_ERR_INTERRUPTED ? interrupted_rc() : st == ST_ERR_ARG ? EXIT_USAGE : st ? 1 : 0;
    }
    if (st == ST_ERR_INTERRUPTED) {
        fprintf(stderr, "fmnist: %s; the run's model.fmw holds its position: run the same command again to resume "
                        "it (finished runs are skipped)\n", e.msg);
        return interrupted_rc();
    }
    rc = st ? cli_fail(st, &e) : j->spec.has_trial ? print_trial_done(&j->spec) : print_summary(j->spec.out, &res);
    sweep_result_free(&res);
    return rc;
}

/* `--summarize DIR`: the summary and charts again from DIR's files. */
static int sweep_resummarize(const SweepArgs *a)
{
    SweepResult res;
    Err e;
    Status st = sweep_summarize(a->summarize, a->logy, a->show_seeds, &res, &e);
    if (st) return cli_fail(st, &e);
    int rc = print_summary(a->summarize, &res);
    sweep_result_free(&res);
    return rc;
}

static void args_free(SweepArgs *a)
{
    for (int i = 0; i < a->ncopies; i++) free(a->copies[i]);
    free(a);
}

/* ---- under mpirun: a team of ranks ---- */

/* The largest exit code over the ranks, on every rank: a rank that failed
 * alone (its data, a model file) stops every rank rather than leave them
 * waiting for it. */
static int team_rc(const Team *t, int rc) { return team_size(t) > 1 ? t->max_int(t, rc) : rc; }

/* What a sweep on n > 1 ranks cannot take: -1 to go on, else the exit code
 * (rank 0 says why). */
static int check_team(const SweepArgs *a, int rank, int n)
{
    Err e;
    if (a->has_trial)
        err_set(&e, ST_ERR_ARG, "--trial %d runs one trial in one process, not on %d ranks (under mpirun the ranks "
                                "take the trials from a queue: leave --trial out)", a->trial, n);
    else if (!a->out && !a->list)
        err_set(&e, ST_ERR_ARG, "on %d ranks every rank writes into the same sweep folder: give --out DIR (a folder "
                                "every host shares)", n);
    else return -1;
    return rank ? EXIT_USAGE : cli_usage_error("sweep", &e);
}

/* `--list` (rank 0 alone under a team). */
static int list_trials(SweepArgs *a, SweepJob *j)
{
    int rc = check_nets(a);
    if (rc) return rc;
    make_spec(a, j);
    return print_list(a, &j->spec);
}

/* check -> run; under a team every rank checks its own files, data and
 * threads, and all go on only if all passed. */
static int run_sweep(SweepArgs *a, SweepJob *j)
{
    int rc = check_nets(a);
    if (!rc) make_spec(a, j);
    if (!rc) rc = cli_set_threads("sweep", a->first.threads);
    if (!rc) rc = sweep_check(a, j);
    if ((rc = team_rc(j->team, rc))) return rc;
    return sweep_go(a, j);
}

/* parse -> (summarize | list | check -> run); --summarize and --list on
 * rank 0 alone under a team. */
int cmd_sweep(int argc, char **argv)
{
    SweepArgs *a = calloc(1, sizeof *a);
    SweepJob *j = calloc(1, sizeof *j);
    const Team *team = cli_team();
    Err e;
    int rc = !a || !j ? cli_fail(err_set(&e, ST_ERR_NOMEM, "out of memory"), &e) : sweep_parse(argc, argv, a);
    if (rc < 0 && a->summarize) rc = team_rc(team, team_rank(team) ? 0 : sweep_resummarize(a));
    if (rc < 0 && team_size(team) > 1) rc = check_team(a, team_rank(team), team_size(team));
    if (rc < 0) j->team = team;
    if (rc < 0 && a->list) rc = team_rank(team) ? 0 : list_trials(a, j);
    if (rc < 0) rc = run_sweep(a, j);
    if (j) {
        dataset_free(&j->train);
        dataset_free(&j->test);
    }
    free(j);
    if (a) args_free(a);
    return rc;
}
