/* cfg.h - parser of model files (the .cfg files in models/) into a NetSpec.
 *
 * Grammar, one item per line, '#' starts a comment, blank lines ignored:
 *
 *   input CxHxW [mean=M] [std=S]    first item; normalization (p/255-M)/S,
 *                                    default mean=0.5 std=0.5
 *   KIND VALUES... [KEY=VALUE ...]   one layer: its values first, then its
 *                                    options, as the kind's LayerOps says
 *                                    (usage, nvalues, keys; nn/layer.h)
 *
 * The kinds are the table's in nn/layer.c, each with its syntax and meaning
 * in its own file (nn/dense.c, nn/conv2d.c, ...); an unknown word's message
 * lists them.
 *
 * The parser checks the syntax and the values (unknown words and keys are
 * errors); shapes are checked when the network is built (net_build). Every
 * message starts with "PATH:LINE: ". */
#ifndef FMNIST_CFG_H
#define FMNIST_CFG_H

#include "nn/netspec.h"
#include "util/status.h"

/* Parses text (copied) into spec (free it with netspec_free). path only
 * names the source in messages. */
Status cfg_parse_text(const char *path, const char *text, NetSpec *spec, Err *e);
/* Reads and parses a file (at most 1 MiB). */
Status cfg_parse_file(const char *path, NetSpec *spec, Err *e);

#endif
