#!/bin/sh
# bench.sh - `make bench`: fmnist's speed figures, with PyTorch's beside them.
#
#   tools/bench.sh FMNIST_BIN BENCH_BIN "THREADS"     (THREADS: e.g. "1 2"; empty: all cores)
#
# A benchmark, not a test: it prints figures and never fails on timing. Per
# thread count: the measured FMA peak, the kernels at the models' shapes
# (GFLOP/s, % of peak), training and evaluation speed (bench_fmnist), then
# the same models trained by tools/pytorch_ref.py when /usr/bin/python3
# has torch: as installed (environment untouched), in its best setting
# (OPENBLAS_NUM_THREADS=1 OPENBLAS_CORETYPE=Cooperlake, 1 thread and N
# threads) and with bf16 autocast, and fmnist's speed-up over the fastest
# fp32 one; in bf16 (when the CPU has AVX512_BF16), over bf16 autocast and
# over fmnist's own fp32. Each figure is a
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
# ratio A B: A/B to 2 decimals, or - when either is missing
ratio() { case "$1$2" in *-*|"") echo - ;; *) echo "$1 $2" | awk '{printf "%.2f", $1/$2}' ;; esac; }
# fmt V: V to 2 decimals, or - as it is
fmt() { case "$1" in -|"") echo - ;; *) printf '%.2f' "$1" ;; esac; }

have_torch=0
if [ -x "$py" ] && "$py" -c 'import torch, numpy' 2>/dev/null; then have_torch=1; fi

echo "fmnist bench on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
# bench_fmnist waits as fmnist does (its default, unless the caller set one)
[ -n "${OMP_WAIT_POLICY:-}${GOMP_SPINCOUNT:-}" ] || export GOMP_SPINCOUNT=1000 FMNIST_SPINCOUNT_DEFAULT=1000
echo "OpenMP waiting threads: $("$bin" --version | sed -n 2p | sed 's/^OpenMP waiting threads: //'); $reps repetitions per figure (medians)"
echo

# torch_epoch MODEL THREADS BATCHES AUTOCAST [ENV..]: median seconds per 60000-image epoch.
torch_epoch() {
    m=$1 t=$2 b=$3 ac=$4
    shift 4
    # one epoch more than counted: the first warms up
    env "$@" "$py" tools/pytorch_ref.py --model "$m" --threads "$t" --epochs $((tsreps + 1)) --bench "$b" \
        --autocast "$ac" \
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
    echo "training pass only; MLP: median of $tsreps full epochs; conv nets: median of $tsreps runs of $torch_cnn_batches batches, extrapolated to 60000 images."
    echo "bf16: torch.autocast('cpu', dtype=torch.bfloat16) around forward and loss; cnn-bn in the best setting only"
    printf '| %-72s | %9s | %9s | %9s |\n' "seconds per epoch, $t thread$( [ "$t" = 1 ] || echo s) unless said" "MLP" "conv net" "cnn-bn"
    printf '|%s|%s|%s|%s|\n' "--------------------------------------------------------------------------" "-----------" "-----------" "-----------"
    best_m=; best_c=
    for setting in default best1 bestN bf16; do
        cb=-
        case $setting in
        default) label="PyTorch fp32 as installed (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}), $t thread(s)"; tt=$t
            envs="FMNIST_BENCH=1"; ac=none ;;
        best1) label="PyTorch fp32, OPENBLAS_NUM_THREADS=1 CORETYPE=Cooperlake, 1 thread"; tt=1
            envs="OPENBLAS_NUM_THREADS=1 OPENBLAS_CORETYPE=Cooperlake"; ac=none ;;
        bestN) [ "$t" = 1 ] && continue
            label="PyTorch fp32, OPENBLAS_NUM_THREADS=1 CORETYPE=Cooperlake, $t threads"; tt=$t
            envs="OPENBLAS_NUM_THREADS=1 OPENBLAS_CORETYPE=Cooperlake"; ac=none ;;
        bf16) label="PyTorch bf16 autocast, OPENBLAS_NUM_THREADS=1 CORETYPE=Cooperlake, $t thr."; tt=$t
            envs="OPENBLAS_NUM_THREADS=1 OPENBLAS_CORETYPE=Cooperlake"; ac=bf16 ;;
        esac
        # shellcheck disable=SC2086
        m=$(torch_epoch mlp "$tt" 0 $ac $envs)
        # shellcheck disable=SC2086
        c=$(torch_epoch cnn "$tt" "$torch_cnn_batches" $ac $envs)
        if [ $setting = bf16 ] || [ $setting = bestN ] || { [ $setting = best1 ] && [ "$t" = 1 ]; }; then
            # shellcheck disable=SC2086
            cb=$(torch_epoch cnn-bn "$tt" "$torch_cnn_batches" $ac $envs)
        fi
        printf '| %-72s | %9.2f | %9.2f | %9s |\n' "$label" "$m" "$c" "$(fmt "$cb")"
        if [ $setting = bf16 ]; then
            bf_m=$m bf_c=$c bf_cb=$cb
            continue
        fi
        best_m=$(printf '%s\n%s\n' "$m" "${best_m:-$m}" | sort -g | head -1)
        best_c=$(printf '%s\n%s\n' "$c" "${best_c:-$c}" | sort -g | head -1)
        [ "$cb" = - ] || best_cb=$cb
    done
    fm=$(get mlp_epoch_s "$res") fc=$(get cnn_epoch_s "$res") fcb=$(get cnnbn_epoch_s "$res")
    printf '| %-72s | %9.2f | %9.2f | %9.2f |\n' "fmnist fp32, $t thread(s)" "$fm" "$fc" "$fcb"
    printf '| %-72s | %8.2fx | %8.2fx | %8sx |\n' "fmnist fp32 speed-up over the fastest PyTorch fp32" \
        "$(ratio "$best_m" "$fm")" "$(ratio "$best_c" "$fc")" "$(ratio "${best_cb:--}" "$fcb")"
    bm=$(get mlp_bf16_epoch_s "$res") bc=$(get cnn_bf16_epoch_s "$res") bcb=$(get cnnbn_bf16_epoch_s "$res")
    if [ -n "$bm" ]; then
        printf '| %-72s | %9.2f | %9.2f | %9.2f |\n' "fmnist bf16, $t thread(s)" "$bm" "$bc" "$bcb"
        printf '| %-72s | %8.2fx | %8.2fx | %8sx |\n' "fmnist bf16 speed-up over PyTorch bf16 autocast" \
            "$(ratio "$bf_m" "$bm")" "$(ratio "$bf_c" "$bc")" "$(ratio "$bf_cb" "$bcb")"
        printf '| %-72s | %8.2fx | %8.2fx | %8sx |\n' "fmnist bf16 speed-up over fmnist fp32" \
            "$(ratio "$fm" "$bm")" "$(ratio "$fc" "$bc")" "$(ratio "$fcb" "$bcb")"
    else
        echo "(fmnist bf16: this CPU has no AVX512_BF16)"
    fi
    echo
done

# ---- OpenMP wait policy: idle and with a busy neighbour ----------------------
# Seconds per epoch of `fmnist train` (epochs 2-3 of 3, mean; median of 3 runs)
# with fmnist's default wait (GOMP_SPINCOUNT=1000: spin briefly, then sleep;
# src/cli/common.c, cli_wait_default), libgomp's own (300000 rounds),
# OMP_WAIT_POLICY=passive (sleep at once) and active (spin), on the idle
# machine and with one busy-loop process beside it. BENCH_WAIT=0 leaves it out.
[ "${BENCH_WAIT:-1}" = 0 ] && exit 0
wait_run() { # MODEL LIMIT ENV
    o=$tmp/wait
    rm -rf "$o"
    env -u GOMP_SPINCOUNT -u OMP_WAIT_POLICY "$3" "$bin" train --model "$1" --epochs 3 --train-limit "$2" --no-progress --out "$o" >/dev/null 2>&1 || {
        echo nan
        return
    }
    awk -F, 'NR > 2 {s += $6} END {printf "%.3f\n", s / (NR - 2)}' "$o/log.csv"
}
echo "OpenMP wait policy ($(nproc) cores, all threads): seconds per epoch (MLP: 30000 images, conv net: 3000), median of 3 runs"
printf '| %-42s | %12s | %12s | %12s | %12s |\n' "wait policy" "MLP idle" "MLP loaded" "conv idle" "conv loaded"
printf '|%s|%s|%s|%s|%s|\n' "--------------------------------------------" "--------------" "--------------" "--------------" "--------------"
for pol in default libgomp passive active; do
    case $pol in
    default) e="-uOMP_WAIT_POLICY" ;; # (and GOMP_SPINCOUNT unset below)
    libgomp) e="GOMP_SPINCOUNT=300000" ;;
    *) e="OMP_WAIT_POLICY=$pol" ;;
    esac
    row=
    for model in mlp cnn; do
        [ $model = mlp ] && lim=30000 || lim=3000
        for load in idle loaded; do
            if [ $load = loaded ]; then
                sh -c 'while :; do :; done' &
                busy=$!
            fi
            v=$(for r in 1 2 3; do wait_run "models/$model.cfg" $lim "$e"; done | median)
            [ $load = loaded ] && kill $busy
            row="$row $v"
        done
    done
    # shellcheck disable=SC2086
    case $pol in
    default) label="fmnist's default (GOMP_SPINCOUNT=1000)" ;;
    libgomp) label="libgomp's default (GOMP_SPINCOUNT=300000)" ;;
    *) label="OMP_WAIT_POLICY=$pol" ;;
    esac
    printf '| %-42s | %12s | %12s | %12s | %12s |\n' "$label" $row
done
echo "(loaded: one busy-loop process beside the run, so its threads share the cores)"
