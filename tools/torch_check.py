#!/usr/bin/python3
"""torch_check.py - an fmnist NPZ or safetensors export loaded into PyTorch, and its test accuracy.

Builds the torch.nn.Sequential that has the layers of an fmnist model file
(the `input` line is not a layer; layers count from 0, so the keys are the
npz's: "1.weight", "1.bias", ...; batchnorm is BatchNorm1d on a flat input,
BatchNorm2d on an image, with its running statistics and num_batches_tracked
among the keys), loads the npz exactly as a user would,

    model.load_state_dict({k: torch.from_numpy(v) for k, v in np.load(f).items()})

(a .safetensors file is read with json and numpy alone, read_safetensors below,
checking the format's rules on the way: 8-byte header size, a JSON header
starting with '{', data_offsets contiguous from 0 to the end of the file, each
tensor's bytes = its shape times its dtype's size), normalizes the test images like fmnist ((p/255 - mean)/std, from the input
line) and prints the test loss and accuracy in `fmnist eval`'s format:

    /usr/bin/python3 tools/torch_check.py model.npz --model models/mlp.cfg
    /usr/bin/python3 tools/torch_check.py model.npz --checkpoint runs/x/model.fmw [--limit N]
    /usr/bin/python3 tools/torch_check.py model.safetensors --model models/mlp.cfg [--same-as model.npz]
                     [--logits N] [--numpy-only]

(--checkpoint takes the model text stored in an fmnist checkpoint; --same-as
compares every array with an NPZ export's, names, order, dtype, shape and
bits; --logits N prints the logits of the first N test images, "K: z0 z1 ..";
--numpy-only stops after reading and comparing, without torch.) Needs
Debian's python3-numpy, and python3-torch unless --numpy-only; exit status 3
if they are missing.
"""
import argparse
import gzip
import os
import struct
import sys

import json

try:
    import numpy as np
    if "--numpy-only" not in sys.argv:
        import torch
        from torch import nn
except ImportError as exc:  # the tests skip, visibly, on status 3
    print(f"torch_check: {exc} (install python3-torch, run with /usr/bin/python3)", file=sys.stderr)
    sys.exit(3)

ST_DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2", "I64": "<i8", "I32": "<i4", "U8": "u1"}


def read_safetensors(path):
    """{name: array} of a safetensors file, in header order, with numpy alone."""
    with open(path, "rb") as f:
        data = f.read()

    def fail(msg):
        sys.exit(f"torch_check: {path}: {msg}")
    if len(data) < 8:
        fail("shorter than its 8-byte header size")
    n = int.from_bytes(data[:8], "little")
    if 8 + n > len(data):
        fail(f"header of {n} bytes past the end of the file")
    raw = data[8:8 + n]
    if not raw.startswith(b"{"):
        fail("the header does not start with '{'")
    def no_duplicates(pairs):
        if len({k for k, _ in pairs}) != len(pairs):
            fail("a key appears twice in the header")
        return dict(pairs)
    header = json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicates)
    meta = header.pop("__metadata__", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        fail("__metadata__ holds a value that is not a string")
    buf = data[8 + n:]
    out, end = {}, 0
    for name, t in header.items():
        dt = np.dtype(ST_DTYPES[t["dtype"]])
        b, e = t["data_offsets"]
        count = int(np.prod(t["shape"], dtype=np.int64))
        if b != end or e - b != count * dt.itemsize:
            fail(f"{name}: data_offsets {b, e} are not the next {count * dt.itemsize} bytes from {end}")
        out[name] = np.frombuffer(buf, dtype=dt, count=count, offset=b).reshape(t["shape"]).copy()
        end = e
    if end != len(buf):
        fail(f"{len(buf) - end} bytes after the last tensor")
    return out, meta


def load_arrays(path):
    if path.endswith(".safetensors"):
        return read_safetensors(path)[0]
    with open(path, "rb") as f:
        return dict(np.load(f).items())


def same_as(arrays, npz_path):
    """Fails unless arrays holds the NPZ's arrays: names, order, dtype, shape, bits."""
    with open(npz_path, "rb") as f:
        ref = np.load(f)
        names = list(ref.keys())
        if list(arrays) != names:
            sys.exit(f"torch_check: names differ: {list(arrays)} vs the NPZ's {names}")
        for k in names:
            a, r = arrays[k], ref[k]
            if a.dtype != r.dtype or a.shape != r.shape or a.tobytes() != r.tobytes():
                sys.exit(f"torch_check: {k}: {a.dtype}{a.shape} differs from the NPZ's {r.dtype}{r.shape}")
    print(f"same as {os.path.basename(npz_path)}: {len(names)} arrays, bit for bit")


def model_text_from_checkpoint(path):
    """The CFG section of an .fmw file (docs/checkpoint.md)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"FMNW":
        sys.exit(f"torch_check: {path}: not an fmnist checkpoint")
    _version, nsec = struct.unpack_from("<II", data, 4)
    off = 12
    for _ in range(nsec):
        tag, n = data[off:off + 4], struct.unpack_from("<Q", data, off + 4)[0]
        if tag == b"CFG ":
            return data[off + 12:off + 12 + n].decode()
        off += 12 + n
    sys.exit(f"torch_check: {path}: no model text")


def build(text, where):
    """nn.Sequential of the model text, and (mean, std, (C, H, W))."""
    layers, shape, mean, std = [], None, 0.5, 0.5
    flat = False
    for lineno, raw in enumerate(text.splitlines(), 1):
        tok = raw.split("#", 1)[0].split()
        if not tok:
            continue
        word, args = tok[0], [t for t in tok[1:] if "=" not in t]
        opts = dict(t.split("=", 1) for t in tok[1:] if "=" in t)

        def fail(msg):
            sys.exit(f"torch_check: {where}:{lineno}: {msg}")

        def size2(s):
            return tuple(int(v) for v in s.split("x")) if "x" in s else (int(s), int(s))
        if word == "input":
            shape = tuple(int(v) for v in args[0].split("x"))
            mean, std = float(opts.get("mean", 0.5)), float(opts.get("std", 0.5))
            continue
        c, h, w = shape
        if word == "flatten":
            layers.append(nn.Flatten())
            shape, flat = (c * h * w, 1, 1), True
        elif word == "dense":
            if not flat:
                fail("dense on an unflattened input has no nn.Sequential equivalent here")
            layers.append(nn.Linear(c, int(args[0])))
            shape = (int(args[0]), 1, 1)
        elif word == "relu":
            layers.append(nn.ReLU())
        elif word == "dropout":
            layers.append(nn.Dropout(float(args[0])))
        elif word == "dropout2d":
            layers.append(nn.Dropout2d(float(args[0])))
        elif word == "conv":
            kh, kw = size2(args[1])
            s, p = int(opts.get("stride", 1)), int(opts.get("pad", 0))
            layers.append(nn.Conv2d(c, int(args[0]), (kh, kw), stride=s, padding=p))
            shape = (int(args[0]), (h + 2 * p - kh) // s + 1, (w + 2 * p - kw) // s + 1)
        elif word in ("maxpool", "avgpool"):
            kh, kw = size2(args[0])
            sh, sw = (int(opts["stride"]),) * 2 if "stride" in opts else (kh, kw)
            pool = nn.MaxPool2d if word == "maxpool" else nn.AvgPool2d
            layers.append(pool((kh, kw), stride=(sh, sw)))
            shape = (c, (h - kh) // sh + 1, (w - kw) // sw + 1)
        elif word == "batchnorm":
            # on (N, C) after flatten/dense: BatchNorm1d; on (N, C, H, W): BatchNorm2d
            bn = nn.BatchNorm1d if flat else nn.BatchNorm2d
            layers.append(bn(c, eps=float(opts.get("eps", 1e-5)), momentum=float(opts.get("momentum", 0.1))))
        else:
            fail(f"unknown layer '{word}'")
    return nn.Sequential(*layers), mean, std


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack_from(">" + "I" * ndim, data, 4)
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find_data(flag):
    # as fmnist looks: a folder the user named (--data, else $FMNIST_DATA) or nothing
    named = flag or os.environ.get("FMNIST_DATA")
    for d in (named,) if named else ("data", "/usr/share/datasets/fashion-mnist"):
        if any(os.path.exists(os.path.join(d, "t10k-labels-idx1-ubyte" + z)) for z in ("", ".gz")):
            return d
    sys.exit("torch_check: Fashion-MNIST not found in %s (--data DIR)" % (named or "data/ or /usr/share/datasets/fashion-mnist"))


def idx_path(d, name):
    p = os.path.join(d, name)
    return p if os.path.exists(p) else p + ".gz"


def main():
    ap = argparse.ArgumentParser(description="Test accuracy of an fmnist NPZ or safetensors export in PyTorch.")
    ap.add_argument("npz", help="the export: .npz or .safetensors")
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--model", help="the model file (.cfg) the weights were trained with")
    src.add_argument("--checkpoint", help="an fmnist checkpoint (.fmw): its model text is used")
    ap.add_argument("--data", help="folder with the IDX files")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="only the first N test images")
    ap.add_argument("--same-as", help="an NPZ export whose arrays must be the same, bit for bit")
    ap.add_argument("--logits", type=int, default=0, help="print the logits of the first N test images")
    ap.add_argument("--numpy-only", action="store_true", help="read (and --same-as) only: no torch")
    a = ap.parse_args()
    arrays = load_arrays(a.npz)
    if a.same_as:
        same_as(arrays, a.same_as)
    if a.numpy_only:
        return
    if not a.model and not a.checkpoint:
        ap.error("one of the arguments --model --checkpoint is required")
    torch.set_num_threads(a.threads)
    if a.model:
        with open(a.model) as f:
            text, where = f.read(), a.model
    else:
        text, where = model_text_from_checkpoint(a.checkpoint), a.checkpoint
    model, mean, std = build(text, where)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()})
    model.eval()
    d = find_data(a.data)
    x = read_idx(idx_path(d, "t10k-images-idx3-ubyte"))
    y = torch.from_numpy(read_idx(idx_path(d, "t10k-labels-idx1-ubyte")).astype(np.int64))
    if a.limit:
        x, y = x[:a.limit], y[:a.limit]
    x = (torch.from_numpy(x.astype(np.float32)).unsqueeze(1) / 255.0 - mean) / std
    if a.logits:
        with torch.no_grad():
            z = model(x[:a.logits])
        for i, row in enumerate(z.tolist()):
            print(f"{i}: " + " ".join(f"{v:.9g}" for v in row))
    loss, right = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(y), 1000):
            z = model(x[i:i + 1000])
            loss += nn.functional.cross_entropy(z, y[i:i + 1000], reduction="sum").double().item()
            right += int((z.argmax(1) == y[i:i + 1000]).sum())
    n = len(y)
    print(f"test loss {loss / n:.4f} acc {100 * right / n:.2f}% ({n} images; {right} right; PyTorch {torch.__version__})")


if __name__ == "__main__":
    main()
