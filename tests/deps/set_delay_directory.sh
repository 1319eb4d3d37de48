#!/usr/bin/env bash
# Points the Delay Import data directory (entry 13) of a linked PE image at the delay-load table
# it holds (see delay_directory.cpp):
#   set_delay_directory.sh NM IMAGE START_SYMBOL END_SYMBOL EXPECTED_SIZE
# The symbols' addresses come from the image's symbol table, ImageBase from its optional header.
# Fails if END - START is not EXPECTED_SIZE, or the last 32 bytes are not the zero terminator.
set -euo pipefail
nm_tool="$1"; image="$2"; start_sym="$3"; end_sym="$4"; expected="$5"
addr_of() {
  local a
  a=$("$nm_tool" "$image" | awk -v s="$1" '$3 == s || $3 == "_" s { print $1; exit }')
  [ -n "$a" ] || { echo "set_delay_directory: no symbol $1 in $image" >&2; exit 1; }
  echo "$a"
}
u32_at() { od -An -tu4 -j "$1" -N4 "$image" | tr -d ' '; }
u16_at() { od -An -tu2 -j "$1" -N2 "$image" | tr -d ' '; }
u64_at() { od -An -tu8 -j "$1" -N8 "$image" | tr -d ' '; }
lfanew=$(u32_at 60)
[ "$(od -An -c -j "$lfanew" -N2 "$image" | tr -d ' ')" = "PE" ] || { echo "set_delay_directory: $image is not a PE image" >&2; exit 1; }
opt=$((lfanew + 24))
magic=$(u16_at "$opt")
case "$magic" in
  267) base=$(u32_at $((opt + 28))); dirs=$((opt + 96)) ;;   # PE32
  523) base=$(u64_at $((opt + 24))); dirs=$((opt + 112)) ;;  # PE32+
  *) echo "set_delay_directory: unknown optional header magic $magic" >&2; exit 1 ;;
esac
count=$(u32_at $((dirs - 4)))  # NumberOfRvaAndSizes
[ "$count" -ge 14 ] || { echo "set_delay_directory: only $count data directories" >&2; exit 1; }
start=$((16#$(addr_of "$start_sym")))
end=$((16#$(addr_of "$end_sym")))
rva=$((start - base)); size=$((end - start))
[ "$size" -eq "$expected" ] || { echo "set_delay_directory: $start_sym..$end_sym is $size bytes, not $expected" >&2; exit 1; }
# The file offset of the terminator, through the section that holds it.
file_offset() {
  local rva=$1 nsec=$(u16_at $((lfanew + 6))) optsize=$(u16_at $((lfanew + 20))) i sec va vsize raw
  sec=$((lfanew + 24 + optsize))
  for ((i = 0; i < nsec; i++, sec += 40)); do
    va=$(u32_at $((sec + 12))); vsize=$(u32_at $((sec + 8))); raw=$(u32_at $((sec + 20)))
    if [ "$rva" -ge "$va" ] && [ "$rva" -lt $((va + vsize)) ]; then echo $((raw + rva - va)); return; fi
  done
  echo "set_delay_directory: RVA $rva is in no section" >&2; exit 1
}
term=$(file_offset $((rva + size - 32)))
[ "$(od -An -v -tx1 -j "$term" -N32 "$image" | tr -d ' \n' | tr -d 0)" = "" ] ||
  { echo "set_delay_directory: the table does not end with a zero descriptor" >&2; exit 1; }
le32() { local v=$1; printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((v & 255)) $(((v >> 8) & 255)) $(((v >> 16) & 255)) $(((v >> 24) & 255)); }
printf "$(le32 "$rva")$(le32 "$size")" | dd of="$image" bs=1 seek=$((dirs + 13 * 8)) count=8 conv=notrunc status=none
printf 'set_delay_directory: %s: Delay Import Directory = RVA 0x%x, %d bytes\n' "$image" "$rva" "$size"
