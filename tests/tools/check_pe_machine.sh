#!/usr/bin/env bash
# Static check of a Windows binary built here: its PE file format (machine) is the expected one.
#   check_pe_machine.sh OBJDUMP FILE EXPECTED   (EXPECTED: pei-i386 or pei-x86-64)
set -u
objdump="$1"; file="$2"; expected="$3"
[ -f "$file" ] || { echo "missing: $file"; exit 1; }
format=$("$objdump" -f "$file" | sed -n 's/.*file format \([^ ]*\).*/\1/p' | head -n1)
if [ "$format" != "$expected" ]; then
  echo "$file: file format '$format', expected '$expected'"
  exit 1
fi
echo "$file: $format"
