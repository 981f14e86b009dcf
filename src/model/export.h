/* export.h - a trained network as a NumPy .npz, a safetensors file or an ONNX
 * model.
 *
 * NPZ: a zip of stored (uncompressed) .npy files, one per tensor, keyed by the
 * state_dict name of the equivalent torch.nn.Sequential ("1.weight", ...),
 * float32 little-endian (batchnorm's num_batches_tracked: int64 of shape (),
 * as in PyTorch), so that load_state_dict takes it unchanged.
 * safetensors: Hugging Face's format: an 8-byte little-endian header size N,
 * N bytes of JSON header, the data. The header maps each tensor's state_dict
 * name (the NPZ's keys, in the same order: layer order, weight before bias)
 * to {"dtype": "F32" (num_batches_tracked: "I64", shape []), "shape",
 * "data_offsets": [begin, end)} relative to the data, which holds the tensors
 * contiguously in header order; "__metadata__" holds "format": "pt" and the
 * model text ("fmnist.model") with its input normalization ("fmnist.mean",
 * "fmnist.std"). The header starts with '{' and is padded with spaces so
 * that the data starts at a multiple of 8 bytes.
 * ONNX: opset 13; input "input" float32 [N,C,H,W] with pixels in [0,1] (the
 * graph normalizes with Sub/Div itself), output "logits" [N,classes], N
 * dynamic; dropout is left out; batchnorm is a BatchNormalization node with
 * the running statistics (num_batches_tracked is not exported). The encoders
 * are written here (zip headers, JSON; protobuf through util/pb.h); nothing
 * here prints. */
#ifndef FMNIST_EXPORT_H
#define FMNIST_EXPORT_H

#include "nn/net.h"
#include "util/fileio.h"

#define EXPORT_ONNX_OPSET 13
#define EXPORT_ONNX_IR_VERSION 7

/* Appends the whole file to out. ST_ERR_NOMEM if memory runs out,
 * ST_ERR_SHAPE if a tensor is too large for a plain (non-zip64) zip. */
Status export_npz_buf(const Net *net, Buf *out, Err *e);
/* Appends the whole model to out. ST_ERR_SHAPE if the network holds a layer
 * kind ONNX export does not know. */
Status export_onnx_buf(const Net *net, Buf *out, Err *e);
/* Appends the whole safetensors file to out (ST_ERR_NOMEM only). */
Status export_safetensors_buf(const Net *net, Buf *out, Err *e);

/* The same, written atomically to path. */
Status export_npz(const Net *net, const char *path, Err *e);
Status export_onnx(const Net *net, const char *path, Err *e);
Status export_safetensors(const Net *net, const char *path, Err *e);

/* The .npy v1.0 header of a float32 C-order array of shape dims[0..ndim)
 * ("\x93NUMPY", version, length, the dict, padded with spaces and a final
 * newline to a multiple of 64 bytes). Appended to out. */
void export_npy_header(Buf *out, const int *dims, int ndim);

#endif
