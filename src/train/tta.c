/* tta.c - test-time augmentation: the mean logits of an image and its
 * mirror (see tta.h). */
#include "train/tta.h"

#include <string.h>
#include <strings.h>

#include "data/augment.h"

int tta_parse(const char *name, TtaKind *k)
{
    if (!strcasecmp(name, "none")) *k = TTA_NONE;
    else if (!strcasecmp(name, "flip")) *k = TTA_FLIP;
    else return 0;
    return 1;
}

const char *tta_name(TtaKind k) { return k == TTA_FLIP ? "flip" : "none"; }

void tta_logits(Net *net, float *x, int n, TtaKind k, float *out)
{
    const size_t m = (size_t)n * (size_t)net->nclasses, rows = (size_t)n * (size_t)net->in.c * (size_t)net->in.h;
    const float *z = net_forward(net, x, n, MODE_EVAL, 0);
    memcpy(out, z, m * sizeof *out);
    if (k == TTA_NONE) return;
    aug_mirror_rows(x, rows, net->in.w);
    z = net_forward(net, x, n, MODE_EVAL, 0);
    for (size_t i = 0; i < m; i++) out[i] = (out[i] + z[i]) * 0.5f;
    aug_mirror_rows(x, rows, net->in.w); /* x as it came */
}
