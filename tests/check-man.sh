#!/bin/sh
# SPDX-License-Identifier: MIT
# Usage: check-man.sh BUILD_DIR LIBRARY
# After meson install, the manual is complete and renders cleanly:
# - every identifier of the installed public headers (function, macro,
#   struct, union, enum, typedef) and every symbol the library exports has
#   a page in section 3, or a link page, whose NAME lists it (so that man's
#   case-insensitive fallback, COMPL_CHAIN_INIT -> compl_chain_init, does
#   not count), and `man 7 cchain` works;
# - every section 3 page has a DESCRIPTION of real text, no placeholder;
# - every installed header's overview comment is in cchain(7), word for
#   word, and in the page of the header's main type;
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
		-e 's/^\(struct\|union\|enum\) \([A-Za-z_][A-Za-z0-9_]*\) *[{;].*/\2/p' \
		-e 's/^typedef .*(\*\([A-Za-z_][A-Za-z0-9_]*\))(.*/\1/p' \
		-e 's/^typedef [^(]*[ *]\([A-Za-z_][A-Za-z0-9_]*\);.*/\1/p' |
		grep -v '_H$' | sort -u)
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDRBVWi]$/ { print $3 }')
[ -n "$idents" ] || fail "no identifiers found in $incdir"

# Every page rendered once, as man shows it, with man's warnings apart.
out=$dest/rendered
mkdir -p "$out"
for page in "$mandir"/man3/*.3 "$mandir"/man7/*.7; do
	sec=${page##*.}
	name=$(basename "$page" ".$sec")
	if head -n 1 "$page" | grep -q '^\.so '; then
		# A link page is checked through the page it points to.
		target=$mandir/$(head -n 1 "$page" | cut -d' ' -f2)
		[ -f "$target" ] || fail "link page $name points to a missing page"
		continue
	fi
	man --warnings "$sec" "$name" >"$out/$name.$sec" 2>"$out/$name.$sec.err" ||
		echo "man failed" >>"$out/$name.$sec.err"
done

n=0
for id in $(printf '%s\n%s\n' "$idents" "$exported" | sort -u); do
	n=$((n + 1))
	if ! file=$(man -w 3 "$id" 2>/dev/null); then
		fail "no manual page for $id"
		continue
	fi
	# The NAME section, up to the dash: the identifiers the page is for.
	names=$(awk '/^NAME/ { on = 1; next }
		on && / - / { sub(/ - .*/, ""); print; exit } on { print }' \
		"$out/$(basename "$file")")
	if ! echo "$names" | tr ', ' '\n\n' | grep -qx "$id"; then
		fail "man 3 $id shows the page of '$(echo $names)', not one for $id"
	fi
done

for text in "$out"/*.3; do
	name=$(basename "$text" .3)
	desc=$(awk '/^DESCRIPTION/ { on = 1; next } /^[A-Z]/ { on = 0 } on' "$text")
	[ "$(echo "$desc" | wc -w)" -ge 8 ] || fail "$name(3): no DESCRIPTION text"
	if grep -qiE 'see synopsis|todo|fixme|placeholder' "$text"; then
		fail "$name(3) holds placeholder text: $(grep -iE 'see synopsis|todo|fixme|placeholder' "$text")"
	fi
done

for text in "$out"/*.[37]; do
	page=$(basename "$text")
	sec=${page##*.}
	page="${page%.*}($sec)"
	[ ! -s "$text.err" ] || fail "$page renders with warnings: $(cat "$text.err")"
	if grep -q '.\{81,\}' "$text"; then
		fail "$page has lines wider than 80 columns:" "$(grep -n '.\{81,\}' "$text")"
	fi
	if grep -qE "[[:alpha:]]$hyphen *\$" "$text"; then
		fail "$page hyphenates words across lines:" \
			"$(grep -nE "[[:alpha:]]$hyphen *\$" "$text")"
	fi
done

# The groff warnings man does not enable, but line breaking and
# adjusting, which ragged tables trigger; from the top of the manual, where
# link pages' .so requests resolve.
for page in "$mandir"/man3/*.3 "$mandir"/man7/*.7; do
	warnings=$(cd "$mandir" && groff -t -man -Tutf8 -ww -Wbreak -z "$page" 2>&1)
	[ -z "$warnings" ] || fail "groff warns about $page: $warnings"
done

# The overview exactly as one reads a page file.
warnings=$(man --warnings -l "$mandir/man7/cchain.7" 2>&1 >/dev/null)
[ -z "$warnings" ] || fail "man --warnings -l cchain.7: $warnings"
man 3 compl_chain_add 2>/dev/null | grep -q "compl_chain_add - append an entry" ||
	fail "man 3 compl_chain_add does not show its page"
# Every installed header's overview comment (its first comment of more than
# one line), word for word, in cchain(7) and in the page of the header's
# main type (named in doc/gen-man.py's HEADER_PAGES).
python3 - "$incdir" "$out" <<'PY' || status=1
import os, re, sys
incdir, out = sys.argv[1:]
main = {"compl_chain.h": "compl_chain", "shared.h": "compl_chain_shared",
        "notify.h": "compl_notifier", "async.h": "async_domain"}
words = lambda s: re.findall(r"[A-Za-z0-9]+", s)
def has(seq, sub):
    n = len(sub)
    return any(seq[i:i + n] == sub for i in range(len(seq) - n + 1))
pages = {}
def page(name):
    if name not in pages:
        with open(os.path.join(out, name), encoding="utf-8") as f:
            pages[name] = words(f.read())
    return pages[name]
bad = 0
for h in sorted(os.listdir(incdir)):
    text = open(os.path.join(incdir, h), encoding="utf-8").read()
    for m in re.finditer(r"^/\*(?!\*)(.*?)\*/", text, re.S | re.M):
        if "SPDX-License-Identifier" in m.group(1):
            continue
        if "\n" in m.group(1).strip():
            ov = words(re.sub(r"(?m)^ \* ?", "", m.group(1)))
            where = ["cchain.7"] + ([main[h] + ".3"] if h in main else [])
            for w in where:
                if not has(page(w), ov):
                    print(f"{w}: the overview of <cchain/{h}> is not there, word for word",
                          file=sys.stderr)
                    bad = 1
        break
sys.exit(bad)
PY

[ $status -ne 0 ] ||
	echo "$n public identifiers and exported symbols, each with its manual page; every page renders in 80 columns without warnings"
exit $status
