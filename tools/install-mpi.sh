#!/bin/sh
# install-mpi.sh - install Open MPI (compiler wrapper mpicc, mpirun), which only
# the MPI build needs (make MPI=1, make test-mpi, make bench-mpi); the plain
# build needs none of it (tools/install-deps.sh). As root it runs apt-get;
# otherwise it prints the exact command to run. MPICH works too (apt-get
# install mpich libmpich-dev; make MPI=1 MPICC=mpicc.mpich).
set -eu
PKGS="libopenmpi-dev openmpi-bin"
missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "fmnist: missing packages:$missing (not a Debian system: install Open MPI or MPICH)" >&2
    exit 1
fi
if [ "$(id -u)" != 0 ]; then
    echo "fmnist: missing packages:$missing" >&2
    echo "fmnist: run as root: apt-get update && apt-get install -y$missing" >&2
    exit 1
fi
echo "fmnist: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q $missing || { apt-get update -q && apt-get install -y -q $missing; }
