#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: check-man.sh BUILD_DIR LIBRARY
# After meson install, the manual is complete and renders cleanly:
# - every identifier of the installed public headers (function, macro,
#   struct, typedef) and every symbol the library exports has a page in
#   section 3, or a link page, whose NAME lists it (so that man's
#   case-insensitive fallback, COMPL_CHAIN_INIT -> compl_chain_init, does
#   not count), and `man 7 cchain` works;
# - every section 3 page has a DESCRIPTION of real text, no placeholder;
# - every page renders with `MANWIDTH=80 man --warnings` without a warning,
#   no line is wider than 80 columns and no word is hyphenated across lines
#   (identifiers must stay whole, also in tables).
set -eu
build=$1
lib=$2
. "$(dirname "$0")/install-destdir.sh"
mandir=$(dirname "$(find "$dest" -path '*/man7/cchain.7' | head -n 1)")
[ -n "$mandir" ] && [ "$mandir" != . ] || { echo "cchain.7 was not installed" >&2; exit 1; }
mandir=$(dirname "$mandir")
incdir=$(dirname "$(find "$dest" -path '*/include/cchain/cchain.h' | head -n 1)")
[ -n "$incdir" ] && [ "$incdir" != . ] || { echo "cchain.h was not installed" >&2; exit 1; }
export MANPATH="$mandir" MANWIDTH=80 LC_ALL=C.UTF-8
hyphen=$(printf '\342\200\220') # U+2010, what groff breaks words with
status=0
fail() {
	echo "$*" >&2
	status=1
}

# The public identifiers, read from the headers as installed.
idents=$(
	cat "$incdir"/*.h | sed -n \
		-e 's/^CCHAIN_API .*[ *]\([A-Za-z_][A-Za-z0-9_]*\)(.*/\1/p' \
		-e 's/^#define \([A-Za-z_][A-Za-z0-9_]*\).*/\1/p' \
		-e 's/^struct \([A-Za-z_][A-Za-z0-9_]*\) *[{;].*/\1/p' \
		-e 's/^typedef .*(\*\([A-Za-z_][A-Za-z0-9_]*\))(.*/\1/p' \
		-e 's/^typedef [^(]*[ *]\([A-Za-z_][A-Za-z0-9_]*\);.*/\1/p' |
		grep -v '_H$' | sort -u)
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDRBVWi]$/ { print $3 }')
n=0
for id in $(printf '%s\n%s\n' "$idents" "$exported" | sort -u); do
	n=$((n + 1))
	if ! man -w 3 "$id" >/dev/null 2>&1; then
		fail "no manual page for $id"
		continue
	fi
	# The NAME section, up to the dash: the identifiers the page is for.
	names=$(man 3 "$id" 2>/dev/null | awk '/^NAME/ { on = 1; next }
		on && / - / { sub(/ - .*/, ""); print; exit } on { print }')
	if ! echo "$names" | tr ', ' '\n\n' | grep -qx "$id"; then
		fail "man 3 $id shows the page of '$(echo $names)', not one for $id"
	fi
done
[ -n "$idents" ] || fail "no identifiers found in $incdir"

for page in "$mandir"/man3/*.3; do
	name=$(basename "$page" .3)
	# A link page is checked through the page it points to.
	if head -n 1 "$page" | grep -q '^\.so '; then
		target=$mandir/$(head -n 1 "$page" | cut -d' ' -f2)
		[ -f "$target" ] || fail "link page $name points to a missing page"
		continue
	fi
	text=$(man 3 "$name" 2>/dev/null)
	desc=$(echo "$text" | awk '/^DESCRIPTION/ { on = 1; next } /^[A-Z]/ { on = 0 } on')
	[ "$(echo "$desc" | wc -w)" -ge 8 ] || fail "$name(3): no DESCRIPTION text"
	if echo "$text" | grep -qiE 'see synopsis|todo|fixme|placeholder'; then
		fail "$name(3) holds placeholder text: $(echo "$text" | grep -iE 'see synopsis|todo|fixme|placeholder')"
	fi
done

for page in "$mandir"/man3/*.3 "$mandir"/man7/*.7; do
	sec=${page##*.}
	name=$(basename "$page" ".$sec")
	warnings=$(man --warnings "$sec" "$name" 2>&1 >/dev/null || echo "man failed")
	[ -z "$warnings" ] || fail "$name($sec) renders with warnings: $warnings"
	out=$(man "$sec" "$name" 2>/dev/null)
	if printf '%s\n' "$out" | grep -q '.\{81,\}'; then
		fail "$name($sec) has lines wider than 80 columns:" \
			"$(printf '%s\n' "$out" | grep -n '.\{81,\}')"
	fi
	if printf '%s\n' "$out" | grep -qE "[[:alpha:]]$hyphen *\$"; then
		fail "$name($sec) hyphenates words across lines:" \
			"$(printf '%s\n' "$out" | grep -nE "[[:alpha:]]$hyphen *\$")"
	fi
	# The groff warnings man does not enable, but line breaking and
	# adjusting, which ragged tables trigger.
	# From the top of the manual, where link pages' .so requests resolve.
	if [ -n "$(cd "$mandir" && groff -t -man -Tutf8 -ww -Wbreak -z "$page" 2>&1)" ]; then
		(cd "$mandir" && groff -t -man -Tutf8 -ww -Wbreak -z "$page" >&2)
		fail "groff warns about $page"
	fi
done

man 3 compl_chain_add 2>/dev/null | grep -q "compl_chain_add - append an entry" ||
	fail "man 3 compl_chain_add does not show its page"
[ $status -ne 0 ] ||
	echo "$n public identifiers and exported symbols, each with its manual page; every page renders in 80 columns without warnings"
exit $status
