#!/usr/bin/python3
"""torch_steps.py - fmnist's training steps replayed in PyTorch, step for step.

fmnist and PyTorch start from the same weights and see the same batches in the
same order; after N optimizer steps their weights must agree to float32
rounding. This checks everything at once that a final-accuracy comparison can
only suggest: initialization layout, normalization, forward, loss, backward and
the optimizer's formulas.

    /usr/bin/python3 tools/torch_steps.py --model models/mlp.cfg --optim adam --steps 30
    /usr/bin/python3 tools/torch_steps.py --model models/cnn.cfg --optim sgd --momentum 0.9 --steps 10
    /usr/bin/python3 tools/torch_steps.py --optim sgd --nesterov --lr-schedule onecycle --steps 20

--lr-schedule onecycle runs torch's OneCycleLR (defaults; --lr is max_lr) over
the N steps, against fmnist's --lr-schedule onecycle over its one epoch.

How: `fmnist train --lr 0` leaves the initial weights as they are (exported
as NPZ); a second run with the real learning rate takes N steps (one epoch of
N*batch images); dropout is switched off (its masks come from different
generators); batchnorm layers start from their initial running statistics on
both sides, and those are compared after the steps too. fmnist's shuffle is
reimplemented here (xoshiro256** seeded through splitmix64, Lemire's bounded
draw, Fisher-Yates; src/util/rng.c and src/train/train.c) so PyTorch sees the
same batches. Exit status 1 if the
weights differ by more than --tol (relative to the largest weight change).

Batch normalization: a layer followed by batchnorm gets gradients whose batch
mean is 0, so its weight gradients are small differences of large terms, and
rounding decides more of them. With SGD the MLP with batchnorm agrees to ~1e-5
of the change, but a conv net with batchnorm drifts from PyTorch's float32 CPU
kernels by 2e-2 to 4e-2 in 10 steps; --double runs PyTorch in float64, against
which fmnist is within 2e-4 to 7e-4 (so the drift is mostly PyTorch's float32
rounding). Adam magnifies gradients that are 0 in exact arithmetic (a bias just
before batchnorm, weights of pixels that are constant in a batch) into full
steps of either sign, so compare batchnorm models with SGD.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_check  # noqa: E402  (model builder and IDX reader)

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix64(z):
    z = (z + GOLDEN) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


class Xoshiro:
    def __init__(self, seed):
        self.s, z = [], seed
        for _ in range(4):
            z = (z + GOLDEN) & M64
            self.s.append(mix64(z))

    def next(self):
        s = self.s
        rotl = lambda x, k: ((x << k) | (x >> (64 - k))) & M64  # noqa: E731
        result = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def below(self, n):
        m = (self.next() >> 32) * n
        lo = m & 0xFFFFFFFF
        if lo < n:
            thresh = ((1 << 32) - n) % n
            while lo < thresh:
                m = (self.next() >> 32) * n
                lo = m & 0xFFFFFFFF
        return m >> 32


def fmnist_perm(n, seed, epoch):
    r = Xoshiro(mix64(seed) ^ epoch)
    perm = list(range(n))
    for i in range(n - 1, 0, -1):
        j = r.below(i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    return perm


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode:
        sys.exit(f"torch_steps: {' '.join(cmd)} failed:\n{p.stdout}{p.stderr}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fmnist", default="./fmnist")
    ap.add_argument("--model", default="models/mlp.cfg")
    ap.add_argument("--optim", default="adam", choices=["sgd", "adam", "adamw"])
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--momentum", type=float, default=0.0)
    ap.add_argument("--nesterov", action="store_true")
    ap.add_argument("--lr-schedule", default="constant", choices=["constant", "onecycle"])
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seed", type=int, default=3)
    # Adam divides by sqrt(v): where a gradient is ~0 its rounding is magnified,
    # so Adam runs agree less tightly than SGD's (measured: 3e-3 vs 4e-4).
    ap.add_argument("--tol", type=float, default=None)
    ap.add_argument("--data", default=None)
    ap.add_argument("--double", action="store_true",
                    help="PyTorch in float64: the differences are then fmnist's own float32 rounding (useful "
                         "where a gradient is the small difference of large terms, e.g. before batchnorm)")
    a = ap.parse_args()
    lr = a.lr if a.lr is not None else (1e-3 if a.optim != "sgd" else 0.05)
    if a.tol is None:
        a.tol = 1e-3 if a.optim == "sgd" else 1e-2
    text = open(a.model).read()
    net, mean, std = torch_check.build(text, a.model)
    ndrop = sum(1 for m in net if isinstance(m, torch.nn.Dropout))
    n = a.steps * a.batch
    tmp = tempfile.mkdtemp(prefix="torch-steps-")
    common = [a.fmnist, "train", "--model", a.model, "--epochs", "1", "--train-limit", str(n), "--batch",
              str(a.batch), "--seed", str(a.seed), "--optim", a.optim, "--no-progress"]
    if ndrop:
        common += ["--dropout", ",".join(["0"] * ndrop)]
    if a.momentum:
        common += ["--momentum", str(a.momentum)]
    if a.nesterov:
        common += ["--nesterov"]
    if a.lr_schedule != "constant":
        common += ["--lr-schedule", a.lr_schedule]
    if a.weight_decay:
        common += ["--weight-decay", str(a.weight_decay)]
    if a.data:
        common += ["--data", a.data]
    for name, rate in (("init", 0.0), ("trained", lr)):
        run(common + ["--lr", str(rate), "--out", f"{tmp}/{name}"])
        run([a.fmnist, "export", "--weights", f"{tmp}/{name}/model.fmw", "--format", "npz", "-o",
             f"{tmp}/{name}.npz"])
    init = dict(np.load(f"{tmp}/init.npz"))
    want = dict(np.load(f"{tmp}/trained.npz"))
    # batchnorm's running statistics moved during the lr-0 run; both sides start from
    # PyTorch's (and fmnist's) initial ones: mean 0, variance 1, count 0
    for k, v in net.state_dict().items():
        if k.endswith(("running_mean", "running_var", "num_batches_tracked")):
            init[k] = v.numpy().copy()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in init.items()})
    for m in net:
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0

    d = torch_check.find_data(a.data)
    x = torch_check.read_idx(torch_check.idx_path(d, "train-images-idx3-ubyte"))[:n]
    y = torch_check.read_idx(torch_check.idx_path(d, "train-labels-idx1-ubyte"))[:n]
    x = (torch.from_numpy(x.astype(np.float32)).unsqueeze(1) / 255.0 - mean) / std
    y = torch.from_numpy(y.astype(np.int64))
    if a.double:
        net.double()
        x = x.double()
    if a.optim == "sgd":
        # OneCycleLR sets the momentum of every step; SGD needs one above 0 for Nesterov
        mom = a.momentum if a.lr_schedule == "constant" else 0.9
        opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=mom, nesterov=a.nesterov,
                              weight_decay=a.weight_decay)
    elif a.optim == "adam":
        opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=a.weight_decay)
    else:
        opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=a.weight_decay)
    if a.weight_decay:
        sys.exit("torch_steps: --weight-decay: fmnist does not decay biases by default; compare without it")
    sched = None
    if a.lr_schedule == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=a.steps)
    perm = torch.tensor(fmnist_perm(n, a.seed, 1))
    lossf = torch.nn.CrossEntropyLoss()
    net.train()
    for s in range(a.steps):
        idx = perm[s * a.batch:(s + 1) * a.batch]
        opt.zero_grad()
        loss = lossf(net(x[idx]), y[idx])
        loss.backward()
        opt.step()
        if sched:
            sched.step()
    worst = 0.0
    print(f"{a.model}, {a.optim}{' (Nesterov)' if a.nesterov else ''} lr {lr}"
          f"{', ' + a.lr_schedule if sched else ''}, {a.steps} steps of batch {a.batch}, seed {a.seed}"
          f"{', PyTorch in float64' if a.double else ''}")
    state = net.state_dict()
    # A tensor that hardly moves (a bias just before batchnorm: its gradient is 0 in exact
    # arithmetic, only rounding moves it) is measured against 1e-3 of the largest change.
    floor = 1e-3 * max(float(np.abs(want[k] - init[k]).max()) for k in state if not k.endswith("num_batches_tracked"))
    for k, v in state.items():
        got = v.detach().numpy()
        moved = np.abs(want[k] - init[k]).max()
        diff = np.abs(got - want[k]).max()
        rel = diff / max(moved, floor, 1e-12)
        worst = max(worst, rel)
        print(f"  {k:10s} {str(tuple(got.shape)):16s} largest change {moved:.3e}  "
              f"largest fmnist-PyTorch difference {diff:.3e} ({rel:.1e} of the change)")
    ok = worst <= a.tol
    print(f"{'agree' if ok else 'DIFFER'}: worst difference is {worst:.1e} of the largest change (tolerance {a.tol})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
