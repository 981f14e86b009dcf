/* cfg.h - parser of model files (the .cfg files in models/).
 *
 * Grammar, one item per line, '#' starts a comment, blank lines ignored:
 *
 *   input CxHxW [mean=M] [std=S]    first item; normalization (p/255-M)/S,
 *                                    default mean=0.5 std=0.5
 *   flatten | relu
 *   dense N                          N outputs
 *   dropout P                        rate P in [0, 1)
 *   conv OC K [stride=S] [pad=P]     K is a size (3) or KHxKW (3x5)
 *   maxpool K [stride=S] | avgpool K [stride=S]   (stride defaults to K)
 *   batchnorm [eps=E] [momentum=M]   batch normalization over channels (of a
 *                                    flat or a CxHxW input), as PyTorch's
 *                                    BatchNorm1d/2d; eps > 0 (1e-5), momentum
 *                                    in [0, 1] (0.1): the running statistics'
 *                                    update rate
 *
 * The parser checks the syntax and the values (unknown words and keys are
 * errors); shapes are checked when the network is built (net_build). Every
 * message starts with "PATH:LINE: ". */
#ifndef FMNIST_CFG_H
#define FMNIST_CFG_H

#include "nn/layer.h"
#include "util/status.h"

#define CFG_MAX_LAYERS 256

typedef struct {
    char path[256];     /* where it came from, for messages        */
    char *text;         /* the whole file, NUL-terminated (owned)  */
    Shape input;
    float mean, std;    /* input normalization                     */
    int nlayers;
    LayerSpec layers[CFG_MAX_LAYERS];
} ModelCfg;

/* Parses text (copied). path only names the source in messages. */
Status cfg_parse_text(const char *path, const char *text, ModelCfg *cfg, Err *e);
/* Reads and parses a file (at most 1 MiB). */
Status cfg_parse_file(const char *path, ModelCfg *cfg, Err *e);
void cfg_free(ModelCfg *cfg);

/* Replaces the dropout rates, in the order of the dropout lines, by p[0..np).
 * np must equal the number of dropout lines. */
Status cfg_set_dropout(ModelCfg *cfg, const float *p, int np, Err *e);
/* The number of dropout lines. */
int cfg_count_dropout(const ModelCfg *cfg);

#endif
