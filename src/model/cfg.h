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

/* The model file --model NAME names, into out (len bytes): NAME itself if
 * it is a file; else, for a preset name (NAME without '/', or
 * "models/NAME" that is not there: the clone's spelling), the first of
 * dirs[i]/NAME and dirs[i]/NAME.cfg that is a file, i = 0..ndirs-1. Any
 * other path is copied as it is (reading it then says why it cannot be
 * read). Not found: ST_ERR_ARG naming the places looked in and the presets
 * there (their *.cfg files), with the nearest name if one is near. */
Status cfg_find(const char *name, const char *const *dirs, int ndirs, char *out, size_t len, Err *e);

/* spec's model text (malloc'd into *text) with the rates p[0..np) of its
 * dropout layers (LAYER_DROPOUT kinds, in model-file order; np must be
 * their count) written in: a rate that differs from the text's replaces the
 * value on its layer's line (the shortest decimal that reads back as the
 * same float: 0.2, not 0.200000003); comments, spacing and the other lines
 * stay as they were. The checkpoint stores this text, so that it says what
 * the net does. ST_ERR_ARG if np is not the count. */
Status cfg_text_with_dropout(const NetSpec *spec, const float *p, int np, char **text, Err *e);

/* Sets the rates of spec's dropout layers to p[0..np) as
 * netspec_set_dropout does, and in spec->text (cfg_text_with_dropout). */
Status cfg_set_dropout(NetSpec *spec, const float *p, int np, Err *e);

#endif
