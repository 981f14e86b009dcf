/* pb.c - protocol buffers' wire format (see pb.h). */
#include "util/pb.h"

#include <string.h>

void pb_varint(Buf *b, uint64_t v)
{
    unsigned char c[10];
    int n = 0;
    do {
        c[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v) c[n] |= 0x80;
        n++;
    } while (v);
    buf_put(b, c, (size_t)n);
}

void pb_key(Buf *b, int field, int wire_type) { pb_varint(b, (uint64_t)field << 3 | (uint64_t)wire_type); }

void pb_int(Buf *b, int field, int64_t v)
{
    pb_key(b, field, PB_VARINT);
    pb_varint(b, (uint64_t)v);
}

static void put_double(Buf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    buf_u64(b, u);
}

void pb_double(Buf *b, int field, double v)
{
    pb_key(b, field, PB_I64);
    put_double(b, v);
}

void pb_float(Buf *b, int field, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    pb_key(b, field, PB_I32);
    buf_u32(b, u);
}

void pb_bytes(Buf *b, int field, const void *p, size_t n)
{
    pb_key(b, field, PB_LEN);
    pb_varint(b, n);
    buf_put(b, p, n);
}

void pb_str(Buf *b, int field, const char *s) { pb_bytes(b, field, s, strlen(s)); }

void pb_doubles(Buf *b, int field, const double *v, size_t n)
{
    pb_key(b, field, PB_LEN);
    pb_varint(b, (uint64_t)n * 8);
    for (size_t i = 0; i < n; i++) put_double(b, v[i]);
}

void pb_msg(Buf *b, int field, Buf *sub)
{
    pb_bytes(b, field, sub->data ? sub->data : "", sub->len);
    b->failed |= sub->failed;
    buf_free(sub);
}
