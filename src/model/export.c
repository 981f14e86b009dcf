/* export.c - NPZ and ONNX writers (see export.h).
 *
 * The zip is the plain PKWARE layout: per entry a local header and the
 * stored bytes, then the central directory and its end record; fixed DOS
 * times (1980-01-01), so the same weights always give the same bytes. The
 * ONNX model is protobuf wire format built bottom-up through util/pb.h: each
 * message in its own Buf, embedded into its parent as a length-delimited
 * field. Field numbers are onnx.proto's (quoted beside each message below). */
#include "model/export.h"

#include "nn/onnx.h"
#include "util/pb.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

/* ---- little-endian helpers ---- */

static void put_u16(Buf *b, unsigned v)
{
    unsigned char c[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    buf_put(b, c, 2);
}

static void put_f32s(Buf *b, const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        buf_u32(b, u);
    }
}

/* ---- NPY / NPZ ---- */

/* The .npy header of an array of dtype descr ("<f4", "<i8"). */
static void npy_header(Buf *out, const char *descr, const int *dims, int ndim)
{
    char dict[256];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int d = 0; d < ndim; d++) n += snprintf(dict + n, sizeof dict - (size_t)n, "%s%d", d ? ", " : "", dims[d]);
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%s), }", ndim == 1 ? "," : "");
    /* magic (6) + version (2) + length (2) + dict + padding + '\n' = 64k */
    size_t total = 10 + (size_t)n + 1;
    size_t pad = (64 - total % 64) % 64;
    buf_put(out, "\x93NUMPY\x01\x00", 8);
    put_u16(out, (unsigned)((size_t)n + pad + 1));
    buf_put(out, dict, (size_t)n);
    for (size_t i = 0; i < pad; i++) buf_put(out, " ", 1);
    buf_put(out, "\n", 1);
}

void export_npy_header(Buf *out, const int *dims, int ndim) { npy_header(out, "<f4", dims, ndim); }

/* batchnorm's num_batches_tracked: a float count in the arena, an int64 of
 * shape () in a state_dict (net_tensor_is_count). */
static int is_count(const ParamInfo *pi) { return net_tensor_is_count(pi); }

#define ZIP_LOCAL 0x04034b50u
#define ZIP_CENTRAL 0x02014b50u
#define ZIP_END 0x06054b50u
#define ZIP_VERSION 20 /* 2.0: the oldest that readers expect; stored entries need nothing newer */
#define DOS_DATE_1980 0x21 /* 1980-01-01, time 00:00:00 */

static void zip_header_common(Buf *b, uint32_t crc, uint32_t size, size_t namelen)
{
    put_u16(b, 0);             /* flags */
    put_u16(b, 0);             /* method: stored */
    put_u16(b, 0);             /* time */
    put_u16(b, DOS_DATE_1980); /* date */
    buf_u32(b, crc);
    buf_u32(b, size);          /* compressed size */
    buf_u32(b, size);          /* uncompressed size */
    put_u16(b, (unsigned)namelen);
    put_u16(b, 0);             /* extra field length */
}

Status export_npz_buf(const Net *net, Buf *out, Err *e)
{
    Buf cd = {0}, entry = {0};
    size_t start = out->len;
    for (int k = 0; k < net->ntensors; k++) {
        const ParamInfo *pi = &net->tensors[k];
        char name[48];
        snprintf(name, sizeof name, "%s.npy", pi->name);
        size_t nl = strlen(name);
        entry.len = 0;
        if (is_count(pi)) {
            float v = net->params[pi->offset]; /* a count: a whole number >= 0 unless the file was altered */
            npy_header(&entry, "<i8", pi->dims, 0);
            buf_u64(&entry, v >= 0.0f && v < 9.2e18f ? (unsigned long long)v : 0);
        } else {
            export_npy_header(&entry, pi->dims, pi->ndim);
            put_f32s(&entry, net->params + pi->offset, pi->numel);
        }
        size_t offset = out->len - start;
        if (entry.len > 0xffffffffu || offset > 0xffffffffu) {
            buf_free(&entry), buf_free(&cd);
            return err_set(e, ST_ERR_SHAPE, "tensor '%s' is too large for a zip without zip64", pi->name);
        }
        uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)entry.data, (uInt)entry.len);
        buf_u32(out, ZIP_LOCAL);
        put_u16(out, ZIP_VERSION);
        zip_header_common(out, crc, (uint32_t)entry.len, nl);
        buf_put(out, name, nl);
        buf_put(out, entry.data, entry.len);

        buf_u32(&cd, ZIP_CENTRAL);
        put_u16(&cd, ZIP_VERSION); /* version made by (MS-DOS attributes) */
        put_u16(&cd, ZIP_VERSION); /* version needed */
        zip_header_common(&cd, crc, (uint32_t)entry.len, nl);
        put_u16(&cd, 0);           /* comment length */
        put_u16(&cd, 0);           /* disk number */
        put_u16(&cd, 0);           /* internal attributes */
        buf_u32(&cd, 0);           /* external attributes */
        buf_u32(&cd, (uint32_t)offset);
        buf_put(&cd, name, nl);
    }
    size_t cd_offset = out->len - start;
    int too_big = cd_offset > 0xffffffffu || net->ntensors > 0xffff;
    buf_put(out, cd.data, cd.len);
    buf_u32(out, ZIP_END);
    put_u16(out, 0); /* this disk */
    put_u16(out, 0); /* disk of the central directory */
    put_u16(out, (unsigned)net->ntensors);
    put_u16(out, (unsigned)net->ntensors);
    buf_u32(out, (uint32_t)cd.len);
    buf_u32(out, (uint32_t)cd_offset);
    put_u16(out, 0); /* comment length */
    int failed = cd.failed || entry.failed || out->failed;
    buf_free(&cd);
    buf_free(&entry);
    if (too_big) return err_set(e, ST_ERR_SHAPE, "the model is too large for a zip without zip64");
    if (failed) return err_set(e, ST_ERR_NOMEM, "out of memory for the NPZ file");
    return ST_OK;
}

/* ---- ONNX: protobuf through util/pb.h ---- */

/* onnx.proto field numbers, per message */
enum { MODEL_IR_VERSION = 1, MODEL_PRODUCER_NAME = 2, MODEL_PRODUCER_VERSION = 3, MODEL_DOC = 6, MODEL_GRAPH = 7,
       MODEL_OPSET_IMPORT = 8, MODEL_METADATA = 14 };
enum { OPSET_DOMAIN = 1, OPSET_VERSION = 2 };
enum { ENTRY_KEY = 1, ENTRY_VALUE = 2 }; /* StringStringEntryProto */
enum { GRAPH_NODE = 1, GRAPH_NAME = 2, GRAPH_INITIALIZER = 5, GRAPH_INPUT = 11, GRAPH_OUTPUT = 12 };
enum { NODE_INPUT = 1, NODE_OUTPUT = 2, NODE_NAME = 3, NODE_OP_TYPE = 4, NODE_ATTRIBUTE = 5 };
enum { ATTR_NAME = 1, ATTR_F = 2, ATTR_I = 3, ATTR_INTS = 8, ATTR_TYPE = 20 };
enum { ATTR_TYPE_FLOAT = 1, ATTR_TYPE_INT = 2, ATTR_TYPE_INTS = 7 };
enum { TENSOR_DIMS = 1, TENSOR_DATA_TYPE = 2, TENSOR_NAME = 8, TENSOR_RAW_DATA = 9 };
enum { DT_FLOAT = 1 };
enum { VALUE_NAME = 1, VALUE_TYPE = 2 };          /* ValueInfoProto */
enum { TYPE_TENSOR = 1 };                         /* TypeProto: tensor_type */
enum { TTYPE_ELEM = 1, TTYPE_SHAPE = 2 };         /* TypeProto.Tensor */
enum { SHAPE_DIM = 1 };                           /* TensorShapeProto */
enum { DIM_VALUE = 1, DIM_PARAM = 2 };            /* TensorShapeProto.Dimension */

static void attr_int(Buf *node, const char *name, int64_t v)
{
    Buf a = {0};
    pb_str(&a, ATTR_NAME, name);
    pb_int(&a, ATTR_I, v);
    pb_int(&a, ATTR_TYPE, ATTR_TYPE_INT);
    pb_msg(node, NODE_ATTRIBUTE, &a);
}

static void attr_float(Buf *node, const char *name, float v)
{
    Buf a = {0};
    pb_str(&a, ATTR_NAME, name);
    pb_float(&a, ATTR_F, v);
    pb_int(&a, ATTR_TYPE, ATTR_TYPE_FLOAT);
    pb_msg(node, NODE_ATTRIBUTE, &a);
}

static void attr_ints(Buf *node, const char *name, const int64_t *v, int n)
{
    Buf a = {0};
    pb_str(&a, ATTR_NAME, name);
    for (int i = 0; i < n; i++) pb_int(&a, ATTR_INTS, v[i]); /* unpacked, proto2's default */
    pb_int(&a, ATTR_TYPE, ATTR_TYPE_INTS);
    pb_msg(node, NODE_ATTRIBUTE, &a);
}

/* Starts a node: inputs in[0..nin), one output. Attributes go after. */
static void node_begin(Buf *node, const char *op, const char *name, const char *const *in, int nin, const char *out)
{
    for (int i = 0; i < nin; i++) pb_str(node, NODE_INPUT, in[i]);
    pb_str(node, NODE_OUTPUT, out);
    pb_str(node, NODE_NAME, name);
    pb_str(node, NODE_OP_TYPE, op);
}

static void initializer(Buf *graph, const char *name, const int *dims, int ndim, const float *v, size_t n)
{
    Buf t = {0}, raw = {0};
    for (int d = 0; d < ndim; d++) pb_int(&t, TENSOR_DIMS, dims[d]);
    pb_int(&t, TENSOR_DATA_TYPE, DT_FLOAT);
    pb_str(&t, TENSOR_NAME, name);
    put_f32s(&raw, v, n);
    pb_bytes(&t, TENSOR_RAW_DATA, raw.data ? raw.data : "", raw.len);
    t.failed |= raw.failed;
    buf_free(&raw);
    pb_msg(graph, GRAPH_INITIALIZER, &t);
}

/* A float tensor's ValueInfoProto: dims[i] < 0 is the symbolic batch "N". */
static void value_info(Buf *graph, int field, const char *name, const int *dims, int ndim)
{
    Buf shape = {0}, tt = {0}, type = {0}, vi = {0};
    for (int d = 0; d < ndim; d++) {
        Buf dim = {0};
        if (dims[d] < 0) pb_str(&dim, DIM_PARAM, "N");
        else pb_int(&dim, DIM_VALUE, dims[d]);
        pb_msg(&shape, SHAPE_DIM, &dim);
    }
    pb_int(&tt, TTYPE_ELEM, DT_FLOAT);
    pb_msg(&tt, TTYPE_SHAPE, &shape);
    pb_msg(&type, TYPE_TENSOR, &tt);
    pb_str(&vi, VALUE_NAME, name);
    pb_msg(&vi, VALUE_TYPE, &type);
    pb_msg(graph, field, &vi);
}

/* The writer the layers' onnx hooks use (nn/onnx.h): a node is collected
 * in node until the next one starts or the layer is done. */
typedef struct {
    OnnxOut api;   /* first: the hooks' OnnxOut* is a Writer* */
    Buf *graph;
    Buf node;
    int open;      /* node holds a node not yet in graph */
} Writer;

static void writer_flush(Writer *w)
{
    if (w->open) pb_msg(w->graph, GRAPH_NODE, &w->node);
    w->open = 0;
}

static void w_node(OnnxOut *o, const char *op, const char *name, const char *const *in, int nin, const char *out)
{
    Writer *w = (Writer *)o;
    writer_flush(w);
    node_begin(&w->node, op, name, in, nin, out);
    w->open = 1;
}

static void w_attr_int(OnnxOut *o, const char *name, int64_t v) { attr_int(&((Writer *)o)->node, name, v); }
static void w_attr_float(OnnxOut *o, const char *name, float v) { attr_float(&((Writer *)o)->node, name, v); }
static void w_attr_ints(OnnxOut *o, const char *name, const int64_t *v, int n)
{
    attr_ints(&((Writer *)o)->node, name, v, n);
}

/* The graph: Sub/Div normalization, then each layer's nodes as its kind
 * writes them (dropout kinds, the identity at inference, are left out); the
 * last layer's output is "logits". */
static Status build_graph(const Net *net, Buf *g, Err *e)
{
    Writer w = {{.rank = 4, .node = w_node, .attr_int = w_attr_int, .attr_ints = w_attr_ints,
                 .attr_float = w_attr_float},
                g, {0}, 0};
    const char *in2[2] = {"input", "fmnist.mean"};
    w_node(&w.api, "Sub", "normalize_sub", in2, 2, "input_centered");
    in2[0] = "input_centered", in2[1] = "fmnist.std";
    w_node(&w.api, "Div", "normalize_div", in2, 2, "input_normalized");
    writer_flush(&w);
    char cur[32] = "input_normalized", next[32];
    /* the index of the last layer that writes a node: its output is "logits" */
    int last = -1;
    for (int i = 0; i < net->nlayers; i++)
        if (!(net->layers[i].ops->flags & LAYER_DROPOUT)) last = i;
    for (int i = 0; i < net->nlayers; i++) {
        const Layer *l = &net->layers[i];
        if (l->ops->flags & LAYER_DROPOUT) continue;
        if (!l->ops->onnx)
            return err_set(e, ST_ERR_SHAPE, "%s:%d: ONNX export does not know the layer kind '%s'", net->spec.path,
                           l->spec.line, l->ops->kind);
        if (i == last) snprintf(next, sizeof next, "logits");
        else snprintf(next, sizeof next, "%d.out", i);
        w.api.in = cur;
        w.api.out = next;
        l->ops->onnx(l, &w.api);
        writer_flush(&w);
        snprintf(cur, sizeof cur, "%s", next);
    }
    if (last < 0) { /* no layer wrote a node: logits = the normalized input */
        const char *in1[1] = {cur};
        w_node(&w.api, "Identity", "logits", in1, 1, "logits");
        writer_flush(&w);
    }
    return ST_OK;
}

Status export_onnx_buf(const Net *net, Buf *out, Err *e)
{
    Buf g = {0}, m = {0}, sub = {0};
    Status st = build_graph(net, &g, e);
    if (st) {
        buf_free(&g);
        return st;
    }
    pb_str(&g, GRAPH_NAME, "fmnist");
    float mean = net->spec.mean, sd = net->spec.std;
    initializer(&g, "fmnist.mean", NULL, 0, &mean, 1);
    initializer(&g, "fmnist.std", NULL, 0, &sd, 1);
    for (int k = 0; k < net->ntensors; k++) {
        const ParamInfo *pi = &net->tensors[k];
        if (is_count(pi)) continue; /* no node reads num_batches_tracked */
        initializer(&g, pi->name, pi->dims, pi->ndim, net->params + pi->offset, pi->numel);
    }
    int in_dims[4] = {-1, net->in.c, net->in.h, net->in.w}, out_dims[2] = {-1, net->nclasses};
    value_info(&g, GRAPH_INPUT, "input", in_dims, 4);
    value_info(&g, GRAPH_OUTPUT, "logits", out_dims, 2);

    pb_int(&m, MODEL_IR_VERSION, EXPORT_ONNX_IR_VERSION);
    pb_str(&m, MODEL_PRODUCER_NAME, "fmnist");
    pb_str(&m, MODEL_PRODUCER_VERSION, "2");
    pb_str(&m, MODEL_DOC, "fmnist model. input: float32 [N,C,H,W], pixels scaled to [0,1] (p/255); the graph "
                          "normalizes them as (x - mean)/std itself. output: logits [N,classes] (softmax for "
                          "probabilities).");
    pb_msg(&m, MODEL_GRAPH, &g);
    pb_str(&sub, OPSET_DOMAIN, "");
    pb_int(&sub, OPSET_VERSION, EXPORT_ONNX_OPSET);
    pb_msg(&m, MODEL_OPSET_IMPORT, &sub);
    pb_str(&sub, ENTRY_KEY, "fmnist.model");
    pb_str(&sub, ENTRY_VALUE, net->spec.text);
    pb_msg(&m, MODEL_METADATA, &sub);
    buf_put(out, m.data, m.len);
    int failed = m.failed || out->failed;
    buf_free(&m);
    return failed ? err_set(e, ST_ERR_NOMEM, "out of memory for the ONNX model") : ST_OK;
}

/* ---- safetensors ---- */

/* The length of the valid UTF-8 sequence at s (1..4 bytes), 0 if s does not
 * start one (a stray continuation byte, an overlong form, a surrogate, a
 * code point above U+10FFFF, a cut sequence). */
static int utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    int n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (!n) return 0;
    unsigned lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80, hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
    if (s[1] < lo || s[1] > hi) return 0;
    for (int i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return n;
}

/* s as a JSON string: quoted, with '"', '\' and control characters escaped;
 * a byte that is not part of valid UTF-8 becomes U+FFFD (the header must be
 * UTF-8 for serde_json, which the safetensors library parses it with). */
static void json_str(Buf *b, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    buf_put(b, "\"", 1);
    while (*s) {
        if (*s == '"' || *s == '\\') {
            char esc[2] = {'\\', (char)*s};
            buf_put(b, esc, 2);
            s++;
        } else if (*s == '\n') {
            buf_put(b, "\\n", 2), s++;
        } else if (*s == '\t') {
            buf_put(b, "\\t", 2), s++;
        } else if (*s < 0x20) {
            buf_printf(b, "\\u%04x", *s++);
        } else if (*s < 0x80) {
            buf_put(b, s++, 1);
        } else {
            int n = utf8_len(s);
            if (n) buf_put(b, s, (size_t)n), s += n;
            else buf_put(b, "\\ufffd", 6), s++;
        }
    }
    buf_put(b, "\"", 1);
}

Status export_safetensors_buf(const Net *net, Buf *out, Err *e)
{
    Buf h = {0};
    char num[32];
    buf_put(&h, "{\"__metadata__\":{\"format\":\"pt\",\"fmnist.model\":", 46);
    json_str(&h, net->spec.text);
    snprintf(num, sizeof num, "%.9g", (double)net->spec.mean);
    buf_printf(&h, ",\"fmnist.mean\":\"%s\"", num);
    snprintf(num, sizeof num, "%.9g", (double)net->spec.std);
    buf_printf(&h, ",\"fmnist.std\":\"%s\"}", num);
    size_t off = 0;
    for (int k = 0; k < net->ntensors; k++) {
        const ParamInfo *pi = &net->tensors[k];
        int count = is_count(pi);
        size_t bytes = count ? 8 : pi->numel * 4;
        buf_put(&h, ",", 1);
        json_str(&h, pi->name);
        buf_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[", count ? "I64" : "F32");
        for (int d = 0; !count && d < pi->ndim; d++) buf_printf(&h, "%s%d", d ? "," : "", pi->dims[d]);
        buf_printf(&h, "],\"data_offsets\":[%zu,%zu]}", off, off + bytes);
        off += bytes;
    }
    buf_put(&h, "}", 1);
    while ((8 + h.len) % 8) buf_put(&h, " ", 1); /* the data starts 8-aligned */
    buf_u64(out, h.len);
    buf_put(out, h.data, h.len);
    int failed = h.failed;
    buf_free(&h);
    for (int k = 0; k < net->ntensors; k++) {
        const ParamInfo *pi = &net->tensors[k];
        if (is_count(pi)) {
            float v = net->params[pi->offset];
            buf_u64(out, v >= 0.0f && v < 9.2e18f ? (unsigned long long)v : 0);
        } else {
            put_f32s(out, net->params + pi->offset, pi->numel);
        }
    }
    return failed || out->failed ? err_set(e, ST_ERR_NOMEM, "out of memory for the safetensors file") : ST_OK;
}

static Status write_with(Status (*fn)(const Net *, Buf *, Err *), const Net *net, const char *path, Err *e)
{
    Buf b = {0};
    Status st = fn(net, &b, e);
    if (st) err_prefix(e, path);
    else st = file_write_atomic(path, b.data, b.len, e);
    buf_free(&b);
    return st;
}

Status export_npz(const Net *net, const char *path, Err *e) { return write_with(export_npz_buf, net, path, e); }

Status export_onnx(const Net *net, const char *path, Err *e) { return write_with(export_onnx_buf, net, path, e); }

Status export_safetensors(const Net *net, const char *path, Err *e)
{
    return write_with(export_safetensors_buf, net, path, e);
}
