#!/bin/sh
# run.sh - `make test-mpi`: tiny end-to-end jobs of the MPI build under
# mpirun -np 1..4 on this machine. Each check prints "ok", "FAIL" (loudly, on
# stderr too) or "skip" with the reason; the script exits 1 if any failed.
#
#   tests/mpi/run.sh MPI_FMNIST TEAM_MPI [PLAIN_FMNIST]
#
# MPI_FMNIST is the `make MPI=1` binary, TEAM_MPI tests/mpi/team_mpi.c's,
# PLAIN_FMNIST the plain build (default build/rel/fmnist), which the MPI
# runs are compared with. MPIRUN replaces the mpirun command (default:
# mpirun --oversubscribe --mca btl_vader_single_copy_mechanism none, the
# last for containers, where cross-memory attach is often not allowed; as
# root the OMPI_ALLOW_RUN_AS_ROOT variables are set). TIMEOUT bounds each
# job (default 300 s): a hang fails its check instead of blocking.
#
# Checks marked [train] are the data-parallel train loop's (the shards,
# --micro-batch, the agreement after loading, the stop at the same batch);
# [sweep] the distributed sweep's (the queue of trials).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
bin=$(abs "${1:?usage: run.sh MPI_FMNIST TEAM_MPI [PLAIN_FMNIST]}")
team=$(abs "${2:?usage: run.sh MPI_FMNIST TEAM_MPI [PLAIN_FMNIST]}")
plain=$(abs "${3:-$root/build/rel/fmnist}")
rankrc=$root/tests/mpi/rankrc.sh
timeout_s=${TIMEOUT:-300}
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
MPIRUN=${MPIRUN:-mpirun --oversubscribe --mca btl_vader_single_copy_mechanism none}
unset FMNIST_DATA OMP_NUM_THREADS
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
cd "$t" || exit 1
start=$(date +%s)

nok=0 nfail=0 nskip=0
ok() { nok=$((nok + 1)); echo "ok   $*"; }
fail() {
    nfail=$((nfail + 1))
    echo "FAIL $*"
    echo "tests/mpi/run.sh: FAIL $*" >&2
}
skip() { nskip=$((nskip + 1)); echo "skip $*"; }
# show FILE: the end of a job's output, after a failure
show() { [ -s "$1" ] && sed -n '1,40s/^/     | /p' "$1"; }

# job NAME NP ARGS..: the MPI binary on NP ranks (each through rankrc.sh),
# stdout in NAME.out, stderr in NAME.err, each rank's status in NAME.rc/rc.R;
# $rc is mpirun's status (0 with Open MPI: see keep below).
job() {
    _job=$1 _np=$2
    shift 2
    rm -rf "$_job.rc" && mkdir -p "$_job.rc"
    timeout "$timeout_s" $MPIRUN $keep -np "$_np" "$rankrc" "$t/$_job.rc" "$bin" "$@" > "$_job.out" 2> "$_job.err"
    rc=$?
}
# ranks_exited NAME NP WANT: every one of NP ranks wrote its status, and it is WANT
# (WANT "nonzero": the same non-zero status on all).
ranks_exited() {
    first=$(cat "$1.rc/rc.0" 2>/dev/null) || return 1
    case $3 in nonzero) [ "$first" != 0 ] || return 1 ;; *) [ "$first" = "$3" ] || return 1 ;; esac
    r=1
    while [ $r -lt "$2" ]; do
        [ "$(cat "$1.rc/rc.$r" 2>/dev/null)" = "$first" ] || return 1
        r=$((r + 1))
    done
}
# same_run A B: log.csv (but for its seconds column) and every tensor of
# model.fmw (through the NPZ export: parameters and batchnorm buffers) equal.
strip_seconds() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "seconds") s = i } { out = ""; for (i = 1; i <= NF; i++) if (i != s) out = out (out == "" && i == 1 ? "" : ",") $i; print out }' "$1"; }
same_run() {
    strip_seconds "$1/log.csv" > "$1.log" && strip_seconds "$2/log.csv" > "$2.log" && cmp -s "$1.log" "$2.log" &&
        "$plain" export --weights "$1/model.fmw" -o "$1.npz" > /dev/null &&
        "$plain" export --weights "$2/model.fmw" -o "$2.npz" > /dev/null && cmp -s "$1.npz" "$2.npz"
}

if ! command -v mpirun > /dev/null; then
    fail "mpirun not found (apt-get install openmpi-bin, or run tools/install-mpi.sh)"
    exit 1
fi
echo "tests/mpi/run.sh: $bin against $plain; $(mpirun --version 2>&1 | head -n 1); $MPIRUN"
# Open MPI's mpirun kills the other ranks as soon as one exits non-zero,
# which could kill rankrc.sh before it writes a rank's status: not in job
# (mpirun then exits 0 whatever the ranks' statuses: those are checked)
keep=
mpirun --version 2>&1 | grep -q "Open MPI" && keep="--mca orte_abort_on_non_zero_status 0"
have_train=1 have_sweep=1
tiny="--model $root/models/mlp.cfg --epochs 1 --train-limit 300 --batch 50 --threads 1 --no-progress"

# ---- the Team over MPI itself ----
if timeout "$timeout_s" "$team" 2 > team0.out 2>&1; then ok "team_mpi without mpirun (a team of one, MPI not started)"; else fail "team_mpi without mpirun"; show team0.out; fi
for np in 1 2 3; do
    if timeout "$timeout_s" $MPIRUN -np $np "$team" 2 > team$np.out 2>&1; then
        ok "team_mpi -np $np: $(grep -c '^ok' team$np.out) checks (rank 0 computing 2 s while the others take)"
    else fail "team_mpi -np $np"; show team$np.out; fi
done
# the one-sided component hosts on TCP get (osc pt2pt) progresses only when
# rank 0 calls MPI: with a poll every 10 ms the others' takes must go on
if command -v ompi_info > /dev/null && ompi_info 2> /dev/null | grep -q "MCA osc: pt2pt"; then
    if timeout "$timeout_s" $MPIRUN --mca osc pt2pt -np 3 "$team" 2 poll > teampt.out 2>&1; then
        ok "team_mpi -np 3 --mca osc pt2pt: takes go on while rank 0 computes and polls"
    else fail "team_mpi -np 3 --mca osc pt2pt, polling"; show teampt.out; fi
else skip "osc pt2pt: not Open MPI, or no such component"; fi

# ---- the MPI build as a plain program ----
if "$bin" --version > v.out 2>&1 && grep -q "^fmnist " v.out; then ok "the MPI binary runs without mpirun (--version)"; else fail "the MPI binary without mpirun: --version"; show v.out; fi
if [ -x "$plain" ]; then
    "$plain" train $tiny --out plain0 > plain0.out 2>&1
    prc=$?
    "$bin" train $tiny --out single0 > single0.out 2>&1
    src=$?
    if [ $prc = 0 ] && [ $src = 0 ] && same_run plain0 single0 && grep -q "^epoch 1/1" single0.out; then
        ok "the MPI binary without mpirun trains as the plain build does (same log.csv, same weights)"
    else fail "the MPI binary without mpirun (exit $src) against the plain build (exit $prc): not the same run"; show single0.out; fi
else skip "no plain build at $plain to compare with"; fi

# ---- commands that run on one process ----
for cmd in "eval --weights nothing.fmw" "wd-demo" "info nothing.fmw"; do
    name=$(echo "$cmd" | cut -d' ' -f1)
    job refuse-$name 2 $cmd
    if ranks_exited refuse-$name 2 2 && [ "$(grep -c "fmnist $name: runs on one process" refuse-$name.err)" = 1 ] &&
        grep -q "run it without mpirun, or with -np 1" refuse-$name.err && ! [ -s refuse-$name.out ]; then
        ok "mpirun -np 2 fmnist $name: refused once, exit 2 on every rank"
    else fail "mpirun -np 2 fmnist $cmd: ranks exited $(cat refuse-$name.rc/* 2> /dev/null | tr '\n' ' ')"; show refuse-$name.err; fi
done
timeout "$timeout_s" $MPIRUN -np 2 "$bin" eval --weights nothing.fmw > refuse.out 2>&1
rc=$?
if [ $rc = 2 ]; then ok "mpirun -np 2 fmnist eval: mpirun exits 2 too"; else fail "mpirun -np 2 fmnist eval: mpirun exits $rc, not 2"; show refuse.out; fi
job version 3 --version
if ranks_exited version 3 0 && [ "$(grep -c '^fmnist ' version.out)" = 1 ]; then
    ok "mpirun -np 3 fmnist --version: one line (only rank 0 prints)"
else fail "mpirun -np 3 fmnist --version: ranks exited $(cat version.rc/* 2> /dev/null | tr '\n' ' '), $(grep -c '^fmnist ' version.out) lines"; show version.out; fi
job usage 2 train --no-such-flag
if ranks_exited usage 2 2 && [ "$(grep -c 'no-such-flag' usage.err)" = 1 ]; then
    ok "mpirun -np 2 fmnist train --no-such-flag: one message, exit 2 on every rank"
else fail "mpirun -np 2 fmnist train --no-such-flag: ranks exited $(cat usage.rc/* 2> /dev/null | tr '\n' ' '), $(grep -c 'no-such-flag' usage.err) messages"; show usage.err; fi

# ---- [train] a rank without the data: every rank exits, rank 0 says why ----
if [ $have_train = 1 ]; then
    mkdir -p A B && ln -sfn "$root/data" A/data
    for order in "A B 1" "B A 0"; do
        set -- $order
        rm -rf mpmd.rc && mkdir mpmd.rc
        timeout "$timeout_s" $MPIRUN $keep -np 1 -wdir "$t/$1" "$rankrc" "$t/mpmd.rc" "$bin" train $tiny --data data --out run : \
            -np 1 -wdir "$t/$2" "$rankrc" "$t/mpmd.rc" "$bin" train $tiny --data data --out run > mpmd.out 2> mpmd.err
        rc=$?
        if [ $rc != 124 ] && ranks_exited mpmd 2 nonzero && grep -q "rank $3: " mpmd.err; then
            ok "[train] the rank $3 without the data: every rank exits $(cat mpmd.rc/rc.0), rank 0 prints 'rank $3: ...'"
        else fail "[train] rank $3 without the data: mpirun exit $rc$([ $rc = 124 ] && echo ' (timeout: a hang)'), ranks: $(cat mpmd.rc/* 2> /dev/null | tr '\n' ' ')"; show mpmd.err; fi
    done
else skip "[train] a rank without the data makes every rank exit (needs the lead's train loop)"; fi

# ---- [train] bit-identical at any rank count ----
short="--train-limit 512 --epochs 1 --batch 64 --micro-batch 16 --threads 1 --no-progress"
if [ $have_train = 1 ]; then
    for m in mlp cnn cnn-bn; do
        "$plain" train --model "$root/models/$m.cfg" $short --out p-$m > p-$m.out 2>&1 || { fail "[train] plain $m run failed"; show p-$m.out; continue; }
        for np in 1 2 3 4; do
            job r$np-$m $np train --model "$root/models/$m.cfg" $short --out r$np-$m
            if ranks_exited r$np-$m $np 0 && same_run p-$m r$np-$m; then
                ok "[train] $m: mpirun -np $np gives the plain run's log.csv and weights, bit for bit"
            else fail "[train] $m -np $np: ranks exited $(cat r$np-$m.rc/* 2> /dev/null | tr '\n' ' '); not the plain run's log.csv and weights"; show r$np-$m.err; fi
        done
    done
else skip "[train] bit-identity of mlp, cnn, cnn-bn: plain = -np 1 = 2 = 3 = 4 (needs the lead's train loop)"; fi
# TensorBoard: rank 0 alone writes the event file, with the plain run's figures (tools/tb_check.js)
tb_facts() { node "$root/tools/tb_check.js" --lines "$1" 2> /dev/null | awk '$1 == "scalar" { $3 = ""; print } $1 == "histo"'; }
if [ $have_train = 1 ] && tb_facts p-mlp > p-mlp.tb && [ -s p-mlp.tb ]; then
    for np in 2 4; do
        n=$(ls r$np-mlp | grep -c '^events.out.tfevents.')
        if [ "$n" = 1 ] && tb_facts r$np-mlp > r$np-mlp.tb && cmp -s p-mlp.tb r$np-mlp.tb; then
            ok "[train] mlp -np $np: one event file (rank 0's), the plain run's scalars and histograms"
        else fail "[train] mlp -np $np: $n event files, or not the plain run's events"; fi
    done
else skip "[train] the event file under mpirun (needs node with protobufjs and crc-32: tools/install-test-extras.sh)"; fi
# bf16 products (--precision bf16) keep the micro-batch order too
if [ $have_train = 1 ] && grep -q avx512_bf16 /proc/cpuinfo; then
    "$plain" train --model "$root/models/cnn-bn.cfg" $short --precision bf16 --out p-bf16 > p-bf16.out 2>&1 ||
        { fail "[train] plain bf16 run failed"; show p-bf16.out; }
    for np in 2 3; do
        job r$np-bf16 $np train --model "$root/models/cnn-bn.cfg" $short --precision bf16 --out r$np-bf16
        if ranks_exited r$np-bf16 $np 0 && same_run p-bf16 r$np-bf16; then
            ok "[train] cnn-bn --precision bf16: mpirun -np $np gives the plain run's log.csv and weights, bit for bit"
        else fail "[train] cnn-bn bf16 -np $np: ranks exited $(cat r$np-bf16.rc/* 2> /dev/null | tr '\n' ' '); not the plain run's"; show r$np-bf16.err; fi
    done
else skip "[train] bf16 at 2 and 3 ranks: this CPU has no AVX512_BF16"; fi
# label smoothing (the loss of each micro-batch) and flip TTA (each evaluation chunk's, on its rank)
if [ $have_train = 1 ]; then
    tricks="--label-smoothing 0.1 --tta flip --val 100"
    "$plain" train --model "$root/models/cnn-bn.cfg" $short $tricks --out p-tricks > p-tricks.out 2>&1 ||
        { fail "[train] plain --label-smoothing --tta run failed"; show p-tricks.out; }
    for np in 2 3; do
        job r$np-tricks $np train --model "$root/models/cnn-bn.cfg" $short $tricks --out r$np-tricks
        if ranks_exited r$np-tricks $np 0 && same_run p-tricks r$np-tricks; then
            ok "[train] cnn-bn $tricks: mpirun -np $np gives the plain run's log.csv and weights, bit for bit"
        else fail "[train] cnn-bn $tricks -np $np: ranks exited $(cat r$np-tricks.rc/* 2> /dev/null | tr '\n' ' '); not the plain run's"; show r$np-tricks.err; fi
    done
else skip "[train] label smoothing and TTA at 2 and 3 ranks (needs the lead's train loop)"; fi

# ---- [train] --ema: every rank averages the same weights; resumed at another rank count ----
if [ $have_train = 1 ]; then
    ema="--model $root/models/cnn-bn.cfg --train-limit 512 --batch 64 --micro-batch 16 --threads 1 --no-progress --ema 0.9"
    "$plain" train $ema --epochs 2 --out p-ema > p-ema.out 2>&1 || { fail "[train] plain --ema run failed"; show p-ema.out; }
    job r3-ema 3 train $ema --epochs 2 --out r3-ema
    if ranks_exited r3-ema 3 0 && same_run p-ema r3-ema; then
        ok "[train] cnn-bn --ema 0.9: mpirun -np 3 gives the plain run's log.csv and average, bit for bit"
    else fail "[train] --ema -np 3: ranks exited $(cat r3-ema.rc/* 2> /dev/null | tr '\n' ' '); not the plain run's"; show r3-ema.err; fi
    job h2-ema 2 train $ema --epochs 1 --out h-ema
    job h4-ema 4 train --resume h-ema/model.fmw --epochs 2 --threads 1 --no-progress
    if ranks_exited h4-ema 4 0 && same_run p-ema h-ema; then
        ok "[train] --ema: 1 epoch at -np 2, resumed to 2 at -np 4 (the LIVE weights) = 2 epochs plain"
    else fail "[train] --ema resumed under another rank count: ranks exited $(cat h4-ema.rc/* 2> /dev/null | tr '\n' ' ')"; show h4-ema.err; fi
else skip "[train] --ema at 3 ranks and resumed at 4 (needs the lead's train loop)"; fi

# ---- [train] resume under another rank count; Ctrl-C ----
if [ $have_train = 1 ]; then
    two="--model $root/models/cnn-bn.cfg --train-limit 512 --batch 64 --micro-batch 16 --threads 1 --no-progress"
    "$plain" train $two --epochs 2 --out whole > whole.out 2>&1
    job half 2 train $two --epochs 1 --out half
    job half3 3 train --resume half/model.fmw --epochs 2 --threads 1 --no-progress
    if ranks_exited half3 3 0 && same_run whole half; then ok "[train] cnn-bn: 1 epoch at -np 2, resumed to 2 at -np 3 = 2 epochs plain"
    else fail "[train] resume under another rank count: ranks exited $(cat half3.rc/* 2> /dev/null | tr '\n' ' ')"; show half3.err; fi
    # Ctrl-C at the terminal reaches mpirun only; Open MPI 4.1's mpirun then
    # sends SIGTERM to every rank and SIGKILL about a second later
    # (odls_base_sigkill_timeout): the ranks must agree on the batch and rank 0
    # write model.fmw within that second.
    long="--model $root/models/mlp.cfg --train-limit 12000 --epochs 20 --batch 64 --micro-batch 16 --threads 1 --no-progress"
    # (not through rankrc.sh: mpirun's SIGTERM would reach the wrapper shell)
    $MPIRUN -np 2 "$bin" train $long --out int > int.out 2> int.err &
    mp=$!
    i=0
    while [ $i -lt 300 ] && ! grep -q "^epoch *1/" int.out 2> /dev/null; do sleep 0.1; i=$((i + 1)); done
    kill -INT $mp 2> /dev/null
    wait $mp
    irc=$?
    done_epochs=$(($(wc -l < int/log.csv 2> /dev/null || echo 1) - 1))
    if [ -f int/model.fmw ] && "$plain" info int/model.fmw > int.info 2>&1 && [ "$done_epochs" -lt 20 ]; then
        job int3 3 train --resume int/model.fmw --threads 1 --no-progress
        "$plain" train $long --out int1 > int1.out 2>&1
        if [ $irc != 0 ] && ranks_exited int3 3 0 && same_run int int1 && [ "$(grep -c "saved int/model.fmw" int.err)" = 1 ]; then
            ok "[train] Ctrl-C to mpirun -np 2 in epoch $((done_epochs + 1)) (mpirun exit $irc): one checkpoint, resumed at -np 3 = the plain run"
        else fail "[train] Ctrl-C: interrupted (mpirun exit $irc, $(grep -c "saved int/model.fmw" int.err) 'saved' lines) and resumed at -np 3: not the plain run, or not one message"; show int.err; show int3.err; fi
    else fail "[train] Ctrl-C to mpirun -np 2: no readable int/model.fmw of an unfinished run (mpirun exit $irc, $done_epochs epochs logged)"; show int.err; fi
else skip "[train] resume at another rank count, and Ctrl-C under mpirun (needs the lead's train loop)"; fi

# ---- [sweep] a 3-rank sweep = the serial sweep ----
# (each trial is trained by one rank: its "[rank R] ... done" line, on
# stderr, appears once)
if [ $have_sweep = 1 ]; then
    sw="--model $root/models/mlp.cfg --epochs 1 --train-limit 600 --seeds 1,2 --lr 1e-3,2e-3 --threads 1 --no-progress"
    "$plain" sweep $sw --out sw1 > sw1.out 2>&1
    job sw3 3 sweep $sw --out sw3
    strip_seconds sw1/summary.csv > sw1.sum 2> /dev/null
    strip_seconds sw3/summary.csv > sw3.sum 2> /dev/null
    same=1
    for d in sw1/*/seed*; do [ -d "$d" ] && same_run "$d" "sw3/${d#sw1/}" || same=0; done
    once=1
    for k in 0 1 2 3; do [ "$(grep -c "(trial $k) done" sw3.err 2> /dev/null)" = 1 ] || once=0; done
    if ranks_exited sw3 3 0 && [ -s sw1.sum ] && cmp -s sw1.sum sw3.sum && [ $same = 1 ] && [ $once = 1 ]; then
        ok "[sweep] mpirun -np 3 sweep: the serial sweep's runs and summary.csv, each trial trained by one rank"
    else fail "[sweep] mpirun -np 3 sweep: ranks exited $(cat sw3.rc/* 2> /dev/null | tr '\n' ' '); not the serial sweep's runs and summary"; show sw3.err; fi
else skip "[sweep] a 3-rank sweep gives the serial sweep's summary (needs the distributed sweep)"; fi

echo "tests/mpi/run.sh: $nok ok, $nfail FAILED, $nskip skipped in $(($(date +%s) - start)) s"
[ $nfail = 0 ]
