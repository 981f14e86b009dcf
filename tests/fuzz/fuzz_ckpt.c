/* fuzz_ckpt.c - libFuzzer target for the checkpoint reader (model/weights.c).
 *
 * The last four bytes of the input are replaced by the CRC-32 of the rest,
 * so that mutations get past the checksum into the section parser, the
 * model text, the shape checks and the optimizer state. Each input is read
 * with the run's own batch size (and the full state) and with batch 3
 * (weights only). A file the reader accepts (version 2 or 3) is written
 * back (version 3) and read again with the net's batch size: the second
 * read must accept it too and give the same parameters and state. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "model/weights.h"

static char dir[64], path[96];

static void round_trip(const Net *net, const CkptState *st)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/dev/shm/fuzz-ckpt-XXXXXX");
        if (access("/dev/shm", W_OK) != 0) snprintf(dir, sizeof dir, "/tmp/fuzz-ckpt-XXXXXX");
        if (!mkdtemp(dir)) abort();
        snprintf(path, sizeof path, "%s/m.fmw", dir);
    }
    Err e;
    if (weights_save_run(path, net, st, &e) != ST_OK) abort();
    Net *back;
    CkptState st2;
    if (weights_load_run(path, net->max_batch, &back, st ? &st2 : NULL, &e) != ST_OK) {
        fprintf(stderr, "round trip refused: %s\n", e.msg);
        abort();
    }
    if (back->nparams != net->nparams || memcmp(back->params, net->params, net->nparams * sizeof(float)))
        abort();
    if (st) {
        if (st2.epoch != st->epoch || st2.step != st->step || st2.pos_batch != st->pos_batch ||
            st2.has_optim != st->has_optim || st2.has_val != st->has_val || strcmp(st2.settings, st->settings) ||
            strcmp(st2.log, st->log) || !st2.live != !st->live ||
            (st->live && memcmp(st2.live, st->live, net->nparams * sizeof(float))))
            abort();
        weights_state_free(&st2);
    }
    net_free(back);
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8 || size > (1 << 20)) return 0;
    unsigned char *u = malloc(size);
    if (!u) abort();
    memcpy(u, data, size);
    uint32_t c = (uint32_t)crc32(crc32(0L, Z_NULL, 0), u, (uInt)(size - 4));
    for (int i = 0; i < 4; i++) u[size - 4 + i] = (unsigned char)(c >> (8 * i));
    Net *net;
    CkptState st;
    Err e = {{0}};
    if (weights_load_mem("fuzz.fmw", u, size, 0, &net, &st, &e) == ST_OK) {
        round_trip(net, &st);
        weights_state_free(&st);
        net_free(net);
    } else if (!e.msg[0] || net) {
        abort();
    }
    e.msg[0] = 0;
    if (weights_load_mem("fuzz.fmw", u, size, 3, &net, NULL, &e) == ST_OK) {
        round_trip(net, NULL);
        net_free(net);
    } else if (!e.msg[0] || net) {
        abort();
    }
    free(u);
    return 0;
}
