#!/bin/sh
# man.sh — the manual pages of keten, made from the program's own help
# texts with help2man: keten(1) from 'keten --help', and one page
# keten-COMMAND(1) per line of the command table ('keten --commands')
# from 'keten COMMAND --help'.  A small wrapper per page runs the command
# and words the first line as help2man reads it ("Usage:", "or:").
#
#   sh scripts/man.sh KETEN OUTDIR VERSION
#
# The Makefile runs it into build/man/ ('make man'); 'make install' puts
# the pages in share/man/man1.  SOURCE_DATE_EPOCH, when set, dates them.
set -eu
KETEN=$1 OUT=$2 VERSION=$3
case "$KETEN" in /*) ;; *) KETEN=$(pwd)/$KETEN ;; esac
command -v help2man >/dev/null || { echo "man.sh: help2man is missing (sh scripts/deps.sh)" >&2; exit 69; }
mkdir -p "$OUT/wrap"
rm -f "$OUT"/*.1

# The usage paragraph as help2man reads a synopsis: "Usage: keten ..."
# and "  or:  keten ..." lines, each form of the command on one line (the
# help texts wrap a long form onto indented lines); an option that
# starts a line at the margin is indented, with its continuation lines, as
# help2man reads an option list.
cat > "$OUT/wrap/usage.awk" <<'AWK'
function flush(  i) {
	forms[n++] = form
	print "Usage: " forms[0]
	for (i = 1; i < n; i++) print "  or:  " forms[i]
	inusage = 0
}
NR == 1 { sub(/^usage: */, ""); form = $0; inusage = 1; next }
inusage && /^[ \t]*$/ { flush(); print; next }
inusage && /^ *keten / { forms[n++] = form; sub(/^ */, ""); form = $0; next }
inusage { sub(/^ */, ""); form = form " " $0; next }
/^--?[a-zA-Z][a-z0-9-]*( [A-Z][^ ]*)*(  |$)/ { print "  " $0; opt = 1; next }
opt && /^ +[^ ]/ { print "  " $0; next }
{ opt = 0; print }
END { if (inusage) flush() }
AWK

# wrap NAME ARGS...: a program NAME that prints 'keten ARGS --help' for help2man
wrap() {
	w=$1; shift
	{
		echo '#!/bin/sh'
		printf '"%s" %s "$@" | awk -f "%s"\n' "$KETEN" "$*" "$OUT/wrap/usage.awk"
	} > "$OUT/wrap/$w"
	chmod +x "$OUT/wrap/$w"
}

# page NAME SUMMARY INCLUDE: help2man over the wrapper NAME
page() {
	help2man --no-info --section=1 --version-string="$VERSION" --source="keten $VERSION" \
		--manual="keten manual" --name="$2" --include="$3" --output="$OUT/$1.1" "$OUT/wrap/$1"
}

cmds=$("$KETEN" --commands)
[ -n "$cmds" ] || { echo "man.sh: '$KETEN --commands' printed nothing" >&2; exit 70; }

# keten(1): the global options, every command, the environment
see=$(printf '%s\n' "$cmds" | cut -f1 | sed 's/^\(.*\)$/.BR keten-\1 (1)/' | sed '$!s/$/,/')
{
	echo '[ENVIRONMENT]'
	echo '.TP'; echo '.B KETEN_HOME'
	echo 'The home (key and ledger) when --home is not given; else ~/.keten.'
	echo '.TP'; echo '.B KETEN_PASSPHRASE'
	echo "The passphrase that unlocks the home's key; else it is asked on the terminal."
	echo '[FILES]'
	echo '.TP'; echo '.I ~/.keten'
	echo 'The default home: the encrypted keystore and the LMDB ledger.'
	echo '.TP'; echo '.I /usr/share/keten/proto'
	echo 'The protobuf definitions of the entries and the sync protocol.'
	echo '[EXIT STATUS]'
	echo '0 on success; 64 usage, 65 refused by a rule or bad data, 66 no such input,'
	echo '69 unavailable, 70 internal error, 73 cannot create, 74 I/O error,'
	echo '76 protocol error, 77 not permitted, 78 configuration error;'
	echo '1 when reconcile --check or verify found something.'
	echo '[SEE ALSO]'
	printf '%s\n' "$see"
} > "$OUT/wrap/keten.h2m"
wrap keten ""
page keten "settlement ledger for subcontracting in Dutch youth care and Wmo" "$OUT/wrap/keten.h2m"

printf '%s\n' "$cmds" | while IFS='	' read -r name summary; do
	{
		echo '[SEE ALSO]'
		echo '.BR keten (1)'
	} > "$OUT/wrap/keten-$name.h2m"
	wrap "keten-$name" "$name"
	page "keten-$name" "$summary" "$OUT/wrap/keten-$name.h2m"
done
rm -rf "$OUT/wrap"
