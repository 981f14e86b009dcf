#!/bin/sh
# install-deps.sh - install the Debian packages fmnist needs, if any is missing.
# As root it runs apt-get; otherwise it prints the exact command to run.
# Packages: build tools, zlib, Check, stb, the charts' font (DejaVu Sans), and the
# Fashion-MNIST data set;
# with --mpi instead, Open MPI, which only the MPI build needs
# (tools/install-mpi.sh; MPICH works too: apt-get install mpich libmpich-dev,
# then make MPI=1 MPICC=mpicc.mpich).
set -eu
PKGS="build-essential pkg-config zlib1g-dev check libstb-dev fonts-dejavu-core dataset-fashion-mnist"
OTHERWISE="install their equivalents"
if [ "${1:-}" = --mpi ]; then
    PKGS="libopenmpi-dev openmpi-bin"
    OTHERWISE="install Open MPI or MPICH"
fi
missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "fmnist: missing packages:$missing (not a Debian system: $OTHERWISE)" >&2
    exit 1
fi
if [ "$(id -u)" != 0 ]; then
    echo "fmnist: missing packages:$missing" >&2
    echo "fmnist: run as root: apt-get update && apt-get install -y$missing" >&2
    exit 1
fi
echo "fmnist: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
apt-get install -y -q $missing || { apt-get update -q && apt-get install -y -q $missing; }
