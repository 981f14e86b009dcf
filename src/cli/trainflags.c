/* trainflags.c - the one table of training flags, and the checks and the
 * run settings built from it (see trainflags.h). */
#include "cli/trainflags.h"

#include <stddef.h>
#include <string.h>

#include "cli/cli.h"
#include "data/split.h"
#include "nn/ema.h"

/* A row of the table: an ArgSpec whose value lives at offset in TrainFlags. */
typedef struct {
    const char *name;
    ArgType type;
    size_t offset;
    double lo, hi;
    const char *meta, *help;
    const char *fixed;        /* NULL: a sweep may vary it; else why it is the
                                 same for every trial of a sweep             */
} TrainFlag;

#define SAME_DATA "every trial of a sweep reads the same data"
#define SAME_RUN "it changes no result, and is the same for every trial of a sweep"

#define AT(field) offsetof(TrainFlags, field)
static const TrainFlag TABLE[] = {
    {"model", ARG_STR, AT(model), 0, 0, "NAME|FILE",
     "a preset by name: mlp, cnn, cnn-bn, fast94 (models/NAME.cfg, found wherever fmnist runs), or a model file "
     "(default mlp)", NULL},
    {"epochs", ARG_INT, AT(epochs), 1, 100000, "N", "epochs to train (default 10)", NULL},
    {"batch", ARG_INT, AT(batch), 1, 65536, "N", "mini-batch size (default 128)", NULL},
    {"micro-batch", ARG_INT, AT(micro_batch), 0, TRAIN_MAX_MICRO_BATCH, "N",
     "sum each batch over micro-batches of N samples, in order (default 32; 0 = the whole batch): the order that "
     "gives the same numbers under mpirun at any rank count", NULL},
    {"precision", ARG_STR, AT(precision), 0, 0, "P",
     "fp32 | bf16: the operands of the matrix and convolution products (bf16: rounded to bfloat16, summed in "
     "fp32 by the CPU's AVX512_BF16 dot products; weights, optimizer and other sums stay fp32; default fp32)",
     NULL},
    {"optim", ARG_STR, AT(optim), 0, 0, "NAME", "sgd | adam | adamw (default adam)", NULL},
    {"lr", ARG_FLOAT, AT(lr), 0, 1e3, "X", "learning rate (default 1e-3)", NULL},
    {"momentum", ARG_FLOAT, AT(momentum), 0, 0.9999, "X", "sgd momentum (default 0)", NULL},
    {"nesterov", ARG_SWITCH, AT(nesterov), 0, 0, NULL, "sgd: Nesterov momentum", NULL},
    {"weight-decay", ARG_FLOAT, AT(weight_decay), 0, 1e3, "L", "L2 penalty (decoupled for adamw; default 0)", NULL},
    {"decay-bias", ARG_SWITCH, AT(decay_bias), 0, 0, NULL, "apply weight decay (and --l1) to biases too", NULL},
    {"l1", ARG_FLOAT, AT(l1), 0, 1e3, "A", "L1 penalty A*||w||_1 (subgradient; with --weight-decay: elastic net)",
     NULL},
    {"report-penalty", ARG_SWITCH, AT(report_penalty), 0, 0, NULL, "add the penalty to the reported train loss", NULL},
    {"val", ARG_INT, AT(val), 1, 2147483647, "N",
     "hold out N training images (drawn with --seed) as a validation set; it chooses OUT/best.fmw",
     "every trial holds out the same number of validation images (each from its own seed)"},
    {"early-stop", ARG_INT, AT(early_stop), 1, 100000, "K",
     "stop after K epochs without a lower validation loss; best weights in OUT/best.fmw", NULL},
    {"lr-schedule", ARG_STR, AT(lr_schedule), 0, 0, "NAME", "constant | step | cosine | onecycle (torch's OneCycleLR: --lr is the peak; cycles the momentum; default constant)", NULL},
    {"warmup", ARG_INT, AT(warmup), 0, 100000, "N", "linear learning-rate warm-up over the first N epochs", NULL},
    {"lr-step", ARG_INT, AT(lr_step), 1, 100000, "N", "step schedule: epochs between decays (default 5)", NULL},
    {"lr-gamma", ARG_FLOAT, AT(lr_gamma), 0, 1, "G", "step schedule: factor of each decay (default 0.1)", NULL},
    {"label-smoothing", ARG_FLOAT, AT(label_smoothing), 0, 1, "E",
     "label smoothing E in [0, 1) of the training loss, as PyTorch's CrossEntropyLoss(label_smoothing=E); the "
     "train loss shown includes it, test and validation losses are plain (default 0: off)", NULL},
    {"tta", ARG_STR, AT(tta), 0, 0, "NAME",
     "flip | none: test-time augmentation of the test and validation figures of each epoch (flip: the mean logits "
     "of each image and its mirror image; default none)", NULL},
    {"aug", ARG_STRS, AT(aug), 0, 0, "LIST",
     "augment training batches: crop=P, flip, erase (comma-separated, repeatable)", NULL},
    {"ema", ARG_FLOAT, AT(ema), 0, 1, "DECAY",
     "evaluate and save as the model an exponential moving average of the weights and batchnorm statistics, "
     "ema = DECAY*ema + (1-DECAY)*w after every step (timm's ModelEmaV2); DECAY in (0, 1), e.g. 0.999", NULL},
    {"dropout", ARG_FLOATS, AT(dropout), 0, 0.9999, "P1,P2,..", "dropout rates, in model-file order (0 = off)", NULL},
    {"seed", ARG_INT, AT(seed), 0, 2147483647, "N", "random seed (default 1)",
     "to run every setting with several seeds give --seeds 1,2,3 or --repeats N"},
    {"threads", ARG_INT, AT(threads), 1, CLI_MAX_THREADS, "N", CLI_THREADS_HELP, SAME_RUN},
    {"data", ARG_STR, AT(data), 0, 0, "DIR", "folder with the IDX files (default: see README)", SAME_DATA},
    {"train-limit", ARG_INT, AT(train_limit), 1, 2147483647, "N", "use only the first N training images", SAME_DATA},
    {"no-progress", ARG_SWITCH, AT(no_progress), 0, 0, NULL, "no progress bar, even on a terminal", SAME_RUN},
    {"save-every", ARG_INT, AT(save_every), 1, 100000, "N",
     "write OUT/model.fmw every N epochs (default 1; always after the last, and on Ctrl-C)", SAME_RUN},
    {"no-tensorboard", ARG_SWITCH, AT(no_tensorboard), 0, 0, NULL,
     "write no TensorBoard event file (OUT/events.out.tfevents.*, read by tensorboard --logdir OUT)", SAME_RUN},
    {"tb-every", ARG_INT, AT(tb_every), 0, 1000000, "N",
     "TensorBoard: also the train loss every N steps (loss/train_step: the mean of those N steps' losses; "
     "default 50; 0: per epoch only)", SAME_RUN},
};
#undef AT
_Static_assert(sizeof TABLE / sizeof TABLE[0] <= TRAINFLAGS_MAX, "TRAINFLAGS_MAX is too small for the table");

TrainFlags trainflags_defaults(void)
{
    return (TrainFlags){.model = "mlp", .optim = "adam", .precision = "fp32", .lr_schedule = "constant", .epochs = 10,
                        .batch = 128, .micro_batch = 32, .seed = 1, .lr = 1e-3f, .lr_gamma = 0.1f, .lr_step = 5, .save_every = 1,
                        .tb_every = 50};
}

int trainflags_specs(TrainFlags *f, ArgSpec *specs)
{
    int n = 0;
    for (size_t i = 0; i < sizeof TABLE / sizeof TABLE[0]; i++) {
        const TrainFlag *t = &TABLE[i];
        specs[n++] = (ArgSpec){t->name, t->type, (char *)f + t->offset, t->lo, t->hi, t->meta, t->help, 0};
    }
    return n;
}

const char *trainflags_fixed(const char *name)
{
    for (size_t i = 0; i < sizeof TABLE / sizeof TABLE[0]; i++)
        if (!strcmp(TABLE[i].name, name)) return TABLE[i].fixed;
    return NULL;
}

/* The optimizer flags into tc->opt. */
static Status optim_flags(const TrainFlags *f, const ArgSpec *specs, int nspecs, TrainConfig *tc, Err *e)
{
    tc->opt = optim_defaults();
    if (!optim_parse_kind(f->optim, &tc->opt.kind))
        return err_set(e, ST_ERR_ARG, "--optim: expected sgd, adam or adamw, got '%s'", f->optim);
    if (args_given(specs, nspecs, &f->momentum) && tc->opt.kind != OPT_SGD)
        return err_set(e, ST_ERR_ARG, "--momentum applies to --optim sgd only");
    if (f->nesterov && tc->opt.kind != OPT_SGD) return err_set(e, ST_ERR_ARG, "--nesterov applies to --optim sgd only");
    if (f->decay_bias && !args_given(specs, nspecs, &f->weight_decay) && !args_given(specs, nspecs, &f->l1))
        return err_set(e, ST_ERR_ARG, "--decay-bias applies --weight-decay or --l1 to biases too; give one of them");
    LrKind kind;
    int onecycle = lrsched_parse_kind(f->lr_schedule, &kind) && kind == LRS_ONECYCLE;
    if (onecycle && args_given(specs, nspecs, &f->momentum))
        return err_set(e, ST_ERR_ARG, "--momentum: --lr-schedule onecycle sets the momentum of each step (0.95 down "
                       "to 0.85 and back, as torch's OneCycleLR does); leave --momentum out");
    if (f->nesterov && f->momentum <= 0.0f && !onecycle)
        return err_set(e, ST_ERR_ARG, "--nesterov needs --momentum above 0");
    tc->opt.lr = f->lr;
    tc->opt.momentum = f->momentum;
    tc->opt.nesterov = f->nesterov;
    tc->opt.weight_decay = f->weight_decay;
    tc->opt.decay_bias = f->decay_bias;
    tc->opt.l1 = f->l1;
    return ST_OK;
}

Status trainflags_run(const TrainFlags *f, const ArgSpec *specs, int nspecs, RunSpec *spec, Err *e)
{
    TrainConfig tc = {.epochs = f->epochs, .batch = f->batch, .micro_batch = f->micro_batch, .seed = (uint64_t)f->seed};
    Status st = optim_flags(f, specs, nspecs, &tc, e);
    if (st) return st;
    tc.report_penalty = f->report_penalty;
    if (f->label_smoothing >= 1.0f)
        return err_set(e, ST_ERR_ARG, "--label-smoothing: expected a number from 0 to below 1, got %g",
                       (double)f->label_smoothing);
    tc.label_smoothing = f->label_smoothing;
    if (f->tta && (st = cli_tta(f->tta, &tc.tta, e))) return st;
    tc.early_stop = f->early_stop;
    tc.lr = (LrSchedule){.base = f->lr, .warmup = f->warmup, .step = f->lr_step, .gamma = f->lr_gamma,
                         .epochs = f->epochs};
    if (!lrsched_parse_kind(f->lr_schedule, &tc.lr.kind))
        return err_set(e, ST_ERR_ARG, "--lr-schedule: expected constant, step, cosine or onecycle, got '%s'", f->lr_schedule);
    const int step_flag = args_given(specs, nspecs, &f->lr_step) ? 1 : args_given(specs, nspecs, &f->lr_gamma) ? 2 : 0;
    if (step_flag && tc.lr.kind != LRS_STEP)
        return err_set(e, ST_ERR_ARG, "--%s applies to --lr-schedule step only (this run's schedule is %s)",
                       step_flag == 1 ? "lr-step" : "lr-gamma", lrsched_kind_name(tc.lr.kind));
    if (tc.lr.kind == LRS_ONECYCLE && f->warmup > 0)
        return err_set(e, ST_ERR_ARG, "--warmup: --lr-schedule onecycle has its own warm-up (the first 30%% of the "
                       "steps); leave --warmup out");
    if (f->warmup >= f->epochs && f->warmup > 0)
        return err_set(e, ST_ERR_ARG, "--warmup %d: must be fewer than the %d epoch%s", f->warmup, f->epochs,
                       f->epochs == 1 ? "" : "s");
    for (int i = 0; i < f->aug.n; i++)
        if ((st = aug_parse(f->aug.v[i], &tc.aug, e))) return st;
    if (f->early_stop && !f->val) return err_set(e, ST_ERR_ARG, "--early-stop needs a validation set (--val N)");
    if ((st = cli_precision(f->precision, &tc.precision, e))) return st;
    if (args_given(specs, nspecs, &f->ema) && !ema_decay_ok(f->ema))
        return err_set(e, ST_ERR_ARG, "--ema %g: the decay must be above 0 and below 1 (e.g. 0.999; leave --ema out for "
                       "no average)", (double)f->ema);
    tc.ema = f->ema;
    if (f->no_tensorboard && args_given(specs, nspecs, &f->tb_every))
        return err_set(e, ST_ERR_ARG, "--tb-every applies to the TensorBoard event file, which --no-tensorboard turns "
                       "off; leave one of them out");
    *spec = (RunSpec){.model = f->model, .train = tc, .save_every = f->save_every, .tensorboard = !f->no_tensorboard,
                      .tb_every = f->tb_every};
    return ST_OK;
}

Status trainflags_load_data(const TrainFlags *f, TrainData *d, Err *e)
{
    Status st = cli_load_data(f->data, DATA_MAX_CLASSES, f->train_limit, &d->train, &d->test, d->dir,
                              sizeof d->dir, e);
    if (!st && f->val) st = dataset_hold_out(&d->train, f->val, (uint64_t)f->seed, &d->val, e);
    return st;
}

void train_data_free(TrainData *d)
{
    dataset_free(&d->train);
    dataset_free(&d->test);
    dataset_free(&d->val);
}
