/* weights.c - native checkpoint writer (version 3) and strict reader
 * (versions 2 and 3; format in weights.h and docs/checkpoint.md).
 *
 * The reader checks the CRC over the whole file before it looks at anything
 * else, then the version, then every length against the bytes that remain,
 * so a damaged or truncated file is refused with a message and nothing is
 * read out of bounds. Integers and floats are little-endian whatever the host. */
#include "model/weights.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "model/cfg.h"
#include "util/fileio.h"

#define MAGIC "FMNW"
#define MAX_FILE ((size_t)4 << 30)

/* ---- writing ---- */

static uint32_t crc_of(const unsigned char *p, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    while (n) { /* crc32 takes a uInt length: feed it in chunks */
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

/* A section is its tag, its length (u64) and its bytes: begin_section puts
 * the tag and room for the length, end_section fills the length in once the
 * bytes are there, so that a section is written in place, never copied. */
static size_t begin_section(Buf *b, const char *tag)
{
    buf_put(b, tag, 4);
    buf_u64(b, 0);
    return b->len;
}

static void end_section(Buf *b, size_t start)
{
    if (b->failed) return;
    uint64_t n = b->len - start;
    for (int i = 0; i < 8; i++) b->data[start - 8 + i] = (char)(unsigned char)(n >> 8 * i);
}

static void put_section(Buf *b, const char *tag, const void *p, size_t n)
{
    size_t at = begin_section(b, tag);
    buf_put(b, p, n);
    end_section(b, at);
}

static void put_f32(Buf *b, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    buf_u32(b, u);
}

static void put_f64(Buf *b, double f)
{
    uint64_t u;
    memcpy(&u, &f, 8);
    buf_u64(b, (unsigned long long)u);
}

/* n values of v, or n zeros where v is NULL (a moment the optimizer has no
 * use for, and so never allocated) */
static void put_f32s(Buf *b, const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) put_f32(b, v ? v[i] : 0.0f);
}

static void put_tensors(Buf *t, const Net *net)
{
    buf_u32(t, (unsigned)net->ntensors);
    for (int k = 0; k < net->ntensors; k++) {
        const ParamInfo *pi = &net->tensors[k];
        size_t nl = strlen(pi->name);
        buf_u32(t, (unsigned)nl);
        buf_put(t, pi->name, nl);
        buf_u32(t, (unsigned)pi->ndim);
        for (int d = 0; d < pi->ndim; d++) buf_u32(t, (unsigned)pi->dims[d]);
        put_f32s(t, net->params + pi->offset, pi->numel);
    }
}

/* The model text with the dropout rates the net's layers use (version 3
 * has no other place for them: a text and a net that disagree, as after
 * netspec_set_dropout alone, are written as the net is). */
static Status model_text(const Net *net, char **text, Err *e)
{
    float p[NETSPEC_MAX_LAYERS];
    int n = 0;
    for (int i = 0; i < net->nlayers && n < NETSPEC_MAX_LAYERS; i++)
        if (net->layers[i].ops->flags & LAYER_DROPOUT) p[n++] = net->layers[i].spec.p;
    return cfg_text_with_dropout(&net->spec, p, n, text, e);
}

/* Version 3: the optimizer's moments and step count; its hyper-parameters
 * are settings (the SETS text). */
static void put_optim(Buf *o, const Optim *opt)
{
    buf_u64(o, (unsigned long long)opt->t);
    buf_u64(o, (unsigned long long)opt->n);
    put_f32s(o, opt->m, opt->n);
    put_f32s(o, opt->v, opt->n);
}

/* Always 36 bytes: the position's fields are 0 at an epoch's end. */
static void put_progress(Buf *b, const CkptState *st)
{
    buf_u32(b, (unsigned)st->epoch);
    buf_u64(b, (unsigned long long)st->step);
    int mid = st->pos_batch > 0;
    buf_u32(b, mid ? (unsigned)st->pos_batch : 0u);
    buf_u32(b, mid ? (unsigned)st->pos_right : 0u);
    put_f64(b, mid ? st->pos_loss : 0.0);
    put_f64(b, mid ? st->pos_seconds : 0.0);
}

static void put_val(Buf *b, const CkptState *st, size_t nparams)
{
    put_f64(b, st->val_best);
    buf_u32(b, (unsigned)st->val_best_epoch);
    size_t n = st->val_best_params ? nparams : 0;
    buf_u64(b, (unsigned long long)n);
    put_f32s(b, st->val_best_params, n);
}

size_t weights_file_bytes(const Net *net, int has_optim, int has_best, int has_live, size_t text_bytes)
{
    /* magic, version, section count, CRC; eight section headers at most;
     * the model text (a rewritten rate is at most 16 bytes longer), RUN,
     * the tensors with their names and dims, OPTM (t, n, m and v), VAL */
    size_t n = 16 + 8 * 12 + text_bytes + strlen(net->spec.text) + 16 * (size_t)net->nlayers + 36 + 4;
    for (int k = 0; k < net->ntensors; k++)
        n += 4 + strlen(net->tensors[k].name) + 4 + 4 * (size_t)net->tensors[k].ndim + 4 * net->tensors[k].numel;
    if (has_optim) n += 16 + 8 * net->nparams;
    if (has_live) n += 8 + 4 * net->nparams;
    return n + 20 + (has_best ? 4 * net->nparams : 0);
}

Status weights_save_run(const char *path, const Net *net, const CkptState *st, Err *e)
{
    if (st && st->has_optim && st->opt.n != net->nparams)
        return err_set(e, ST_ERR_ARG, "%s: optimizer state of %zu values for a net of %zu parameters", path, st->opt.n,
                       net->nparams);
    char *text; /* the model text with the rates the net uses */
    Status s = model_text(net, &text, e);
    if (s) return s;
    /* the whole file in one buffer of its size: nothing is copied or grown */
    size_t texts = st ? (st->settings ? strlen(st->settings) : 0) + (st->log ? strlen(st->log) : 0) : 0;
    Buf b = {.cap = weights_file_bytes(net, st && st->has_optim, st && st->val_best_params, st && st->live, texts)};
    if (!(b.data = malloc(b.cap))) {
        free(text);
        return err_set(e, ST_ERR_NOMEM, "%s: out of memory", path);
    }
    buf_put(&b, MAGIC, 4);
    buf_u32(&b, WEIGHTS_VERSION);
    unsigned nsec = 2 + (st && st->settings) + (st && st->log) + (st && st->has_progress) + (st && st->has_optim) +
                    (st && st->has_val) + (st && st->live);
    buf_u32(&b, nsec);
    put_section(&b, "CFG ", text, strlen(text));
    if (st && st->settings) put_section(&b, "SETS", st->settings, strlen(st->settings));
    if (st && st->log) put_section(&b, "LOG ", st->log, strlen(st->log));
    size_t at;
    if (st && st->has_progress) {
        at = begin_section(&b, "RUN ");
        put_progress(&b, st);
        end_section(&b, at);
    }
    at = begin_section(&b, "TENS");
    put_tensors(&b, net);
    end_section(&b, at);
    if (st && st->has_optim) {
        at = begin_section(&b, "OPTM");
        put_optim(&b, &st->opt);
        end_section(&b, at);
    }
    if (st && st->has_val) {
        at = begin_section(&b, "VAL ");
        put_val(&b, st, net->nparams);
        end_section(&b, at);
    }
    if (st && st->live) {
        at = begin_section(&b, "LIVE");
        buf_u64(&b, (unsigned long long)net->nparams);
        put_f32s(&b, st->live, net->nparams);
        end_section(&b, at);
    }
    buf_u32(&b, crc_of((const unsigned char *)b.data, b.len));
    s = b.failed ? err_set(e, ST_ERR_NOMEM, "%s: out of memory", path) : file_write_atomic(path, b.data, b.len, e);
    buf_free(&b);
    free(text);
    return s;
}

Status weights_save(const char *path, const Net *net, const char *settings, Err *e)
{
    CkptState st = {.settings = (char *)settings};
    return weights_save_run(path, net, &st, e);
}

/* ---- reading ---- */

typedef struct {
    const unsigned char *p;
    size_t left;
} Reader;

static int rd(Reader *r, void *out, size_t n)
{
    if (r->left < n) return 0;
    memcpy(out, r->p, n);
    r->p += n;
    r->left -= n;
    return 1;
}

static int rd_u32(Reader *r, uint32_t *v)
{
    unsigned char c[4];
    if (!rd(r, c, 4)) return 0;
    *v = (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
    return 1;
}

static int rd_u64(Reader *r, uint64_t *v)
{
    uint32_t lo, hi;
    if (!rd_u32(r, &lo) || !rd_u32(r, &hi)) return 0;
    *v = (uint64_t)hi << 32 | lo;
    return 1;
}

static int rd_f32(Reader *r, float *f)
{
    uint32_t u;
    if (!rd_u32(r, &u)) return 0;
    memcpy(f, &u, 4);
    return 1;
}

static int rd_f64(Reader *r, double *f)
{
    uint64_t u;
    if (!rd_u64(r, &u)) return 0;
    memcpy(f, &u, 8);
    return 1;
}

/* n floats, or 0 (and nothing read) if fewer than 4n bytes remain. */
static int rd_f32s(Reader *r, float *v, size_t n)
{
    if (r->left / 4 < n) return 0;
    for (size_t i = 0; i < n; i++) rd_f32(r, &v[i]);
    return 1;
}

static Status load_tensors(const char *path, Reader r, Net *net, Err *e)
{
    uint32_t count;
    if (!rd_u32(&r, &count)) return err_set(e, ST_ERR_FORMAT, "%s: tensor section is truncated", path);
    if (count != (uint32_t)net->ntensors)
        return err_set(e, ST_ERR_FORMAT, "%s: holds %u tensors, its model needs %d", path, count, net->ntensors);
    for (int k = 0; k < net->ntensors; k++) {
        const ParamInfo *pi = &net->tensors[k];
        uint32_t nl = 0, ndim = 0;
        char name[64];
        if (!rd_u32(&r, &nl) || nl >= sizeof name || !rd(&r, name, nl))
            return err_set(e, ST_ERR_FORMAT, "%s: tensor %d: bad name", path, k);
        name[nl] = 0;
        if (strcmp(name, pi->name))
            return err_set(e, ST_ERR_FORMAT, "%s: tensor %d is '%s', expected '%s'", path, k, name, pi->name);
        if (!rd_u32(&r, &ndim) || ndim != (uint32_t)pi->ndim)
            return err_set(e, ST_ERR_FORMAT, "%s: tensor '%s' has the wrong number of dimensions", path, name);
        for (int d = 0; d < pi->ndim; d++) {
            uint32_t dim = 0;
            if (!rd_u32(&r, &dim) || dim != (uint32_t)pi->dims[d])
                return err_set(e, ST_ERR_FORMAT, "%s: tensor '%s' dimension %d is %u, its model says %d", path, name,
                               d, dim, pi->dims[d]);
        }
        if (!rd_f32s(&r, net->params + pi->offset, pi->numel))
            return err_set(e, ST_ERR_FORMAT, "%s: tensor '%s' is truncated", path, name);
    }
    if (r.left) return err_set(e, ST_ERR_FORMAT, "%s: %zu unexpected bytes after the tensors", path, r.left);
    return ST_OK;
}

/* A text section as a malloc'd C string; NULL (with e set) if it holds a NUL
 * byte or memory runs out. */
static char *dup_text(const char *path, const char *what, Reader s, Status *st, Err *e)
{
    if (memchr(s.p, 0, s.left)) {
        *st = err_set(e, ST_ERR_FORMAT, "%s: NUL byte in the %s", path, what);
        return NULL;
    }
    char *t = malloc(s.left + 1);
    if (!t) {
        *st = err_set(e, ST_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    memcpy(t, s.p, s.left);
    t[s.left] = 0;
    return t;
}

/* Version 2: the DROP section's rates replace the model text's, in the
 * spec and in its text (so the net's text says what it does, as version 3
 * writes it). */
static Status read_dropout(const char *path, Reader r, NetSpec *mc, Err *e)
{
    uint32_t n;
    float p[NETSPEC_MAX_LAYERS];
    if (!rd_u32(&r, &n) || n > NETSPEC_MAX_LAYERS || !rd_f32s(&r, p, n) || r.left)
        return err_set(e, ST_ERR_FORMAT, "%s: malformed dropout section", path);
    Err sub;
    Status st = cfg_set_dropout(mc, p, (int)n, &sub);
    if (st == ST_ERR_NOMEM) return err_set(e, st, "%s", sub.msg);
    if (st) return err_set(e, ST_ERR_FORMAT, "%s: dropout section does not fit the model: %s", path, sub.msg);
    return ST_OK;
}

/* Version 2: 32 bytes at an epoch's end; 56 with the position inside an
 * epoch. Its run fields (epochs, batch, images, seed) are settings. */
static Status read_progress_v2(const char *path, Reader r, CkptState *st, Err *e)
{
    uint32_t epoch, epochs, batch, train_n, pos_batch = 0, pos_right = 0;
    double pos_loss = 0, pos_seconds = 0;
    if (!rd_u32(&r, &epoch) || !rd_u32(&r, &epochs) || !rd_u32(&r, &batch) || !rd_u32(&r, &train_n) ||
        !rd_u64(&r, &st->step) || !rd_u64(&r, &st->v2.seed) ||
        (r.left && (!rd_u32(&r, &pos_batch) || !rd_u32(&r, &pos_right) || !rd_f64(&r, &pos_loss) ||
                    !rd_f64(&r, &pos_seconds) || pos_batch == 0)) ||
        r.left)
        return err_set(e, ST_ERR_FORMAT, "%s: malformed progress section", path);
    if (epoch > 100000000u || epochs > 100000000u || batch < 1 || batch > 1u << 20 || train_n < 1 ||
        train_n > 0x7fffffffu || st->step > (uint64_t)1 << 62)
        return err_set(e, ST_ERR_FORMAT, "%s: progress section out of range (epoch %u, batch %u, %u images)", path,
                       epoch, batch, train_n);
    uint32_t nbatches = (uint32_t)(((uint64_t)train_n + batch - 1) / batch);
    if (pos_batch >= nbatches || pos_right > (uint64_t)pos_batch * batch || pos_right > train_n ||
        !isfinite(pos_loss) || pos_loss < 0 || !isfinite(pos_seconds) || pos_seconds < 0)
        return err_set(e, ST_ERR_FORMAT, "%s: progress section out of range (batch %u of %u in epoch %u)", path,
                       pos_batch, nbatches, epoch + 1);
    st->epoch = (int)epoch;
    st->v2.epochs = (int)epochs;
    st->v2.batch = (int)batch;
    st->v2.train_n = (int)train_n;
    st->pos_batch = (int)pos_batch;
    st->pos_right = (int)pos_right;
    st->pos_loss = pos_loss;
    st->pos_seconds = pos_seconds;
    st->has_progress = 1;
    return ST_OK;
}

/* Version 3: 36 bytes, the position's fields 0 at an epoch's end. Whether
 * the position fits the run's batch size and images is for the reader of
 * the settings to check (train/resume.c). */
static Status read_progress(const char *path, Reader r, CkptState *st, Err *e)
{
    uint32_t epoch, pos_batch, pos_right;
    double pos_loss, pos_seconds;
    if (!rd_u32(&r, &epoch) || !rd_u64(&r, &st->step) || !rd_u32(&r, &pos_batch) || !rd_u32(&r, &pos_right) ||
        !rd_f64(&r, &pos_loss) || !rd_f64(&r, &pos_seconds) || r.left)
        return err_set(e, ST_ERR_FORMAT, "%s: malformed progress section", path);
    int mid = pos_batch > 0;
    if (epoch > 100000000u || st->step > (uint64_t)1 << 62 || pos_batch > 0x7fffffffu ||
        pos_right > (uint64_t)pos_batch << 20 || pos_right > 0x7fffffffu || !isfinite(pos_loss) || pos_loss < 0 ||
        !isfinite(pos_seconds) || pos_seconds < 0 || (!mid && (pos_right || pos_loss != 0 || pos_seconds != 0)))
        return err_set(e, ST_ERR_FORMAT, "%s: progress section out of range (epoch %u, batch %u)", path, epoch,
                       pos_batch);
    st->epoch = (int)epoch;
    st->pos_batch = (int)pos_batch;
    st->pos_right = (int)pos_right;
    st->pos_loss = pos_loss;
    st->pos_seconds = pos_seconds;
    st->has_progress = 1;
    return ST_OK;
}

/* Version 2: the hyper-parameters (kept in st->v2.opt too), then t, n, m, v. */
static Status read_optim_v2(const char *path, Reader r, size_t nparams, CkptState *st, Err *e)
{
    OptConfig c = optim_defaults();
    uint32_t kind, nesterov, decay_bias;
    uint64_t t, n;
    if (!rd_u32(&r, &kind) || !rd_f32(&r, &c.lr) || !rd_f32(&r, &c.momentum) || !rd_u32(&r, &nesterov) ||
        !rd_f32(&r, &c.beta1) || !rd_f32(&r, &c.beta2) || !rd_f32(&r, &c.eps) || !rd_f32(&r, &c.weight_decay) ||
        !rd_u32(&r, &decay_bias) || !rd_u64(&r, &t) || !rd_u64(&r, &n))
        return err_set(e, ST_ERR_FORMAT, "%s: optimizer section is truncated", path);
    if (kind > OPT_ADAMW || nesterov > 1 || decay_bias > 1 || !isfinite(c.lr) || !isfinite(c.momentum) ||
        !isfinite(c.beta1) || !isfinite(c.beta2) || !isfinite(c.eps) || !isfinite(c.weight_decay) ||
        t > (uint64_t)1 << 62)
        return err_set(e, ST_ERR_FORMAT, "%s: optimizer section holds an invalid setting", path);
    if (n != nparams)
        return err_set(e, ST_ERR_FORMAT, "%s: optimizer state of %llu values, the model has %zu parameters", path,
                       (unsigned long long)n, nparams);
    if (r.left != 8 * nparams) return err_set(e, ST_ERR_FORMAT, "%s: optimizer section has the wrong length", path);
    c.kind = (OptKind)kind;
    c.nesterov = (int)nesterov;
    c.decay_bias = (int)decay_bias;
    Status s = optim_init_both(&st->opt, &c, nparams, e); /* the file's m and v, whatever c uses */
    if (s) return s;
    rd_f32s(&r, st->opt.m, nparams);
    rd_f32s(&r, st->opt.v, nparams);
    st->opt.t = (long)t;
    st->v2.opt = c;
    st->has_optim = 1;
    return ST_OK;
}

/* Version 3: t, n, m, v (the hyper-parameters are settings). */
static Status read_optim(const char *path, Reader r, size_t nparams, CkptState *st, Err *e)
{
    uint64_t t, n;
    if (!rd_u64(&r, &t) || !rd_u64(&r, &n)) return err_set(e, ST_ERR_FORMAT, "%s: optimizer section is truncated", path);
    if (t > (uint64_t)1 << 62) return err_set(e, ST_ERR_FORMAT, "%s: optimizer section holds an invalid step count", path);
    if (n != nparams)
        return err_set(e, ST_ERR_FORMAT, "%s: optimizer state of %llu values, the model has %zu parameters", path,
                       (unsigned long long)n, nparams);
    if (r.left != 8 * nparams) return err_set(e, ST_ERR_FORMAT, "%s: optimizer section has the wrong length", path);
    OptConfig c = optim_defaults();
    Status s = optim_init_both(&st->opt, &c, nparams, e); /* the file's m and v */
    if (s) return s;
    rd_f32s(&r, st->opt.m, nparams);
    rd_f32s(&r, st->opt.v, nparams);
    st->opt.t = (long)t;
    st->has_optim = 1;
    return ST_OK;
}

/* Validation's record: the lowest loss (not NaN, >= 0, INFINITY: none yet),
 * its epoch (at most the epochs finished), and 0 or nparams weights. */
static Status read_val(const char *path, Reader r, size_t nparams, CkptState *st, Err *e)
{
    double best;
    uint32_t epoch;
    uint64_t n;
    if (!rd_f64(&r, &best) || !rd_u32(&r, &epoch) || !rd_u64(&r, &n) || (n != 0 && n != nparams) ||
        r.left != 4 * n)
        return err_set(e, ST_ERR_FORMAT, "%s: malformed validation section", path);
    if (isnan(best) || best < 0 || epoch > (st->has_progress ? (uint32_t)st->epoch : 100000000u))
        return err_set(e, ST_ERR_FORMAT, "%s: validation section out of range (loss %g in epoch %u)", path, best,
                       epoch);
    if (n && !(st->val_best_params = malloc(n * sizeof(float))))
        return err_set(e, ST_ERR_NOMEM, "%s: out of memory", path);
    rd_f32s(&r, st->val_best_params, n);
    st->val_best = best;
    st->val_best_epoch = (int)epoch;
    st->has_val = 1;
    return ST_OK;
}

/* The live weights beside TENS's average: n (the parameter count) and n
 * floats, exactly. */
static Status read_live(const char *path, Reader r, size_t nparams, CkptState *st, Err *e)
{
    uint64_t n;
    if (!rd_u64(&r, &n) || n != nparams || r.left / 4 != n || r.left % 4)
        return err_set(e, ST_ERR_FORMAT, "%s: malformed live-weights section (LIVE)", path);
    if (!(st->live = malloc(n * sizeof(float)))) return err_set(e, ST_ERR_NOMEM, "%s: out of memory", path);
    rd_f32s(&r, st->live, n);
    return ST_OK;
}

void weights_state_free(CkptState *st)
{
    if (!st) return;
    free(st->settings);
    free(st->log);
    free(st->val_best_params);
    free(st->live);
    free(st->v2.meta);
    free(st->v2.reg);
    if (st->has_optim) optim_free(&st->opt);
    memset(st, 0, sizeof *st);
}

typedef struct {
    const char *tag;
    unsigned versions;  /* bit v: a section of version v */
    Reader r;
    int seen;
} Section;

enum { S_CFG, S_SETS, S_LOG, S_RUN, S_TENS, S_OPTM, S_VAL, S_LIVE, S_META, S_DROP, S_REG, S_COUNT };
#define V2 (1u << 2)
#define V3 (1u << 3)

/* The sections of the file's version by tag; the tags of the other version,
 * like unknown ones, are skipped. */
static Status split_sections(const char *path, Reader r, unsigned version, Section *sec, Err *e)
{
    uint32_t nsec = 0;
    if (!rd_u32(&r, &nsec)) return err_set(e, ST_ERR_FORMAT, "%s: truncated header", path);
    for (uint32_t s = 0; s < nsec; s++) {
        char tag[4];
        uint64_t n;
        if (!rd(&r, tag, 4) || !rd_u64(&r, &n) || n > r.left)
            return err_set(e, ST_ERR_FORMAT, "%s: section %u is truncated", path, s);
        Reader body = {r.p, (size_t)n};
        r.p += n;
        r.left -= (size_t)n;
        for (int k = 0; k < S_COUNT; k++)
            if ((sec[k].versions >> version & 1u) && !memcmp(tag, sec[k].tag, 4)) {
                if (sec[k].seen) return err_set(e, ST_ERR_FORMAT, "%s: section '%s' appears twice", path, sec[k].tag);
                sec[k].r = body;
                sec[k].seen = 1;
            }
        /* unknown sections are skipped: room for additions that old readers may ignore */
    }
    if (r.left) return err_set(e, ST_ERR_FORMAT, "%s: unexpected bytes after the sections", path);
    const int required[] = {S_CFG, S_TENS, S_DROP};
    for (int k = 0; k < 3; k++)
        if ((sec[required[k]].versions >> version & 1u) && !sec[required[k]].seen)
            return err_set(e, ST_ERR_FORMAT, "%s: the required section '%s' is missing", path, sec[required[k]].tag);
    return ST_OK;
}

/* Before the net is built: the model text's parameter count against the
 * bytes of the tensor and optimizer sections, so that a small file cannot
 * make the reader allocate a large network. */
static Status check_claims(const char *path, const NetSpec *mc, int max_batch, const Section *sec, Err *e)
{
    size_t nparams;
    Status st = net_plan(mc, max_batch, &nparams, NULL, e);
    if (st) return st;
    if (sec[S_TENS].r.left / 4 < nparams)
        return err_set(e, ST_ERR_FORMAT,
                       "%s: the model text describes %zu parameters, the tensor section holds only %zu bytes", path,
                       nparams, sec[S_TENS].r.left);
    if (sec[S_OPTM].seen && sec[S_OPTM].r.left / 8 < nparams)
        return err_set(e, ST_ERR_FORMAT,
                       "%s: the model text describes %zu parameters, the optimizer section holds only %zu bytes", path,
                       nparams, sec[S_OPTM].r.left);
    return ST_OK;
}

Status weights_load_run(const char *path, int max_batch, Net **out, CkptState *state, Err *e)
{
    *out = NULL;
    if (state) memset(state, 0, sizeof *state);
    char *data;
    size_t len;
    /* the magic is checked before the file is read: a large file of another kind costs nothing */
    Status st = file_read_magic(path, MAX_FILE, MAGIC, "an fmnist checkpoint", &data, &len, e);
    if (st) return st;
    st = weights_load_mem(path, data, len, max_batch, out, state, e);
    free(data);
    return st;
}

/* The run's batch size, for max_batch <= 0: version 2's RUN field, or the
 * "batch=N" line of the settings text. */
static Status run_batch(const char *path, unsigned version, const CkptState *cs, const char *settings, int *batch,
                        Err *e)
{
    if (!cs->has_progress)
        return err_set(e, ST_ERR_FORMAT, "%s: holds weights only, no training progress to resume", path);
    if (version == 2) {
        *batch = cs->v2.batch;
        return ST_OK;
    }
    for (const char *p = settings; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        char *end;
        long v;
        if (strncmp(p, "batch=", 6)) continue;
        v = strtol(p + 6, &end, 10);
        if (end == p + 6 || (*end && *end != '\n') || v < 1 || v > 1L << 20) break;
        *batch = (int)v;
        return ST_OK;
    }
    return err_set(e, ST_ERR_FORMAT, "%s: its settings name no batch size (a line batch=N)", path);
}

/* The texts a state holds ("" for a section the file has not). */
static Status read_texts(const char *path, unsigned version, const Section *sec, CkptState *st, Err *e)
{
    Status s = ST_OK;
    Reader none = {(const unsigned char *)"", 0};
    if (!(st->log = dup_text(path, "log", sec[S_LOG].seen ? sec[S_LOG].r : none, &s, e))) return s;
    if (!st->settings && !(st->settings = dup_text(path, "settings", sec[S_SETS].seen ? sec[S_SETS].r : none, &s, e)))
        return s;
    if (version != 2) return ST_OK;
    if (!(st->v2.meta = dup_text(path, "settings (META)", sec[S_META].seen ? sec[S_META].r : none, &s, e))) return s;
    st->v2.reg = dup_text(path, "settings (REG)", sec[S_REG].seen ? sec[S_REG].r : none, &s, e);
    return s;
}

Status weights_load_mem(const char *path, const void *data, size_t len, int max_batch, Net **out, CkptState *state,
                        Err *e)
{
    *out = NULL;
    if (state) memset(state, 0, sizeof *state);
    const unsigned char *u = data;
    if (len < 4 || memcmp(data, MAGIC, 4))
        return err_set(e, ST_ERR_FORMAT, "%s: not an fmnist checkpoint (no FMNW header)", path);
    if (len < 16) return err_set(e, ST_ERR_FORMAT, "%s: damaged (truncated to %zu bytes)", path, len);
    uint32_t crc_stored = (uint32_t)u[len - 4] | (uint32_t)u[len - 3] << 8 | (uint32_t)u[len - 2] << 16 |
                          (uint32_t)u[len - 1] << 24;
    if (crc_of(u, len - 4) != crc_stored)
        return err_set(e, ST_ERR_FORMAT, "%s: damaged (CRC-32 mismatch: the file is truncated or altered)", path);
    Reader r = {u + 4, len - 8};
    uint32_t version = 0;
    rd_u32(&r, &version);
    if (version != WEIGHTS_VERSION && version != WEIGHTS_VERSION_OLD)
        return err_set(e, ST_ERR_FORMAT,
                       "%s: checkpoint version %u is not supported (this fmnist reads versions %u and %u)", path,
                       version, WEIGHTS_VERSION_OLD, WEIGHTS_VERSION);
    Status st;
    Section sec[S_COUNT] = {{"CFG ", V2 | V3, {0}, 0}, {"SETS", V3, {0}, 0},      {"LOG ", V2 | V3, {0}, 0},
                            {"RUN ", V2 | V3, {0}, 0}, {"TENS", V2 | V3, {0}, 0}, {"OPTM", V2 | V3, {0}, 0},
                            {"VAL ", V3, {0}, 0},      {"LIVE", V3, {0}, 0},      {"META", V2, {0}, 0},
                            {"DROP", V2, {0}, 0},      {"REG ", V2, {0}, 0}};
    CkptState tmp = {0}, *cs = state ? state : &tmp;
    cs->version = version;
    char *text = NULL;
    Net *net = NULL;
    NetSpec mc;
    char where[300];
    snprintf(where, sizeof where, "%s (model text)", path);
    if ((st = split_sections(path, r, version, sec, e))) goto fail;
    if (!(text = dup_text(path, "model text", sec[S_CFG].r, &st, e))) goto fail;
    if (sec[S_RUN].seen &&
        (st = (version == 2 ? read_progress_v2 : read_progress)(path, sec[S_RUN].r, cs, e)))
        goto fail;
    if (max_batch <= 0) {
        Reader none = {(const unsigned char *)"", 0};
        if (!(cs->settings = dup_text(path, "settings", sec[S_SETS].seen ? sec[S_SETS].r : none, &st, e))) goto fail;
        if ((st = run_batch(path, version, cs, cs->settings, &max_batch, e))) goto fail;
    }
    if ((st = cfg_parse_text(where, text, &mc, e))) goto fail;
    if (version == 2 && (st = read_dropout(path, sec[S_DROP].r, &mc, e))) {
        netspec_free(&mc);
        goto fail;
    }
    if ((st = check_claims(path, &mc, max_batch, sec, e))) {
        netspec_free(&mc);
        goto fail;
    }
    if ((st = net_build(&mc, max_batch, &net, e))) goto fail; /* net_build frees mc on failure */
    if ((st = load_tensors(path, sec[S_TENS].r, net, e))) goto fail;
    if (state) {
        if (sec[S_OPTM].seen &&
            (st = (version == 2 ? read_optim_v2 : read_optim)(path, sec[S_OPTM].r, net->nparams, state, e)))
            goto fail;
        if (sec[S_VAL].seen && (st = read_val(path, sec[S_VAL].r, net->nparams, state, e))) goto fail;
        if (sec[S_LIVE].seen && (st = read_live(path, sec[S_LIVE].r, net->nparams, state, e))) goto fail;
        if ((st = read_texts(path, version, sec, state, e))) goto fail;
    }
    free(text);
    *out = net;
    return ST_OK;
fail:
    free(text);
    net_free(net);
    weights_state_free(cs);
    return st;
}

Status weights_load(const char *path, int max_batch, Net **net, char **settings, Err *e)
{
    *net = NULL;
    if (settings) *settings = NULL;
    if (max_batch < 1) return err_set(e, ST_ERR_ARG, "batch size must be at least 1");
    if (!settings) return weights_load_run(path, max_batch, net, NULL, e);
    CkptState st;
    Status s = weights_load_run(path, max_batch, net, &st, e);
    if (s) return s;
    *settings = st.settings;
    st.settings = NULL;
    weights_state_free(&st);
    return ST_OK;
}
