#!/bin/sh
# check-includes.sh [-m] [SRC] - the include rules of docs/ARCHITECTURE.md, over
# the `#include "..."` lines of SRC/*/*.[ch] and SRC/*.c (SRC: src).
#
#  1. Includes point down: a file in folder F includes only files of F or of
#     the folders before F in ORDER (files directly in SRC, main.c, come last).
#  2. No circle: no file reaches itself through includes.
#     With -m, a file's .c and .h count as one module (kernels/conv.c and
#     conv.h are "kernels/conv"), so a circle between two modules' files is
#     found too (conv.c includes conv_direct.h, conv_direct.h includes conv.h).
#
# Prints each violation ("FILE:LINE: ...") and exits 1 if there is one;
# prints one summary line and exits 0 otherwise. Only POSIX sh and awk.
set -eu
ORDER="${INCLUDE_ORDER:-util kernels nn data model report train cli}"
modules=0
[ "${1:-}" = "-m" ] && { modules=1; shift; }
SRC="${1:-src}"
[ -d "$SRC" ] || { echo "check-includes: $SRC: no such folder" >&2; exit 2; }

cd "$SRC"
files=$(ls ./*.c ./*/*.c ./*/*.h 2>/dev/null | sed 's|^\./||' || true)
[ -n "$files" ] || { echo "check-includes: no source files in $SRC" >&2; exit 2; }
# "FILE<TAB>LINE<TAB>INCLUDED" for every quoted include; FILE alone (no tabs) for every file
{
    printf '%s\n' $files
    for f in $files; do
        awk -v f="$f" '/^[ \t]*#[ \t]*include[ \t]*"/ {
            s = $0; sub(/^[^"]*"/, "", s); sub(/".*$/, "", s); printf "%s\t%d\t%s\n", f, FNR, s }' "$f"
    done
} | awk -F '\t' -v order="$ORDER" -v modules="$modules" -v src="$SRC" '
function folder(p) { return index(p, "/") ? substr(p, 1, index(p, "/") - 1) : "" }
function node(p) { return modules ? substr(p, 1, length(p) - 2) : p }
# depth-first search from n; a grey node met again closes a circle
function visit(n,    i, m) {
    color[n] = 1; stack[++depth] = n
    for (i = 1; i <= nout[n]; i++) {
        m = out[n, i]
        if (color[m] == 1) { report_circle(m); continue }
        if (!color[m]) visit(m)
    }
    color[n] = 2; depth--
}
function report_circle(m,    i, k, s) {
    for (k = depth; k > 0 && stack[k] != m; k--) ;
    s = ""
    for (i = k; i <= depth; i++) s = s stack[i] " -> "
    s = s m
    if (seen_circle[s]++) return
    printf "%s: include circle: %s\n", m, s; bad++
}
BEGIN { n = split(order, names, " "); for (i = 1; i <= n; i++) level[names[i]] = i; level[""] = n + 1 }
NF == 1 { exists[$1] = 1; nodes[node($1)] = 1; next }
{
    file = $1; line = $2; inc = $3; nincs++
    dir = folder(file)
    target = (dir != "" && ((dir "/" inc) in exists)) ? dir "/" inc : inc  # the includer folder first, as cc does
    if (!(target in exists)) next                                          # not ours (system or test headers)
    from = folder(file); to = folder(target)
    if (!(from in level)) { printf "%s:%d: folder %s is not in the include order (%s)\n", file, line, from, order; bad++; next }
    if (!(to in level)) { printf "%s:%d: includes %s: folder %s is not in the include order (%s)\n", file, line, inc, to, order; bad++; next }
    if (level[to] > level[from])
        { printf "%s:%d: includes %s: %s is above %s (order: %s)\n", file, line, inc, to, from, order; bad++ }
    a = node(file); b = node(target)
    if (a != b && !((a, b) in edge)) { edge[a, b] = 1; out[a, ++nout[a]] = b }
}
END {
    for (n in nodes) if (!color[n]) visit(n)
    if (bad) { printf "check-includes: %d violation%s in %s (docs/ARCHITECTURE.md)\n", bad, bad == 1 ? "" : "s", src; exit 1 }
    nf = 0; for (f in exists) nf++
    printf "check-includes: %s: %d files, %d includes, order %s%s: no include points up, no circle\n", src, nf, nincs,
        order, modules ? " (modules)" : ""
}'
