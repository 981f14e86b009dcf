/* testutil.h - helpers shared by the Check suites: gradient checks of one
 * layer against central finite differences, temp folders, running the binary. */
#ifndef FMNIST_TESTUTIL_H
#define FMNIST_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "data/dataset.h"
#include "nn/layer.h"
#include "nn/optim.h"
#include "train/sweep.h"

typedef enum {
    GC_X_AWAY_FROM_ZERO, /* x = +-(0.1 .. 1): no input near a ReLU kink        */
    GC_X_DISTINCT        /* a shuffled progression, steps of 0.05: no pooling ties */
} GcInput;

typedef struct {
    double max_err;      /* worst |a-n| / (atol + rtol*max(|a|,|n|)); pass if <= 1 */
    const char *where;   /* "dx", "dw" or "db" of the worst element           */
    size_t index;
    double analytic, numeric;
    size_t checked;      /* elements compared                                 */
} GcResult;

/* Builds one layer (spec on per-sample input shape in) with n samples,
 * initializes it from seed, draws x, and a fixed random r; L = sum(r * y).
 * Compares backward's dx, dw, db with central differences of L (step h) for
 * every element. The forward runs in MODE_TRAIN with a fixed key, so dropout's
 * mask is the same in every evaluation. Returns 0 if the layer could not be
 * set up. */
int gradcheck_layer(const LayerSpec *spec, Shape in, int n, unsigned long long seed, GcInput xmode, double h,
                    double atol, double rtol, GcResult *res);
/* The same with an explicit ops table (to check that the checker catches a
 * broken backward). */
int gradcheck_layer_ops(const LayerOps *ops, const LayerSpec *spec, Shape in, int n, unsigned long long seed,
                        GcInput xmode, double h, double atol, double rtol, GcResult *res);

/* A fresh folder under /tmp (caller frees the string and removes the tree
 * with rm_tree). */
char *make_temp_dir(void);
void rm_tree(const char *path);

/* Runs the fmnist binary ($FMNIST_BIN, default ./fmnist) with args (a shell
 * fragment), capturing stdout+stderr into out (NUL-terminated, truncated to
 * len). Returns the exit status, or -1 if it could not run. */
int run_fmnist(const char *args, char *out, size_t len);
/* Runs the binary as run_fmnist does and fails the calling test unless it
 * exits with code and (if word is not NULL) its output contains word. The
 * output is left in out. For suites that include check.h. */
void expect_fmnist(const char *args, int code, const char *word, char *out, size_t len);
/* Runs a shell command, capturing stdout+stderr into buf as run_fmnist does.
 * Returns the exit status, or -1 if it could not run. */
int run_shell(const char *cmd, char *buf, size_t len);

/* Writes DIR/PREFIX-images-idx3-ubyte and DIR/PREFIX-labels-idx1-ubyte: n
 * 28x28 images of 10 classes (class c: a bright band at rows 2c+4..2c+8 over
 * noise seeded by seed), learnable in a few steps. Returns 0 on success. */
int write_synthetic_idx(const char *dir, const char *prefix, int n, unsigned seed);
/* The bounding box [x0, x1] x [y0, y1] of the pixels above 127 of a 28x28
 * image; 0 (and x1 = y1 = -1) if there are none. */
int bbox28(const uint8_t *m, int *x0, int *y0, int *x1, int *y1);

/* The optimizer fixture of the hand-computed step tests: w = [1, -2] (a
 * weight tensor), b = [0.5] (a bias tensor), constant gradient
 * g = [0.1, 0.2, -0.3]; takes `steps` steps of c and writes [w0, w1, b] to
 * out. Returns 0, or -1 if the optimizer could not be set up. */
int optim_fixture_steps(OptConfig c, int steps, float out[3]);
/* The fixture's two tensors: [0,2) a weight, [2,3) a bias. */
extern const ParamInfo OPTIM_FIXTURE_TENSORS[2];
/* Checks the three fixture values against hand-computed ones (to 1e-6); for
 * suites that include check.h. */
#define CK3(w, a, b, c)                                                                                                \
    do {                                                                                                               \
        ck_assert_float_eq_tol((w)[0], (a), 1e-6f);                                                                    \
        ck_assert_float_eq_tol((w)[1], (b), 1e-6f);                                                                    \
        ck_assert_float_eq_tol((w)[2], (c), 1e-6f);                                                                    \
    } while (0)

/* Fills d (allocating; free with dataset_free) with n 28x28 images whose
 * class-dependent bright band over noise makes them learnable; seeded. */
void synthetic_dataset(Dataset *d, int n, int seed);

/* A whole file (at most 64 MiB) read with file_read_all, NUL-terminated
 * (free it); the test fails, naming the file, if it cannot be read. len may be
 * NULL. */
char *read_all_or_fail(const char *path, size_t *len);
/* Drops the 6th column (seconds) of every line of a log.csv in place; the
 * later columns stay. */
void csv_strip_seconds(char *csv);

/* A sweep setting of models/mlp.cfg as `train --lr LR --batch 50 --epochs
 * EPOCHS` makes it (trainflags_run's TrainConfig), named name. */
void test_mlp_setting(SweepSetting *st, const char *name, float lr, int epochs);

/* The runs in folders a_dir and b_dir are the same: log.csv (but its
 * seconds), the weights, settings text and position of model.fmw. */
void test_same_run(const char *a_dir, const char *b_dir);

/* 1 if the Fashion-MNIST files are found where the binary would look. */
int have_real_data(void);

#endif
