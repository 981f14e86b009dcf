#!/usr/bin/python3
"""pytorch_ref.py - the product's models trained by PyTorch, for comparison.

Trains the same network as models/mlp.cfg, models/cnn.cfg or models/cnn-bn.cfg (same layers, same
default initialization, normalization (x/255-0.5)/0.5, Adam lr 1e-3, batch 128,
shuffled every epoch, last partial batch kept) with the whole data set
preloaded as tensors, and prints one line per epoch like fmnist does:

    /usr/bin/python3 tools/pytorch_ref.py --model mlp --epochs 10 --threads 2

`make bench` runs it with --bench (training pass timed only, optionally a
fixed number of batches per epoch, extrapolated to 60000 images). --autocast
bf16 runs forward and loss under torch.autocast("cpu", dtype=torch.bfloat16),
PyTorch's way to bf16 products on a CPU (oneDNN; AMX where the CPU has it).

Needs Debian's python3-torch and python3-numpy.
"""
import argparse
import gzip
import os
import sys
import time

import numpy as np
import torch
from torch import nn


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(d, name):
    for p in (os.path.join(d, name), os.path.join(d, name + ".gz")):
        if os.path.exists(p):
            return p
    sys.exit(f"pytorch_ref: {name} not found in {d}")


def load(d, split):
    prefix = "train" if split == "train" else "t10k"
    x = read_idx(find(d, f"{prefix}-images-idx3-ubyte")).astype(np.float32) / 255.0
    y = read_idx(find(d, f"{prefix}-labels-idx1-ubyte")).astype(np.int64)
    x = (torch.from_numpy(x).unsqueeze(1) - 0.5) / 0.5
    return x, torch.from_numpy(y)


def build(kind):
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.3),
                             nn.Linear(256, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))
    if kind == "cnn-bn":
        def block(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]
        return nn.Sequential(*block(1, 32), *block(32, 32), nn.MaxPool2d(2), nn.Dropout(0.1),
                             *block(32, 64), *block(64, 64), nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
                             nn.Linear(64 * 7 * 7, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Dropout(0.5),
                             nn.Linear(256, 10))
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["mlp", "cnn", "cnn-bn"], default="mlp")
    ap.add_argument("--autocast", choices=["none", "bf16"], default="none",
                    help="bf16: forward and loss under torch.autocast('cpu', dtype=torch.bfloat16)")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--train-limit", type=int, default=0)
    ap.add_argument("--data", default=os.environ.get("FMNIST_DATA") or "data")
    ap.add_argument("--bench", type=int, default=None, metavar="B",
                    help="time the training pass only: per epoch, B batches (0: whole epochs), "
                         "no evaluation; prints one 'BENCH epoch_s=..' line, extrapolated to an epoch")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    xtr, ytr = load(a.data, "train")
    xte, yte = load(a.data, "test")
    if a.train_limit:
        xtr, ytr = xtr[:a.train_limit], ytr[:a.train_limit]
    net = build(a.model)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    lossf = nn.CrossEntropyLoss()
    n = xtr.shape[0]
    for epoch in range(1, a.epochs + 1):
        net.train()
        perm = torch.randperm(n)
        t0 = time.perf_counter()
        tot, right = 0.0, 0
        stop = min(n, a.bench * a.batch) if a.bench else n  # --bench 0: whole epochs
        for s in range(0, stop, a.batch):
            idx = perm[s:s + a.batch]
            xb, yb = xtr[idx], ytr[idx]
            opt.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.autocast == "bf16"):
                out = net(xb)
                loss = lossf(out, yb)
            loss.backward()
            opt.step()
            tot += loss.item() * len(idx)
            right += (out.argmax(1) == yb).sum().item()
        secs = time.perf_counter() - t0
        if a.bench is not None:
            print(f"BENCH epoch {epoch} images {stop} seconds {secs:.4f} epoch_s {secs * n / stop:.4f}", flush=True)
            continue
        net.eval()
        with torch.no_grad():
            tl, tr = 0.0, 0
            for s in range(0, xte.shape[0], 1000):
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.autocast == "bf16"):
                    out = net(xte[s:s + 1000]).float()
                tl += lossf(out, yte[s:s + 1000]).item() * out.shape[0]
                tr += (out.argmax(1) == yte[s:s + 1000]).sum().item()
        print(f"epoch {epoch:2d}/{a.epochs}  train loss {tot / n:.4f} acc {100 * right / n:.2f}%  |  "
              f"test loss {tl / xte.shape[0]:.4f} acc {100 * tr / xte.shape[0]:.2f}%  |  "
              f"{n / secs / 1000:.0f}k img/s  {secs:.2f} s", flush=True)


if __name__ == "__main__":
    main()
