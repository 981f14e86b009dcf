#!/bin/sh
# manpage.sh BIN - writes fmnist(1) on stdout, made from the program's own
# help (`BIN --help`, then `BIN help CMD` for every command it lists), so
# that the manual says what --help says. `make install` puts it in
# PREFIX/share/man/man1/fmnist.1.
set -eu
bin=$1
# roff-safe: backslashes written as \e, a line starting with . or ' escaped
esc() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }
version=$("$bin" --version | sed -n '1s/^fmnist //p')
cmds=$("$bin" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { exit }')
[ -n "$cmds" ] || { echo "manpage.sh: $bin --help lists no commands" >&2; exit 1; }
printf '.TH FMNIST 1 "" "fmnist %s" "User Commands"\n' "$version"
printf '.SH NAME\nfmnist \\- train and evaluate MLPs and conv nets on Fashion-MNIST\n'
printf '.SH SYNOPSIS\n.B fmnist\n.I COMMAND\n[flags]\n'
printf '.SH DESCRIPTION\n.nf\n'
"$bin" --help | esc
printf '.fi\n.SH COMMANDS\n'
for c in $cmds; do
    printf '.SS fmnist %s\n.nf\n' "$c"
    "$bin" help "$c" | esc
    printf '.fi\n'
done
printf '.SH FILES\n.TP\n.I PREFIX/share/fmnist/models/*.cfg\n'
printf 'the presets: \\fB--model NAME\\fR names PREFIX/share/fmnist/models/NAME.cfg (the program looks in\n'
printf '\\fI../share/fmnist/models\\fR beside its own folder; in a clone, in \\fImodels/\\fR)\n'
printf '.TP\n.I /usr/share/datasets/fashion-mnist\nthe data set of the Debian package dataset-fashion-mnist (else \\fIdata/\\fR, \\fB--data DIR\\fR or \\fB$FMNIST_DATA\\fR)\n'
