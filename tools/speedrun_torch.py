#!/usr/bin/python3
"""speedrun_torch.py - the time-to-94% recipe (make speedrun) in PyTorch.

The same net (built from the same model file, with PyTorch's default
initialization), the same flags and the same data as fmnist's recipe:

  - the validation hold-out: the same images (fmnist's seeded draw, src/data/split.c,
    reimplemented), used for nothing but monitoring;
  - the order of every epoch: fmnist's shuffle (train.c's epoch_begin, reimplemented
    in tools/torch_steps.py), last partial batch kept;
  - augmentation: random crop with black padding and a horizontal flip of
    probability 1/2, per sample (torchvision's RandomCrop(28, padding=P) and
    RandomHorizontalFlip), from torch's generator: the same distributions, not the
    same draws;
  - weight decay on weights only (conv and dense weights; fmnist leaves biases and
    batchnorm's scale and shift alone unless --decay-bias);
  - nn.CrossEntropyLoss(label_smoothing=E); OneCycleLR with its defaults; SGD with
    Nesterov momentum or Adam;
  - the EMA of timm's ModelEmaV2: a copy of the whole state_dict (parameters and
    batchnorm buffers) made before the first step, ema = d*ema + (1-d)*w after each
    step, evaluated instead of the live net;
  - the final test evaluation with flip TTA: the mean of the logits of each image and
    its mirror.

It prints one line per epoch and, last, "test accuracy X%" (what tools/speedrun.sh
reads). Time it as a whole process, as tools/speedrun.sh times fmnist:

    /usr/bin/python3 tools/speedrun_torch.py --model models/fast94.cfg --epochs 10 ... --threads 2
    /usr/bin/python3 tools/speedrun_torch.py ... --autocast bf16

--autocast bf16 runs forward and loss under torch.autocast("cpu", dtype=torch.bfloat16).
Needs Debian's python3-torch and python3-numpy.
"""
import argparse
import copy
import os
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_check  # noqa: E402  (model builder, IDX reader)
import torch_steps  # noqa: E402  (fmnist's generator and shuffle)


def hold_out(n, count, seed):
    """The indices fmnist's --val COUNT holds out (src/data/split.c), as a mask."""
    r = torch_steps.Xoshiro(torch_steps.mix64(seed ^ 0x7661) ^ 0x76616C6964)
    idx = list(range(n))
    pick = np.zeros(n, dtype=bool)
    for i in range(count):
        j = i + r.below(n - i)
        idx[i], idx[j] = idx[j], idx[i]
        pick[idx[i]] = True
    return pick


def load(d, prefix, mean, std):
    x = torch_check.read_idx(torch_check.idx_path(d, f"{prefix}-images-idx3-ubyte"))
    y = torch_check.read_idx(torch_check.idx_path(d, f"{prefix}-labels-idx1-ubyte"))
    x = (torch.from_numpy(x.astype(np.float32)).unsqueeze(1) / 255.0 - mean) / std
    return x, torch.from_numpy(y.astype(np.int64))


def augment(x, crop, flip, black, gen):
    """Random crop of padding `crop` (black) and a flip of probability 1/2, per sample."""
    n, _, h, w = x.shape
    if crop:
        padded = torch.full((n, 1, h + 2 * crop, w + 2 * crop), black)
        padded[:, :, crop:crop + h, crop:crop + w] = x
        dy = torch.randint(0, 2 * crop + 1, (n,), generator=gen)
        dx = torch.randint(0, 2 * crop + 1, (n,), generator=gen)
        rows = (dy[:, None] + torch.arange(h)[None, :])[:, :, None].expand(n, h, w)
        cols = (dx[:, None] + torch.arange(w)[None, :])[:, None, :].expand(n, h, w)
        x = padded[torch.arange(n)[:, None, None], 0, rows, cols].unsqueeze(1)
    if flip:
        m = torch.rand(n, generator=gen) < 0.5
        x = torch.where(m[:, None, None, None], x.flip(3), x)
    return x


class Ema:
    """timm's ModelEmaV2: every floating state_dict entry averaged after each step."""

    def __init__(self, net, decay):
        self.net, self.decay = copy.deepcopy(net).eval(), decay

    @torch.no_grad()
    def update(self, net):
        for e, v in zip(self.net.state_dict().values(), net.state_dict().values()):
            if e.dtype.is_floating_point:
                e.mul_(self.decay).add_(v, alpha=1 - self.decay)
            else:
                e.copy_(v)


@torch.no_grad()
def evaluate(net, x, y, tta, autocast):
    net.eval()
    loss, right = 0.0, 0
    # Batches of 128, as fmnist evaluates: PyTorch 1.13's CPU convolutions ran several
    # times slower per image at 1000 on the AMD EPYC of issue 17 (about 340 against
    # 800-3,800 images/s).
    for i in range(0, len(x), 128):
        xb, yb = x[i:i + 128], y[i:i + 128]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            z = net(xb).float()
            if tta:
                z = (z + net(xb.flip(3)).float()) / 2
        loss += nn.functional.cross_entropy(z, yb, reduction="sum").item()
        right += (z.argmax(1) == yb).sum().item()
    return loss / len(x), right / len(x)


def main():
    t_start = time.monotonic()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="models/fast94.cfg")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--optim", choices=["sgd", "adam"], default="adam")
    ap.add_argument("--lr", type=float, default=4e-3)
    ap.add_argument("--nesterov", action="store_true")
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--lr-schedule", choices=["onecycle", "constant"], default="onecycle")
    ap.add_argument("--label-smoothing", type=float, default=0.0)
    ap.add_argument("--ema", type=float, default=0.0)
    ap.add_argument("--tta", choices=["none", "flip"], default="none")
    ap.add_argument("--aug", default="", help="crop=P,flip")
    ap.add_argument("--val", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--autocast", choices=["none", "bf16"], default="none")
    ap.add_argument("--data", default=None)
    ap.add_argument("--train-limit", type=int, default=0, help="use only the first N training images")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    crop, flip = 0, False
    for item in filter(None, a.aug.split(",")):
        if item == "flip":
            flip = True
        elif item.startswith("crop="):
            crop = int(item[5:])
        else:
            sys.exit(f"speedrun_torch: --aug: unknown item '{item}'")

    text = open(a.model).read()
    net, mean, std = torch_check.build(text, a.model)
    d = torch_check.find_data(a.data)
    x, y = load(d, "train", mean, std)
    xt, yt = load(d, "t10k", mean, std)
    if a.train_limit:
        x, y = x[:a.train_limit], y[:a.train_limit]
    if a.val:
        pick = torch.from_numpy(hold_out(len(x), a.val, a.seed))
        xv, yv, x, y = x[pick], y[pick], x[~pick], y[~pick]
    decay = [p for n, p in net.named_parameters() if p.ndim > 1]
    plain = [p for n, p in net.named_parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": a.weight_decay}, {"params": plain, "weight_decay": 0.0}]
    if a.optim == "sgd":
        opt = torch.optim.SGD(groups, lr=a.lr, momentum=0.9, nesterov=a.nesterov)
    else:
        opt = torch.optim.Adam(groups, lr=a.lr)
    nb = (len(x) + a.batch - 1) // a.batch
    sched = None
    if a.lr_schedule == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=a.epochs * nb)
    lossf = nn.CrossEntropyLoss(label_smoothing=a.label_smoothing)
    ema = Ema(net, a.ema) if a.ema else None
    gen = torch.Generator().manual_seed(a.seed)
    black = (0.0 - mean) / std
    autocast = a.autocast == "bf16"
    print(f"PyTorch {torch.__version__}, {a.threads} threads, {a.model}, {len(x)} training images, "
          f"{'bf16 autocast' if autocast else 'fp32'}", flush=True)
    for epoch in range(1, a.epochs + 1):
        t0 = time.monotonic()
        net.train()
        perm = torch.tensor(torch_steps.fmnist_perm(len(x), a.seed, epoch))
        total, right = 0.0, 0
        for b in range(nb):
            idx = perm[b * a.batch:(b + 1) * a.batch]
            xb, yb = augment(x[idx], crop, flip, black, gen), y[idx]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                z = net(xb)
                loss = lossf(z, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched:
                sched.step()
            if ema:
                ema.update(net)
            total += loss.item() * len(idx)
            right += (z.argmax(1) == yb).sum().item()
        train_s = time.monotonic() - t0
        model = ema.net if ema else net
        tl, ta = evaluate(model, xt, yt, False, autocast)
        line = (f"epoch {epoch:2d}/{a.epochs}  train loss {total / len(x):.4f} acc {100 * right / len(x):.2f}%  |  "
                f"test loss {tl:.4f} acc {100 * ta:.2f}%")
        if a.val:
            vl, va = evaluate(model, xv, yv, False, autocast)
            line += f"  |  val loss {vl:.4f} acc {100 * va:.2f}%"
        print(f"{line}  |  {train_s:.1f} s", flush=True)
    model = ema.net if ema else net
    tl, ta = evaluate(model, xt, yt, a.tta == "flip", autocast)
    print(f"final{' (flip TTA)' if a.tta == 'flip' else ''}: test loss {tl:.4f}")
    print(f"test accuracy {100 * ta:.2f}%")
    print(f"wall time in the script {time.monotonic() - t_start:.1f} s")


if __name__ == "__main__":
    main()
