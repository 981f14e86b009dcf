/* sweep.c - the cross product of settings, the skip-finished rule, the
 * results table and the sweep loop (see sweep.h).
 *
 * Every folder is checked before anything is trained, so a sweep that would
 * fail on its third run (a dropout list that does not fit the model, a
 * folder holding a run with other settings) fails before the first. */
#include "train/sweep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/weights.h"
#include "report/plot.h"

void sweep_format_number(double v, char *buf, size_t len)
{
    char g[48], x[48], ms[32];
    snprintf(g, sizeof g, "%g", v);
    if (v == 0 || !isfinite(v)) {
        snprintf(buf, len, "%s", g);
        return;
    }
    int ex = (int)floor(log10(fabs(v)));
    snprintf(ms, sizeof ms, "%g", v / pow(10, ex));
    if (!strcmp(ms, "10") || !strcmp(ms, "-10")) snprintf(ms, sizeof ms, "%g", v / pow(10, ++ex));
    snprintf(x, sizeof x, "%se%d", ms, ex);
    snprintf(buf, len, "%s", strlen(x) < strlen(g) ? x : g);
}

Status sweep_plan(const FloatList *dropout, int nd, const float *wd, int nwd, SweepPoint *pts, int max, int *n,
                  Err *e)
{
    *n = 0;
    if (nd <= 0 && nwd <= 0) return err_set(e, ST_ERR_ARG, "nothing to compare: give --dropout or --weight-decay");
    int nd1 = nd > 0 ? nd : 1, nw1 = nwd > 0 ? nwd : 1;
    if (nd1 * nw1 > max)
        return err_set(e, ST_ERR_ARG, "%d dropout settings x %d weight decays is %d runs, more than %d", nd1, nw1,
                       nd1 * nw1, max);
    for (int i = 0; i < nd1; i++)
        for (int j = 0; j < nw1; j++) {
            SweepPoint *p = &pts[*n];
            memset(p, 0, sizeof *p);
            char num[48];
            size_t len = 0;
            if (nd > 0) {
                p->ndropout = dropout[i].n;
                memcpy(p->dropout, dropout[i].v, sizeof(float) * (size_t)dropout[i].n);
                len += (size_t)snprintf(p->name + len, sizeof p->name - len, "dropout");
                for (int k = 0; k < p->ndropout && len < sizeof p->name; k++) {
                    sweep_format_number(p->dropout[k], num, sizeof num);
                    len += (size_t)snprintf(p->name + len, sizeof p->name - len, "%s%s", k ? "-" : "", num);
                }
            }
            if (nwd > 0 && len < sizeof p->name) {
                p->has_wd = 1;
                p->wd = wd[j];
                sweep_format_number(p->wd, num, sizeof num);
                len += (size_t)snprintf(p->name + len, sizeof p->name - len, "%swd%s", nd > 0 ? "_" : "", num);
            }
            if (len >= sizeof p->name) return err_set(e, ST_ERR_ARG, "the name of setting %d is too long", *n + 1);
            for (int k = 0; k < *n; k++)
                if (!strcmp(pts[k].name, p->name))
                    return err_set(e, ST_ERR_ARG, "the setting %s is given twice", p->name);
            (*n)++;
        }
    return ST_OK;
}

/* The dropout rates of net as "dropout=P1,P2,.." (the checkpoint's model
 * text holds them, not its settings). */
static void dropout_of(const Net *net, char *buf, size_t len)
{
    size_t n = (size_t)snprintf(buf, len, "dropout=");
    for (int i = 0, k = 0; i < net->nlayers && n < len; i++)
        if (net->layers[i].ops->flags & LAYER_DROPOUT)
            n += (size_t)snprintf(buf + n, len - n, "%s%.9g", k++ ? "," : "", (double)net->layers[i].spec.p);
}

/* 1 if the checkpoint at path holds a run of want's settings and want_net's
 * dropout rates; else 0 and why. An unreadable checkpoint: -1. */
static int same_run(const char *path, const RunSettings *want, const Net *want_net, char *why, size_t len)
{
    Net *net;
    CkptState ck;
    Err e;
    if (weights_load_run(path, 1, &net, &ck, &e)) return -1; /* unreadable: retrain */
    RunSettings have;
    char wa[FM_PATH + 64], wb[FM_PATH + 64];
    int readable = !settings_read(path, &ck, &have, &e), same = 0;
    if (readable && !settings_diff(&have, want, wa, wb, sizeof wa)) {
        dropout_of(net, wa, sizeof wa);
        dropout_of(want_net, wb, sizeof wb);
        same = !strcmp(wa, wb);
    }
    if (!readable && why) snprintf(why, len, "its settings cannot be read: %s", e.msg);
    else if (!same && why) snprintf(why, len, "it has %s where this sweep has %s", wa, wb);
    weights_state_free(&ck);
    net_free(net);
    return same;
}

SweepDirState sweep_dir_state(const char *dir, int epochs, const RunSettings *want, const Net *want_net, char *why,
                              size_t len)
{
    char log[FM_PATH_NAME], model[FM_PATH_NAME];
    snprintf(log, sizeof log, "%s/log.csv", dir);
    snprintf(model, sizeof model, "%s/model.fmw", dir);
    int has_log = file_exists(log), has_model = file_exists(model);
    if (!has_log && !has_model) return SWEEP_DIR_EMPTY;
    if (!has_model) return SWEEP_DIR_PARTIAL; /* stopped between the first log and checkpoint writes */
    if (want) {
        int same = same_run(model, want, want_net, why, len);
        if (same < 0) return SWEEP_DIR_PARTIAL;
        if (!same) return SWEEP_DIR_OTHER;
    }
    Curve c;
    Err e;
    if (!has_log || curve_read(log, &c, &e)) return SWEEP_DIR_PARTIAL;
    int done = c.n == epochs;
    curve_free(&c);
    return done ? SWEEP_DIR_FINISHED : SWEEP_DIR_PARTIAL;
}

Status sweep_row(const char *name, const Curve *c, SweepRow *row, Err *e)
{
    memset(row, 0, sizeof *row);
    snprintf(row->name, sizeof row->name, "%s", name);
    if (c->n < 1) return err_set(e, ST_ERR_FORMAT, "%s: the log has no finished epoch", name);
    int last = c->n - 1, best = 0;
    for (int i = 1; i < c->n; i++)
        if (c->test_acc[i] > c->test_acc[best]) best = i;
    row->epochs = c->n;
    row->final_test_acc = c->test_acc[last];
    row->best_test_acc = c->test_acc[best];
    row->best_epoch = c->epoch[best];
    row->final_train_loss = c->train_loss[last];
    row->final_test_loss = c->test_loss[last];
    row->loss_gap = c->test_loss[last] - c->train_loss[last];
    row->acc_gap = c->train_acc[last] - c->test_acc[last];
    for (int i = 0; i < c->n; i++) row->seconds += c->seconds[i];
    if (c->weight_norm) row->has_norm = 1, row->weight_norm = c->weight_norm[last];
    return ST_OK;
}

/* The weight norm cell of row r ("" without one; fmt: the number's format). */
static const char *norm_cell(const SweepRow *r, const char *fmt, char *buf, size_t len)
{
    if (r->has_norm) snprintf(buf, len, fmt, r->weight_norm);
    else snprintf(buf, len, "%s", "");
    return buf;
}

void sweep_table(const SweepRow *rows, int n, SweepFormat fmt, Buf *b)
{
    int norm = 0; /* the weight_norm column, if any log has it */
    for (int i = 0; i < n; i++) norm |= rows[i].has_norm;
    char cell[64];
    if (fmt == SWEEP_CSV) {
        buf_printf(b, "setting,epochs,final_test_acc,best_test_acc,best_epoch,final_train_loss,final_test_loss,"
                      "loss_gap,acc_gap,seconds%s\n", norm ? ",weight_norm" : "");
        for (int i = 0; i < n; i++) {
            const SweepRow *r = &rows[i];
            buf_printf(b, "%s,%d,%.6f,%.6f,%d,%.6f,%.6f,%.6f,%.6f,%.3f%s%s\n", r->name, r->epochs, r->final_test_acc,
                       r->best_test_acc, r->best_epoch, r->final_train_loss, r->final_test_loss, r->loss_gap,
                       r->acc_gap, r->seconds, norm ? "," : "", norm_cell(r, "%.6f", cell, sizeof cell));
        }
        return;
    }
    if (fmt == SWEEP_MD) {
        buf_printf(b, "| setting | test acc | best test acc (epoch) | train loss | test loss | test - train loss "
                      "| train - test acc | seconds |%s\n|---|---:|---:|---:|---:|---:|---:|---:|%s\n",
                   norm ? " weight norm |" : "", norm ? "---:|" : "");
        for (int i = 0; i < n; i++) {
            const SweepRow *r = &rows[i];
            buf_printf(b, "| `%s` | %.2f%% | %.2f%% (%d) | %.4f | %.4f | %+.4f | %+.2f%% | %.1f |%s%s%s\n", r->name,
                       100 * r->final_test_acc, 100 * r->best_test_acc, r->best_epoch, r->final_train_loss,
                       r->final_test_loss, r->loss_gap, 100 * r->acc_gap, r->seconds, norm ? " " : "",
                       norm_cell(r, "%.3f", cell, sizeof cell), norm ? " |" : "");
        }
        return;
    }
    int w = 7;
    for (int i = 0; i < n; i++)
        if ((int)strlen(rows[i].name) > w) w = (int)strlen(rows[i].name);
    buf_printf(b, "%-*s  test acc  best (epoch)  train loss  test loss  loss gap  acc gap  seconds%s\n", w, "setting",
               norm ? "  weight norm" : "");
    for (int i = 0; i < n; i++) {
        const SweepRow *r = &rows[i];
        char nc[80] = "";
        if (norm) snprintf(nc, sizeof nc, "  %11s", norm_cell(r, "%.3f", cell, sizeof cell));
        buf_printf(b, "%-*s  %7.2f%%  %6.2f%% (%2d)  %10.4f  %9.4f  %+8.4f  %+6.2f%%  %7.1f%s%s\n", w, r->name,
                   100 * r->final_test_acc, 100 * r->best_test_acc, r->best_epoch, r->final_train_loss,
                   r->final_test_loss, r->loss_gap, 100 * r->acc_gap, r->seconds, nc,
                   r->skipped ? "  (earlier run)" : "");
    }
}

/* The run spec and folder of point p. */
static void point_spec(const SweepSpec *s, const SweepPoint *p, char *dir, size_t len, RunSpec *rs)
{
    snprintf(dir, len, "%s/%s", s->base.out, p->name);
    *rs = s->base;
    rs->out = dir;
    rs->log_path = NULL;
    rs->overwrite = 1; /* only ever used on an EMPTY or PARTIAL folder of this very setting */
    if (p->has_wd) rs->train.opt.weight_decay = p->wd;
}

static Status write_summary(const SweepSpec *s, const SweepRow *rows, const Curve *curves, Err *e)
{
    char path[FM_PATH_NAME];
    Status st = ST_OK;
    for (int f = 0; f < 2 && !st; f++) {
        Buf b = {0};
        sweep_table(rows, s->npoints, f ? SWEEP_MD : SWEEP_CSV, &b);
        snprintf(path, sizeof path, "%s/%s", s->base.out, f ? "summary.md" : "summary.csv");
        st = b.failed ? err_set(e, ST_ERR_NOMEM, "out of memory for %s", path)
                      : file_write_atomic(path, b.data, b.len, e);
        buf_free(&b);
    }
    PlotRun runs[SWEEP_MAX_RUNS];
    for (int i = 0; i < s->npoints; i++) runs[i] = (PlotRun){s->points[i].name, &curves[i]};
    PlotMetric loss = PLOT_LOSS, acc = PLOT_ACC;
    if (!st) {
        snprintf(path, sizeof path, "%s/compare_loss.png", s->base.out);
        st = plot_curves_png(path, runs, s->npoints, &loss, 1, s->logy, NULL, e);
    }
    if (!st) {
        snprintf(path, sizeof path, "%s/compare_acc.png", s->base.out);
        st = plot_curves_png(path, runs, s->npoints, &acc, 1, 0, NULL, e);
    }
    return st;
}

Status sweep_execute(const SweepSpec *s, const Dataset *train, const Dataset *test, const SweepHooks *h,
                     SweepRow *rows, Err *e)
{
    if (s->npoints < 1 || s->npoints > SWEEP_MAX_RUNS)
        return err_set(e, ST_ERR_ARG, "a sweep has 1 to %d runs, not %d", SWEEP_MAX_RUNS, s->npoints);
    char dir[FM_PATH_NAME], why[FM_PATH + 512], path[FM_PATH_NAME + FM_NAME];
    int skip[SWEEP_MAX_RUNS];
    Status st;
    /* first every setting's net against the data, and every folder, before any folder is made */
    for (int i = 0; i < s->npoints; i++) {
        const SweepPoint *p = &s->points[i];
        RunSpec rs;
        Net *net;
        point_spec(s, p, dir, sizeof dir, &rs);
        if ((st = run_build_net(rs.model, p->dropout, p->ndropout, rs.train.batch, &net, e))) {
            err_prefix(e, p->name);
            return st;
        }
        if ((st = train_check_sets(net, train, test, e))) {
            net_free(net);
            return st;
        }
        if ((st = run_memory_check(&rs, net, train, test, NULL, e))) {
            net_free(net);
            err_prefix(e, p->name);
            return st;
        }
        RunSettings want;
        run_settings(&rs, train->n, &want);
        SweepDirState ds = sweep_dir_state(dir, rs.train.epochs, &want, net, why, sizeof why);
        net_free(net);
        if (ds == SWEEP_DIR_OTHER)
            return err_set(e, ST_ERR_IO, "%s holds a run with other settings (%s); choose another --out", dir, why);
        skip[i] = ds == SWEEP_DIR_FINISHED;
    }
    if ((st = file_mkdirs(s->base.out, e))) return st;
    Curve curves[SWEEP_MAX_RUNS];
    memset(curves, 0, sizeof curves);
    for (int i = 0; i < s->npoints && !st; i++) {
        const SweepPoint *p = &s->points[i];
        RunSpec rs;
        Net *net = NULL;
        point_spec(s, p, dir, sizeof dir, &rs);
        if ((st = run_build_net(rs.model, p->dropout, p->ndropout, rs.train.batch, &net, e))) break;
        if (h && h->on_run) h->on_run(h->ctx, i, s->npoints, p, dir, skip[i], net);
        if (!skip[i]) {
            net_init(net, rs.train.seed);
            if (!(st = run_prepare(&rs, e))) st = run_train(&rs, net, train, test, h ? &h->run : NULL, e);
        }
        net_free(net);
        if (st) break;
        snprintf(path, sizeof path, "%s/log.csv", dir);
        if ((st = curve_read(path, &curves[i], e))) break;
        if ((st = sweep_row(p->name, &curves[i], &rows[i], e))) break;
        rows[i].skipped = skip[i];
        char png[FM_PATH_NAME + FM_NAME];
        snprintf(png, sizeof png, "%s/curves.png", dir);
        st = plot_log_file(path, png, e);
    }
    if (!st) st = write_summary(s, rows, curves, e);
    for (int i = 0; i < s->npoints; i++) curve_free(&curves[i]);
    return st;
}
