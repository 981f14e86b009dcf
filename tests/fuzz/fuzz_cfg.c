/* fuzz_cfg.c - libFuzzer target for the model-file parser (model/cfg.c) and
 * the network built from it (nn/net.c: shape inference, size checks).
 *
 * The bytes are the model text. Whatever parses is built for a batch of 1
 * to 3; small nets (the fuzz build caps a net at 1 GiB) then run one
 * forward and backward pass in train mode and one forward in eval mode, so
 * every layer's geometry is exercised under ASan and UBSan. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/cfg.h"
#include "nn/net.h"

/* Run the passes only on nets this small (floats). */
#define SMALL ((size_t)1 << 16)

static void exercise(Net *net, int batch)
{
    size_t nin = (size_t)batch * shape_numel(net->in), acts = 0;
    for (int i = 0; i < net->nlayers; i++) acts += shape_numel(net->layers[i].out);
    if (net->nparams > SMALL || nin > SMALL || acts * (size_t)batch > 4 * SMALL) return;
    net_init(net, 7);
    float *x = malloc(nin * sizeof *x), *dl = malloc((size_t)batch * net->nclasses * sizeof *dl);
    if (!x || !dl) abort();
    for (size_t i = 0; i < nin; i++) x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    for (size_t i = 0; i < (size_t)batch * net->nclasses; i++) dl[i] = (i % 3) ? 0.5f : -0.25f;
    net_zero_grad(net);
    net_forward(net, x, batch, MODE_TRAIN, 12345);
    net_backward(net, x, dl, batch);
    net_forward(net, x, batch, MODE_EVAL, 0);
    free(x);
    free(dl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1 << 16)) return 0;
    char *text = malloc(size + 1);
    if (!text) abort();
    memcpy(text, data, size);
    text[size] = 0; /* text up to a NUL byte, as a C string */
    NetSpec cfg;
    Err e = {{0}};
    Status st = cfg_parse_text("fuzz.cfg", text, &cfg, &e);
    free(text);
    if (st != ST_OK) {
        if (!e.msg[0]) abort();
        return 0;
    }
    int batch = 1 + (int)(size % 3);
    Net *net;
    e.msg[0] = 0;
    if (net_build(&cfg, batch, &net, &e) != ST_OK) {
        if (!e.msg[0] || net) abort();
        return 0;
    }
    if (net->nclasses < 1 || net->nlayers < 1) abort();
    exercise(net, batch);
    net_free(net);
    return 0;
}
