/* test_malformed.c - what a run costs in memory, and malformed content that
 * slipped through (issue 12, items 7 and 9).
 *
 * Memory: the estimate the run header prints ("memory: estimated X MiB")
 * against the peak resident size of the real binary (wait4's ru_maxrss) on
 * the presets and a wide dense model; a run that cannot fit is refused
 * before its output folder exists. Content: data after the end of a gzip
 * member, truncated pictures (PGM, PPM, GIF, BMP, TGA), a checkpoint whose
 * log disagrees with its progress, a checkpoint whose image counts overflow,
 * and charts of logs with values near the largest double (run under SAN=1,
 * UBSan checks the drawing arithmetic). */
#define _DEFAULT_SOURCE /* wait4 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <stb_image_write.h>

#include "data/idx.h"
#include "model/cfg.h"
#include "model/image.h"
#include "model/weights.h"
#include "report/curve.h"
#include "report/plot.h"
#include "testutil.h"
#include "train/resume.h"
#include "util/fileio.h"

static char out[1 << 16];

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#else
#define UNDER_ASAN 0
#endif
#ifdef _OPENMP /* the binary is built like this test: a serial one runs one thread whatever --threads says */
#define THREADED 1
#else
#define THREADED 0
#endif

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

/* ---- item 7: the memory estimate ------------------------------------------ */

/* Runs the binary with argv (NULL-terminated, argv[0] not included),
 * stdout and stderr into out; returns the exit status and the child's peak
 * resident size in MiB. OpenMP threads wait passively: the machine may have
 * fewer cores than the run has threads. */
static int run_measured(const char *const *args, double *peak_mib)
{
    const char *bin = getenv("FMNIST_BIN");
    if (!bin || !*bin) bin = "./fmnist";
    char path[] = "/tmp/fmnist-malformed-out-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *argv[40] = {bin};
    int n = 1;
    for (; args[n - 1] && n < 39; n++) argv[n] = args[n - 1];
    argv[n] = NULL;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int status;
    struct rusage ru;
    ck_assert_int_eq(wait4(pid, &status, 0, &ru), pid);
    *peak_mib = (double)ru.ru_maxrss / 1024.0;
    ssize_t got = pread(fd, out, sizeof out - 1, 0);
    out[got > 0 ? got : 0] = 0;
    close(fd);
    unlink(path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Trains one epoch with args and compares the estimate the header prints
 * with the measured peak: never more than 1.3x under it, and, if tight, not
 * more than 1.3x over. */
static void check_estimate(const char *what, const char *const *args, int tight)
{
    double peak;
    int rc = run_measured(args, &peak);
    ck_assert_msg(rc == 0, "%s: exit %d:\n%s", what, rc, out);
    const char *m = strstr(out, "memory: estimated ");
    ck_assert_msg(m != NULL, "%s: no memory line:\n%s", what, out);
    double est = strtod(m + strlen("memory: estimated "), NULL);
    fprintf(stderr, "malformed: %-34s estimated %7.1f MiB, peak %7.1f MiB (%.2fx)\n", what, est, peak, est / peak);
    ck_assert_msg(peak <= 1.3 * est, "%s: the peak %.1f MiB is more than 1.3x the estimate %.1f MiB", what, peak, est);
    if (tight)
        ck_assert_msg(est <= 1.3 * peak, "%s: the estimate %.1f MiB is more than 1.3x the peak %.1f MiB", what, est,
                      peak);
}

START_TEST(memory_estimate_against_peak)
{
    if (UNDER_ASAN) { /* ASan's shadow and quarantine are no part of a run's memory */
        fprintf(stderr, "malformed: memory estimate against the peak: skipped under ASan\n");
        return;
    }
    char *dir = make_temp_dir(), run[600], cfg[600];
    ck_assert_int_eq(write_synthetic_idx(dir, "train", 256, 3), 0);
    ck_assert_int_eq(write_synthetic_idx(dir, "t10k", 128, 4), 0);
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(cfg, sizeof cfg, "%s/wide.cfg", dir);
    const char *wide = "input 1x28x28\nflatten\ndense 8192\nrelu\ndropout 0.5\ndense 10\n";
    write_bytes(cfg, wide, strlen(wide));
    const char *common[] = {"train", "--epochs", "1", "--no-progress", "--overwrite", "--out", run};
#define ARGS(...) ((const char *const[]){common[0], common[1], common[2], common[3], common[4], common[5], common[6], \
                                         __VA_ARGS__, NULL})
    /* the real data set, all of it in memory although --train-limit uses 256 images */
    if (have_real_data())
        check_estimate("mlp, Fashion-MNIST, --train-limit 256",
                       ARGS("--model", "models/mlp.cfg", "--train-limit", "256", "--threads", "1"), 1);
    else
        fprintf(stderr, "malformed: no Fashion-MNIST here: the mlp case runs on synthetic data\n");
    check_estimate("mlp, synthetic data", ARGS("--model", "models/mlp.cfg", "--data", dir, "--threads", "1"), 1);
    /* parameters dominate: 6.5 M of them, Adam, SGD with and without momentum, early stopping */
    check_estimate("dense 8192, adam", ARGS("--model", cfg, "--data", dir, "--threads", "2"), 1);
    check_estimate("dense 8192, sgd momentum, early stop",
                   ARGS("--model", cfg, "--data", dir, "--optim", "sgd", "--momentum", "0.9", "--val", "64",
                        "--early-stop", "2", "--threads", "2"),
                   1);
    check_estimate("dense 8192, sgd", ARGS("--model", cfg, "--data", dir, "--optim", "sgd", "--threads", "2"), 1);
    check_estimate("dense 8192, sgd, --ema",
                   ARGS("--model", cfg, "--data", dir, "--optim", "sgd", "--ema", "0.99", "--threads", "2"), 1);
    /* convolutions: their scratch has a slot per sample, of which a run
     * uses one per thread; with a thread per sample the estimate is tight,
     * with fewer threads the peak is lower, never higher */
    check_estimate("cnn, batch 8, 8 threads",
                   ARGS("--model", "models/cnn.cfg", "--data", dir, "--batch", "8", "--threads", "8"), THREADED);
    check_estimate("cnn-bn, batch 8, 8 threads",
                   ARGS("--model", "models/cnn-bn.cfg", "--data", dir, "--batch", "8", "--threads", "8"), THREADED);
    check_estimate("cnn, batch 128, 2 threads", ARGS("--model", "models/cnn.cfg", "--data", dir, "--threads", "2"), 0);
    check_estimate("cnn-bn, batch 128, 2 threads",
                   ARGS("--model", "models/cnn-bn.cfg", "--data", dir, "--threads", "2"), 0);
    /* a resumed run holds the saved moments beside its own */
    char ckpt[700];
    snprintf(ckpt, sizeof ckpt, "%s/model.fmw", run);
    double peak;
    ck_assert_int_eq(run_measured(ARGS("--model", cfg, "--data", dir, "--threads", "2"), &peak), 0);
    snprintf(cfg, sizeof cfg, "%s/run2", dir);
    check_estimate("dense 8192, resumed",
                   (const char *const[]){"train", "--resume", ckpt, "--epochs", "2", "--data", dir, "--out", cfg,
                                         "--no-progress", "--threads", "2", NULL},
                   1);
#undef ARGS
    rm_tree(dir);
    free(dir);
}
END_TEST

/* A run whose estimate is above the machine's memory is refused before its
 * output folder exists, with the estimate and the limit; the net alone fits
 * (net_plan passes it), the optimizer and the checkpoint do not. */
#define HUGE_CFG "input 1x28x28\nflatten\ndense %zu\nrelu\ndense %zu\nrelu\ndense 10\n"
START_TEST(memory_refused_before_the_folder)
{
    const char *what;
    size_t lim = net_memory_limit(&what), units = 0, bytes = 0, np = 0;
    Err e;
    /* the widest net that takes at most half the limit: with Adam's moments
     * and the checkpoint (five more copies of the parameters) it needs more */
    for (size_t step = 16384; step; step /= 2) {
        char text[200];
        size_t u = units + step, b, n;
        snprintf(text, sizeof text, HUGE_CFG, u, u);
        NetSpec c;
        ck_assert_int_eq(cfg_parse_text("w.cfg", text, &c, &e), ST_OK);
        if (net_plan(&c, 128, &n, &b, &e) == ST_OK && b <= lim / 2) units = u, bytes = b, np = n;
        netspec_free(&c);
    }
    if (bytes + 5 * 4 * np < lim / 10 * 11) {
        fprintf(stderr, "malformed: memory refusal: skipped, no model within the limits needs more than %s (%.1f GiB)\n",
                what, (double)lim / (1u << 30));
        return;
    }
    char *dir = make_temp_dir(), cfg[600], args[2000], outdir[600];
    ck_assert_int_eq(write_synthetic_idx(dir, "train", 64, 3), 0);
    ck_assert_int_eq(write_synthetic_idx(dir, "t10k", 32, 4), 0);
    snprintf(cfg, sizeof cfg, "%s/huge.cfg", dir);
    char text[200];
    snprintf(text, sizeof text, HUGE_CFG, units, units);
    write_bytes(cfg, text, strlen(text));
    snprintf(outdir, sizeof outdir, "%s/out/run", dir);
    snprintf(args, sizeof args, "train --model %s --data %s --out %s --epochs 1 --no-progress", cfg, dir, outdir);
    expect_fmnist(args, 1, "this run needs an estimated ", out, sizeof out);
    ck_assert_msg(strstr(out, "huge.cfg: ") && strstr(out, "GiB of memory (network ") && strstr(out, ", more than ") &&
                      strstr(out, what),
                  "%s", out);
    struct stat sb;
    snprintf(outdir, sizeof outdir, "%s/out", dir);
    ck_assert_msg(stat(outdir, &sb) != 0 && errno == ENOENT, "%s was created", outdir);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* ---- item 9a: data after a gzip member -------------------------------------- */

/* gzip of n bytes as one member, into z (cap bytes); returns its length. */
static size_t gzip_bytes(const void *p, size_t n, unsigned char *z, size_t cap)
{
    z_stream s = {0};
    ck_assert_int_eq(deflateInit2(&s, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    s.next_in = (unsigned char *)p;
    s.avail_in = (uInt)n;
    s.next_out = z;
    s.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&s, Z_FINISH), Z_STREAM_END);
    size_t len = cap - s.avail_out;
    deflateEnd(&s);
    return len;
}

START_TEST(gzip_trailing_data)
{
    char *dir = make_temp_dir(), path[600];
    snprintf(path, sizeof path, "%s/img.gz", dir);
    /* 3 images of 5x4 */
    unsigned char raw[16 + 60], z[4096];
    const unsigned char hdr[16] = {0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 5, 0, 0, 0, 4};
    memcpy(raw, hdr, 16);
    for (int i = 0; i < 60; i++) raw[16 + i] = (unsigned char)(i * 7);
    IdxImages im;
    Err e;

    /* one member, then: garbage, zeros, half a gzip magic */
    static const struct {
        const char *tail;
        size_t len;
    } tails[] = {{"hello, world", 12}, {"\0\0\0\0\0\0\0\0", 8}, {"\x1f", 1}, {"\x1f\x8b", 2}};
    for (size_t k = 0; k < sizeof tails / sizeof tails[0]; k++) {
        size_t zl = gzip_bytes(raw, sizeof raw, z, sizeof z);
        memcpy(z + zl, tails[k].tail, tails[k].len);
        write_bytes(path, z, zl + tails[k].len);
        ck_assert_msg(idx_read_images(path, &im, &e) == ST_ERR_FORMAT, "tail %zu accepted", k);
        ck_assert_msg(strstr(e.msg, path) != NULL, "%s", e.msg);
        if (k < 3)
            ck_assert_msg(strstr(e.msg, "trailing data: ") && strstr(e.msg, " bytes after the end of the gzip stream"),
                          "tail %zu: %s", k, e.msg);
        ck_assert_ptr_null(im.pixels);
    }
    /* the same for labels */
    const unsigned char lraw[8 + 3] = {0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3};
    size_t zl = gzip_bytes(lraw, sizeof lraw, z, sizeof z);
    memcpy(z + zl, "junk", 4);
    write_bytes(path, z, zl + 4);
    IdxLabels lb;
    ck_assert_int_eq(idx_read_labels(path, &lb, &e), ST_ERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "4 bytes after the end of the gzip stream"), "%s", e.msg);

    /* concatenated members are gzip: the file is their data, exactly */
    zl = gzip_bytes(raw, 30, z, sizeof z);
    zl += gzip_bytes(raw + 30, sizeof raw - 30, z + zl, sizeof z - zl);
    write_bytes(path, z, zl);
    ck_assert_msg(idx_read_images(path, &im, &e) == ST_OK, "%s", e.msg);
    ck_assert_int_eq(memcmp(im.pixels, raw + 16, 60), 0);
    idx_images_free(&im);
    /* ... with a member more than the header announces */
    size_t zl2 = zl + gzip_bytes("xy", 2, z + zl, sizeof z - zl);
    write_bytes(path, z, zl2);
    ck_assert_int_eq(idx_read_images(path, &im, &e), ST_ERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "trailing bytes after the 60 bytes of pixels"), "%s", e.msg);
    /* ... an empty member at the end is no data */
    zl2 = zl + gzip_bytes("", 0, z + zl, sizeof z - zl);
    write_bytes(path, z, zl2);
    ck_assert_msg(idx_read_images(path, &im, &e) == ST_OK, "%s", e.msg);
    idx_images_free(&im);
    /* ... and garbage after the last */
    memcpy(z + zl, "!!!", 3);
    write_bytes(path, z, zl + 3);
    ck_assert_int_eq(idx_read_images(path, &im, &e), ST_ERR_FORMAT);
    ck_assert_msg(strstr(e.msg, "trailing data: 3 bytes after the end of the gzip stream"), "%s", e.msg);

    /* through train: the file is named, exit 1 */
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", dir);
    ck_assert_int_eq(write_synthetic_idx(dir, "train", 20, 3), 0);
    ck_assert_int_eq(write_synthetic_idx(dir, "t10k", 10, 4), 0);
    size_t len;
    char *d = read_all_or_fail(path, &len);
    unsigned char *big = malloc(len + 64);
    size_t bl = gzip_bytes(d, len, big, len + 64);
    memcpy(big + bl, "trailing", 8);
    unlink(path);
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
    write_bytes(path, big, bl + 8);
    char args[1400];
    snprintf(args, sizeof args, "train --data %s --out %s/run --epochs 1 --no-progress", dir, dir);
    expect_fmnist(args, 1, "train-images-idx3-ubyte.gz: trailing data: 8 bytes after the end of the gzip stream", out,
                  sizeof out);
    free(big);
    free(d);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* ---- item 9b: truncated pictures ------------------------------------------ */

static unsigned char *pic;
static size_t pic_len, pic_cap;

static void pic_put(void *ctx, void *data, int n)
{
    (void)ctx;
    if (pic_len + (size_t)n > pic_cap) {
        pic_cap = (pic_len + (size_t)n) * 2;
        pic = realloc(pic, pic_cap);
    }
    memcpy(pic + pic_len, data, (size_t)n);
    pic_len += (size_t)n;
}

/* A GIF of w x h gray pixels, its LZW codes 9 bits wide and uncompressed (a
 * clear code every 100 pixels keeps the width). */
static void gif_put(int w, int h, const unsigned char *px)
{
    unsigned char head[13] = {'G', 'I', 'F', '8', '9', 'a', (unsigned char)w, (unsigned char)(w >> 8),
                              (unsigned char)h, (unsigned char)(h >> 8), 0xf7, 0, 0};
    pic_put(NULL, head, 13);
    for (int i = 0; i < 256; i++) {
        unsigned char rgb[3] = {(unsigned char)i, (unsigned char)i, (unsigned char)i};
        pic_put(NULL, rgb, 3);
    }
    unsigned char desc[11] = {0x2c, 0, 0, 0, 0, (unsigned char)w, (unsigned char)(w >> 8), (unsigned char)h,
                              (unsigned char)(h >> 8), 0, 8};
    pic_put(NULL, desc, 11);
    size_t ncodes = (size_t)w * h + (size_t)w * h / 100 + 3;
    unsigned char *bits = calloc(ncodes * 9 / 8 + 2, 1);
    size_t at = 0, nb = 0;
    for (size_t i = 0; i <= (size_t)w * h + 1; i++) {
        unsigned code;
        if (i == (size_t)w * h + 1) code = 257; /* end of information */
        else if (i == (size_t)w * h) continue;
        else code = px[i];
        if (i % 100 == 0 && i < (size_t)w * h) { /* clear, then the pixel */
            for (int b = 0; b < 9; b++, at++) bits[at / 8] |= (unsigned char)(((256u >> b) & 1) << (at % 8));
        }
        for (int b = 0; b < 9; b++, at++) bits[at / 8] |= (unsigned char)(((code >> b) & 1) << (at % 8));
    }
    nb = (at + 7) / 8;
    for (size_t o = 0; o < nb; o += 255) {
        unsigned char k = (unsigned char)(nb - o < 255 ? nb - o : 255);
        pic_put(NULL, &k, 1);
        pic_put(NULL, bits + o, k);
    }
    unsigned char end[2] = {0, 0x3b}; /* block terminator, trailer */
    pic_put(NULL, end, 2);
    free(bits);
}

START_TEST(truncated_pictures)
{
    char *dir = make_temp_dir(), path[600];
    snprintf(path, sizeof path, "%s/pic", dir);
    enum { W = 40, H = 30 };
    unsigned char px[W * H * 3];
    for (int i = 0; i < W * H * 3; i++) px[i] = (unsigned char)(i % W < 10 ? 20 : 200 + i % 7);
    const char *names[] = {"pgm", "ppm", "gif", "bmp", "tga", "tga-rle", "png", "jpeg"};
    for (int f = 0; f < 8; f++) {
        pic_len = 0;
        char hdr[64];
        switch (f) {
        case 0:
        case 1:
            pic_put(NULL, hdr, snprintf(hdr, sizeof hdr, "P%c\n# fmnist\n%d %d\n255\n", f ? '6' : '5', W, H));
            pic_put(NULL, px, W * H * (f ? 3 : 1));
            break;
        case 2: gif_put(W, H, px); break;
        case 3: stbi_write_bmp_to_func(pic_put, NULL, W, H, 3, px); break;
        case 4:
        case 5:
            stbi_write_tga_with_rle = f == 5;
            stbi_write_tga_to_func(pic_put, NULL, W, H, 1, px);
            break;
        case 6: stbi_write_png_to_func(pic_put, NULL, W, H, 1, px, W); break;
        default: stbi_write_jpg_to_func(pic_put, NULL, W, H, 1, px, 90); break;
        }
        GrayImage img;
        Err e;
        write_bytes(path, pic, pic_len);
        ck_assert_msg(image_load_gray(path, &img, &e) == ST_OK, "%s whole: %s", names[f], e.msg);
        ck_assert_int_eq(img.w, W);
        ck_assert_int_eq(img.h, H);
        image_free(&img);
        /* cut anywhere (a BMP may lose its last row's padding: the pixels are all there) */
        size_t keep = f == 3 ? pic_len - 3 : pic_len, step = keep > 600 ? 7 : 1;
        for (size_t cut = 1; cut < keep; cut += step) {
            write_bytes(path, pic, cut);
            ck_assert_msg(image_load_gray(path, &img, &e) == ST_ERR_FORMAT, "%s cut to %zu of %zu bytes: accepted",
                          names[f], cut, pic_len);
            ck_assert_msg(strstr(e.msg, path) != NULL, "%s", e.msg);
            ck_assert_ptr_null(img.px);
        }
        /* the end of the data, just before it: the missing pixels are named */
        write_bytes(path, pic, keep - 1);
        ck_assert_int_eq(image_load_gray(path, &img, &e), ST_ERR_FORMAT);
        if (f < 6)
            ck_assert_msg(strstr(e.msg, f == 2 ? ": truncated: the GIF ends without its trailer (0x3B)"
                                               : ": truncated: the picture's data ends before its 40x30 pixels do"),
                          "%s: %s", names[f], e.msg);
    }
    stbi_write_tga_with_rle = 1;
    free(pic);
    pic = NULL;
    pic_cap = pic_len = 0;

    /* through predict: the file is named, exit 1 */
    snprintf(path, sizeof path, "%s/m.fmw", dir);
    NetSpec c;
    Net *net;
    Err e;
    ck_assert_int_eq(cfg_parse_text("m.cfg", "input 1x28x28\nflatten\ndense 10\n", &c, &e), ST_OK);
    ck_assert_int_eq(net_build(&c, 1, &net, &e), ST_OK);
    net_init(net, 1);
    ck_assert_int_eq(weights_save(path, net, NULL, &e), ST_OK);
    net_free(net);
    char pgm[700], args[2000];
    snprintf(pgm, sizeof pgm, "%s/shirt.pgm", dir);
    char body[64 + 28 * 28];
    int hl = snprintf(body, 64, "P5 28 28 255\n");
    memset(body + hl, 200, 28 * 28);
    for (int y = 4; y < 24; y++) memset(body + hl + y * 28 + 6, 40, 16); /* a dark shirt on light gray */
    write_bytes(pgm, body, (size_t)hl + 28 * 14); /* half of it */
    snprintf(args, sizeof args, "predict --weights %s %s", path, pgm);
    expect_fmnist(args, 1, "shirt.pgm: truncated: the picture's data ends before its 28x28 pixels do", out, sizeof out);
    write_bytes(pgm, body, (size_t)hl + 28 * 28);
    expect_fmnist(args, 0, "shirt.pgm", out, sizeof out);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* ---- items 9c, 9d: checkpoints that lie ------------------------------------ */

#define LOG_HEADER "epoch,train_loss,train_acc,test_loss,test_acc,seconds,weight_norm\n"
#define LOG_ROW1 "1,2.100000,0.300000,2.000000,0.350000,0.100,1.000000\n"
#define LOG_ROW2 "2,1.900000,0.400000,1.800000,0.450000,0.100,1.100000\n"

/* A resumable checkpoint of a small net at path: epoch, train_n, log and
 * more settings lines as given (with val=N, a validation record, none yet). */
static void save_ckpt(const char *path, int epoch, int train_n, const char *log, const char *reg)
{
    NetSpec c;
    Net *net;
    Err e;
    ck_assert_int_eq(cfg_parse_text("m.cfg", "input 1x28x28\nflatten\ndense 10\n", &c, &e), ST_OK);
    ck_assert_int_eq(net_build(&c, 64, &net, &e), ST_OK);
    net_init(net, 1);
    char settings[512];
    snprintf(settings, sizeof settings, "model=m.cfg\nepochs=4\nbatch=64\nseed=1\ntrain_n=%d\noptim=adam\nlr=0.001\n%s",
             train_n, reg);
    CkptState st = {.settings = settings, .log = (char *)log, .has_progress = 1, .epoch = epoch, .step = 4,
                    .has_optim = 1, .has_val = strstr(reg, "val=") != NULL, .val_best = INFINITY};
    OptConfig oc = optim_defaults();
    ck_assert_int_eq(optim_init(&st.opt, &oc, net->nparams, &e), ST_OK);
    ck_assert_msg(weights_save_run(path, net, &st, &e) == ST_OK, "%s", e.msg);
    optim_free(&st.opt);
    net_free(net);
}

START_TEST(resume_log_disagrees_with_progress)
{
    char *dir = make_temp_dir(), ckpt[600], logp[600], args[2000];
    ck_assert_int_eq(write_synthetic_idx(dir, "train", 256, 3), 0);
    ck_assert_int_eq(write_synthetic_idx(dir, "t10k", 64, 4), 0);
    snprintf(ckpt, sizeof ckpt, "%s/model.fmw", dir);
    snprintf(logp, sizeof logp, "%s/log.csv", dir);
    const char *good = LOG_HEADER LOG_ROW1 LOG_ROW2;
    static const struct {
        const char *log;
        const char *word;
    } bad[] = {
        {LOG_HEADER LOG_ROW1, "the log it holds has 1 epoch, its progress section says 2 finished"},
        {LOG_HEADER LOG_ROW1 LOG_ROW2 "3,1.7,0.5,1.6,0.55,0.1,1.2\n", "has 3 epochs, its progress section says 2"},
        {LOG_HEADER, "has 0 epochs"},
        {LOG_HEADER LOG_ROW1 "3,1.9,0.4,1.8,0.45,0.1,1.1\n", "not readable (the log:3: expected epoch 2, got 3)"},
        {"epoch,loss\n1,2\n2,1\n", "not readable"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        save_ckpt(ckpt, 2, 256, bad[k].log, "");
        write_bytes(logp, good, strlen(good));
        size_t clen;
        char *before = read_all_or_fail(ckpt, &clen);
        ResumedRun r;
        Err e;
        ck_assert_int_eq(resume_load(ckpt, 4, &r, &e), ST_ERR_FORMAT);
        ck_assert_msg(strstr(e.msg, bad[k].word) && strstr(e.msg, ckpt) && strstr(e.msg, logp), "case %zu: %s", k,
                      e.msg);
        snprintf(args, sizeof args, "train --resume %s --data %s --no-progress --epochs 4", ckpt, dir);
        expect_fmnist(args, 1, "not resuming", out, sizeof out);
        ck_assert_msg(strstr(out, logp) && strstr(out, "is left as it is"), "%s", out);
        char *log_after = read_all_or_fail(logp, NULL), *after = read_all_or_fail(ckpt, NULL);
        ck_assert_str_eq(log_after, good);
        ck_assert_int_eq(memcmp(before, after, clen), 0);
        free(log_after);
        free(after);
        free(before);
    }
    /* the log that matches resumes, and the new log.csv is one fmnist reads */
    save_ckpt(ckpt, 2, 256, good, "");
    snprintf(args, sizeof args, "train --resume %s --data %s --no-progress --epochs 3 --threads 1", ckpt, dir);
    expect_fmnist(args, 0, "resuming", out, sizeof out);
    Curve c;
    Err e;
    ck_assert_msg(curve_read(logp, &c, &e) == ST_OK, "%s", e.msg);
    ck_assert_int_eq(c.n, 3);
    curve_free(&c);
    rm_tree(dir);
    free(dir);
}
END_TEST

START_TEST(resume_counts_overflow)
{
    char *dir = make_temp_dir(), ckpt[600];
    snprintf(ckpt, sizeof ckpt, "%s/model.fmw", dir);
    ResumedRun r;
    Err e;
    /* train_n + val is more than an int: an error, not a wrapped count (UBSan) */
    save_ckpt(ckpt, 0, INT_MAX, LOG_HEADER, "val=10\n");
    ck_assert_int_eq(resume_load(ckpt, 4, &r, &e), ST_ERR_FORMAT);
    ck_assert_msg(strstr(e.msg, ckpt) && strstr(e.msg, "2147483647 training and 10 validation images, more than"),
                  "%s", e.msg);
    save_ckpt(ckpt, 0, INT_MAX - 10, LOG_HEADER, "val=11\n");
    ck_assert_int_eq(resume_load(ckpt, 4, &r, &e), ST_ERR_FORMAT);
    /* through the binary: exit 1, the file named */
    char args[1400];
    snprintf(args, sizeof args, "train --resume %s --data %s --no-progress", ckpt, dir);
    expect_fmnist(args, 1, "validation images, more than fmnist can load", out, sizeof out);
    /* at the edge it loads */
    save_ckpt(ckpt, 0, INT_MAX - 10, LOG_HEADER, "val=10\n");
    ck_assert_msg(resume_load(ckpt, 4, &r, &e) == ST_OK, "%s", e.msg);
    ck_assert_int_eq(r.settings.val, 10);
    resume_free(&r);
    rm_tree(dir);
    free(dir);
}
END_TEST

/* ---- item 9e: charts of extreme logs --------------------------------------- */

START_TEST(chart_of_extreme_values)
{
    /* finite values at the ends of the double range, in the library (NaN
     * and infinities too: a Curve can hold them) */
    double tl[4] = {1e308, 0.5, -1.7e308, 0.4}, ta[4] = {0.5, 1e308, 0.6, 0.7};
    double vl[4] = {NAN, 0.3, INFINITY, 1e-308}, va[4] = {0.6, -INFINITY, NAN, 0.9};
    double sec[4] = {1, 1, 1, 1};
    int ep[4] = {1, 2, 3, 4};
    Curve c = {.n = 4, .epoch = ep, .train_loss = tl, .train_acc = ta, .test_loss = vl, .test_acc = va,
               .seconds = sec};
    PlotRun run = {"run", &c};
    Image im;
    Err e;
    for (int m = 0; m < 2; m++)
        for (int logy = 0; logy < 2; logy++) {
            ck_assert_int_eq(draw_image_init(&im, 800, 520, (Rgb){255, 255, 255}, &e), ST_OK);
            PlotAxes a;
            plot_curves_panel(&im, 0, 0, 800, 520, &run, 1, m ? PLOT_ACC : PLOT_LOSS, logy, NULL, &a);
            ck_assert_msg(isfinite(a.ymin) && isfinite(a.ymax) && a.ymax > a.ymin, "metric %d logy %d: y %g .. %g", m,
                          logy, a.ymin, a.ymax);
            draw_image_free(&im);
        }
    /* a log.csv with such values, through `plot` (UBSan in SAN=1 builds) */
    char *dir = make_temp_dir(), path[600], args[2000];
    snprintf(path, sizeof path, "%s/log.csv", dir);
    const char *log = "epoch,train_loss,train_acc,test_loss,test_acc,seconds\n"
                      "1,1e308,0.5,-1e308,0.6,1\n"
                      "2,1.7976931348623157e308,1e308,1e-300,-1.7e308,1\n"
                      "3,0.5,0.6,0.4,0.7,1\n";
    write_bytes(path, log, strlen(log));
    const char *flags[] = {"--metric loss", "--metric acc", "--metric both", "--metric both --logy"};
    for (int k = 0; k < 4; k++) {
        snprintf(args, sizeof args, "plot %s -o %s/c%d.png %s", path, dir, k, flags[k]);
        expect_fmnist(args, 0, "wrote", out, sizeof out);
    }
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *malformed_suite(void)
{
    Suite *s = suite_create("malformed");
    TCase *mem = tcase_create("memory");
    tcase_add_test(mem, memory_estimate_against_peak);
    tcase_add_test(mem, memory_refused_before_the_folder);
    tcase_set_timeout(mem, 120);
    suite_add_tcase(s, mem);
    TCase *tc = tcase_create("content");
    tcase_add_test(tc, gzip_trailing_data);
    tcase_add_test(tc, truncated_pictures);
    tcase_add_test(tc, resume_log_disagrees_with_progress);
    tcase_add_test(tc, resume_counts_overflow);
    tcase_add_test(tc, chart_of_extreme_values);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
    return s;
}
