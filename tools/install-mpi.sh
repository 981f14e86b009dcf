#!/bin/sh
# install-mpi.sh - install Open MPI (the mpicc wrapper, mpirun), which only
# the MPI build needs (make MPI=1, make test-mpi, make bench-mpi); the plain
# build needs none of it. The same as tools/install-deps.sh --mpi.
exec "$(dirname "$0")/install-deps.sh" --mpi
