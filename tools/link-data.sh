#!/bin/sh
# link-data.sh - make data/ hold the four Fashion-MNIST IDX files (`make data`).
# Fails if $FMNIST_DATA is set to a folder that lacks them (as fmnist itself
# does). Does nothing if data/ has them; else links them from $FMNIST_DATA,
# or if unset from the Debian package's folder. Each file may be raw or
# gzipped. Creates data/ if it is missing (a fresh clone); adds only symbolic
# links with absolute targets; never writes through a link, and never
# replaces anything but a dangling link of a data file's name.
set -eu
FILES="train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte"
SYSTEM=/usr/share/datasets/fashion-mnist
env_dir=${FMNIST_DATA:-}
case $env_dir in
    "" | /*) ;;
    *) env_dir=$PWD/$env_dir ;; # relative to where the user is, before the cd below
esac
cd "$(dirname "$0")/.."
has_all() {
    for f in $FILES; do
        [ -f "$1/$f" ] || [ -f "$1/$f.gz" ] || return 1
    done
}
missing() {
    for f in $FILES; do
        [ -f "$1/$f" ] || [ -f "$1/$f.gz" ] || { echo "$f"; return; }
    done
}
if [ -n "$env_dir" ]; then # a folder the user named is used or refused, never replaced by another
    if [ ! -d "$env_dir" ]; then
        echo "fmnist: \$FMNIST_DATA=$FMNIST_DATA: no such folder (unset FMNIST_DATA to use data/ or $SYSTEM)" >&2
        exit 1
    fi
    if ! has_all "$env_dir"; then
        f=$(missing "$env_dir")
        echo "fmnist: \$FMNIST_DATA=$FMNIST_DATA: no $f or $f.gz in this data folder" >&2
        exit 1
    fi
fi
has_all data && exit 0
if [ -n "$env_dir" ]; then
    src=$env_dir
elif has_all "$SYSTEM"; then
    src=$SYSTEM
else
    echo "fmnist: Fashion-MNIST not found (looked in \$FMNIST_DATA (unset), data/, $SYSTEM)." >&2
    echo "fmnist: install it with: apt-get install dataset-fashion-mnist (as root), or put the four IDX files in data/" >&2
    exit 1
fi
src=$(cd "$src" && pwd -P)
if [ -L data ] || { [ -e data ] && [ ! -d data ]; }; then
    echo "fmnist: data is a link or a file, not a folder of this checkout: not writing into it" >&2
    exit 1
fi
mkdir -p data
for f in $FILES; do
    for g in "$f" "$f.gz"; do
        [ -f "$src/$g" ] || continue
        if [ -L "data/$g" ] && [ ! -e "data/$g" ]; then
            rm -f "data/$g" # a dangling link (to a data set since moved): the link goes, nothing it names
        elif [ -e "data/$g" ] || [ -L "data/$g" ]; then
            continue # the user's own file or link: left as it is
        fi
        ln -s "$src/$g" "data/$g"
    done
done
if ! has_all data; then
    f=$(missing data)
    echo "fmnist: data/$f (or $f.gz) is in the way and is not a data file; move it away and run make data again" >&2
    exit 1
fi
echo "fmnist: linked the data set from $src into data/"
