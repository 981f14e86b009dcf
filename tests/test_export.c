/* test_export.c - the NPZ and ONNX exports and `fmnist predict`.
 *
 * NPZ: read back with a zip and .npy reader written here (headers, CRC,
 * central directory, shapes, values). ONNX: the protobuf walked field by field
 * (opset, nodes, initializers, dynamic batch), then run in onnxruntime-node
 * (tools/onnx_check.js) with logits compared to fmnist's to 1e-4, and the
 * NPZ loaded into PyTorch (tools/torch_check.py) with the test accuracy
 * compared to fmnist's; both for the MLP and the conv net, each skipped
 * visibly when its runtime or the data set is absent. Predict: the picture
 * conversion on drawn images, and the command on PGM, PNG and IDX input. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <zlib.h>

#include "data/idx.h"
#include "model/cfg.h"
#include "model/export.h"
#include "model/image.h"
#include "model/weights.h"
#include "testutil.h"
#include "train/train.h"
#include "util/fileio.h"

static char out[1 << 17];

static Net *model_net(const char *path, uint64_t seed, int batch)
{
    NetSpec c;
    Err e;
    ck_assert_msg(cfg_parse_file(path, &c, &e) == ST_OK, "%s", e.msg);
    Net *net;
    ck_assert_msg(net_build(&c, batch, &net, &e) == ST_OK, "%s", e.msg);
    net_init(net, seed);
    return net;
}

static int have_cnn(void) { return file_exists("models/cnn.cfg"); }

static const char *MODELS[2] = {"models/mlp.cfg", "models/cnn.cfg"};

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static unsigned le16(const unsigned char *p) { return (unsigned)p[0] | (unsigned)p[1] << 8; }

/* ---- NPZ: a minimal zip + npy reader ---- */

/* The expected .npy dict of a tensor, as numpy writes it. */
static void npy_dict(const ParamInfo *pi, char *buf, size_t len)
{
    int n = snprintf(buf, len, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int d = 0; d < pi->ndim; d++) n += snprintf(buf + n, len - (size_t)n, "%s%d", d ? ", " : "", pi->dims[d]);
    snprintf(buf + n, len - (size_t)n, "%s), }", pi->ndim == 1 ? "," : "");
}

/* Checks every entry of the zip in z[0..len) against net's tensors. */
static void check_npz(const unsigned char *z, size_t len, const Net *net)
{
    /* end of central directory: the last 22 bytes (no comment) */
    ck_assert(len > 22);
    const unsigned char *end = z + len - 22;
    ck_assert_uint_eq(le32(end), 0x06054b50u);
    ck_assert_uint_eq(le16(end + 8), (unsigned)net->ntensors);
    ck_assert_uint_eq(le16(end + 10), (unsigned)net->ntensors);
    size_t cd_size = le32(end + 12), cd_off = le32(end + 16);
    ck_assert_uint_eq(cd_off + cd_size, len - 22);
    const unsigned char *cd = z + cd_off;
    for (int k = 0; k < net->ntensors; k++) {
        const ParamInfo *pi = &net->tensors[k];
        /* central directory entry */
        ck_assert_uint_eq(le32(cd), 0x02014b50u);
        ck_assert_uint_eq(le16(cd + 10), 0); /* stored */
        uint32_t crc = le32(cd + 16), csize = le32(cd + 20), usize = le32(cd + 24);
        unsigned nl = le16(cd + 28), xl = le16(cd + 30), cl = le16(cd + 32);
        size_t loff = le32(cd + 42);
        char name[64];
        snprintf(name, sizeof name, "%s.npy", pi->name);
        ck_assert_uint_eq(nl, strlen(name));
        ck_assert_int_eq(memcmp(cd + 46, name, nl), 0);
        ck_assert_uint_eq(csize, usize);
        cd += 46 + nl + xl + cl;
        /* local header */
        const unsigned char *lh = z + loff;
        ck_assert_uint_eq(le32(lh), 0x04034b50u);
        ck_assert_uint_eq(le16(lh + 8), 0);
        ck_assert_uint_eq(le32(lh + 14), crc);
        ck_assert_uint_eq(le32(lh + 18), csize);
        ck_assert_uint_eq(le32(lh + 22), usize);
        ck_assert_uint_eq(le16(lh + 26), nl);
        ck_assert_int_eq(memcmp(lh + 30, name, nl), 0);
        const unsigned char *d = lh + 30 + nl + le16(lh + 28);
        ck_assert(d + usize <= z + cd_off);
        ck_assert_uint_eq((uint32_t)crc32(crc32(0L, Z_NULL, 0), d, usize), crc);
        /* the .npy: magic, version 1.0, header padded to 64, dict, data */
        ck_assert_int_eq(memcmp(d, "\x93NUMPY\x01\x00", 8), 0);
        unsigned hl = le16(d + 8);
        ck_assert_uint_eq((10 + hl) % 64, 0);
        ck_assert_uint_eq(d[10 + hl - 1], '\n');
        char want[256];
        npy_dict(pi, want, sizeof want);
        ck_assert_int_eq(memcmp(d + 10, want, strlen(want)), 0);
        for (size_t i = strlen(want); i < hl - 1; i++) ck_assert_uint_eq(d[10 + i], ' ');
        ck_assert_uint_eq(usize, 10 + hl + 4 * pi->numel);
        const float *w = net->params + pi->offset;
        for (size_t i = 0; i < pi->numel; i++) {
            uint32_t u = le32(d + 10 + hl + 4 * i), v;
            memcpy(&v, &w[i], 4);
            ck_assert_msg(u == v, "%s[%zu] differs", pi->name, i);
        }
    }
    ck_assert_ptr_eq(cd, z + cd_off + cd_size);
}

START_TEST(test_npy_header_layout)
{
    Buf b = {0};
    int d2[2] = {256, 784}, d1[1] = {10};
    export_npy_header(&b, d2, 2);
    ck_assert_uint_eq(b.len % 64, 0);
    ck_assert_int_eq(memcmp(b.data + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (256, 784), }", 63), 0);
    ck_assert_int_eq(b.data[b.len - 1], '\n');
    b.len = 0;
    export_npy_header(&b, d1, 1);
    ck_assert_uint_eq(b.len, 128); /* 10 + 58 + 1 rounded up to 64k, as numpy writes it */
    ck_assert_ptr_nonnull(strstr(b.data + 10, "'shape': (10,), }"));
    buf_free(&b);
}
END_TEST

START_TEST(test_npz_reads_back)
{
    for (int m = 0; m < 2; m++) {
        if (m == 1 && !have_cnn()) {
            printf("skipped: test_npz_reads_back for the conv net (models/cnn.cfg not in the tree)\n");
            continue;
        }
        Net *net = model_net(MODELS[m], 11, 1);
        Buf b = {0};
        Err e;
        ck_assert_int_eq(export_npz_buf(net, &b, &e), ST_OK);
        check_npz((const unsigned char *)b.data, b.len, net);
        /* deterministic: the same weights give the same bytes */
        Buf b2 = {0};
        ck_assert_int_eq(export_npz_buf(net, &b2, &e), ST_OK);
        ck_assert(b.len == b2.len && !memcmp(b.data, b2.data, b.len));
        buf_free(&b), buf_free(&b2);
        net_free(net);
    }
}
END_TEST

/* ---- ONNX: a protobuf walker ---- */

typedef struct {
    const unsigned char *p, *end;
} Pb;

typedef struct {
    int field, wt;
    uint64_t v;               /* varint / fixed value */
    const unsigned char *data; /* length-delimited */
    size_t len;
} PbField;

static uint64_t pb_varint(Pb *r)
{
    uint64_t v = 0;
    for (int s = 0; s < 64; s += 7) {
        ck_assert_msg(r->p < r->end, "varint runs past the end");
        unsigned char c = *r->p++;
        v |= (uint64_t)(c & 0x7f) << s;
        if (!(c & 0x80)) return v;
    }
    ck_abort_msg("varint too long");
    return 0;
}

/* The next field, or 0 at the end. Any malformation fails the test. */
static int pb_next(Pb *r, PbField *f)
{
    if (r->p >= r->end) return 0;
    uint64_t key = pb_varint(r);
    f->field = (int)(key >> 3);
    f->wt = (int)(key & 7);
    ck_assert(f->field > 0);
    switch (f->wt) {
    case 0: f->v = pb_varint(r); break;
    case 2:
        f->len = (size_t)pb_varint(r);
        ck_assert_msg(f->len <= (size_t)(r->end - r->p), "field %d overruns its message", f->field);
        f->data = r->p;
        r->p += f->len;
        break;
    case 5:
        ck_assert(r->end - r->p >= 4);
        f->v = le32(r->p);
        r->p += 4;
        break;
    default: ck_abort_msg("unexpected wire type %d", f->wt);
    }
    return 1;
}

static Pb pb_sub(const PbField *f)
{
    ck_assert_int_eq(f->wt, 2);
    return (Pb){f->data, f->data + f->len};
}

static int pb_is(const PbField *f, const char *s) { return f->wt == 2 && f->len == strlen(s) && !memcmp(f->data, s, f->len); }

/* A ValueInfoProto: its name and dims (-1 for the symbolic "N"). */
static void value_info(const PbField *vf, char *name, int *dims, int *ndim)
{
    Pb vi = pb_sub(vf);
    PbField f;
    *ndim = 0;
    while (pb_next(&vi, &f)) {
        if (f.field == 1) snprintf(name, 32, "%.*s", (int)f.len, f.data);
        if (f.field != 2) continue;
        Pb type = pb_sub(&f);
        PbField t;
        while (pb_next(&type, &t)) {
            ck_assert_int_eq(t.field, 1); /* tensor_type */
            Pb tt = pb_sub(&t);
            PbField g;
            while (pb_next(&tt, &g)) {
                if (g.field == 1) ck_assert_int_eq((int)g.v, 1); /* FLOAT */
                if (g.field != 2) continue;
                Pb shape = pb_sub(&g);
                PbField dim;
                while (pb_next(&shape, &dim)) {
                    Pb dd = pb_sub(&dim);
                    PbField x;
                    ck_assert(pb_next(&dd, &x));
                    if (x.field == 1) dims[(*ndim)++] = (int)x.v;
                    else {
                        ck_assert(x.field == 2 && pb_is(&x, "N"));
                        dims[(*ndim)++] = -1;
                    }
                }
            }
        }
    }
}

/* Walks the model; checks versions, the node list (op types in order), each
 * initializer against the net, and the graph's input and output. */
static void check_onnx(const unsigned char *m, size_t len, const Net *net, const char *const *ops, int nops)
{
    Pb model = {m, m + len};
    PbField f;
    int ir = 0, opset = 0, have_graph = 0;
    while (pb_next(&model, &f)) {
        if (f.field == 1) ir = (int)f.v;
        if (f.field == 8) {
            Pb o = pb_sub(&f);
            PbField g;
            while (pb_next(&o, &g))
                if (g.field == 2) opset = (int)g.v;
                else ck_assert(g.field == 1 && g.len == 0); /* the default domain */
        }
        if (f.field != 7) continue;
        have_graph = 1;
        Pb graph = pb_sub(&f);
        PbField g;
        int node = 0, inits = 0;
        while (pb_next(&graph, &g)) {
            if (g.field == 1) { /* NodeProto */
                Pb n = pb_sub(&g);
                PbField h;
                ck_assert_msg(node < nops, "more nodes than expected");
                while (pb_next(&n, &h))
                    if (h.field == 4)
                        ck_assert_msg(pb_is(&h, ops[node]), "node %d is %.*s, expected %s", node, (int)h.len,
                                      h.data, ops[node]);
                node++;
            } else if (g.field == 5) { /* TensorProto initializer */
                Pb t = pb_sub(&g);
                PbField h;
                char name[64] = "";
                int dims[8], nd = 0, dt = 0;
                const unsigned char *raw = NULL;
                size_t rawlen = 0;
                while (pb_next(&t, &h)) {
                    if (h.field == 1) dims[nd++] = (int)h.v;
                    if (h.field == 2) dt = (int)h.v;
                    if (h.field == 8) snprintf(name, sizeof name, "%.*s", (int)h.len, h.data);
                    if (h.field == 9) raw = h.data, rawlen = h.len;
                }
                ck_assert_int_eq(dt, 1);
                ck_assert_ptr_nonnull(raw);
                float v0;
                if (!strcmp(name, "fmnist.mean") || !strcmp(name, "fmnist.std")) {
                    ck_assert(nd == 0 && rawlen == 4);
                    memcpy(&v0, raw, 4);
                    ck_assert_float_eq(v0, name[7] == 'm' ? net->spec.mean : net->spec.std);
                    continue;
                }
                const ParamInfo *pi = &net->tensors[inits++];
                ck_assert_str_eq(name, pi->name);
                ck_assert_int_eq(nd, pi->ndim);
                for (int d = 0; d < nd; d++) ck_assert_int_eq(dims[d], pi->dims[d]);
                ck_assert_uint_eq(rawlen, 4 * pi->numel);
                ck_assert_int_eq(memcmp(raw, net->params + pi->offset, rawlen), 0); /* little-endian host */
            } else if (g.field == 11 || g.field == 12) {
                char name[32] = "";
                int dims[8], nd;
                value_info(&g, name, dims, &nd);
                if (g.field == 11) {
                    ck_assert_str_eq(name, "input");
                    ck_assert(nd == 4 && dims[0] == -1 && dims[1] == net->in.c && dims[2] == net->in.h &&
                              dims[3] == net->in.w);
                } else {
                    ck_assert_str_eq(name, "logits");
                    ck_assert(nd == 2 && dims[0] == -1 && dims[1] == net->nclasses);
                }
            }
        }
        ck_assert_int_eq(node, nops);
        ck_assert_int_eq(inits, net->ntensors);
    }
    ck_assert_int_eq(ir, EXPORT_ONNX_IR_VERSION);
    ck_assert_int_eq(opset, EXPORT_ONNX_OPSET);
    ck_assert(have_graph);
}

START_TEST(test_onnx_structure)
{
    const char *mlp_ops[] = {"Sub", "Div", "Flatten", "Gemm", "Relu", "Gemm", "Relu", "Gemm"};
    const char *cnn_ops[] = {"Sub",  "Div",     "Conv",    "Relu", "MaxPool", "Conv",
                             "Relu", "MaxPool", "Flatten", "Gemm", "Relu",    "Gemm"};
    for (int m = 0; m < 2; m++) {
        if (m == 1 && !have_cnn()) {
            printf("skipped: test_onnx_structure for the conv net (models/cnn.cfg not in the tree)\n");
            continue;
        }
        Net *net = model_net(MODELS[m], 12, 1);
        Buf b = {0};
        Err e;
        ck_assert_int_eq(export_onnx_buf(net, &b, &e), ST_OK);
        if (m == 0) check_onnx((const unsigned char *)b.data, b.len, net, mlp_ops, 8);
        else check_onnx((const unsigned char *)b.data, b.len, net, cnn_ops, 12);
        buf_free(&b);
        net_free(net);
    }
    /* a dense layer straight on a Cx1x1 image gets its Flatten; avgpool, strides and a trailing dropout */
    NetSpec c;
    Err e;
    const char *text = "input 1x6x6 mean=0.25 std=2\nconv 3 3 stride=2 pad=1\navgpool 3\ndense 4\ndropout 0.5\n";
    ck_assert_int_eq(cfg_parse_text("odd.cfg", text, &c, &e), ST_OK);
    Net *net;
    ck_assert_msg(net_build(&c, 1, &net, &e) == ST_OK, "%s", e.msg);
    net_init(net, 1);
    Buf b = {0};
    ck_assert_int_eq(export_onnx_buf(net, &b, &e), ST_OK);
    const char *ops[] = {"Sub", "Div", "Conv", "AveragePool", "Flatten", "Gemm"};
    check_onnx((const unsigned char *)b.data, b.len, net, ops, 6);
    buf_free(&b);
    net_free(net);
}
END_TEST

/* ---- the binary: export, and the runtimes ---- */


static void expect(const char *args, int code, const char *word) { expect_fmnist(args, code, word, out, sizeof out); }

/* A checkpoint of an initialized (untrained) net. */
static void save_model(const char *model, uint64_t seed, const char *path)
{
    Net *net = model_net(model, seed, 1);
    Err e;
    ck_assert_msg(weights_save(path, net, "model=test\n", &e) == ST_OK, "%s", e.msg);
    net_free(net);
}

START_TEST(test_export_cli)
{
    char *dir = make_temp_dir();
    char args[4096], ck[600], path[700];
    snprintf(ck, sizeof ck, "%s/m.fmw", dir);
    save_model("models/mlp.cfg", 4, ck);
    snprintf(args, sizeof args, "export --weights %s -o %s/m.npz", ck, dir);
    expect(args, 0, "wrote");
    snprintf(args, sizeof args, "export --weights %s --format onnx --out %s/model.bin", ck, dir);
    expect(args, 0, "ONNX");
    /* what it wrote is what the library writes */
    Net *net;
    Err e;
    ck_assert_int_eq(weights_load(ck, 1, &net, NULL, &e), ST_OK);
    snprintf(path, sizeof path, "%s/m.npz", dir);
    char *d;
    size_t len;
    ck_assert_int_eq(file_read_all(path, 1 << 26, &d, &len, &e), ST_OK);
    check_npz((unsigned char *)d, len, net);
    free(d);
    net_free(net);
    expect("export --help", 0, "load_state_dict");
    expect("export -o x.npz", 2, "--weights FILE is required");
    snprintf(args, sizeof args, "export --weights %s", ck);
    expect(args, 2, "-o FILE is required");
    snprintf(args, sizeof args, "export --weights %s -o %s/x.txt", ck, dir);
    expect(args, 2, "--format npz|safetensors|onnx is required");
    snprintf(args, sizeof args, "export --weights %s --format tflite -o %s/x.npz", ck, dir);
    expect(args, 2, "--format: expected npz, safetensors or onnx, got 'tflite'");
    snprintf(args, sizeof args, "export --weights %s/none.fmw -o %s/x.npz", dir, dir);
    expect(args, 1, "none.fmw");
    /* a damaged checkpoint is refused, and nothing is written */
    ck_assert_int_eq(file_read_all(ck, 1 << 26, &d, &len, &e), ST_OK);
    d[len / 2] ^= 4;
    ck_assert_int_eq(file_write_atomic(ck, d, len, &e), ST_OK);
    free(d);
    snprintf(args, sizeof args, "export --weights %s -o %s/bad.onnx", ck, dir);
    expect(args, 1, "damaged");
    snprintf(path, sizeof path, "%s/bad.onnx", dir);
    ck_assert(!file_exists(path));
    rm_tree(dir);
    free(dir);
}
END_TEST

/* The test images: the real t10k file when installed, otherwise a synthetic
 * IDX file of n random images written into dir. */
static void test_images(const char *dir, char *path, size_t len, int n)
{
    const char *dirs[] = {getenv("FMNIST_DATA"), "data", "/usr/share/datasets/fashion-mnist"};
    for (int i = 0; i < 3; i++)
        for (int gz = 0; dirs[i] && *dirs[i] && gz < 2; gz++) {
            snprintf(path, len, "%s/t10k-images-idx3-ubyte%s", dirs[i], gz ? ".gz" : "");
            if (file_exists(path)) return;
        }
    snprintf(path, len, "%s/synthetic-images-idx3-ubyte", dir);
    Buf b = {0};
    unsigned char hdr[16] = {0, 0, 8, 3, 0, 0, 0, (unsigned char)n, 0, 0, 0, 28, 0, 0, 0, 28};
    buf_put(&b, hdr, 16);
    Rng r;
    rng_seed(&r, 9);
    for (int i = 0; i < n * 784; i++) {
        unsigned char p = (unsigned char)rng_below(&r, 256);
        buf_put(&b, &p, 1);
    }
    Err e;
    ck_assert_int_eq(file_write_atomic(path, b.data, b.len, &e), ST_OK);
    buf_free(&b);
    printf("note: test_onnx_runtime uses synthetic images (Fashion-MNIST not installed)\n");
}

/* fmnist's logits of images first..first+n of an IDX file (library forward). */
static float *fmnist_logits(const char *ckpt, const char *idx, int first, int n)
{
    Net *net;
    Err e;
    ck_assert_int_eq(weights_load(ckpt, n, &net, NULL, &e), ST_OK);
    IdxImages im;
    ck_assert_msg(idx_read_images(idx, &im, &e) == ST_OK, "%s", e.msg);
    Dataset d = {.n = (int)im.n, .h = (int)im.rows, .w = (int)im.cols, .pixels = im.pixels, .labels = calloc(im.n, 1)};
    uint32_t *ids = malloc((size_t)n * sizeof *ids);
    int *labels = malloc((size_t)n * sizeof *labels);
    float *x = malloc((size_t)n * 784 * sizeof *x), *z = malloc((size_t)n * net->nclasses * sizeof *z);
    for (int i = 0; i < n; i++) ids[i] = (uint32_t)(first + i);
    dataset_batch(&d, ids, n, net->spec.mean, net->spec.std, x, labels);
    memcpy(z, net_forward(net, x, n, MODE_EVAL, 0), (size_t)n * net->nclasses * sizeof *z);
    free(ids), free(labels), free(x), free(d.labels);
    idx_images_free(&im);
    net_free(net);
    return z;
}

START_TEST(test_onnx_runtime)
{
    char *dir = make_temp_dir();
    char idx[4200], cmd[8192], ck[600], onnx[600];
    enum { FIRST = 5, N = 32 };
    test_images(dir, idx, sizeof idx, FIRST + N);
    for (int m = 0; m < 2; m++) {
        if (m == 1 && !have_cnn()) {
            printf("skipped: test_onnx_runtime for the conv net (models/cnn.cfg not in the tree)\n");
            continue;
        }
        snprintf(ck, sizeof ck, "%s/m%d.fmw", dir, m);
        snprintf(onnx, sizeof onnx, "%s/m%d.onnx", dir, m);
        save_model(MODELS[m], 21 + (uint64_t)m, ck);
        snprintf(cmd, sizeof cmd, "export --weights %s -o %s", ck, onnx);
        expect(cmd, 0, "wrote");
        snprintf(cmd, sizeof cmd, "node tools/onnx_check.js %s %s %d %d", onnx, idx, FIRST, N);
        int rc = run_shell(cmd, out, sizeof out);
        if (rc == 3 || rc == 127) {
            printf("skipped: test_onnx_runtime (onnxruntime-node not installed: npm install --prefix tools/onnxrt "
                   "--ignore-scripts onnxruntime-node)\n");
            break;
        }
        ck_assert_msg(rc == 0, "%s: exit %d\n%s", cmd, rc, out);
        float *z = fmnist_logits(ck, idx, FIRST, N);
        double worst = 0;
        int rows = 0;
        for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
            if (line[0] == '#') continue;
            char *p;
            long k = strtol(line, &p, 10);
            ck_assert_msg(*p == ':' && k == FIRST + rows, "unexpected line '%s'", line);
            p++;
            for (int c = 0; c < 10; c++) {
                double v = strtod(p, &p);
                double diff = fabs(v - z[rows * 10 + c]);
                if (diff > worst) worst = diff;
            }
            rows++;
        }
        ck_assert_int_eq(rows, N);
        ck_assert_msg(worst <= 1e-4, "%s: ONNX and fmnist logits differ by %g", MODELS[m], worst);
        printf("onnxruntime-node vs fmnist, %s, %d images: max |logit difference| %.3g\n", MODELS[m], N, worst);
        /* predict --logits prints the same numbers */
        snprintf(cmd, sizeof cmd, "predict --weights %s --idx %s --index %d --logits", ck, idx, FIRST + 3);
        expect(cmd, 0, "logits:");
        char *p = strstr(out, "logits:") + 7;
        for (int c = 0; c < 10; c++) ck_assert_float_eq((float)strtod(p, &p), z[3 * 10 + c]);
        free(z);
    }
    rm_tree(dir);
    free(dir);
}
END_TEST

/* "acc XX.XX%" of a command's output, into buf. */
static void acc_of(const char *text, char *buf, size_t len)
{
    const char *a = strstr(text, " acc ");
    ck_assert_msg(a != NULL, "no accuracy in:\n%s", text);
    snprintf(buf, len, "%.*s", (int)strcspn(a + 1, "%") + 1, a + 1);
}

START_TEST(test_pytorch_accuracy_equals_eval)
{
    if (!have_real_data()) {
        printf("skipped: test_pytorch_accuracy_equals_eval (Fashion-MNIST not installed)\n");
        return;
    }
    char *dir = make_temp_dir();
    char cmd[8192], mine[64], theirs[64];
    /* the MLP, on the whole test set: fmnist eval against the script */
    snprintf(cmd, sizeof cmd, "train --epochs 1 --train-limit 2000 --out %s/mlp --no-progress", dir);
    expect(cmd, 0, "epoch 1/1");
    snprintf(cmd, sizeof cmd, "export --weights %s/mlp/model.fmw -o %s/mlp.npz", dir, dir);
    expect(cmd, 0, "wrote");
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tools/torch_check.py %s/mlp.npz --model models/mlp.cfg", dir);
    int rc = run_shell(cmd, out, sizeof out);
    if (rc == 3 || rc == 127) {
        printf("skipped: test_pytorch_accuracy_equals_eval (no python3-torch for /usr/bin/python3)\n");
        rm_tree(dir);
        free(dir);
        return;
    }
    ck_assert_msg(rc == 0, "%s: exit %d\n%s", cmd, rc, out);
    acc_of(out, theirs, sizeof theirs);
    snprintf(cmd, sizeof cmd, "eval --weights %s/mlp/model.fmw", dir);
    expect(cmd, 0, "test loss");
    acc_of(out, mine, sizeof mine);
    ck_assert_msg(!strcmp(mine, theirs), "MLP: fmnist eval says %s, PyTorch %s", mine, theirs);
    printf("PyTorch vs fmnist eval, models/mlp.cfg, 10000 test images: %s both\n", mine);
    /* the conv net, on the first 1000 test images (PyTorch's CPU conv is slow) */
    if (!have_cnn()) {
        printf("skipped: test_pytorch_accuracy_equals_eval for the conv net (models/cnn.cfg not in the tree)\n");
    } else {
        enum { LIMIT = 1000 };
        /* trained here through the library, evaluating only the images compared (the CLI would
         * evaluate all 10000 after the epoch) */
        Err e;
        char ddir[4096], ck[700];
        ck_assert_int_eq(data_find_dir(NULL, getenv("FMNIST_DATA"), ddir, sizeof ddir, &e), ST_OK);
        Dataset train, test;
        ck_assert_int_eq(data_load(ddir, "train", 10, &train, &e), ST_OK);
        ck_assert_int_eq(data_load(ddir, "test", 10, &test, &e), ST_OK);
        dataset_truncate(&train, 500);
        dataset_truncate(&test, LIMIT);
        Net *net = model_net("models/cnn.cfg", 1, 50);
        TrainConfig tc = {.epochs = 1, .batch = 50, .seed = 1, .opt = optim_defaults()};
        ck_assert_int_eq(train_run(net, &train, &test, &tc, NULL, NULL, &e), ST_OK);
        snprintf(ck, sizeof ck, "%s/cnn.fmw", dir);
        ck_assert_int_eq(weights_save(ck, net, NULL, &e), ST_OK);
        snprintf(cmd, sizeof cmd, "export --weights %s -o %s/cnn.npz", ck, dir);
        expect(cmd, 0, "wrote");
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 tools/torch_check.py %s/cnn.npz --checkpoint %s --limit %d", dir,
                 ck, LIMIT);
        rc = run_shell(cmd, out, sizeof out);
        ck_assert_msg(rc == 0, "%s: exit %d\n%s", cmd, rc, out);
        acc_of(out, theirs, sizeof theirs);
        double loss, acc;
        ck_assert_int_eq(train_evaluate(net, &test, &loss, &acc, &e), ST_OK);
        snprintf(mine, sizeof mine, "acc %.2f%%", 100 * acc);
        ck_assert_msg(!strcmp(mine, theirs), "conv net: fmnist says %s, PyTorch %s", mine, theirs);
        printf("PyTorch vs fmnist, models/cnn.cfg, first %d test images: %s both\n", LIMIT, mine);
        dataset_free(&train);
        dataset_free(&test);
        net_free(net);
    }
    rm_tree(dir);
    free(dir);
}
END_TEST

/* ---- predict ---- */

/* A w x h picture of background bg with a filled rectangle of value fg. */
static uint8_t *picture(int w, int h, uint8_t bg, uint8_t fg, int x0, int y0, int rw, int rh)
{
    uint8_t *p = malloc((size_t)w * h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) p[y * w + x] = (x >= x0 && x < x0 + rw && y >= y0 && y < y0 + rh) ? fg : bg;
    return p;
}

START_TEST(test_image_to_mnist)
{
    uint8_t m[784];
    int x0, y0, x1, y1;
    /* a dark 40x20 object on a white 100x60 photo: inverted, 28x14, centered */
    uint8_t *p = picture(100, 60, 250, 10, 30, 25, 40, 20);
    ImageInfo info;
    image_to_mnist(p, 100, 60, m, 28, 28, &info);
    ck_assert(info.found && info.inverted && !info.as_is && info.background == 250 && info.contrast == 240);
    bbox28(m, &x0, &y0, &x1, &y1);
    ck_assert(x0 == 0 && x1 == 27 && y0 == 7 && y1 == 20);
    ck_assert_int_eq(m[14 * 28 + 14], 255);
    ck_assert_int_eq(m[0], 0);
    ck_assert_int_eq(m[27 * 28 + 27], 0);
    free(p);
    /* a light tall object on black is not inverted: 7x28 (aspect kept) */
    p = picture(50, 200, 0, 200, 20, 10, 10, 40);
    image_to_mnist(p, 50, 200, m, 28, 28, &info);
    ck_assert(info.found && !info.inverted && info.background == 0 && info.contrast == 200);
    bbox28(m, &x0, &y0, &x1, &y1);
    ck_assert(x0 == 10 && x1 == 16 && y0 == 0 && y1 == 27);
    ck_assert_int_eq(m[14 * 28 + 14], 255); /* levels stretched: 200 -> 255 */
    free(p);
    /* a tiny object is enlarged; a blank picture stays black */
    p = picture(7, 7, 0, 255, 3, 3, 1, 1);
    image_to_mnist(p, 7, 7, m, 28, 28, NULL);
    bbox28(m, &x0, &y0, &x1, &y1);
    ck_assert(x1 - x0 == 27 && y1 - y0 == 27);
    free(p);
    p = picture(30, 30, 128, 128, 0, 0, 0, 0);
    image_to_mnist(p, 30, 30, m, 28, 28, &info);
    ck_assert(!info.found && info.contrast == 0);
    for (int i = 0; i < 784; i++) ck_assert_int_eq(m[i], 0);
    free(p);
}
END_TEST

/* Minimal PNG writer (8-bit gray, one stored zlib stream) for the test. */
static void png_chunk(Buf *b, const char *type, const unsigned char *d, size_t n)
{
    unsigned char len[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8),
                            (unsigned char)n};
    buf_put(b, len, 4);
    uLong c = crc32(0L, (const Bytef *)type, 4);
    if (n) c = crc32(c, d, (uInt)n);
    buf_put(b, type, 4);
    buf_put(b, d, n);
    unsigned char cb[4] = {(unsigned char)(c >> 24), (unsigned char)(c >> 16), (unsigned char)(c >> 8),
                           (unsigned char)c};
    buf_put(b, cb, 4);
}

static void write_png(const char *path, const uint8_t *px, int w, int h)
{
    Buf b = {0};
    buf_put(&b, "\x89PNG\r\n\x1a\n", 8);
    unsigned char ihdr[13] = {0, 0, (unsigned char)(w >> 8), (unsigned char)w, 0, 0, (unsigned char)(h >> 8),
                              (unsigned char)h, 8, 0, 0, 0, 0};
    png_chunk(&b, "IHDR", ihdr, 13);
    size_t rawn = (size_t)h * (w + 1);
    unsigned char *raw = malloc(rawn);
    for (int y = 0; y < h; y++) {
        raw[y * (w + 1)] = 0; /* filter: none */
        memcpy(raw + y * (w + 1) + 1, px + y * w, (size_t)w);
    }
    uLongf zn = compressBound((uLong)rawn);
    unsigned char *z = malloc(zn);
    ck_assert_int_eq(compress(z, &zn, raw, (uLong)rawn), Z_OK);
    png_chunk(&b, "IDAT", z, zn);
    png_chunk(&b, "IEND", (const unsigned char *)"", 0);
    Err e;
    ck_assert_int_eq(file_write_atomic(path, b.data, b.len, &e), ST_OK);
    free(raw), free(z);
    buf_free(&b);
}

START_TEST(test_predict_cli)
{
    char *dir = make_temp_dir();
    char ck[600], pgm[600], png[600], junk[600], idx[600], args[8192];
    snprintf(ck, sizeof ck, "%s/m.fmw", dir);
    save_model("models/mlp.cfg", 8, ck);
    /* a PGM of a light trouser-like shape on black, a PNG of a dark shape on white */
    snprintf(pgm, sizeof pgm, "%s/a.pgm", dir);
    uint8_t *p = picture(40, 60, 0, 220, 12, 5, 16, 50);
    Buf b = {0};
    buf_printf(&b, "P5\n40 60\n255\n");
    buf_put(&b, p, 40 * 60);
    Err e;
    ck_assert_int_eq(file_write_atomic(pgm, b.data, b.len, &e), ST_OK);
    buf_free(&b);
    free(p);
    snprintf(png, sizeof png, "%s/b.png", dir);
    p = picture(64, 48, 240, 30, 10, 10, 44, 30);
    write_png(png, p, 64, 48);
    free(p);
    snprintf(args, sizeof args, "predict --weights %s %s %s --show", ck, pgm, png);
    expect(args, 0, "a.pgm: ");
    ck_assert_ptr_nonnull(strstr(out, "b.png: "));
    ck_assert_ptr_nonnull(strstr(out, "@@@@@@")); /* --show draws the input */
    /* each line: three distinct classes, probabilities descending, each a percentage */
    for (const char *line = strstr(out, "a.pgm: "); line; line = strstr(line + 1, "b.png: ")) {
        char c[3][32];
        double q[3];
        ck_assert_int_eq(sscanf(strchr(line, ' ') + 1, "%31[^0-9]%lf%%, %31[^0-9]%lf%%, %31[^0-9]%lf%%", c[0], &q[0],
                                c[1], &q[1], c[2], &q[2]),
                         6);
        ck_assert(q[0] >= q[1] && q[1] >= q[2] && q[2] >= 0 && q[0] + q[1] + q[2] <= 100.05);
        ck_assert(strcmp(c[0], c[1]) && strcmp(c[1], c[2]) && strcmp(c[0], c[2]));
    }
    /* Monte-Carlo dropout (train/mc.c): the mean of 5 passes, with its entropy */
    snprintf(args, sizeof args, "predict --weights %s %s --mc 5 --seed 2", ck, pgm);
    expect(args, 0, "(MC dropout, 5 passes: entropy ");
    /* IDX input, with the label file beside it */
    snprintf(idx, sizeof idx, "%s/x-images-idx3-ubyte", dir);
    unsigned char hdr[16] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 28, 0, 0, 0, 28};
    Buf im = {0};
    buf_put(&im, hdr, 16);
    for (int i = 0; i < 3 * 784; i++) buf_put(&im, &(unsigned char){(unsigned char)(i * 7)}, 1);
    ck_assert_int_eq(file_write_atomic(idx, im.data, im.len, &e), ST_OK);
    buf_free(&im);
    snprintf(junk, sizeof junk, "%s/x-labels-idx1-ubyte", dir);
    unsigned char lab[11] = {0, 0, 8, 1, 0, 0, 0, 3, 1, 9, 4};
    ck_assert_int_eq(file_write_atomic(junk, lab, sizeof lab, &e), ST_OK);
    snprintf(args, sizeof args, "predict --weights %s --idx %s --index 1 --count 2", ck, idx);
    expect(args, 0, "x-images-idx3-ubyte[1]: ");
    ck_assert_ptr_nonnull(strstr(out, "(true: Ankle boot)"));
    ck_assert_ptr_nonnull(strstr(out, "[2]: "));
    ck_assert_ptr_null(strstr(out, "[3]: "));
    /* errors; more images than the file holds from K: refused, nothing predicted (it
     * used to predict those there were and say nothing) */
    snprintf(args, sizeof args, "predict --weights %s --idx %s --index 1 --count 5", ck, idx);
    expect(args, 2, "--index 1 --count 5: ");
    ck_assert_ptr_nonnull(strstr(out, "holds 3 images (0 to 2), so from --index 1 --count can be at most 2"));
    ck_assert_ptr_null(strstr(out, "[1]: "));
    snprintf(args, sizeof args, "predict --weights %s --idx %s --index 2 --count 1000000", ck, idx);
    expect(args, 2, "from --index 2 --count can be at most 1");
    snprintf(args, sizeof args, "predict --weights %s --idx %s --index 3", ck, idx);
    expect(args, 2, "--index 3: ");
    snprintf(args, sizeof args, "predict --weights %s", ck);
    expect(args, 2, "give image files, or --idx FILE");
    snprintf(args, sizeof args, "predict --weights %s --index 2 %s", ck, pgm);
    expect(args, 2, "--index and --count go with --idx");
    expect("predict a.png", 2, "--weights FILE is required");
    snprintf(args, sizeof args, "predict --weights %s %s/missing.png %s", ck, dir, pgm);
    expect(args, 1, "missing.png: cannot open");
    ck_assert_ptr_nonnull(strstr(out, "a.pgm: ")); /* the others are still predicted */
    ck_assert_int_eq(file_write_atomic(junk, "not an image", 12, &e), ST_OK);
    snprintf(args, sizeof args, "predict --weights %s %s", ck, junk);
    expect(args, 1, "not a readable image");
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *export_suite(void)
{
    Suite *s = suite_create("export");
    TCase *fmt = tcase_create("format"), *rt = tcase_create("runtimes"), *pr = tcase_create("predict");
    tcase_add_test(fmt, test_npy_header_layout);
    tcase_add_test(fmt, test_npz_reads_back);
    tcase_add_test(fmt, test_onnx_structure);
    tcase_add_test(fmt, test_export_cli);
    tcase_add_test(rt, test_onnx_runtime);
    tcase_add_test(rt, test_pytorch_accuracy_equals_eval);
    tcase_set_timeout(rt, 180);
    tcase_add_test(pr, test_image_to_mnist);
    tcase_add_test(pr, test_predict_cli);
    suite_add_tcase(s, fmt);
    suite_add_tcase(s, rt);
    suite_add_tcase(s, pr);
    return s;
}
