/* net.h - a sequential network built from a model file.
 *
 * The Net owns: the parameter arena (each layer's weight, bias, then its
 * buffers) and its gradient twin (one block each; layers hold views), one
 * activation buffer per layer output and two gradient buffers, all sized at
 * build time for max_batch samples, and one scratch buffer shared by the
 * layers. Nothing is allocated after net_build. */
#ifndef FMNIST_NET_H
#define FMNIST_NET_H

#include "nn/layer.h"
#include "nn/netspec.h"

/* One tensor of the arena, named as in the state_dict of the nn.Sequential
 * that has the same layers ("1.weight", "1.bias", "2.running_mean", ...), as
 * its layer's kind describes it (LayerOps.tensors).
 * is_bias: in the group that is not decayed (nor L1-penalized) unless
 * --decay-bias: biases, and batchnorm's weight (a per-channel scale, treated
 * like a bias). is_buffer: not a parameter but a layer's state (batchnorm's
 * running_mean, running_var, num_batches_tracked): saved and loaded with the
 * weights, written by forward only; the optimizer, the penalties and the
 * weight norm skip it, and its gradient stays 0. ndim 0 is a scalar (numel 1). */
typedef struct {
    char name[32];
    int ndim;
    int dims[4];
    size_t offset, numel;   /* in the arena */
    int is_bias;
    int is_buffer;
} ParamInfo;

typedef struct {
    NetSpec spec;           /* the model file it was built from (owned) */
    Shape in;
    int nclasses;           /* outputs of the last layer                 */
    int max_batch;
    int nlayers;
    Layer *layers;
    size_t nparams;         /* floats in the arena: parameters and buffers */
    size_t nbuffers;        /* of which buffers (trained: nparams - nbuffers) */
    float *params, *grads;
    int ntensors;
    ParamInfo *tensors;
    float **act;            /* act[i]: output of layer i, max_batch x out;
                               NULL where layer.h's Fusion says it has no
                               buffer: a reshape (flatten) or a folded relu
                               (its output is its input), a conv whose fused
                               pool recomputes its y (never stored)       */
    float *dbuf[2];         /* ping-pong buffers for activation gradients */
    float *ws;              /* scratch shared by all layers               */
    size_t bytes;           /* what net_build allocated for all the above  */
    Math math;              /* its layers' products (net_set_math); MATH_FP32 from net_build */
} Net;

/* Builds the network for spec (which it takes over: the caller must not free
 * spec afterwards, even on failure). Checks every shape; errors name the model
 * file's line. The last layer's output must be flat: its size is nclasses. */
Status net_build(NetSpec *spec, int max_batch, Net **out, Err *e);
void net_free(Net *net);
/* The checks of net_build without building: every shape and size, overflow
 * and the memory limit (64 GiB, or less if the machine has less), for
 * batches of max_batch. Fills the arena's size (nparams: parameters and
 * buffers) and the bytes net_build
 * would allocate (either may be NULL). Allocates nothing large, so a reader
 * can compare a file's claims with the data it holds before building. */
Status net_plan(const NetSpec *spec, int max_batch, size_t *nparams, size_t *bytes, Err *e);
/* The one place that decides fusion (layer.h): sets fuse_relu and fuse_pool
 * of layers[0..n) (after their setup) from their kinds' flags and
 * is_pool2x2. net_build calls it; net_plan may, to count buffers exactly. */
void net_plan_fusion(Layer *layers, int n);
/* 1 if layer i of layers (fusion planned) has its own output buffer: not a
 * reshape, not a relu folded into the layer before, not a conv whose fused
 * pool recomputes its y (layer.h). */
int net_has_output(const Layer *layers, int i);
/* The most memory a program may take: 64 GiB, or this machine's physical
 * memory if less (*what names which: "the limit", "this machine's memory").
 * net_plan refuses a net beyond it; run_memory_check (train/run.h) a run. */
size_t net_memory_limit(const char **what);

/* Initializes every parameter from seed (PyTorch's default per kind). */
void net_init(Net *net, uint64_t seed);
/* Runs the layers on x (n x in, n <= max_batch); returns the logits
 * (n x nclasses, owned by the net). key seeds the dropout masks of this call. */
const float *net_forward(Net *net, const float *x, int n, Mode mode, uint64_t key);
/* Backpropagates dlogits through the last forward (which must have been
 * MODE_TRAIN with the same x), accumulating into net->grads. */
void net_backward(Net *net, const float *x, const float *dlogits, int n);
/* The same on x as part p of a batch (layer.h: Micro-batches): n samples,
 * p->first .. p->first + n of the batch. Training goes through these (with
 * p->mb the run's micro-batch); the backward's parameter gradients go to
 * net->grads with p->gstride 0, or micro-batch j's to net->grads +
 * j*p->gstride. net_forward and net_backward are these with the call as the
 * whole batch in one micro-batch. */
const float *net_forward_part(Net *net, const float *x, int n, const BatchPart *p, Mode mode, uint64_t key);
void net_backward_part(Net *net, const float *x, const float *dlogits, int n, const BatchPart *p);
void net_zero_grad(Net *net);
/* Sets the arithmetic of every layer's products (kernels/math.h) from now
 * on; the caller has checked that the CPU runs it (math_choose). The
 * parameters stay fp32 whatever m. */
void net_set_math(Net *net, Math m);
/* Points every layer's gradient views (dw, db) at arena g, laid out as
 * net->grads (g NULL: back at net->grads, which is left as it is). A
 * backward with p->gstride = nparams writes micro-batch j's gradients to
 * the view + j*nparams, so g must then hold one arena per micro-batch of
 * the call: a rank's leaves. */
void net_point_grads(Net *net, float *g);

/* 1 if t is a count (a 0-d buffer: batchnorm's num_batches_tracked, a
 * float in the arena, an int64 in a state_dict): the EMA copies it, the
 * NPZ export writes it as an integer. */
int net_tensor_is_count(const ParamInfo *t);

/* Prints a summary (each layer, its output shape and parameter count, and
 * a dropout layer's rate: "dropout p=0.3"; the total counts trained
 * parameters and names the buffers beside it). */
void net_summary(const Net *net, FILE *f);

#endif
