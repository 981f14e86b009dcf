/* test_predict.c - predict sees what users draw (model/image.c, cli/predict.c):
 * inversion chosen by the contrast between the object and its background (a
 * light shirt on a light background stays), blank and nearly uniform pictures
 * refused, a small or off-centre object found and centered, a picture of the
 * input's size taken as it is (a Fashion-MNIST test image saved as a PNG gives
 * the network the same input, logits and prediction as --idx), and --raw. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image_write.h>

#include "data/dataset.h"
#include "data/idx.h"
#include "model/image.h"
#include "testutil.h"
#include "util/fileio.h"

static char out[1 << 16];
static void expect(const char *args, int code, const char *word) { expect_fmnist(args, code, word, out, sizeof out); }

/* A w x h picture of level bg. */
static uint8_t *canvas(int w, int h, uint8_t bg)
{
    uint8_t *p = malloc((size_t)w * h);
    ck_assert_ptr_nonnull(p);
    memset(p, bg, (size_t)w * h);
    return p;
}

static void fill(uint8_t *p, int w, int x0, int y0, int rw, int rh, uint8_t v)
{
    for (int y = y0; y < y0 + rh; y++)
        for (int x = x0; x < x0 + rw; x++) p[(size_t)y * w + x] = v;
}

/* A T-shirt of level fg, s pixels tall (and wide), its top left corner at
 * (x0, y0): sleeves across the top third, the body below, a neck cut out. */
static void shirt(uint8_t *p, int w, int x0, int y0, int s, uint8_t fg, uint8_t bg)
{
    fill(p, w, x0, y0, s, s / 3, fg);                 /* shoulders and sleeves */
    fill(p, w, x0 + s / 4, y0, s - 2 * (s / 4), s, fg); /* body */
    fill(p, w, x0 + 2 * s / 5, y0, s / 5, s / 10, bg); /* neck */
}

/* The shirt came through: it fills the frame (its longer side 28), centered,
 * on black, bright in its body and dark at the neck. */
static void is_shirt(const uint8_t *m)
{
    int x0, y0, x1, y1;
    ck_assert(bbox28(m, &x0, &y0, &x1, &y1));
    ck_assert_msg(x0 == 0 && x1 == 27 && y0 == 0 && y1 == 27, "box %d,%d .. %d,%d", x0, y0, x1, y1);
    ck_assert_int_ge(m[20 * 28 + 14], 250); /* the body */
    ck_assert_int_le(m[22 * 28 + 1], 16);    /* beside the body, under a sleeve: background */
    ck_assert_int_le(m[0 * 28 + 14], 16);    /* the neck */
}

START_TEST(test_light_on_light)
{
    uint8_t m[784];
    ImageInfo info;
    /* a white shirt on a light, a mid and a darker gray background (all >= 128,
     * the backgrounds a fixed threshold took for "light": inverted, erased) */
    const uint8_t backgrounds[] = {230, 200, 160, 128};
    for (int i = 0; i < 4; i++) {
        uint8_t *p = canvas(120, 150, backgrounds[i]);
        shirt(p, 120, 20, 25, 80, 255, backgrounds[i]);
        image_to_mnist(p, 120, 150, m, 28, 28, &info);
        ck_assert_msg(info.found && !info.inverted, "background %d: inverted %d", backgrounds[i], info.inverted);
        ck_assert_int_eq(info.background, backgrounds[i]);
        ck_assert_int_eq(info.contrast, 255 - backgrounds[i]);
        is_shirt(m);
        free(p);
    }
    /* a light shirt touching both sides of the picture: the border is mostly
     * shirt on those sides, the background is still the background */
    uint8_t *p = canvas(80, 80, 190);
    shirt(p, 80, 0, 0, 80, 250, 190);
    image_to_mnist(p, 80, 80, m, 28, 28, &info);
    ck_assert(info.found && !info.inverted && info.background == 190);
    free(p);
}
END_TEST

START_TEST(test_dark_and_light)
{
    uint8_t m[784];
    ImageInfo info;
    /* dark on light (a photo on white paper): inverted, the shirt light on black */
    uint8_t *p = canvas(120, 150, 245);
    shirt(p, 120, 20, 25, 80, 40, 245);
    image_to_mnist(p, 120, 150, m, 28, 28, &info);
    ck_assert(info.found && info.inverted && info.background == 245 && info.contrast == 205);
    is_shirt(m);
    free(p);
    /* dark on a mid gray, below 128: still inverted (the object is darker) */
    p = canvas(120, 150, 100);
    shirt(p, 120, 20, 25, 80, 0, 100);
    image_to_mnist(p, 120, 150, m, 28, 28, &info);
    ck_assert(info.found && info.inverted && info.background == 100);
    is_shirt(m);
    free(p);
    /* light on dark: as Fashion-MNIST, not inverted */
    p = canvas(120, 150, 15);
    shirt(p, 120, 20, 25, 80, 210, 15);
    image_to_mnist(p, 120, 150, m, 28, 28, &info);
    ck_assert(info.found && !info.inverted && info.background == 15);
    is_shirt(m);
    free(p);
    /* a noisy light background (paper texture, +-12 levels) and a dark object */
    p = canvas(100, 100, 0);
    unsigned s = 7;
    for (int i = 0; i < 100 * 100; i++) {
        s = s * 1103515245u + 12345u;
        p[i] = (uint8_t)(220 + (int)((s >> 16) % 25) - 12);
    }
    shirt(p, 100, 10, 10, 80, 30, 220);
    image_to_mnist(p, 100, 100, m, 28, 28, &info);
    ck_assert(info.found && info.inverted);
    ck_assert_int_ge(info.background, 208);
    ck_assert_int_le(info.background, 232);
    is_shirt(m);
    free(p);
}
END_TEST

START_TEST(test_small_and_off_centre)
{
    uint8_t m[784];
    ImageInfo info;
    int x0, y0, x1, y1;
    /* a 10-pixel shirt in a 300x200 picture: found, enlarged to fill the frame */
    uint8_t *p = canvas(300, 200, 250);
    shirt(p, 300, 140, 95, 10, 20, 250);
    image_to_mnist(p, 300, 200, m, 28, 28, &info);
    ck_assert(info.found && info.inverted);
    is_shirt(m);
    free(p);
    /* an off-centre object (a 20x40 bar in the top right corner): centered */
    p = canvas(200, 160, 240);
    fill(p, 200, 170, 5, 20, 40, 10);
    image_to_mnist(p, 200, 160, m, 28, 28, &info);
    ck_assert(info.found && info.inverted);
    ck_assert(bbox28(m, &x0, &y0, &x1, &y1));
    ck_assert_msg(y0 == 0 && y1 == 27 && x1 - x0 == 13 && x0 == 27 - x1, "box %d,%d .. %d,%d", x0, y0, x1, y1);
    free(p);
}
END_TEST

START_TEST(test_blank_and_uniform)
{
    uint8_t m[784];
    ImageInfo info;
    /* blank pictures: no object, a black input */
    const uint8_t levels[] = {0, 128, 200, 255};
    for (int i = 0; i < 4; i++) {
        uint8_t *p = canvas(64, 64, levels[i]);
        memset(m, 77, sizeof m);
        image_to_mnist(p, 64, 64, m, 28, 28, &info);
        ck_assert(!info.found && info.contrast == 0 && info.background == levels[i]);
        for (int k = 0; k < 784; k++) ck_assert_int_eq(m[k], 0);
        free(p);
    }
    /* nearly uniform: noise of +-10 levels; a soft gradient over 20 levels; a
     * faint smudge 15 levels lighter */
    uint8_t *p = canvas(64, 64, 0);
    unsigned s = 3;
    for (int i = 0; i < 64 * 64; i++) {
        s = s * 1103515245u + 12345u;
        p[i] = (uint8_t)(128 + (int)((s >> 16) % 21) - 10);
    }
    image_to_mnist(p, 64, 64, m, 28, 28, &info);
    ck_assert_msg(!info.found && info.contrast < IMAGE_MIN_CONTRAST, "contrast %d", info.contrast);
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++) p[y * 64 + x] = (uint8_t)(120 + (x + y) * 20 / 126);
    image_to_mnist(p, 64, 64, m, 28, 28, &info);
    ck_assert_msg(!info.found, "contrast %d", info.contrast);
    memset(p, 200, 64 * 64);
    fill(p, 64, 20, 20, 20, 20, 215);
    image_to_mnist(p, 64, 64, m, 28, 28, &info);
    ck_assert(!info.found && info.contrast == 15);
    for (int k = 0; k < 784; k++) ck_assert_int_eq(m[k], 0);
    /* the same smudge with the least contrast an object needs is one; stray
     * pixels of a big picture are not (4 of 640x480: fewer than 1 in 4096) */
    fill(p, 64, 20, 20, 20, 20, 200 + IMAGE_MIN_CONTRAST);
    image_to_mnist(p, 64, 64, m, 28, 28, &info);
    ck_assert(info.found && info.contrast == IMAGE_MIN_CONTRAST);
    free(p);
    p = canvas(640, 480, 240);
    for (int i = 0; i < 4; i++) p[100 * 640 + 50 + 97 * i] = 0;
    image_to_mnist(p, 640, 480, m, 28, 28, &info);
    ck_assert(!info.found && info.contrast == 0);
    fill(p, 640, 300, 200, 9, 9, 0); /* 81 pixels: an object */
    image_to_mnist(p, 640, 480, m, 28, 28, &info);
    ck_assert(info.found && info.inverted && info.contrast == 240);
    free(p);
}
END_TEST

/* A 28x28 picture is the input as it is: neither stretched nor moved (the
 * old conversion cropped and re-centered it: a row or a column off). */
START_TEST(test_input_size_as_is)
{
    uint8_t src[784], m[784];
    ImageInfo info;
    /* an off-centre, faint (max 140) object on black, touching the bottom edge */
    memset(src, 0, sizeof src);
    for (int y = 9; y < 28; y++)
        for (int x = 3; x < 19; x++) src[y * 28 + x] = (uint8_t)(40 + (x * 7 + y * 3) % 101);
    image_to_mnist(src, 28, 28, m, 28, 28, &info);
    ck_assert(info.found && info.as_is && !info.inverted && info.background == 0);
    ck_assert_mem_eq(m, src, sizeof m);
    /* dark on light at 28x28: only inverted */
    uint8_t inv[784];
    for (int i = 0; i < 784; i++) inv[i] = (uint8_t)(255 - src[i]);
    image_to_mnist(inv, 28, 28, m, 28, 28, &info);
    ck_assert(info.found && info.as_is && info.inverted && info.background == 255);
    ck_assert_mem_eq(m, src, sizeof m);
    /* every real test image the data holds goes in unchanged */
    if (!have_real_data()) {
        printf("predict: SKIPPED the Fashion-MNIST test images' check: the data is not found (make data)\n");
        return;
    }
    char dir[4096], path[4200];
    Err e;
    ck_assert_int_eq(data_find_dir(NULL, getenv("FMNIST_DATA"), dir, sizeof dir, &e), ST_OK);
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", dir);
    IdxImages im;
    ck_assert_msg(idx_read_images(path, &im, &e) == ST_OK, "%s", e.msg);
    int changed = 0, first = -1;
    for (uint32_t k = 0; k < im.n; k++) {
        image_to_mnist(im.pixels + (size_t)k * 784, 28, 28, m, 28, 28, &info);
        if (!info.found || memcmp(m, im.pixels + (size_t)k * 784, 784)) changed++, first = first < 0 ? (int)k : first;
    }
    ck_assert_msg(changed == 0, "%d of %u test images changed by the conversion (the first: %d)", changed, im.n,
                  first);
    idx_images_free(&im);
}
END_TEST

static void write_png(const char *path, const uint8_t *px, int w, int h, int comp)
{
    ck_assert_msg(stbi_write_png(path, w, h, comp, px, w * comp), "cannot write %s", path);
}

/* The text of out after the first ": " of each line that starts with a
 * prediction's label (those lines name the picture or the IDX image), and
 * the lines below it, with "(true: ...)" left out: what predict says of an
 * image, whatever it was named. */
static void verdict(const char *text, char *buf, size_t len)
{
    size_t k = 0;
    for (const char *line = text; *line && k + 1 < len;) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        const char *colon = memchr(line, ':', n);
        const char *from = line;
        if (line[0] != ' ' && colon && colon[1] == ' ') from = colon + 2;
        size_t m = n - (size_t)(from - line);
        const char *t = memchr(from, '(', m);
        if (t && !strncmp(t, "(true: ", 7)) m = (size_t)(t - from);
        while (m && from[m - 1] == ' ') m--;
        if (k + m + 1 < len) {
            memcpy(buf + k, from, m);
            k += m;
            buf[k++] = '\n';
        }
        line += n + (end != NULL);
    }
    buf[k] = 0;
}

/* 1 if a line of text holding what names a percentage: a class given. */
static int classified(const char *text, const char *what)
{
    for (const char *at = strstr(text, what); at; at = strstr(at + 1, what)) {
        size_t n = strcspn(at, "\n");
        if (memchr(at, '%', n)) return 1;
    }
    return 0;
}

/* The binary on drawn pictures: a light shirt on a light background
 * predicted, blank and nearly uniform pictures refused (exit 1, "no object
 * found", the others still predicted), --show says what it found, --raw. */
START_TEST(test_predict_drawn_cli)
{
    char *dir = make_temp_dir();
    char args[8192], ck[600], shirt_png[600], blank_png[600], grey_png[600], small_png[600], rgb_png[600];
    /* a model trained in the test on the synthetic data: 1 epoch */
    ck_assert_int_eq(write_synthetic_idx(dir, "train", 200, 1), 0);
    ck_assert_int_eq(write_synthetic_idx(dir, "t10k", 50, 2), 0);
    snprintf(args, sizeof args, "train --data %s --epochs 1 --batch 50 --no-progress --out %s/run", dir, dir);
    expect(args, 0, "epoch 1/1");
    snprintf(ck, sizeof ck, "%s/run/model.fmw", dir);
    uint8_t *p = canvas(120, 150, 200);
    shirt(p, 120, 20, 25, 80, 255, 200);
    snprintf(shirt_png, sizeof shirt_png, "%s/shirt.png", dir);
    write_png(shirt_png, p, 120, 150, 1);
    memset(p, 255, 120 * 150);
    snprintf(blank_png, sizeof blank_png, "%s/blank.png", dir);
    write_png(blank_png, p, 120, 150, 1);
    for (int i = 0; i < 120 * 150; i++) p[i] = (uint8_t)(150 + (i * 7 % 13));
    snprintf(grey_png, sizeof grey_png, "%s/grey.png", dir);
    write_png(grey_png, p, 120, 150, 1);
    free(p);
    snprintf(args, sizeof args, "predict --weights %s %s %s %s --show", ck, blank_png, shirt_png, grey_png);
    expect(args, 1, "\n  picture: background level 200, the object lighter: not inverted (contrast 55 of 255); "
                   "stretched, cropped to it, scaled and centered\n");
    ck_assert_ptr_nonnull(strstr(out, "blank.png: no object found: the picture is blank or nearly uniform"));
    ck_assert_ptr_nonnull(strstr(out, "grey.png: no object found"));
    ck_assert_ptr_nonnull(strstr(out, "not classified"));
    ck_assert(!classified(out, "blank.png: ") && !classified(out, "grey.png: ")); /* no class for them */
    ck_assert_ptr_nonnull(strstr(out, "shirt.png: "));
    ck_assert_ptr_nonnull(strstr(out, "%,")); /* the shirt's classes */
    ck_assert_ptr_nonnull(strstr(out, "|@@@@@@@@@@@@@@@@@@@@@@@@@@@@|")); /* the sleeves fill the top rows */
    /* the shirt alone: exit 0 */
    snprintf(args, sizeof args, "predict --weights %s %s", ck, shirt_png);
    expect(args, 0, "shirt.png: ");
    /* --raw: a 28x28 gray picture as it is; other sizes, colour refused */
    uint8_t small[784] = {0}, rgb[784 * 3];
    for (int i = 0; i < 784; i++) small[i] = (uint8_t)(i % 28 > 8 && i % 28 < 20 ? 180 : 0);
    for (int i = 0; i < 784 * 3; i++) rgb[i] = small[i / 3];
    snprintf(small_png, sizeof small_png, "%s/small.png", dir);
    write_png(small_png, small, 28, 28, 1);
    snprintf(rgb_png, sizeof rgb_png, "%s/rgb.png", dir);
    write_png(rgb_png, rgb, 28, 28, 3);
    snprintf(args, sizeof args, "predict --weights %s %s --raw --show", ck, small_png);
    expect(args, 0, "small.png: ");
    ck_assert_ptr_nonnull(strstr(out, "|         ###########        |")); /* 180 drawn as '#' */
    ck_assert_ptr_nonnull(strstr(out, "\n  picture: taken as it is (--raw)\n")); /* no conversion */
    snprintf(args, sizeof args, "predict --weights %s %s --raw", ck, shirt_png);
    expect(args, 1, "shirt.png: --raw takes a 28x28 gray picture (the model's input), this one is 120x150");
    snprintf(args, sizeof args, "predict --weights %s %s --raw", ck, rgb_png);
    expect(args, 1, "rgb.png: --raw takes a 28x28 gray picture, this one is in colour (RGB)");
    /* without --raw, the RGB picture is converted to gray and is the same input */
    snprintf(args, sizeof args, "predict --weights %s %s --logits", ck, rgb_png);
    expect(args, 0, "logits:");
    char a[4096], b[4096];
    verdict(out, a, sizeof a);
    snprintf(args, sizeof args, "predict --weights %s %s --logits --raw", ck, small_png);
    expect(args, 0, "logits:");
    verdict(out, b, sizeof b);
    ck_assert_str_eq(a, b);
    snprintf(args, sizeof args, "predict --help");
    expect(args, 0, "a white shirt on light gray keeps its shape");
    ck_assert_ptr_nonnull(strstr(out, "--raw"));
    rm_tree(dir);
    free(dir);
}
END_TEST

/* Fashion-MNIST test images saved as 28x28 PNGs: the same input (--show),
 * logits (to 9 digits) and classes as --idx on the same images, with a model
 * trained in the test. The synthetic images (noise everywhere) always; the
 * real ones when the data is there. */
static void same_as_idx(const char *dir, const char *idx, const char *ck, const uint32_t *ks, int nk)
{
    IdxImages im;
    Err e;
    ck_assert_msg(idx_read_images(idx, &im, &e) == ST_OK, "%s", e.msg);
    char args[16384], png[700], a[1 << 14], b[1 << 14];
    for (int i = 0; i < nk; i++) {
        ck_assert_uint_lt(ks[i], im.n);
        snprintf(png, sizeof png, "%s/test-%u.png", dir, ks[i]);
        write_png(png, im.pixels + (size_t)ks[i] * 784, 28, 28, 1);
        snprintf(args, sizeof args, "predict --weights %s --idx %s --index %u --logits --show", ck, idx, ks[i]);
        expect(args, 0, "logits:");
        verdict(out, a, sizeof a);
        snprintf(args, sizeof args, "predict --weights %s %s --logits --show", ck, png);
        expect(args, 0, "logits:");
        /* the conversion's line is the picture's only */
        char *conv = strstr(out, "\n  picture: background level ");
        ck_assert_msg(conv && strstr(conv, "the object lighter: not inverted") &&
                          strstr(conv, "taken as it is (the input's size)\n"),
                      "%s", out);
        memmove(conv, strchr(conv + 1, '\n'), strlen(strchr(conv + 1, '\n')) + 1);
        verdict(out, b, sizeof b);
        ck_assert_msg(!strcmp(a, b), "image %u: --idx says\n%s\nthe PNG\n%s", ks[i], a, b);
    }
    idx_images_free(&im);
}

START_TEST(test_test_image_as_png)
{
    char *dir = make_temp_dir();
    char args[8192], ck[600], idx[4200];
    ck_assert_int_eq(write_synthetic_idx(dir, "train", 200, 1), 0);
    ck_assert_int_eq(write_synthetic_idx(dir, "t10k", 50, 2), 0);
    snprintf(args, sizeof args, "train --data %s --epochs 1 --batch 50 --no-progress --out %s/run", dir, dir);
    expect(args, 0, "epoch 1/1");
    snprintf(ck, sizeof ck, "%s/run/model.fmw", dir);
    snprintf(idx, sizeof idx, "%s/t10k-images-idx3-ubyte", dir);
    const uint32_t syn[] = {0, 1, 7, 33};
    same_as_idx(dir, idx, ck, syn, 4);
    if (!have_real_data()) {
        printf("predict: SKIPPED the Fashion-MNIST test images as PNGs: the data is not found (make data)\n");
    } else {
        /* a model of the real data (2000 images, 1 epoch); an image of each
         * class (0 to 9: 19, 2, 1, 13, 6, 8, 4, 9, 18, 0) and the three whose
         * border the object covers most (7899: 88 of its 108 border pixels,
         * 4495: 76, 9596: 73) */
        char data[4096];
        Err e;
        ck_assert_int_eq(data_find_dir(NULL, getenv("FMNIST_DATA"), data, sizeof data, &e), ST_OK);
        snprintf(args, sizeof args, "train --epochs 1 --train-limit 2000 --no-progress --out %s/real", dir);
        expect(args, 0, "epoch 1/1");
        snprintf(ck, sizeof ck, "%s/real/model.fmw", dir);
        snprintf(idx, sizeof idx, "%s/t10k-images-idx3-ubyte.gz", data);
        const uint32_t real[] = {19, 2, 1, 13, 6, 8, 4, 9, 18, 0, 7899, 4495, 9596};
        same_as_idx(dir, idx, ck, real, 13);
    }
    rm_tree(dir);
    free(dir);
}
END_TEST

/* The README's predict example, end to end: tools/example_pictures.py draws
 * the pictures from the test set, a 3-epoch MLP (seed 1, as in the README)
 * names the pullover, the boot and the light shirt on light gray, and the
 * blank page is not classified (exit 1, the others still predicted). */
START_TEST(test_readme_pictures)
{
    char buf[4096];
    if (!have_real_data() || run_shell("/usr/bin/python3 -c 'import numpy' 2>/dev/null", buf, sizeof buf) != 0) {
        printf("predict: SKIPPED the README's pictures: needs the data (make data) and /usr/bin/python3 with numpy\n");
        return;
    }
    char *dir = make_temp_dir(), data[4096], cmd[8192], args[8192];
    Err e;
    ck_assert_int_eq(data_find_dir(NULL, getenv("FMNIST_DATA"), data, sizeof data, &e), ST_OK);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tools/example_pictures.py %s/pics %s 2>&1", dir, data);
    ck_assert_msg(run_shell(cmd, buf, sizeof buf) == 0, "%s", buf);
    snprintf(args, sizeof args, "train --epochs 3 --seed 1 --no-progress --no-tensorboard --out %s/mlp3", dir);
    expect(args, 0, "epoch 3/3");
    snprintf(args, sizeof args,
             "predict --weights %s/mlp3/model.fmw %s/pics/pullover.pgm %s/pics/boot.pgm %s/pics/light-shirt.pgm "
             "%s/pics/blank.pgm",
             dir, dir, dir, dir, dir);
    expect(args, 1, "pics/light-shirt.pgm: T-shirt/top ");
    ck_assert_ptr_nonnull(strstr(out, "pics/pullover.pgm: Pullover "));
    ck_assert_ptr_nonnull(strstr(out, "pics/boot.pgm: Ankle boot "));
    ck_assert_ptr_nonnull(strstr(out, "pics/blank.pgm: no object found"));
    rm_tree(dir);
    free(dir);
}
END_TEST

Suite *predict_suite(void)
{
    Suite *s = suite_create("predict");
    TCase *conv = tcase_create("conversion"), *cli = tcase_create("cli");
    tcase_add_test(conv, test_light_on_light);
    tcase_add_test(conv, test_dark_and_light);
    tcase_add_test(conv, test_small_and_off_centre);
    tcase_add_test(conv, test_blank_and_uniform);
    tcase_add_test(conv, test_input_size_as_is);
    tcase_add_test(cli, test_predict_drawn_cli);
    tcase_add_test(cli, test_test_image_as_png);
    tcase_add_test(cli, test_readme_pictures);
    tcase_set_timeout(cli, 120);
    suite_add_tcase(s, conv);
    suite_add_tcase(s, cli);
    return s;
}
