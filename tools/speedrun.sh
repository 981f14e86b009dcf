#!/bin/sh
# speedrun.sh - the time-to-94% record (make speedrun): trains the recipe of
# models/fast94.cfg with fixed flags, evaluates the final weights with flip TTA,
# and prints each seed's final test accuracy and the wall time of the whole
# command (training and evaluation, data loading included), then the mean and
# sd over the seeds.
#
#   tools/speedrun.sh [-s "1 2 3 4 5"] [-t THREADS] [-p fp32|bf16] [-T none|fp32|bf16|both] [-F] [-o DIR]
#
# -T runs tools/speedrun_torch.py with the same recipe after fmnist, timed the
# same way: fp32, bf16 (autocast) or both; -F leaves fmnist's runs out (only
# PyTorch's). The validation hold-out (--val) is
# only watched: the test accuracy printed is the last epoch's weights, never an
# epoch picked by test or validation figures.
set -eu

SEEDS=1
THREADS=${OMP_NUM_THREADS:-$(nproc)}
PRECISION=fp32
TORCH=none
FMNIST=1
OUT=runs/speedrun
BIN=${FMNIST_BIN:-./fmnist}
while getopts s:t:p:T:Fo: opt; do
    case $opt in
    s) SEEDS=$OPTARG ;;
    t) THREADS=$OPTARG ;;
    p) PRECISION=$OPTARG ;;
    T) TORCH=$OPTARG ;;
    F) FMNIST=0 ;;
    o) OUT=$OPTARG ;;
    *) echo "usage: tools/speedrun.sh [-s SEEDS] [-t THREADS] [-p fp32|bf16] [-T none|fp32|bf16|both] [-F] [-o DIR]" >&2; exit 2 ;;
    esac
done
case $PRECISION in fp32 | bf16) ;; *) echo "speedrun: -p: expected fp32 or bf16, got '$PRECISION'" >&2; exit 2 ;; esac
case $TORCH in none | fp32 | bf16 | both) ;; *) echo "speedrun: -T: expected none, fp32, bf16 or both, got '$TORCH'" >&2; exit 2 ;; esac
[ $FMNIST = 1 ] || [ $TORCH != none ] || { echo "speedrun: -F leaves nothing to run without -T" >&2; exit 2; }
for s in $SEEDS; do
    case $s in '' | *[!0-9]*) echo "speedrun: SEEDS: '$s' is not a whole number" >&2; exit 2 ;; esac
done

# The recipe: one list, shared with the PyTorch script (README, "Records").
MODEL=models/fast94.cfg
RECIPE="--epochs 10 --batch 128 --optim adam --lr 4e-3 --lr-schedule onecycle --label-smoothing 0.1
 --ema 0.99 --aug crop=2,flip --val 5000"
TTA=flip

now() { date +%s.%N; }
# PyTorch runs in the setting make bench found fastest (docs/speed.md): OpenBLAS
# single-threaded under torch's own threads, and its AVX-512 kernels where the CPU
# has them (OpenBLAS does not know every AVX-512 CPU). Either can be set from outside.
OB_THREADS=${OPENBLAS_NUM_THREADS:-1}
OB_CORE=${OPENBLAS_CORETYPE:-}
if [ -z "$OB_CORE" ]; then
    if grep -q avx512_bf16 /proc/cpuinfo; then OB_CORE=Cooperlake; elif grep -q avx512f /proc/cpuinfo; then OB_CORE=SkylakeX; fi
fi
mkdir -p "$OUT"
rm -f "$OUT"/*.tsv
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
echo "speedrun: $MODEL, $THREADS threads, $PRECISION, on $cpu"
echo "recipe: fmnist train --model $MODEL $(echo $RECIPE) --seed S; then fmnist eval --tta $TTA"
[ "$TORCH" = none ] || echo "PyTorch: OPENBLAS_NUM_THREADS=$OB_THREADS OPENBLAS_CORETYPE=${OB_CORE:-unset}, evaluation in batches of 128"

# one line per seed into $OUT/NAME.tsv: seed, accuracy, seconds
fmnist_seed() {
    dir=$OUT/$PRECISION-seed$1
    t0=$(now)
    # shellcheck disable=SC2086
    "$BIN" train --model $MODEL $RECIPE --seed "$1" --precision "$PRECISION" --threads "$THREADS" \
        --out "$dir" --overwrite --no-progress >"$dir.train.txt" 2>&1 ||
        { echo "speedrun: fmnist train failed (seed $1); see $dir.train.txt" >&2; tail -3 "$dir.train.txt" >&2; exit 1; }
    "$BIN" eval --weights "$dir/model.fmw" --tta $TTA --threads "$THREADS" >"$dir.eval.txt" 2>&1 ||
        { echo "speedrun: fmnist eval failed (seed $1); see $dir.eval.txt" >&2; exit 1; }
    t1=$(now)
    acc=$(sed -n 's/^test loss [0-9.]* acc \([0-9.]*\)%.*/\1/p' "$dir.eval.txt" | head -1)
    [ -n "$acc" ] || { echo "speedrun: no test accuracy in $dir.eval.txt" >&2; exit 1; }
    echo "$1 $acc $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')"
}

torch_seed() {
    dir=$OUT/torch-$2-seed$1
    ac=none
    [ "$2" = bf16 ] && ac=bf16
    t0=$(now)
    # shellcheck disable=SC2086
    env OPENBLAS_NUM_THREADS="$OB_THREADS" ${OB_CORE:+OPENBLAS_CORETYPE=$OB_CORE} /usr/bin/python3 tools/speedrun_torch.py --model $MODEL $RECIPE --tta $TTA --seed "$1" --threads "$THREADS" \
        --autocast $ac >"$dir.txt" 2>&1 ||
        { echo "speedrun: tools/speedrun_torch.py failed (seed $1); see $dir.txt" >&2; tail -3 "$dir.txt" >&2; exit 1; }
    t1=$(now)
    acc=$(sed -n 's/^test accuracy \([0-9.]*\)%.*/\1/p' "$dir.txt")
    echo "$1 $acc $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')"
}

# mean and sample sd of column $2 of file $1
stats() { awk -v c="$2" '{s+=$c; q+=$c*$c; n++} END {m=s/n; v=n>1?(q-n*m*m)/(n-1):0; if (v<0) v=0; printf "%.2f +- %.2f", m, sqrt(v)}' "$1"; }

report() { # name, tsv
    printf '%-22s' "$1"
    n=$(wc -l <"$2")
    printf 'seeds %-3s accuracy %s %% (lowest %s %%), wall time %s s\n' "$n" "$(stats "$2" 2)" \
        "$(sort -k2 -n "$2" | head -1 | cut -d' ' -f2)" "$(stats "$2" 3)"
}

run_all() { # name, function, [torch precision]
    tsv=$OUT/$1.tsv
    : >"$tsv"
    for s in $SEEDS; do
        line=$($2 "$s" ${3:-})
        echo "$line" >>"$tsv"
        echo "$1 seed $(echo "$line" | awk '{printf "%s: test accuracy %s%%, wall time %.1f s", $1, $2, $3}')"
    done
}

[ $FMNIST = 0 ] || run_all "fmnist-$PRECISION" fmnist_seed
case $TORCH in fp32 | both) run_all torch-fp32 torch_seed fp32 ;; esac
case $TORCH in bf16 | both) run_all torch-bf16 torch_seed bf16 ;; esac

echo
echo "summary ($THREADS threads, $cpu):"
for f in "fmnist-$PRECISION" torch-fp32 torch-bf16; do
    [ -s "$OUT/$f.tsv" ] || continue
    report "$f" "$OUT/$f.tsv"
done
