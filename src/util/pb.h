/* pb.h - protocol buffers' wire format, written by hand into a Buf.
 *
 * The writer the ONNX export (model/export.c) and the TensorBoard event
 * files (report/tfevents.c) share. A message is built bottom-up: each
 * embedded message in its own Buf, then put into its parent as a
 * length-delimited field (pb_msg). Field numbers are the callers' (each
 * quotes its .proto). Nothing here allocates but the Bufs, and a failed
 * allocation is carried in Buf.failed, parent and child alike. */
#ifndef FMNIST_PB_H
#define FMNIST_PB_H

#include <stddef.h>
#include <stdint.h>

#include "util/fileio.h"

/* wire types */
enum { PB_VARINT = 0, PB_I64 = 1, PB_LEN = 2, PB_I32 = 5 };

void pb_varint(Buf *b, uint64_t v);
/* A field's key: (field << 3) | wire type. */
void pb_key(Buf *b, int field, int wire_type);
/* int32, int64, enum and bool fields (a negative value is 10 bytes of two's
 * complement, as protobuf writes it). */
void pb_int(Buf *b, int field, int64_t v);
/* double (fixed 64 bits) and float (fixed 32) fields, little-endian. */
void pb_double(Buf *b, int field, double v);
void pb_float(Buf *b, int field, float v);
/* bytes and string fields. */
void pb_bytes(Buf *b, int field, const void *p, size_t n);
void pb_str(Buf *b, int field, const char *s);
/* A packed repeated double field (proto3's default for repeated scalars):
 * one length-delimited field of n little-endian doubles. */
void pb_doubles(Buf *b, int field, const double *v, size_t n);
/* Embeds sub as a length-delimited field and empties it for reuse. */
void pb_msg(Buf *b, int field, Buf *sub);

#endif
