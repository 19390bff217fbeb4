#!/bin/sh
# completion.sh — the bash completion of keten, made from the program's
# command table ('keten --commands') and each command's help text
# ('keten COMMAND --help'): the commands, each command's subcommands (the
# words after 'keten COMMAND' in its usage lines) and long options (those
# of its usage lines and of its option list), and file names after an
# option whose argument is a FILE.
#
#   sh scripts/completion.sh KETEN OUTFILE
#
# The Makefile runs it into build/completion/keten; 'make install' puts
# it in share/bash-completion/completions/.
set -eu
KETEN=$1 OUTFILE=$2
cmds=$("$KETEN" --commands | cut -f1)
[ -n "$cmds" ] || { echo "completion.sh: '$KETEN --commands' printed nothing" >&2; exit 70; }
mkdir -p "$(dirname "$OUTFILE")"

# What one help text offers: "subs", "opts" and "files" lines of words.
# The usage paragraph is every line up to the first blank one; the option
# list is the lines that start (after at most 4 spaces) with --.
offers() { # COMMAND
	"$KETEN" "$1" --help | awk -v cmd="$1" '
	function words(s, kind,   w) {
		while (match(s, /--[a-z][a-z0-9-]*( [A-Z][A-Z.]*)?/)) {
			w = substr(s, RSTART, RLENGTH); s = substr(s, RSTART + RLENGTH)
			split(w, p, " ")
			if (!(p[1] in seen)) { seen[p[1]] = 1; opts = opts " " p[1] }
			if (p[2] ~ /^FILE/ && !(p[1] in file)) { file[p[1]] = 1; files = files " " p[1] }
		}
	}
	NR == 1 || (usage && !/^[ \t]*$/) {
		usage = 1; words($0)
		if (match($0, "keten " cmd " [a-z][a-z-]*")) {
			s = substr($0, RSTART + length("keten " cmd " "), RLENGTH - length("keten " cmd " "))
			if (!(s in sub_)) { sub_[s] = 1; subs = subs " " s }
		}
		next
	}
	{ usage = 0 }
	/^ {0,4}--[a-z]/ { words($0) }
	END { print "subs" subs; print "opts" opts " --help"; print "files" files }'
}

{
	echo "# bash completion for keten: made by scripts/completion.sh from 'keten --commands'"
	echo "# and 'keten COMMAND --help'; do not edit."
	echo '_keten()'
	echo '{'
	echo '	local cur prev words cword'
	echo '	if declare -F _init_completion >/dev/null; then'
	echo '		_init_completion || return'
	echo '	else'
	echo '		cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}'
	echo '		words=("${COMP_WORDS[@]}") cword=$COMP_CWORD'
	echo '	fi'
	echo '	local globals="--home --json --quiet --help --version"'
	echo "	local commands=\"$(echo $cmds)\""
	echo '	local cmd="" at=0 i'
	echo '	for ((i = 1; i < cword; i++)); do'
	echo '		case ${words[i]} in'
	echo '		--home) ((i++)) ;;'
	echo '		-*) ;;'
	echo '		*) cmd=${words[i]} at=$i; break ;;'
	echo '		esac'
	echo '	done'
	echo '	if [[ $prev == --home ]]; then'
	echo '		COMPREPLY=($(compgen -d -- "$cur"))'
	echo '		return'
	echo '	fi'
	echo '	if [[ -z $cmd ]]; then'
	echo '		COMPREPLY=($(compgen -W "$globals $commands" -- "$cur"))'
	echo '		return'
	echo '	fi'
	echo '	local subs="" opts="" files=""'
	echo '	case $cmd in'
	for c in $cmds; do
		o=$(offers "$c")
		printf '\t%s)\n' "$c"
		printf '\t\tsubs="%s"\n' "$(printf '%s\n' "$o" | sed -n 's/^subs *//p')"
		printf '\t\topts="%s"\n' "$(printf '%s\n' "$o" | sed -n 's/^opts *//p')"
		printf '\t\tfiles="%s"\n' "$(printf '%s\n' "$o" | sed -n 's/^files *//p')"
		printf '\t\t;;\n'
	done
	echo '	esac'
	echo '	if [[ -n $files && " $files " == *" $prev "* ]]; then'
	echo '		COMPREPLY=($(compgen -f -- "$cur"))'
	echo '		return'
	echo '	fi'
	echo '	if [[ $cur == -* ]]; then'
	echo '		COMPREPLY=($(compgen -W "$opts $globals" -- "$cur"))'
	echo '		return'
	echo '	fi'
	echo '	if [[ -n $subs && $cword -eq $((at + 1)) ]]; then'
	echo '		COMPREPLY=($(compgen -W "$subs" -- "$cur"))'
	echo '		return'
	echo '	fi'
	echo '	COMPREPLY=($(compgen -f -- "$cur"))'
	echo '}'
	echo 'complete -F _keten keten'
} > "$OUTFILE.tmp"
mv "$OUTFILE.tmp" "$OUTFILE"
