#!/usr/bin/env python3
"""scaling-model.py - the expected images/s of `mpirun -np N fmnist train`
across hosts, from a latency-bandwidth model of what a step sends.

Per step of a batch of B images in k = ceil(B / micro) micro-batches, a rank
computes ceil(k / N) micro-batches (the busiest rank sets the pace; micro is
lowered to B / N where N ranks need it, as `--micro-batch` must be: the
model does not charge the kernels' lower speed on smaller micro-batches),
then:
  - the gradient fold (util/team.c): a chain in segments of 256 KiB, rank r
    adding its micro-batches' gradients to the running sum of ranks 0..r-1
    (a pipeline: (N - 2 + S) hops of one segment, S = segments), then one
    broadcast of the whole gradient from the last rank (modelled as
    ceil(log2 N) latencies plus one pass of the bytes, as a pipelined
    broadcast of a large message costs);
  - the small collectives: the loss gather and the stop flag every step,
    three gathers per batchnorm layer (mean, variance, backward sums):
    ceil(log2 N) latencies each.
Time of a message of m bytes: alpha + m / beta.

Usage: scaling-model.py [--alpha S --beta B/s --label NAME]... with the
per-model inputs given below (measured on this machine; see docs/scaling.md).
"""
import argparse
import math

SEGMENT = 1 << 18  # bytes: 65536 floats


def step_time(n, model, alpha, beta):
    b, micro, rate, params, bn = model["batch"], model["micro"], model["rate"], model["params"], model["bn"]
    micro = min(micro, max(1, b // n))  # each rank needs a micro-batch: what --micro-batch must be at N ranks
    k = math.ceil(b / micro)
    busiest = math.ceil(k / n) * micro  # images of the busiest rank
    compute = busiest / rate
    if n == 1:
        return compute
    grad = 4 * params
    segs = math.ceil(grad / SEGMENT)
    seg = grad / segs
    fold = (n - 2 + segs) * (alpha + seg / beta)
    bcast = math.ceil(math.log2(n)) * alpha + grad / beta
    small = (2 + 3 * bn) * math.ceil(math.log2(n)) * alpha
    return compute + fold + bcast + small


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", action="append", default=[],
                    help="NAME:BATCH:MICRO:IMAGES_PER_S_ONE_RANK:PARAMS:BN_LAYERS")
    ap.add_argument("--link", action="append", default=[], help="NAME:ALPHA_S:BETA_BYTES_PER_S")
    ap.add_argument("--ranks", default="1,2,4,8,16,32")
    a = ap.parse_args()
    ranks = [int(x) for x in a.ranks.split(",")]
    for spec in a.model:
        name, batch, micro, rate, params, bn = spec.split(":")
        m = {"batch": int(batch), "micro": int(micro), "rate": float(rate), "params": int(params), "bn": int(bn)}
        print(f"\n{name}: batch {batch} in micro-batches of {micro}, {float(rate):.0f} images/s on one rank, "
              f"{int(params):,} parameters ({4 * int(params) / 1e6:.2f} MB of gradient), {bn} batchnorm layers")
        print("| link | " + " | ".join(f"-np {n}" for n in ranks) + " |")
        print("|---|" + "---|" * len(ranks))
        for link in a.link:
            lname, alpha, beta = link.split(":")
            t1 = step_time(1, m, float(alpha), float(beta))
            cells = []
            for n in ranks:
                t = step_time(n, m, float(alpha), float(beta))
                cells.append(f"{m['batch'] / t:,.0f} ({t1 / t:.1f}x)")
            print(f"| {lname} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
