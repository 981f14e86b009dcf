/* weights.h - the native checkpoint file (.fmw).
 *
 * Layout (all integers little-endian; docs/checkpoint.md has the details):
 *   "FMNW"  u32 version (1)  u32 section count
 *   sections, each: 4-byte tag, u64 payload length, payload
 *     "CFG " the model file's text
 *     "META" the run's settings and progress, "key=value" lines
 *     "TENS" u32 count; per tensor: u32 name length, name, u32 ndim,
 *            u32 dims[ndim], float32 data (numel = product of dims)
 *   u32 CRC-32 (zlib's) of every byte before it.
 * Written atomically (temp file, fsync, rename). A file whose CRC, size,
 * sections or tensor shapes are not exactly right is refused, never loaded. */
#ifndef FMNIST_WEIGHTS_H
#define FMNIST_WEIGHTS_H

#include "nn/net.h"

/* meta may be NULL (written as empty). */
Status weights_save(const char *path, const Net *net, const char *meta, Err *e);
/* Builds the network the file describes (for batches up to max_batch) and
 * loads its tensors. *meta (malloc'd, may be empty) if meta is not NULL. */
Status weights_load(const char *path, int max_batch, Net **net, char **meta, Err *e);

#endif
