#!/bin/sh
# bench.sh - `make bench`: fmnist's speed figures, with PyTorch's beside them.
#
#   tools/bench.sh FMNIST_BIN BENCH_BIN "THREADS"     (THREADS: e.g. "1 2"; empty: all cores)
#
# A benchmark, not a test: it prints figures and never fails on timing. Per
# thread count: the measured FMA peak, the kernels at the models' shapes
# (GFLOP/s, % of peak), training and evaluation speed (bench_fmnist), then
# the same two models trained by tools/pytorch_ref.py when /usr/bin/python3
# has torch: as installed (environment untouched) and in its best setting
# (OPENBLAS_NUM_THREADS=1 OPENBLAS_CORETYPE=Cooperlake, 1 thread and N
# threads), and fmnist's speed-up over the fastest of them. Each figure is a
# median of several repetitions. BENCH_REPS, BENCH_CNN_BATCHES and
# BENCH_TORCH_CNN_BATCHES change the amount of work.
set -u
bin=${1:?usage: bench.sh FMNIST_BIN BENCH_BIN THREADS}
bench=${2:?}
threads=${3:-}
[ -n "$threads" ] || threads=$(nproc)
reps=${BENCH_REPS:-5}
cnn_batches=${BENCH_CNN_BATCHES:-60}
torch_cnn_batches=${BENCH_TORCH_CNN_BATCHES:-60}
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{v[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
get() { sed -n "s/^$1=//p" "$2"; }

have_torch=0
if [ -x "$py" ] && "$py" -c 'import torch, numpy' 2>/dev/null; then have_torch=1; fi

echo "fmnist bench on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "OpenMP: OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset} GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-unset}; $reps repetitions per figure (medians)"
echo

# torch_epoch MODEL THREADS BATCHES [ENV..]: median seconds per 60000-image epoch.
torch_epoch() {
    m=$1 t=$2 b=$3
    shift 3
    # one epoch more than counted: the first warms up
    env "$@" "$py" tools/pytorch_ref.py --model "$m" --threads "$t" --epochs $((tsreps + 1)) --bench "$b" \
        2>/dev/null | awk '/^BENCH/ && $3 > 1 {print $9}' | median
}

for t in $threads; do
    res=$tmp/res.$t
    "$bench" --threads "$t" --reps "$reps" --cnn-batches "$cnn_batches" --results "$res" || {
        echo "bench_fmnist failed" >&2
        exit 1
    }
    echo
    if [ $have_torch = 0 ]; then
        echo "(PyTorch: /usr/bin/python3 has no torch; comparison left out)"
        echo
        continue
    fi
    tsreps=3
    echo "PyTorch $("$py" -c 'import torch; print(torch.__version__)'), same models, Adam, batch 128, data preloaded as tensors (tools/pytorch_ref.py),"
    echo "training pass only; MLP: median of $tsreps full epochs; conv net: median of $tsreps runs of $torch_cnn_batches batches, extrapolated to 60000 images"
    printf '| %-62s | %9s | %9s |\n' "PyTorch setting ($t thread$( [ "$t" = 1 ] || echo s) unless said)" "MLP s/ep" "conv s/ep"
    printf '|%s|%s|%s|\n' "----------------------------------------------------------------" "-----------" "-----------"
    best_m=; best_c=
    for setting in default best1 bestN; do
        case $setting in
        default) label="as installed (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}), $t thread(s)"; tt=$t; envs="FMNIST_BENCH=1" ;;
        best1) label="OPENBLAS_NUM_THREADS=1 OPENBLAS_CORETYPE=Cooperlake, 1 thread"; tt=1
            envs="OPENBLAS_NUM_THREADS=1 OPENBLAS_CORETYPE=Cooperlake" ;;
        bestN) [ "$t" = 1 ] && continue
            label="OPENBLAS_NUM_THREADS=1 OPENBLAS_CORETYPE=Cooperlake, $t threads"; tt=$t
            envs="OPENBLAS_NUM_THREADS=1 OPENBLAS_CORETYPE=Cooperlake" ;;
        esac
        # shellcheck disable=SC2086
        m=$(torch_epoch mlp "$tt" 0 $envs)
        # shellcheck disable=SC2086
        c=$(torch_epoch cnn "$tt" "$torch_cnn_batches" $envs)
        printf '| %-62s | %9.2f | %9.2f |\n' "$label" "$m" "$c"
        best_m=$(printf '%s\n%s\n' "$m" "${best_m:-$m}" | sort -g | head -1)
        best_c=$(printf '%s\n%s\n' "$c" "${best_c:-$c}" | sort -g | head -1)
    done
    fm=$(get mlp_epoch_s "$res") fc=$(get cnn_epoch_s "$res")
    printf '| %-62s | %9.2f | %9.2f |\n' "fmnist, $t thread(s)" "$fm" "$fc"
    printf '| %-62s | %8.2fx | %8.2fx |\n' "fmnist speed-up over the fastest PyTorch setting" \
        "$(echo "$best_m $fm" | awk '{print $1/$2}')" "$(echo "$best_c $fc" | awk '{print $1/$2}')"
    echo
done
