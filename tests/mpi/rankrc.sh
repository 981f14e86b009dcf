#!/bin/sh
# rankrc.sh DIR CMD [ARGS..] - one rank of an mpirun job: runs CMD, writes its
# exit status to DIR/rc.RANK (the rank from Open MPI's or MPICH's
# environment) and exits with it, so that tests/mpi/run.sh can check every
# rank's status (mpirun reports only the first non-zero one).
d=$1
shift
"$@"
rc=$?
echo "$rc" > "$d/rc.${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-unknown}}"
exit "$rc"
