/* weights.c - native checkpoint writer and strict reader (format in weights.h).
 *
 * The reader checks the CRC over the whole file before it looks at anything
 * else, then every length against the bytes that remain, so a damaged or
 * truncated file is refused with a message and nothing is read out of bounds. */
#include "model/weights.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "util/fileio.h"

#define MAGIC "FMNW"
#define VERSION 1u
#define MAX_FILE ((size_t)4 << 30)

static void put_section(Buf *b, const char *tag, const void *p, size_t n)
{
    buf_put(b, tag, 4);
    buf_u64(b, n);
    buf_put(b, p, n);
}

Status weights_save(const char *path, const Net *net, const char *meta, Err *e)
{
    Buf t = {0};
    buf_u32(&t, (unsigned)net->ntensors);
    for (int k = 0; k < net->ntensors; k++) {
        const ParamInfo *pi = &net->tensors[k];
        size_t nl = strlen(pi->name);
        buf_u32(&t, (unsigned)nl);
        buf_put(&t, pi->name, nl);
        buf_u32(&t, (unsigned)pi->ndim);
        for (int d = 0; d < pi->ndim; d++) buf_u32(&t, (unsigned)pi->dims[d]);
        const float *w = net->params + pi->offset;
        for (size_t i = 0; i < pi->numel; i++) {
            uint32_t u;
            memcpy(&u, &w[i], 4);
            buf_u32(&t, u);
        }
    }
    if (!meta) meta = "";
    Buf b = {0};
    buf_put(&b, MAGIC, 4);
    buf_u32(&b, VERSION);
    buf_u32(&b, 3);
    put_section(&b, "CFG ", net->cfg.text, strlen(net->cfg.text));
    put_section(&b, "META", meta, strlen(meta));
    put_section(&b, "TENS", t.data, t.len);
    buf_free(&t);
    if (b.failed || t.failed) {
        buf_free(&b);
        return err_set(e, ST_ERR_NOMEM, "%s: out of memory", path);
    }
    buf_u32(&b, (unsigned)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)b.data, (uInt)b.len));
    Status st = file_write_atomic(path, b.data, b.len, e);
    buf_free(&b);
    return st;
}

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
        if (r.left / 4 < pi->numel) return err_set(e, ST_ERR_FORMAT, "%s: tensor '%s' is truncated", path, name);
        float *w = net->params + pi->offset;
        for (size_t i = 0; i < pi->numel; i++) {
            uint32_t u = 0;
            rd_u32(&r, &u);
            memcpy(&w[i], &u, 4);
        }
    }
    if (r.left) return err_set(e, ST_ERR_FORMAT, "%s: %zu unexpected bytes after the tensors", path, r.left);
    return ST_OK;
}

Status weights_load(const char *path, int max_batch, Net **out, char **meta_out, Err *e)
{
    *out = NULL;
    if (meta_out) *meta_out = NULL;
    char *data;
    size_t len;
    Status st = file_read_all(path, MAX_FILE, &data, &len, e);
    if (st) return st;
    const unsigned char *u = (const unsigned char *)data;
    if (len < 16 || memcmp(data, MAGIC, 4)) {
        free(data);
        return err_set(e, ST_ERR_FORMAT, "%s: not an fmnist checkpoint (no FMNW header)", path);
    }
    uint32_t crc_stored = (uint32_t)u[len - 4] | (uint32_t)u[len - 3] << 8 | (uint32_t)u[len - 2] << 16 |
                          (uint32_t)u[len - 1] << 24;
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), u, (uInt)(len - 4));
    if (crc != crc_stored) {
        free(data);
        return err_set(e, ST_ERR_FORMAT, "%s: damaged (CRC-32 mismatch: the file is truncated or altered)", path);
    }
    Reader r = {u + 4, len - 8};
    uint32_t version = 0, nsec = 0;
    rd_u32(&r, &version);
    rd_u32(&r, &nsec);
    if (version != VERSION) {
        free(data);
        return err_set(e, ST_ERR_FORMAT, "%s: checkpoint version %u, this fmnist reads version %u", path, version,
                       VERSION);
    }
    Reader cfg = {0}, meta = {0}, tens = {0};
    int have_cfg = 0, have_meta = 0, have_tens = 0;
    for (uint32_t s = 0; s < nsec; s++) {
        char tag[4];
        uint64_t n;
        if (!rd(&r, tag, 4) || !rd_u64(&r, &n) || n > r.left) {
            free(data);
            return err_set(e, ST_ERR_FORMAT, "%s: section %u is truncated", path, s);
        }
        Reader sec = {r.p, (size_t)n};
        r.p += n;
        r.left -= (size_t)n;
        if (!memcmp(tag, "CFG ", 4)) cfg = sec, have_cfg = 1;
        else if (!memcmp(tag, "META", 4)) meta = sec, have_meta = 1;
        else if (!memcmp(tag, "TENS", 4)) tens = sec, have_tens = 1;
        /* unknown sections are skipped: later versions may add some */
    }
    if (r.left || !have_cfg || !have_tens) {
        free(data);
        return err_set(e, ST_ERR_FORMAT, "%s: %s", path,
                       r.left ? "unexpected bytes after the sections" : "a required section is missing");
    }
    char *text = malloc(cfg.left + 1);
    char *m = malloc((have_meta ? meta.left : 0) + 1);
    if (!text || !m) {
        free(text), free(m), free(data);
        return err_set(e, ST_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(text, cfg.p, cfg.left);
    text[cfg.left] = 0;
    memcpy(m, meta.p, have_meta ? meta.left : 0);
    m[have_meta ? meta.left : 0] = 0;

    char where[300];
    snprintf(where, sizeof where, "%s (model text)", path);
    ModelCfg mc;
    Net *net = NULL;
    if (strlen(text) != cfg.left) st = err_set(e, ST_ERR_FORMAT, "%s: NUL byte in the model text", path);
    else if (!(st = cfg_parse_text(where, text, &mc, e))) {
        st = net_build(&mc, max_batch, &net, e);
        if (!st) st = load_tensors(path, tens, net, e);
    }
    free(text);
    free(data);
    if (st) {
        net_free(net);
        free(m);
        return st;
    }
    *out = net;
    if (meta_out) *meta_out = m;
    else free(m);
    return ST_OK;
}
