#!/usr/bin/env python3
"""example_pictures.py - the pictures of the README's predict example, made from
Fashion-MNIST test images as a user might draw or photograph them.

    /usr/bin/python3 tools/example_pictures.py OUT_DIR [DATA_DIR]

writes into OUT_DIR (PGM files, which fmnist predict reads like PNG):
  pullover.pgm     test image 1 (a pullover) five times larger, dark on a white page, off-centre
  boot.pgm         test image 0 (an ankle boot) the same way
  light-shirt.pgm  test image 19 (a T-shirt) five times larger, light on a light gray
                   background (level 200): the picture a fixed inversion threshold erased
  blank.pgm        a uniform light gray page: nothing to classify
DATA_DIR holds t10k-images-idx3-ubyte(.gz) (default: data)."""
import gzip
import os
import sys

import numpy as np


def test_images(folder):
    for name in ("t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte.gz"):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            raw = (gzip.open if name.endswith(".gz") else open)(path, "rb").read()
            n, h, w = (int.from_bytes(raw[i:i + 4], "big") for i in (4, 8, 12))
            return np.frombuffer(raw, np.uint8, n * h * w, 16).reshape(n, h, w)
    sys.exit(f"example_pictures.py: no t10k-images-idx3-ubyte(.gz) in {folder}")


def write_pgm(path, a):
    with open(path, "wb") as f:
        f.write(b"P5\n%d %d\n255\n" % (a.shape[1], a.shape[0]))
        f.write(np.ascontiguousarray(a, np.uint8).tobytes())


def page(img, background, ink, at=(40, 90), size=(240, 300)):
    """img (28x28, 0 = background, 255 = object) five times larger, blended from
    the background level to the ink level, at row/column `at` of a page."""
    big = np.kron(img.astype(np.float64) / 255.0, np.ones((5, 5)))
    p = np.full(size, float(background))
    r, c = at
    p[r:r + 140, c:c + 140] = background + (ink - background) * big
    return np.clip(np.rint(p), 0, 255).astype(np.uint8)


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    out, data = sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else "data"
    imgs = test_images(data)
    os.makedirs(out, exist_ok=True)
    write_pgm(os.path.join(out, "pullover.pgm"), page(imgs[1], 255, 0))
    write_pgm(os.path.join(out, "boot.pgm"), page(imgs[0], 255, 0, at=(70, 20)))
    write_pgm(os.path.join(out, "light-shirt.pgm"), page(imgs[19], 200, 255))
    write_pgm(os.path.join(out, "blank.pgm"), np.full((240, 300), 200, np.uint8))


if __name__ == "__main__":
    main()
