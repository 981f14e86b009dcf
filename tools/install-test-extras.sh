#!/bin/sh
# install-test-extras.sh - the runtimes that some tests check exports against:
#   python3-torch, python3-numpy (Debian): tools/torch_check.py loads the NPZ export;
#   libopenblas0-pthread: without it Debian's torch falls back to the reference BLAS
#   (libblas3), about 25x slower on a 128x784x256 product, which would make the
#   PyTorch figures of `make bench` meaningless
#   onnxruntime-node (npm, into tools/onnxrt/): tools/onnx_check.js runs the ONNX export
#   protobufjs, crc-32 (npm, into tools/tbcheck/): tools/tb_check.js reads the TensorBoard event files
# Without them those tests print "skipped:"; CI installs them so they run.
set -u
cd "$(dirname "$0")/.."
status=0
if ! /usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1 || ! [ -e /usr/lib/x86_64-linux-gnu/libopenblas.so.0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-torch python3-numpy || status=1
        # separately: the tests need torch, only the bench's timings need OpenBLAS
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q libopenblas0-pthread ||
            echo "fmnist: libopenblas0-pthread not installed: PyTorch's bench timings will be on the reference BLAS" >&2
    else
        echo "fmnist: for the PyTorch checks run as root: apt-get install python3-torch python3-numpy libopenblas0-pthread" >&2
    fi
fi
if [ ! -d tools/onnxrt/node_modules/onnxruntime-node ]; then
    if command -v npm >/dev/null 2>&1; then
        npm install --prefix tools/onnxrt --ignore-scripts --no-audit --no-fund onnxruntime-node@1.30 || status=1
    else
        echo "fmnist: for the ONNX checks install Node.js and npm" >&2
    fi
fi
if [ ! -d tools/tbcheck/node_modules/protobufjs ] || [ ! -d tools/tbcheck/node_modules/crc-32 ]; then
    if command -v npm >/dev/null 2>&1; then
        npm install --prefix tools/tbcheck --ignore-scripts --no-audit --no-fund protobufjs@7 crc-32@1.2 || status=1
    else
        echo "fmnist: for the TensorBoard checks install Node.js and npm" >&2
    fi
fi
exit $status
