/* test_safetensors.c - `fmnist export -o FILE.safetensors`.
 *
 * The bytes checked here (the 8-byte size, a header that starts with '{' and
 * is padded with spaces to an 8-aligned data start, each tensor's entry with
 * its state_dict name, dtype, shape and contiguous data_offsets, in the NPZ's
 * order, the values bit for bit, num_batches_tracked as I64 of shape []);
 * the header's JSON escapes read back by Python's json; then, with
 * /usr/bin/python3, the file read with json and numpy alone
 * (tools/torch_check.py --numpy-only) equals the NPZ export bit for bit, and
 * loaded into the torch model with load_state_dict it gives fmnist's logits
 * and test accuracy (the MLP, and the batchnorm conv net); the command's
 * flags and refusals. Skipped visibly without numpy/torch or the data. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "model/cfg.h"
#include "model/export.h"
#include "model/weights.h"
#include "testutil.h"
#include "util/fileio.h"

static char out[1 << 17];

static Net *model_net(const char *path, uint64_t seed)
{
    NetSpec c;
    Err e;
    ck_assert_msg(cfg_parse_file(path, &c, &e) == ST_OK, "%s", e.msg);
    Net *net;
    ck_assert_msg(net_build(&c, 4, &net, &e) == ST_OK, "%s", e.msg);
    net_init(net, seed);
    return net;
}

/* Checks the safetensors bytes f[0..len) against net's tensors. */
static void check_file(const unsigned char *f, size_t len, const Net *net)
{
    ck_assert(len >= 8);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | f[i];
    ck_assert(8 + n <= len);
    ck_assert_uint_eq((8 + n) % 8, 0); /* the data starts 8-aligned */
    char *h = malloc(n + 1);
    memcpy(h, f + 8, n);
    h[n] = 0;
    ck_assert_int_eq(h[0], '{');
    size_t end = n;
    while (end > 0 && h[end - 1] == ' ') end--; /* the padding: spaces only, after the closing brace */
    ck_assert_int_eq(h[end - 1], '}');
    ck_assert_uint_lt(n - end, 8);
    ck_assert_ptr_nonnull(strstr(h, "\"__metadata__\":{\"format\":\"pt\",\"fmnist.model\":\""));
    const unsigned char *data = f + 8 + n;
    size_t off = 0;
    const char *at = h;
    for (int k = 0; k < net->ntensors; k++) {
        const ParamInfo *pi = &net->tensors[k];
        int count = net_tensor_is_count(pi);
        size_t bytes = count ? 8 : 4 * pi->numel;
        char want[256];
        int w = snprintf(want, sizeof want, "\"%s\":{\"dtype\":\"%s\",\"shape\":[", pi->name, count ? "I64" : "F32");
        for (int d = 0; !count && d < pi->ndim; d++) w += snprintf(want + w, sizeof want - (size_t)w, "%s%d", d ? "," : "", pi->dims[d]);
        snprintf(want + w, sizeof want - (size_t)w, "],\"data_offsets\":[%zu,%zu]}", off, off + bytes);
        const char *p = strstr(h, want);
        ck_assert_msg(p != NULL, "no %s in the header:\n%s", want, h);
        ck_assert_msg(p > at, "%s is out of order", pi->name); /* the NPZ's order */
        at = p;
        if (count) {
            uint64_t v = 0;
            for (int i = 7; i >= 0; i--) v = v << 8 | data[off + (size_t)i];
            ck_assert_uint_eq(v, (uint64_t)net->params[pi->offset]);
        } else {
            ck_assert_int_eq(memcmp(data + off, net->params + pi->offset, bytes), 0); /* little-endian host */
        }
        off += bytes;
    }
    ck_assert_uint_eq(8 + n + off, len); /* contiguous, nothing after */
    free(h);
}

START_TEST(test_safetensors_layout)
{
    const char *models[2] = {"models/mlp.cfg", "models/cnn-bn.cfg"};
    int counts = 0;
    for (int m = 0; m < 2; m++) {
        if (!file_exists(models[m])) {
            printf("skipped: test_safetensors_layout for %s (not in the tree)\n", models[m]);
            continue;
        }
        Net *net = model_net(models[m], 3 + (uint64_t)m);
        for (int k = 0; k < net->ntensors; k++)
            if (net_tensor_is_count(&net->tensors[k])) net->params[net->tensors[k].offset] = 1234567, counts++;
        Buf b = {0};
        Err e;
        ck_assert_int_eq(export_safetensors_buf(net, &b, &e), ST_OK);
        check_file((const unsigned char *)b.data, b.len, net);
        /* the same bytes every time */
        Buf again = {0};
        ck_assert_int_eq(export_safetensors_buf(net, &again, &e), ST_OK);
        ck_assert_uint_eq(again.len, b.len);
        ck_assert_int_eq(memcmp(again.data, b.data, b.len), 0);
        buf_free(&again);
        buf_free(&b);
        net_free(net);
    }
    if (file_exists(models[1])) ck_assert_int_gt(counts, 0); /* batchnorm's num_batches_tracked was among them */
}
END_TEST

/* The model text in __metadata__: quotes, backslashes, tabs, UTF-8 kept, a
 * byte that is not UTF-8 replaced; Python's json reads it back. */
START_TEST(test_safetensors_metadata_escapes)
{
    char *dir = make_temp_dir();
    char path[1024], cmd[4096];
    const char *text = "input 1x28x28 mean=0.25 std=0.5  # \"q\" \\ a\ttab, \xc3\xa9, \xff\x01 end\nflatten\ndense 10\n";
    snprintf(path, sizeof path, "%s/m.cfg", dir);
    Err e;
    ck_assert_int_eq(file_write_atomic(path, text, strlen(text), &e), ST_OK);
    Net *net = model_net(path, 1);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    ck_assert_int_eq(export_safetensors(net, path, &e), ST_OK);
    size_t len;
    char *f = read_all_or_fail(path, &len);
    check_file((const unsigned char *)f, len, net);
    free(f);
    net_free(net);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import json,sys; d=open('%s','rb').read(); n=int.from_bytes(d[:8],'little'); "
             "m=json.loads(d[8:8+n].decode('utf-8'))['__metadata__']; sys.stdout.buffer.write(ascii(m).encode())\"",
             path);
    int rc = run_shell(cmd, out, sizeof out);
    if (rc == 127) {
        printf("skipped: test_safetensors_metadata_escapes (no /usr/bin/python3)\n");
    } else {
        ck_assert_msg(rc == 0, "%s: exit %d\n%s", cmd, rc, out);
        ck_assert_str_eq(out, "{'format': 'pt', 'fmnist.model': 'input 1x28x28 mean=0.25 std=0.5  # \"q\" \\\\ "
                              "a\\ttab, \\xe9, \\ufffd\\x01 end\\nflatten\\ndense 10\\n', 'fmnist.mean': '0.25', "
                              "'fmnist.std': '0.5'}");
    }
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(test_safetensors_cli)
{
    char *dir = make_temp_dir();
    char cmd[4096], ck[700], path[800];
    ck_assert_int_eq(write_synthetic_idx(dir, "train", 100, 1), 0);
    ck_assert_int_eq(write_synthetic_idx(dir, "t10k", 50, 2), 0);
    snprintf(cmd, sizeof cmd, "train --data %s --epochs 1 --batch 50 --out %s/run --no-progress --no-tensorboard", dir,
             dir);
    expect_fmnist(cmd, 0, "epoch 1/1", out, sizeof out);
    snprintf(ck, sizeof ck, "%s/run/model.fmw", dir);
    snprintf(cmd, sizeof cmd, "export --weights %s -o %s/m.safetensors", ck, dir);
    expect_fmnist(cmd, 0, "(safetensors, 6 tensors", out, sizeof out);
    snprintf(cmd, sizeof cmd, "export --weights %s --format safetensors -o %s/m.bin", ck, dir);
    expect_fmnist(cmd, 0, "safetensors", out, sizeof out);
    Net *net;
    Err e;
    ck_assert_int_eq(weights_load(ck, 1, &net, NULL, &e), ST_OK);
    const char *names[2] = {"m.safetensors", "m.bin"};
    for (int i = 0; i < 2; i++) {
        size_t len;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        char *f = read_all_or_fail(path, &len);
        check_file((const unsigned char *)f, len, net);
        free(f);
    }
    net_free(net);
    expect_fmnist("export --help", 0, "safetensors.torch.load_file", out, sizeof out);
    /* the output never replaces the input */
    snprintf(cmd, sizeof cmd, "export --weights %s --format safetensors -o %s", ck, ck);
    expect_fmnist(cmd, 2, "an output never replaces an input", out, sizeof out);
    ck_assert_int_eq(weights_load(ck, 1, &net, NULL, &e), ST_OK); /* still the checkpoint */
    net_free(net);
    snprintf(cmd, sizeof cmd, "export --weights %s --format safetensor -o %s/x.safetensors", ck, dir);
    expect_fmnist(cmd, 2, "expected npz, safetensors or onnx, got 'safetensor'", out, sizeof out);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* The first n test images' logits from fmnist's own forward pass. */
static float *fmnist_logits(const char *ckpt, int n)
{
    Net *net;
    Err e;
    ck_assert_int_eq(weights_load(ckpt, n, &net, NULL, &e), ST_OK);
    char ddir[4096];
    ck_assert_int_eq(data_find_dir(NULL, getenv("FMNIST_DATA"), ddir, sizeof ddir, &e), ST_OK);
    Dataset test;
    ck_assert_int_eq(data_load(ddir, "test", 10, &test, &e), ST_OK);
    uint32_t *ids = malloc((size_t)n * sizeof *ids);
    int *labels = malloc((size_t)n * sizeof *labels);
    float *x = malloc((size_t)n * 784 * sizeof *x), *z = malloc((size_t)n * net->nclasses * sizeof *z);
    for (int i = 0; i < n; i++) ids[i] = (uint32_t)i;
    dataset_batch(&test, ids, n, net->spec.mean, net->spec.std, x, labels);
    memcpy(z, net_forward(net, x, n, MODE_EVAL, 0), (size_t)n * net->nclasses * sizeof *z);
    free(ids), free(labels), free(x);
    dataset_free(&test);
    net_free(net);
    return z;
}

/* torch_check.py --logits N's lines against fmnist's logits: the largest
 * difference. */
static double logits_diff(char *text, const float *z, int n)
{
    double worst = 0;
    int rows = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *p;
        long k = strtol(line, &p, 10);
        if (*p != ':') continue; /* the other lines */
        ck_assert_int_eq(k, rows);
        p++;
        for (int c = 0; c < 10; c++) {
            double d = fabs(strtod(p, &p) - z[rows * 10 + c]);
            worst = d > worst ? d : worst;
        }
        rows++;
    }
    ck_assert_int_eq(rows, n);
    return worst;
}

START_TEST(test_safetensors_numpy_and_torch)
{
    if (!have_real_data()) {
        printf("skipped: test_safetensors_numpy_and_torch (Fashion-MNIST not installed)\n");
        return;
    }
    char *dir = make_temp_dir();
    char cmd[8192], mine[64], theirs[64];
    enum { N = 16 };
    const char *models[2] = {"models/mlp.cfg", "models/cnn-bn.cfg"};
    for (int m = 0; m < 2; m++) {
        if (!file_exists(models[m])) {
            printf("skipped: test_safetensors_numpy_and_torch for %s (not in the tree)\n", models[m]);
            continue;
        }
        snprintf(cmd, sizeof cmd,
                 "train --model %s --epochs 1 --train-limit 400 --batch 50 --out %s/r%d --no-progress "
                 "--no-tensorboard",
                 models[m], dir, m);
        expect_fmnist(cmd, 0, "epoch 1/1", out, sizeof out);
        snprintf(cmd, sizeof cmd, "export --weights %s/r%d/model.fmw -o %s/m%d.safetensors", dir, m, dir, m);
        expect_fmnist(cmd, 0, "wrote", out, sizeof out);
        snprintf(cmd, sizeof cmd, "export --weights %s/r%d/model.fmw -o %s/m%d.npz", dir, m, dir, m);
        expect_fmnist(cmd, 0, "wrote", out, sizeof out);
        /* numpy alone: the same arrays as the NPZ, bit for bit */
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 tools/torch_check.py %s/m%d.safetensors --numpy-only --same-as %s/m%d.npz",
                 dir, m, dir, m);
        int rc = run_shell(cmd, out, sizeof out);
        if (rc == 3 || rc == 127) {
            printf("skipped: test_safetensors_numpy_and_torch (no python3-numpy for /usr/bin/python3)\n");
            break;
        }
        ck_assert_msg(rc == 0 && strstr(out, "bit for bit"), "%s: exit %d\n%s", cmd, rc, out);
        /* torch: load_state_dict, then fmnist's logits */
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 tools/torch_check.py %s/m%d.safetensors --checkpoint %s/r%d/model.fmw --logits %d "
                 "--limit %d",
                 dir, m, dir, m, N, m ? 1000 : 0);
        rc = run_shell(cmd, out, sizeof out);
        if (rc == 3) {
            printf("skipped: test_safetensors_numpy_and_torch's PyTorch part (no python3-torch)\n");
            break;
        }
        ck_assert_msg(rc == 0, "%s: exit %d\n%s", cmd, rc, out);
        char *acc = strstr(out, " acc ");
        ck_assert_ptr_nonnull(acc);
        snprintf(theirs, sizeof theirs, "%.*s", (int)strcspn(acc + 1, "%") + 1, acc + 1);
        snprintf(cmd, sizeof cmd, "%s/r%d/model.fmw", dir, m);
        float *z = fmnist_logits(cmd, N);
        double worst = logits_diff(out, z, N);
        free(z);
        ck_assert_msg(worst <= 1e-4, "%s: PyTorch and fmnist logits differ by %g", models[m], worst);
        printf("safetensors in PyTorch vs fmnist, %s, %d images: max |logit difference| %.3g\n", models[m], N, worst);
        if (m == 0) { /* the MLP on the whole test set: the accuracy eval prints */
            snprintf(cmd, sizeof cmd, "eval --weights %s/r0/model.fmw", dir);
            expect_fmnist(cmd, 0, "test loss", out, sizeof out);
            acc = strstr(out, " acc ");
            ck_assert_ptr_nonnull(acc);
            snprintf(mine, sizeof mine, "%.*s", (int)strcspn(acc + 1, "%") + 1, acc + 1);
            ck_assert_msg(!strcmp(mine, theirs), "fmnist eval says %s, PyTorch %s", mine, theirs);
        }
    }
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *safetensors_suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *fmt = tcase_create("format"), *rt = tcase_create("runtimes");
    tcase_add_test(fmt, test_safetensors_layout);
    tcase_add_test(fmt, test_safetensors_metadata_escapes);
    tcase_add_test(fmt, test_safetensors_cli);
    tcase_add_test(rt, test_safetensors_numpy_and_torch);
    tcase_set_timeout(fmt, 120);
    tcase_set_timeout(rt, 600);
    suite_add_tcase(s, fmt);
    suite_add_tcase(s, rt);
    return s;
}
