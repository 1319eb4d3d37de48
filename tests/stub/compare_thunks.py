#!/usr/bin/env python3
"""The MASM thunks against the GNU ones, export by export (test stub.masm_thunks).

stub/gen_exports.cmake writes the stub's assembler thunks twice: for GNU as (thunks_<arch>.S, which
the mingw build assembles into mapi32.dll) and for MASM (thunks_<arch>.asm, for MSVC builds). This
test generates the MASM from the same export list, assembles it with llvm-ml, and compares every
thunk (every md_export_N symbol) of that object with the same thunk in the object the mingw build
linked: machine code and relocations, instruction by instruction. A thunk passes when both are the
same, or when they differ only in the ways EXPLAINED lists; anything else fails the test. The fill
after a thunk's last instruction (alignment padding, never executed) is not compared; the entry
alignment is.

Usage: compare_thunks.py --arch x64|x86 --cmake CMAKE --generator stub/gen_exports.cmake
         --tsv EXPORTS_TSV --supplement SUPPLEMENT_TSV --llvm-ml LLVM_ML --objdump OBJDUMP
         --gnu-source <build>/stub/generated/thunks_<arch>.S --gnu-object <thunks_<arch>.S.obj>
         --work DIR [--masm FILE]
--masm assembles FILE instead of the generated MASM (to check by hand that a change is caught).
"""
import argparse
import filecmp
import os
import re
import struct
import subprocess
import sys

EXPLAINED = {
    "abs-vs-rip": "llvm-ml 14 (as every llvm-ml until llvm-project issue 54773 was fixed, in 2024) "
                  "encodes a MASM memory operand 'qword ptr [symbol+N]' without a base register as "
                  "an absolute [disp32] (ModRM+SIB 0x25, IMAGE_REL_AMD64_ADDR32); MASM itself "
                  "(ml64) makes it RIP-relative, as the GNU version is (IMAGE_REL_AMD64_REL32). "
                  "Compared after mapping the one onto the other: same opcode, register, symbol "
                  "and offset N",
    "branch-disp": "a branch inside the thunk has another displacement only because a difference "
                   "above changed the length of the code between; it reaches the same instruction",
    "branch-width": "a branch inside the thunk is rel8 in one object and rel32 in the other; same "
                    "condition, same target instruction",
    "rel32-k": "IMAGE_REL_AMD64_REL32_k with addend N in one object, REL32 with addend N-k in the "
               "other: the same displacement once linked",
}

AMD64_RELOCS = {1: "ADDR64", 2: "ADDR32", 3: "ADDR32NB", 4: "REL32", 5: "REL32_1", 6: "REL32_2",
                7: "REL32_3", 8: "REL32_4", 9: "REL32_5"}
I386_RELOCS = {6: "DIR32", 7: "DIR32NB", 0x14: "REL32"}
MACHINES = {"x64": 0x8664, "x86": 0x14C}
AMD64_ADDR32, AMD64_REL32 = 2, 4
EXPORT = re.compile(r"^_?md_export_[0-9]+(?:@[0-9]+)?$")
# Fill that GNU as puts between thunks: nops of every length; on x86 (no -march) the long ones
# are no-op lea/mov forms of %esi or %edi.
PADDING = re.compile(r"^(?:(?:data16|cs|ds|rex\.?\w*)\s+)*(?:nop[wlq]?|xchg\s+%ax,%ax|int3"
                     r"|lea\s+0x0\(%e([sd]i)(?:,%eiz,1)?\),%e\1|lea\s+\(%e([sd]i)\),%e\2|mov\s+%e([sd]i),%e\3)(?:\s|$)")


class Coff:
    """The parts of a COFF object this test reads: .text, its relocations, the symbols."""

    def __init__(self, path, arch):
        self.path = path
        data = open(path, "rb").read()
        machine, nsec, _, symptr, nsym, opthdr, _ = struct.unpack_from("<HHIIIHH", data, 0)
        if machine != MACHINES[arch]:
            raise SystemExit(f"{path}: COFF machine {machine:#x}, expected {MACHINES[arch]:#x} ({arch})")
        strtab = data[symptr + 18 * nsym:]

        def name_at(raw):
            if raw[:4] == b"\0\0\0\0":
                off = struct.unpack_from("<I", raw, 4)[0]
                return strtab[off:strtab.index(b"\0", off)].decode()
            return raw.rstrip(b"\0").decode()

        self.symbols = []  # (index, name, value, section number, storage class)
        i = 0
        while i < nsym:
            raw = data[symptr + 18 * i: symptr + 18 * (i + 1)]
            value, secnum, _, sclass, naux = struct.unpack_from("<IhHBB", raw, 8)
            self.symbols.append((i, name_at(raw[:8]), value, secnum, sclass))
            i += 1 + naux
        self.by_index = {s[0]: s for s in self.symbols}

        self.text = None
        for n in range(nsec):
            off = 20 + opthdr + 40 * n
            raw = data[off:off + 40]
            name = raw[:8].rstrip(b"\0").decode()
            if name.startswith("/"):
                name = name_at(b"\0\0\0\0" + struct.pack("<I", int(name[1:])))
            size, rawptr, relptr, _, nrel, _, chars = struct.unpack_from("<IIIIHHI", raw, 16)
            if name != ".text":
                continue
            if self.text is not None:
                raise SystemExit(f"{path}: more than one .text section")
            if chars & 0x01000000 and nrel == 0xFFFF:  # IMAGE_SCN_LNK_NRELOC_OVFL
                nrel = struct.unpack_from("<I", data, relptr)[0]
                relptr += 10
                nrel -= 1
            relocs = {}
            for r in range(nrel):
                va, symidx, rtype = struct.unpack_from("<IIH", data, relptr + 10 * r)
                relocs[va] = (rtype, self.by_index[symidx][1])
            # Bits 20-23: the alignment; none means 16 (IMAGE_SCN_TYPE_NO_PAD, the legacy form, 1).
            align_code = (chars >> 20) & 0xF
            align = 1 if chars & 0x8 else 1 << (align_code - 1) if align_code else 16
            self.text = {"index": n + 1, "bytes": data[rawptr:rawptr + size], "relocs": relocs,
                         "align": align}
        if self.text is None:
            raise SystemExit(f"{path}: no .text section")
        self.exports = {}
        for _, name, value, secnum, sclass in self.symbols:
            if EXPORT.match(name):
                if secnum != self.text["index"] or sclass != 2:
                    raise SystemExit(f"{path}: {name} is not an external symbol of .text")
                self.exports[name] = value


def instructions(objdump, path):
    """Offset -> (length, text) of every instruction of .text, from objdump."""
    out = subprocess.run([objdump, "-d", "-w", "-z", "--section=.text", path],
                         check=True, capture_output=True, text=True).stdout
    insns = {}
    for line in out.splitlines():
        m = re.match(r"^\s*([0-9a-f]+):\t([0-9a-f ]+?)\s*\t(.*)$", line)
        if m:
            insns[int(m.group(1), 16)] = (len(m.group(2).split()), m.group(3).split("#")[0].strip())
    return insns


class Thunk:
    """One export's instructions up to its last one that is not alignment fill."""

    def __init__(self, obj, insns, name, start, end):
        self.name, self.start = name, start
        self.insns = []  # (offset, bytes, text, {position in insn: (type, symbol)})
        off = start
        while off < end:
            if off not in insns:
                raise SystemExit(f"{obj.path}: {name}: no instruction starts at {off:#x}")
            length, text = insns[off]
            relocs = {va - off: obj.text["relocs"][va] for va in range(off, off + length)
                      if va in obj.text["relocs"]}
            self.insns.append((off, obj.text["bytes"][off:off + length], text, relocs))
            off += length
        while self.insns and PADDING.match(self.insns[-1][2]) and not self.insns[-1][3]:
            self.insns.pop()

    def raw(self):
        return [(b, sorted(r.items())) for _, b, _, r in self.insns]

    def listing(self, reloc_names):
        lines = []
        for off, b, text, relocs in self.insns:
            rel = "".join(f"  [{reloc_names.get(t, t)} {s} @+{p}]" for p, (t, s) in sorted(relocs.items()))
            lines.append(f"    {off - self.start:4x}: {b.hex(' '):<30} {text}{rel}")
        return "\n".join(lines)

    def canonical(self, arch):
        """Instructions with the explained differences mapped away; the tags of those applied."""
        starts = {off: i for i, (off, _, _, _) in enumerate(self.insns)}
        out, tags = [], []
        for off, b, _, relocs in self.insns:
            b = bytearray(b)
            relocs = dict(relocs)
            # A branch to an instruction of the same thunk (no relocation): by target and condition.
            op, width = None, 0
            if not relocs:
                if b[0] == 0xEB and len(b) == 2:
                    op, width = "jmp", 1
                elif b[0] == 0xE9 and len(b) == 5:
                    op, width = "jmp", 4
                elif 0x70 <= b[0] <= 0x7F and len(b) == 2:
                    op, width = f"j{b[0] & 0xF:x}", 1
                elif b[0] == 0x0F and 0x80 <= b[1] <= 0x8F and len(b) == 6:
                    op, width = f"j{b[1] & 0xF:x}", 4
            if op is not None:
                disp = int.from_bytes(b[-width:], "little", signed=True)
                target = starts.get(off + len(b) + disp)
                out.append(("branch", op, target, width, bytes(b)))
                continue
            if arch == "x64":
                for pos, (rtype, sym) in sorted(relocs.items()):
                    addend = int.from_bytes(b[pos:pos + 4], "little", signed=True)
                    if rtype == AMD64_ADDR32 and pos >= 2 and b[pos - 1] == 0x25 and b[pos - 2] & 0xC7 == 0x04:
                        # [disp32] through SIB 0x25 -> [rip + disp32]: drop the SIB byte, r/m = 101.
                        trailing = len(b) - (pos + 4)
                        b[pos - 2] = (b[pos - 2] & 0xF8) | 0x05
                        del b[pos - 1]
                        b[pos - 1:pos + 3] = (addend - trailing).to_bytes(4, "little", signed=True)
                        del relocs[pos]
                        relocs[pos - 1] = (AMD64_REL32, sym)
                        tags.append("abs-vs-rip")
                    elif 5 <= rtype <= 9:
                        k = rtype - 4
                        b[pos:pos + 4] = (addend - k).to_bytes(4, "little", signed=True)
                        relocs[pos] = (AMD64_REL32, sym)
                        tags.append("rel32-k")
            out.append(("insn", bytes(b), tuple(sorted(relocs.items()))))
        return out, tags


def compare(gnu, masm, arch):
    """None when identical; else (explained, tags)."""
    if gnu.raw() == masm.raw():
        return None
    g, gtags = gnu.canonical(arch)
    m, mtags = masm.canonical(arch)
    tags = set(gtags) | set(mtags)
    if len(g) != len(m):
        return False, tags
    for a, b in zip(g, m):
        if a[0] != b[0]:
            return False, tags
        if a[0] == "insn":
            if a != b:
                return False, tags
        else:
            if a[1] != b[1] or a[2] is None or a[2] != b[2]:
                return False, tags
            if a[3] != b[3]:
                tags.add("branch-width")
            elif a[4] != b[4]:
                tags.add("branch-disp")
    return True, tags


def run(cmd, what):
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0 or res.stderr.strip():
        sys.stdout.write(res.stdout)
        sys.stdout.write(res.stderr)
        raise SystemExit(f"FAIL: {what} (exit {res.returncode}): {' '.join(cmd)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for opt in ("arch", "cmake", "generator", "tsv", "supplement", "llvm-ml", "objdump", "gnu-source",
                "gnu-object", "work"):
        ap.add_argument("--" + opt, required=True)
    ap.add_argument("--masm")
    a = ap.parse_args()
    if not os.path.isfile(a.llvm_ml):
        raise SystemExit(f"FAIL: llvm-ml not found ({a.llvm_ml}): install Debian's llvm package "
                         "(deploy/dev.sh lists it) and configure again")
    os.makedirs(a.work, exist_ok=True)
    gas = os.path.join(a.work, f"thunks_{a.arch}.S")
    asm = os.path.join(a.work, f"thunks_{a.arch}.asm")
    obj = os.path.join(a.work, f"thunks_{a.arch}.masm.obj")
    for f in (gas, asm, obj):
        if os.path.exists(f):
            os.remove(f)
    # The generator as stub/CMakeLists.txt runs it, with both outputs.
    run([a.cmake, f"-DTSV={a.tsv}", f"-DSUPPLEMENT={a.supplement}", f"-DARCH={a.arch}",
         f"-DOUT_GAS={gas}", f"-DOUT_MASM={asm}", "-P", a.generator], "gen_exports.cmake")
    if not filecmp.cmp(gas, a.gnu_source, shallow=False):
        raise SystemExit(f"FAIL: {a.gnu_source} (what the build assembled) is not what the generator "
                         "writes now: build mapi32 first")
    masm_source = a.masm or asm
    # As an MSVC build assembles it (stub/CMakeLists.txt passes /safeseh for x86).
    run([a.llvm_ml, "-m64" if a.arch == "x64" else "-m32", "--fatal-warnings"]
        + ([] if a.arch == "x64" else ["/safeseh"]) + ["/c", "/Fo", obj, masm_source],
        f"llvm-ml does not assemble {masm_source}")

    gnu_obj, masm_obj = Coff(a.gnu_object, a.arch), Coff(obj, a.arch)
    reloc_names = AMD64_RELOCS if a.arch == "x64" else I386_RELOCS
    failures = []
    if set(gnu_obj.exports) != set(masm_obj.exports):
        only_g = sorted(set(gnu_obj.exports) - set(masm_obj.exports))
        only_m = sorted(set(masm_obj.exports) - set(gnu_obj.exports))
        failures.append(f"thunk sets differ: only GNU {only_g}, only MASM {only_m}")
    if not gnu_obj.exports:
        failures.append("no thunk in the GNU object")
    # The entry alignment the GNU thunks have (x64: .p2align 4), which the MASM ones must have too.
    align = gnu_obj.text["align"]
    while align > 1 and any(v % align for v in gnu_obj.exports.values()):
        align //= 2
    if masm_obj.text["align"] < align:
        failures.append(f".text alignment: GNU thunks are {align}-byte aligned, MASM's section "
                        f"only {masm_obj.text['align']}")
    misaligned = sorted(n for n, v in masm_obj.exports.items() if v % align)
    if misaligned:
        failures.append(f"not {align}-byte aligned as in the GNU object: {misaligned}")

    def thunks(o, path):
        insns = instructions(a.objdump, path)
        ordered = sorted(o.exports.items(), key=lambda kv: kv[1])
        ends = [v for _, v in ordered[1:]] + [len(o.text["bytes"])]
        return {n: Thunk(o, insns, n, v, e) for (n, v), e in zip(ordered, ends)}

    gt, mt = thunks(gnu_obj, a.gnu_object), thunks(masm_obj, obj)
    identical, explained, tag_counts = 0, 0, {}
    names = sorted(set(gt) & set(mt), key=lambda n: int(n.rsplit("_", 1)[1].split("@")[0]))
    for name in names:
        g, m = gt[name], mt[name]
        result = compare(g, m, a.arch)
        if result is None:
            identical += 1
            continue
        ok, tags = result
        if ok:
            explained += 1
            for t in tags:
                tag_counts[t] = tag_counts.get(t, 0) + 1
        else:
            failures.append(f"{name}: unexplained difference\n  GNU ({a.gnu_object}):\n{g.listing(reloc_names)}"
                            f"\n  MASM ({masm_source}):\n{m.listing(reloc_names)}")

    for t, n in sorted(tag_counts.items()):
        print(f"explained ({n} thunks) {t}: {EXPLAINED[t]}")
    for f in failures:
        print("FAIL:", f)
    print(f"{a.arch}: entry alignment checked: {align} bytes, as the GNU thunks have it")
    print(f"{a.arch}: {len(names)} thunks compared, {identical} identical, "
          f"{explained} differences explained" + (f", {len(failures)} failures" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
