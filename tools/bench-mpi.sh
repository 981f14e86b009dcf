#!/bin/sh
# bench-mpi.sh - `make bench-mpi`: what MPI costs and gives on this machine.
#
#   tools/bench-mpi.sh PLAIN_FMNIST MPI_FMNIST PINGPONG
#
# 1. The loopback link between two ranks (PINGPONG, tools/pingpong.c): the
#    one-way time of 8 B .. 16 MiB messages and the fitted latency alpha and
#    bandwidth beta, the parameters of docs/scaling.md's model.
# 2. Training speed, images/s of one epoch of --train-limit N (BENCH_LIMIT,
#    6000) for mlp, cnn and cnn-bn: the plain build with --threads 2 against
#    the MPI build under mpirun -np 1 and -np 2 with --threads 1 per rank.
#    images/s = N / the epoch's training seconds in log.csv (evaluation not
#    counted), the best of BENCH_REPS (3) runs: a shared machine's noise only
#    adds time. The -np 2 figure needs the distributed train loop (--micro-batch
#    in `fmnist train --help`); before it each rank would train the whole set
#    alone, so it is not measured.
# A benchmark, not a test: it prints figures and never fails on timing.
# MPIRUN replaces the mpirun command (default: mpirun --oversubscribe).
set -u
plain=${1:?usage: bench-mpi.sh PLAIN_FMNIST MPI_FMNIST PINGPONG}
mpi=${2:?}
pingpong=${3:?}
root=$(cd "$(dirname "$0")/.." && pwd)
limit=${BENCH_LIMIT:-6000}
reps=${BENCH_REPS:-3}
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
MPIRUN=${MPIRUN:-mpirun --oversubscribe}
unset OMP_NUM_THREADS
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "fmnist bench-mpi on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')); $(mpirun --version 2>&1 | head -n 1); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
$MPIRUN -np 2 "$pingpong" || echo "bench-mpi: pingpong failed"
echo

# seconds DIR: the training seconds of epoch 1 in DIR/log.csv
seconds() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "seconds") c = i } NR == 2 { print $c }' "$1/log.csv" 2> /dev/null; }
# rate CMD..: the best images/s over reps runs of CMD (which gets --out DIR last)
rate() {
    best=
    i=0
    while [ $i -lt "$reps" ]; do
        rm -rf "$tmp/run"
        "$@" --out "$tmp/run" > "$tmp/out" 2>&1 || { echo "failed"; sed 's/^/    | /' "$tmp/out" >&2; return; }
        s=$(seconds "$tmp/run")
        best=$(awk -v s="$s" -v b="$best" -v n="$limit" 'BEGIN { r = s > 0 ? n / s : 0; print (b == "" || r > b) ? r : b }')
        i=$((i + 1))
    done
    printf '%.0f\n' "$best"
}

distributed=0
"$mpi" train --help 2> /dev/null | grep -q -- --micro-batch && distributed=1
echo "training images/s, one epoch of $limit images, batch 128, best of $reps runs:"
printf '%-8s %16s %18s %18s %10s\n' model "plain, 2 threads" "-np 1 x 1 thread" "-np 2 x 1 thread" "np2/plain"
for m in mlp cnn cnn-bn; do
    args="train --model $root/models/$m.cfg --train-limit $limit --epochs 1 --no-progress"
    p=$(rate "$plain" $args --threads 2)
    n1=$(rate $MPIRUN -np 1 "$mpi" $args --threads 1)
    if [ $distributed = 1 ]; then
        n2=$(rate $MPIRUN -np 2 "$mpi" $args --threads 1)
        ratio=$(awk -v a="$n2" -v b="$p" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "-" }')
    else
        n2="(no shards yet)" ratio=-
    fi
    printf '%-8s %16s %18s %18s %10s\n' "$m" "$p" "$n1" "$n2" "$ratio"
done
[ $distributed = 1 ] || echo "(-np 2 needs the distributed train loop: fmnist train --help lists no --micro-batch)"
