#!/usr/bin/env bash
# Compares a built mapi32.dll's export table with common/data/mapi32-exports.tsv, name by name
# and ordinal by ordinal: every row exported at its ordinal, ordinal-only rows without a name,
# and nothing else exported.
#   check_exports.sh OBJDUMP DLL TSV
set -u
objdump="$1"; dll="$2"; tsv="$3"
dump=$(mktemp); want=$(mktemp); got=$(mktemp)
trap 'rm -f "$dump" "$want" "$got"' EXIT
"$objdump" -p "$dll" >"$dump" || { echo "objdump failed on $dll"; exit 1; }

base=$(sed -n 's/.*Ordinal Base[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$dump" | head -n1)
[ -n "$base" ] || { echo "$dll: no export directory"; exit 1; }

# Expected: "ordinal name" for named rows, "ordinal (none)" for ordinal-only rows.
awk -F'\t' '!/^#/ && $1 != "name" && NF >= 2 { print $2 " " $1 }' "$tsv" | sort >"$want"

# Named exports: objdump prints "[index] name" where index = ordinal - base; the address table
# prints "[index] +base[ordinal]" for every exported ordinal. (POSIX awk: no gawk needed.)
named=$(sed -n '/\[Ordinal\/Name Pointer\] Table/,/^[[:space:]]*$/p' "$dump" |
        sed -n 's/^[[:space:]]*\[ *\([0-9][0-9]*\)\] \(.*\)$/\1 \2/p' |
        awk -v base="$base" '{ idx = $1; $1 = ""; sub(/^ /, ""); print (idx + base) " " $0 }')
ordinals=$(sed -n '/Export Address Table -- Ordinal Base/,/^[[:space:]]*$/p' "$dump" |
           sed -n 's/.*+base\[ *\([0-9][0-9]*\)\].*/\1/p')
{
  printf '%s\n' "$named"
  for o in $ordinals; do
    printf '%s\n' "$named" | awk -v o="$o" '$1 == o { found = 1 } END { exit found ? 1 : 0 }' && echo "$o (none)"
  done
} | sed '/^$/d' | sort >"$got"

if ! diff -u "$want" "$got" >/dev/null; then
  echo "$dll: export table differs from $tsv (- expected, + built):"
  diff -u "$want" "$got" | sed -n '3,$p' | grep '^[-+]' | head -n 50
  exit 1
fi
echo "$dll: $(wc -l <"$got") exports match $tsv (ordinal base $base)"
