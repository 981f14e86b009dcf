/* regopts.h - the regularization settings of a run that the optimizer's
 * OPTM section does not hold (L1 strength, --report-penalty, ...), as the
 * checkpoint's "REG " text section, so that --resume keeps them.
 *
 * The text is "key=value\n" lines; floats are written with 9 significant
 * digits, which gives the same float back. Unknown keys are refused: a
 * resumed run must not silently drop a setting it does not understand. */
#ifndef FMNIST_REGOPTS_H
#define FMNIST_REGOPTS_H

#include <stddef.h>

#include "train/train.h"

/* The settings of tc as text (cut to len bytes, NUL included): l1,
 * report_penalty, val (tc->val's image count, 0 without), early_stop, aug
 * (aug_format's list, "" for none). */
void regopts_format(const TrainConfig *tc, char *buf, size_t len);

/* Sets the fields of tc that text names (others are left as they are) and
 * *nval, the number of validation images held out (0: none). Errors: ST_ERR_FORMAT "PATH: REG line N: ..." for an unknown key or a
 * malformed or out-of-range value. */
Status regopts_parse(const char *path, const char *text, TrainConfig *tc, int *nval, Err *e);

#endif
