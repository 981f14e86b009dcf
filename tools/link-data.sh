#!/bin/sh
# link-data.sh - make data/ hold the four Fashion-MNIST IDX files.
# Looks in $FMNIST_DATA, then data/ itself, then the Debian package's folder,
# and links the files into data/. Each file may be raw or gzipped.
set -eu
cd "$(dirname "$0")/.."
FILES="train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte"
has_all() {
    for f in $FILES; do
        [ -e "$1/$f" ] || [ -e "$1/$f.gz" ] || return 1
    done
}
if has_all data; then exit 0; fi
for d in "${FMNIST_DATA:-}" /usr/share/datasets/fashion-mnist; do
    [ -n "$d" ] && [ -d "$d" ] && has_all "$d" || continue
    for f in $FILES; do
        for g in "$d/$f" "$d/$f.gz"; do
            [ -e "$g" ] && ln -sf "$g" "data/$(basename "$g")"
        done
    done
    echo "fmnist: linked the data set from $d into data/"
    exit 0
done
echo "fmnist: Fashion-MNIST not found (looked in \$FMNIST_DATA, data/, /usr/share/datasets/fashion-mnist)." >&2
echo "fmnist: install it with: apt-get install dataset-fashion-mnist (as root), or put the four IDX files in data/" >&2
exit 1
