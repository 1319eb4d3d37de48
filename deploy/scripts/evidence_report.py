#!/usr/bin/env python3
"""Merges the raw outputs of deploy/scripts/evidence.sh into results.json, writes summary.md and
draws the plots with gnuplot (issue #7). Standard library only.

    evidence_report.py --raw DIR --out DIR --quick 0|1 --wine PATH [--logs DIR]

A program that did not run leaves its part null and its targets "not measured"; the report is
still written. Exit code 1 if a torn read or a fuzz crash was reported, or gnuplot failed.
"""

import argparse
import json
import os
import platform
import re
import subprocess
import sys


def load_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read_text(path, default=""):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return default


def first_line(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout
        return out.strip().splitlines()[0] if out.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None


def machine(wine):
    """What the figures were measured on, without the host name."""
    cpu = None
    for line in read_text("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = None
    m = re.search(r"^MemTotal:\s+(\d+) kB", read_text("/proc/meminfo"), re.M)
    if m:
        mem_kb = int(m.group(1))
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": round(mem_kb / 1048576, 1) if mem_kb else None,
        "kernel": platform.release(),
        "debian": read_text("/etc/debian_version") or None,
        "wine": first_line([wine, "--version"]),
        "gcc": first_line(["g++", "--version"]),
        "clang": first_line(["clang++", "--version"]),
        "mingw_gcc": first_line(["x86_64-w64-mingw32-g++-posix", "--version"]),
        "cmake": first_line(["cmake", "--version"]),
        "gnuplot": first_line(["gnuplot", "--version"]),
        "python": platform.python_version(),
        "hardware_perf_counters": os.path.exists("/sys/bus/event_source/devices/cpu"),
    }


def source_tree():
    """Which commit was measured, and whether the work tree differed from it."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    commit = first_line(["git", "-C", root, "rev-parse", "--short=12", "HEAD"])
    try:
        status = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=60).stdout
        modified = len([l for l in status.splitlines() if l.strip()])
    except (OSError, subprocess.SubprocessError):
        modified = None
    return {"commit": commit, "modified_tracked_files": modified}


# The fuzz runs evidence.sh makes: each target, then a second table reader on the .reg parser's
# core once that one's time is up (absent in a quick run).
FUZZ_LABELS = ("table_reader_fuzz", "reg_parser_fuzz", "table_reader_fuzz.2")


def fuzz_part(raw, name):
    d = os.path.join(raw, "fuzz-" + name)
    log = read_text(os.path.join(d, "log"))
    if not log:
        return None

    def stat(key, conv=int):
        m = re.search(r"^stat::%s:\s*(\S+)" % key, log, re.M)
        return conv(m.group(1)) if m else None

    done = re.search(r"^Done (\d+) runs in (\d+) second", log, re.M)
    exit_code = read_text(os.path.join(d, "exit"), "")
    artifacts = sorted(os.listdir(os.path.join(d, "artifacts"))) if os.path.isdir(os.path.join(d, "artifacts")) else []
    return {
        "executions": stat("number_of_executed_units"),
        "seconds": int(done.group(2)) if done else None,
        "exec_per_s": stat("average_exec_per_sec"),
        "new_units": stat("new_units_added"),
        "peak_rss_mb": stat("peak_rss_mb"),
        "slowest_unit_s": stat("slowest_unit_time_sec"),
        "seed_files": int(read_text(os.path.join(d, "seed_files"), "0") or 0),
        "corpus_files": int(read_text(os.path.join(d, "corpus_files"), "0") or 0),
        "corpus_bytes": int(read_text(os.path.join(d, "corpus_bytes"), "0") or 0),
        "exit_code": int(exit_code) if exit_code.lstrip("-").isdigit() else None,
        "crashes": len([a for a in artifacts if a.startswith(("crash-", "leak-", "timeout-", "oom-"))]),
        "artifacts": artifacts,
    }


def table_bench_part(raw):
    data = load_json(os.path.join(raw, "table_bench.json"))
    if not data:
        return None
    keep = ("name", "real_time", "cpu_time", "time_unit", "iterations", "threads")
    out = []
    for b in data.get("benchmarks", []):
        row = {k: b[k] for k in keep if k in b}
        for k, v in b.items():
            if k not in row and isinstance(v, (int, float)) and k not in ("repetitions", "repetition_index",
                                                                          "family_index", "per_family_instance_index"):
                row[k] = v
        out.append(row)
    ctx = data.get("context", {})
    return {"library_version": ctx.get("library_version"), "library_build_type": ctx.get("library_build_type"),
            "benchmarks": out}


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt(v, unit="", digits=1):
    if v is None:
        return "not measured"
    if isinstance(v, float):
        v = round(v, digits)
        s = ("{:,.%df}" % digits).format(v)
    else:
        s = "{:,}".format(v)
    return s + unit


def targets(r):
    """The issue's targets, each with the measured figure, the ratio and met / not met."""
    rows = []

    def add(name, goal, measured, ratio_text, met):
        rows.append({"target": name, "goal": goal, "measured": measured, "ratio": ratio_text,
                     "met": None if met is None else bool(met)})

    pc = r.get("per_call") or {}
    for key, label in (("send_mail_ns", "MAPISendMail"), ("ul_add_ref_ns", "UlAddRef@4")):
        v = pc.get(key) or {}
        t, d, g = v.get("table"), v.get("direct"), v.get("registry")
        x = ratio(t, d)
        add("per-call cost, stub with the table, %s" % label, "at most 1.5x a direct call",
            "%s ns vs %s ns direct" % (fmt(t), fmt(d)), fmt(x, "x", 2), None if x is None else x <= 1.5)
        y = ratio(g, t)
        add("per-call cost, registry mode against the table, %s" % label, "at least 100x cheaper with the table",
            "%s ns vs %s ns" % (fmt(g, digits=0), fmt(t)), fmt(y, "x", 0), None if y is None else y >= 100)

    parts = pc.get("first_call_parts_ns") or {}
    if parts.get("rounds"):
        over = parts["over_own_load"]
        add("first call in a fresh process, stub with the table (%s)" % pc.get("arch", "x64"),
            "within the provider's own LoadLibrary + 0.5 ms",
            "%s us more than the provider's own load (median of the rounds' differences; medians: first call %s us, "
            "the provider's own load %s us; the stub's own part %s us)" % (
                fmt(over / 1e3, digits=0), fmt(parts["first_call"] / 1e3, digits=0),
                fmt(parts["provider_own_load"] / 1e3, digits=0), fmt(parts["stub_own"] / 1e3, digits=0)),
            fmt(ratio(over, 500e3), "x", 2) + " of the 0.5 ms", bool(parts.get("target_met")))

    prop = r.get("propagation") or {}
    for run in prop.get("runs", []):
        if run.get("readers") == 256:
            # Issue #12: an isolated change (propagation_bench spaces its writes beyond the
            # debounce window); issue #7's goal was the debounce + 50 ms.
            goal_ms = 50
            p99 = run.get("all_p99_ms")
            add("propagation p99 of an isolated change, all of 256 readers", "within 50 ms",
                "%s ms (p50 %s ms, %d samples, %d lost)" % (fmt(p99), fmt(run.get("all_p50_ms")), run.get("samples", 0),
                                                           run.get("lost", 0)),
                fmt(ratio(p99, goal_ms), "x", 2) + " of the limit", run.get("lost", 1) == 0 and p99 <= goal_ms)
    if not any(t["target"].startswith("propagation p99") for t in rows):
        add("propagation p99 of an isolated change, all of 256 readers", "within 50 ms", "not measured", "", None)

    # Issue #12's targets, from farm_bench's rows of 10 and 1,000 hives (one run, side by side).
    farm = {x["hives"]: x for x in ((r.get("farm") or {}).get("farm") or [])}
    big, small = farm.get(1000), farm.get(10)
    if big:
        p99 = big.get("change_p99_ms")
        add("one user's change with 1,000 hives: write to publish, p99", "within 20 ms",
            "%s ms (p50 %s ms)" % (fmt(p99), fmt(big.get("change_p50_ms"))), fmt(ratio(p99, 20), "x", 2) + " of the limit",
            p99 is not None and 0 <= p99 <= 20)
        if small:
            c, c10 = big.get("cpu_per_change_ms"), small.get("cpu_per_change_ms")
            x = ratio(c, c10)
            add("one user's change: service CPU with 1,000 hives against 10", "within 2x",
                "%s ms vs %s ms (means over the changes; Wine counts CPU in 10 ms ticks)" % (fmt(c), fmt(c10)),
                fmt(x, "x", 2), None if x is None else x <= 2)
        ws = big.get("working_set_mb")
        add("service working set with 1,000 hives", "at most 32 MB", "%s MB" % fmt(ws), fmt(ratio(ws, 32), "x", 2),
            None if ws is None or ws < 0 else ws <= 32)
        st = big.get("start_ms")
        add("start to first publish with 1,000 hives", "within 2 s", "%s ms" % fmt(st, digits=0),
            fmt(ratio(st, 2000), "x", 2), None if st is None or st < 0 else st <= 2000)
        rp = big.get("readers_p99_ms")
        if rp is not None and rp >= 0:
            add("one user's change with 1,000 hives seen by all %s reader processes, p99" % big.get("readers", 64),
                "(reported; issue #12 item 6)", "%s ms (p50 %s ms, %s lost)" % (
                    fmt(rp), fmt(big.get("readers_p50_ms")), big.get("readers_lost")), "", None)
    else:
        add("one user's change with 1,000 hives: write to publish, p99", "within 20 ms", "not measured", "", None)

    tp = r.get("throughput") or {}
    for where in ("native", "wine"):
        t = tp.get(where)
        if not t:
            continue
        for mode, label in (("fast", "stub fast path"), ("full", "full validated read")):
            m = t["modes"][mode]
            # Judged per CPU second of the reader thread: the cores are shared with other work,
            # which moves the wall-clock rate far more than the writer does (both are reported).
            add("reader throughput under a 10 Hz writer, %s (%s)" % (label, where), "at least 95% of quiet",
                "%s vs %s per CPU-second quiet (wall clock: %s/s vs %s/s, %s)" % (
                    fmt(m["writer_per_cpu_s"], digits=0), fmt(m["quiet_per_cpu_s"], digits=0),
                    fmt(m["writer_per_s"], digits=0), fmt(m["quiet_per_s"], digits=0), fmt(100 * m["ratio"], "%", 1)),
                fmt(100 * m["cpu_ratio"], "%", 1), m["cpu_ratio"] >= 0.95)

    torn = torn_total(r)
    add("torn reads accepted, anywhere", "zero", "%s (%s)" % (fmt(torn["total"]), ", ".join(
        "%s %s" % (k, v) for k, v in torn["by_source"].items())), "", torn["total"] == 0 if torn["by_source"] else None)

    fz = r.get("fuzz") or {}
    total = fz.get("total_executions")
    add("fuzzing, table reader + .reg parser", "at least 10,000,000 executions",
        "%s executions, %s crashes" % (fmt(total), fmt(fz.get("crashes"))), fmt(ratio(total, 10_000_000), "x", 2),
        None if total is None else total >= 10_000_000 and fz.get("crashes") == 0)

    faults = r.get("faults")
    if faults and isinstance(faults.get("scenarios"), list):
        sc = faults["scenarios"]
        short = [s.get("name", "?") for s in sc if not s.get("meets_goal")]
        add("fault scenarios (fault_bench)", "every scenario meets its goal",
            "%d of %d meet it%s" % (len(sc) - len(short), len(sc), "; short: " + ", ".join(short) if short else ""),
            "", not short)
    else:
        add("fault scenarios (fault_bench)", "every scenario meets its goal", "not measured", "", None)

    svc = r.get("service") or {}
    w = svc.get("idle_wakeups")
    add("service idle event-loop wake-ups (issue #4)", "none but the revalidation timer",
        "%s in %s s" % (fmt(w), svc.get("idle_seconds")), "", None if w is None else w == 0)
    ws = svc.get("working_set_mb")
    add("service working set under Wine (issue #4)", "under 16 MB",
        "%s MB (this Wine's floor for any program: %s MB)" % (fmt(ws), fmt(svc.get("floor_working_set_mb"))),
        fmt(ratio(ws, 16), "x", 2), None if ws is None else ws < 16)
    return rows


def torn_total(r):
    by = {}
    prop = r.get("propagation")
    if prop:
        by["propagation"] = prop.get("torn_reads", 0) + sum(x.get("generation_disagreements", 0) for x in prop["runs"])
    for where, t in (r.get("throughput") or {}).items():
        if t:
            by["throughput " + where] = t.get("torn_reads", 0)
    faults = r.get("faults")
    if faults and isinstance(faults.get("scenarios"), list):
        by["faults"] = sum(int(s.get("torn_reads") or 0) for s in faults["scenarios"])
    return {"total": sum(by.values()) if by else None, "by_source": by}


# ---- Plots ----------------------------------------------------------------------------------------

def gnuplot(script, out_dir):
    try:
        p = subprocess.run(["gnuplot"], input=script, capture_output=True, text=True, cwd=out_dir, timeout=120)
    except (OSError, subprocess.SubprocessError) as e:
        print("gnuplot: %s" % e, file=sys.stderr)
        return False
    if p.returncode != 0:
        print("gnuplot failed:\n%s" % p.stderr, file=sys.stderr)
    return p.returncode == 0


# noenhanced: names such as UlAddRef@4 and versions such as 8.0~repack are printed as they are.
TERM = 'set terminal pngcairo size 900,560 noenhanced font "DejaVu Sans,11"\n'


def plots(r, out_dir, stamp):
    ok = True
    drawn = []
    prop = r.get("propagation")
    if prop and prop.get("runs"):
        goal = prop["debounce_ms"] + 50
        data = "\n".join("%d %f %f %f" % (x["readers"], x["all_p50_ms"], x["all_p99_ms"], x["all_max_ms"])
                         for x in prop["runs"] if x.get("samples"))
        xs = [x["readers"] for x in prop["runs"]]
        script = TERM + """set output 'propagation.png'
set title "Registry write until ALL N reader processes see the new answer\\n%s"
set logscale x 2
set xrange [%f:%f]
set xtics (%s)
set xlabel 'reader processes (N)'
set ylabel 'latency (ms)'
set yrange [0:%f]
set grid
set key bottom right box opaque
$d << EOD
%s
EOD
plot $d using 1:2 with linespoints lw 2 pt 7 title 'p50', \\
     $d using 1:3 with linespoints lw 2 pt 5 title 'p99', \\
     %d with lines dt 2 lw 2 lc rgb '#c00000' title 'target: debounce + 50 ms = %d ms', \\
     %d with lines dt 3 lw 1 lc rgb '#808080' title 'debounce = %d ms'
""" % (stamp, min(xs) / 1.5, max(xs) * 1.5, ", ".join(str(x) for x in xs),
            max(goal * 1.3, max(x["all_p99_ms"] for x in prop["runs"]) * 1.1), data, goal, goal,
            prop["debounce_ms"], prop["debounce_ms"])
        ok &= gnuplot(script, out_dir)
        drawn.append("propagation.png")

    farm = (r.get("farm") or {}).get("farm")
    if farm:
        data = "\n".join("%d %f %f %f %f %f" % (x["hives"], x["change_p50_ms"], x["change_p99_ms"], x["start_ms"] / 1000.0,
                                                  x["working_set_mb"], x.get("readers_p99_ms", -1)) for x in farm)
        script = TERM + """set output 'farm.png'
set title "The service with N user hives loaded (half with a default of their own), Wine\\n%s"
set logscale x 10
set xlabel 'user hives loaded (N)'
set ylabel 'ms'
set y2label 's / MB'
set ytics nomirror
set y2tics
set grid
set key top left box opaque
$d << EOD
%s
EOD
plot $d using 1:2 with linespoints lw 2 pt 7 title 'one user change: write to publish, p50 (ms)', \\
     $d using 1:3 with linespoints lw 2 pt 5 title 'the same, p99 (ms)', \\
     $d using 1:($6 < 0 ? NaN : $6) with linespoints lw 2 pt 13 title 'the same seen by every reader process, p99 (ms)', \\
     $d using 1:4 axes x1y2 with linespoints lw 2 pt 9 title 'start to the first complete table (s)', \\
     $d using 1:5 axes x1y2 with linespoints lw 2 pt 11 title 'working set (MB)'
""" % (stamp, data)
        ok &= gnuplot(script, out_dir)
        drawn.append("farm.png")

    pc = r.get("per_call")
    if pc:
        rows = []
        for mode, label in (("direct", "direct call"), ("table", "stub + table"), ("registry", "stub + registry")):
            rows.append('"%s" %f %f' % (label, pc["send_mail_ns"][mode], pc["ul_add_ref_ns"][mode]))
        script = TERM + """set output 'per_call.png'
set title "Per-call cost under Wine, by mode (log scale)\\n%s"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set yrange [0.5:1e8]
set ytics ("1 ns" 1, "10 ns" 10, "100 ns" 100, "1 us" 1e3, "10 us" 1e4, "100 us" 1e5, "1 ms" 1e6, "10 ms" 1e7, "100 ms" 1e8)
set ylabel 'time per call'
set grid ytics
set key top left
label(v) = v >= 1e5 ? sprintf('%%.1f ms', v / 1e6) : sprintf('%%.2f ns', v)
$d << EOD
%s
EOD
plot $d using 2:xtic(1) title 'MAPISendMail', '' using 3 title 'UlAddRef@4', \\
     '' using ($0-0.17):($2*1.6):(label($2)) with labels notitle, \\
     '' using ($0+0.17):($3*1.6):(label($3)) with labels notitle
""" % (stamp, "\n".join(rows))
        ok &= gnuplot(script, out_dir)
        drawn.append("per_call.png")

    tp = r.get("throughput") or {}
    rows = []
    for where in ("native", "wine"):
        t = tp.get(where)
        if not t:
            continue
        for mode, label in (("fast", "fast path"), ("full", "full read")):
            m = t["modes"][mode]
            rows.append('"%s, %s" %f %f' % (label, where, m["quiet_per_cpu_s"], m["writer_per_cpu_s"]))
    if rows:
        script = TERM + """set output 'throughput.png'
set title "Reader throughput, quiet and under a writer publishing 10 times a second\\n%s"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set ylabel 'calls (fast path) or reads per CPU-second of the reader'
set grid ytics
set key top right
$d << EOD
%s
EOD
plot $d using 2:xtic(1) title 'quiet', '' using 3 title 'writer at 10 Hz'
""" % (stamp, "\n".join(rows))
        ok &= gnuplot(script, out_dir)
        drawn.append("throughput.png")

    ts = r.get("table_size")
    if ts:
        data = "\n".join("%d %d" % (x["users"], x["bytes"]) for x in ts["tables"] if x["users"] > 0)
        script = TERM + """set output 'table_size.png'
set title "Published table size against per-user scopes (machine scope included)\\n%s"
set logscale xy
set xlabel 'user scopes'
set ylabel 'table bytes'
set grid
set key top left
$d << EOD
%s
EOD
plot $d using 1:2 with linespoints lw 2 pt 7 title sprintf('about %%.0f bytes per user scope', %f)
""" % (stamp, data, ts["bytes_per_user"])
        ok &= gnuplot(script, out_dir)
        drawn.append("table_size.png")
    return ok, drawn


# ---- summary.md -------------------------------------------------------------------------------------

def summary(r, rows, drawn):
    m = r["machine"]
    L = []
    L.append("# MapiDispatch evidence (issue #7)%s" % (" — QUICK RUN, not evidence" if r["quick"] else ""))
    L.append("")
    L.append("Measured %s by `deploy/dev.sh evidence` in %d min %d s. Machine: %s, %s cores, %s GiB RAM, Linux %s, "
             "Debian %s, %s; compilers: %s; %s; %s. Load average at start / end: %s / %s (the machine's two cores "
             "were shared with other work: read the figures as upper bounds). Figures only: nothing passes or "
             "fails on a number. Source: commit %s%s." % (
                 r["date"], r["duration_seconds"] // 60, r["duration_seconds"] % 60, m["cpu"], m["cores"],
                 m["ram_gib"], m["kernel"], m["debian"], m["wine"], m["gcc"], m["clang"], m["mingw_gcc"],
                 " ".join(r["load_average"]["start"][:3]), " ".join(r["load_average"]["end"][:3]),
                 r["source"]["commit"], " with %s tracked files modified" % r["source"]["modified_tracked_files"]
                 if r["source"]["modified_tracked_files"] else ""))
    L.append("")
    L.append("## Targets")
    L.append("")
    L.append("| target | goal | measured | ratio | met |")
    L.append("|---|---|---|---|---|")
    for t in rows:
        met = {True: "met", False: "**not met**", None: "not measured"}[t["met"]]
        if t["met"] is None and t["goal"].startswith("(reported"):
            met = "reported"
        L.append("| %s | %s | %s | %s | %s |" % (t["target"], t["goal"], t["measured"], t["ratio"], met))
    L.append("")

    farm = (r.get("farm") or {}).get("farm")
    if farm:
        L.append("## The farm: N user hives (Wine)")
        L.append("")
        L.append("`farm_bench`: N user hives loaded under HKEY_USERS, half with a Clients\\Mail default of their own; "
                 "one user's change is a write of that user's default until the table shows it (isolated changes); "
                 "the service's CPU time per change as it reports it (Wine counts in 10 ms ticks: a mean); "
                 "the same change until all of %s reader processes (each polling the table every 5 ms, as a stub "
                 "between calls) saw it; "
                 "an HKLM change is HKLM's default flipped between two HKLM clients no user names." %
                 (farm[0].get("readers", "the")))
        L.append("")
        L.append("| hives | scopes | start to first complete table (service CPU) | one change p50 | p99 | CPU per change | "
                 "seen by every reader p50 | p99 | "
                 "HKLM change p50 | p99 | CPU per HKLM change | working set | threads | table bytes | `status` |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for x in farm:
            L.append("| %d | %d | %s (%s) | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %d | %s |" % (
                x["hives"], x["scopes"], fmt(x["start_ms"], " ms", 0), fmt(x.get("start_cpu_ms"), " ms", 0),
                fmt(x["change_p50_ms"], " ms"), fmt(x["change_p99_ms"], " ms"), fmt(x["cpu_per_change_ms"], " ms"),
                fmt(x.get("readers_p50_ms"), " ms"), fmt(x.get("readers_p99_ms"), " ms"),
                fmt(x.get("machine_change_p50_ms"), " ms"), fmt(x.get("machine_change_p99_ms"), " ms"),
                fmt(x.get("cpu_per_machine_change_ms"), " ms"), fmt(x["working_set_mb"], " MB"),
                x["threads"], x["table_bytes"], fmt(x["status_ms"], " ms", 0)))
        L.append("")

    prop = r.get("propagation")
    if prop:
        L.append("## Propagation to N reader processes (Wine)")
        L.append("")
        L.append("Registry write under `HKLM\\Software\\Clients\\Mail` until all N readers saw the new answer "
                 "(QueryPerformanceCounter, one clock for all processes); each write an isolated change, more than "
                 "the debounce window (%d ms) after the last, so published at once; each reader loads the "
                 "sequence count every %d ms as a stub does per call, and re-reads the table when it moved." %
                 (prop["debounce_ms"], prop["poll_ms"]))
        L.append("")
        L.append("| readers | samples (lost) | all: p50 | p90 | p99 | max | first reader p50 | start-up of the readers | "
                 "reads | busy | torn |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for x in prop["runs"]:
            L.append("| %d | %d (%d) | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.1f s | %d | %d | %d |" % (
                x["readers"], x["samples"], x["lost"], x["all_p50_ms"], x["all_p90_ms"], x["all_p99_ms"],
                x["all_max_ms"], x["first_p50_ms"], x["spawn_seconds"], x["reads"], x["busy"], x["torn_reads"]))
        L.append("")

    pc = r.get("per_call")
    if pc:
        L.append("## Per-call and first-call cost (Wine)")
        L.append("")
        L.append("| call | direct | stub, table | stub, registry mode | table / direct | registry / table |")
        L.append("|---|---|---|---|---|---|")
        for key, label in (("send_mail_ns", "MAPISendMail"), ("ul_add_ref_ns", "UlAddRef@4")):
            v = pc[key]
            L.append("| %s | %.2f ns | %.2f ns | %s ns | %s | %s |" % (
                label, v["direct"], v["table"], fmt(v["registry"], digits=0), fmt(ratio(v["table"], v["direct"]), "x", 2),
                fmt(ratio(v["registry"], v["table"]), "x", 0)))
        L.append("")
        L.append("First call in a fresh process (median): table mode %.2f ms (%.2f ms with `LoadLibrary`), registry "
                 "mode %.2f ms (%.2f ms with `LoadLibrary`). Failed calls: %s." % (
                     pc["first_call_ns"]["table"] / 1e6, pc["first_call_with_load_ns"]["table"] / 1e6,
                     pc["first_call_ns"]["registry"] / 1e6, pc["first_call_with_load_ns"]["registry"] / 1e6,
                     ", ".join("%s %d" % (k, v) for k, v in pc["failed_calls"].items())))
        L.append("")
        parts = pc.get("first_call_parts_ns") or {}
        if parts.get("rounds"):
            # Issue #13 item 3: the first call's parts (stub_bench: the stub's trace of its first
            # bind in a traced process, medians of rounds of fresh processes).
            L.append("The first call's parts, table mode (%s, median of %d rounds of fresh processes, us): %s. "
                     "LoadLibrary of the stub before it: %.0f us. The provider's own LoadLibraryEx in a fresh "
                     "process: %.0f us; the first call exceeds it by %.0f us, median of the rounds' differences (goal: at most "
                     "500 us, %s)." % (
                         pc.get("arch", "x64"), parts["rounds"], ", ".join(
                             "%s %.1f" % (k.replace("_", " "), parts[k] / 1e3) for k in (
                                 "settings", "user_sid", "table_open", "trust", "table_read", "decide",
                                 "provider_load", "entry_point", "publish", "other") if k in parts),
                         parts["stub_load"] / 1e3, parts["provider_own_load"] / 1e3, parts["over_own_load"] / 1e3,
                         "met" if parts.get("target_met") else "not met"))
            L.append("")
        kinds = pc.get("kinds") or []
        if kinds:
            # Issue #13: every kind of export against a direct call into the same provider and
            # against Wine's own mapi32 (resolve-once) beside it; -1 is a kind that did not run.
            L.append("Per call by kind of export (%s, ns per call; the ratios are to the direct call):" %
                     pc.get("arch", "x64"))
            L.append("")
            L.append("| kind | direct | stub | Wine's mapi32 | stub / direct | Wine / direct |")
            L.append("|---|---|---|---|---|---|")
            for k in kinds:
                d, st, w = k.get("direct_ns", -1), k.get("stub_ns", -1), k.get("wine_ns", -1)
                cell = lambda v: "%.2f" % v if v is not None and v >= 0 else "n/a"
                rat = lambda v: fmt(ratio(v, d), "x", 2) if v is not None and v >= 0 and d and d > 0 else "n/a"
                L.append("| %s | %s | %s | %s | %s | %s |" % (k["kind"], cell(d), cell(st), cell(w), rat(st), rat(w)))
            L.append("")

    tp = r.get("throughput") or {}
    if tp:
        L.append("## Reader throughput, quiet and under a writer publishing 10 times a second")
        L.append("")
        L.append("`throughput_bench`: one reader thread on a read-only mapping, one writer thread publishing a "
                 "10-user table every 100 ms; %s rounds of %s s per condition, quiet and writer back to back, order "
                 "alternating; medians, the ratio is the median of the rounds' ratios. Per CPU-second of the reader "
                 "thread (what the writer costs the reader: invalidated cache lines, re-reads) and per wall-clock "
                 "second (which on these shared cores mostly says how much of a core the reader got). Every "
                 "accepted read is checked independently (stamped strings spanning cache lines)." % (
                     next(iter(tp.values()))["rounds"], next(iter(tp.values()))["seconds_per_round"]))
        L.append("")
        L.append("| where | loop | quiet, per CPU-s | writer, per CPU-s | ratio | quiet, per s | writer, per s | ratio "
                 "| re-reads | torn | busy |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for where, t in tp.items():
            if not t:
                continue
            for mode, label in (("fast", "stub fast path (count load + compare)"), ("full", "full validated read")):
                x = t["modes"][mode]
                L.append("| %s | %s | %s | %s | %.1f%% | %s | %s | %.1f%% | %s | %d | %d |" % (
                    where, label, fmt(x["quiet_per_cpu_s"], digits=0), fmt(x["writer_per_cpu_s"], digits=0),
                    100 * x["cpu_ratio"], fmt(x["quiet_per_s"], digits=0), fmt(x["writer_per_s"], digits=0),
                    100 * x["ratio"], fmt(x["writer"]["rereads"]) if mode == "fast" else "every read",
                    x["quiet"]["torn_reads"] + x["writer"]["torn_reads"], x["quiet"]["busy"] + x["writer"]["busy"]))
        L.append("")

    svc = r.get("service")
    if svc:
        L.append("## Service (Wine)")
        L.append("")
        L.append("Propagation to one reader: p50 %s ms, p99 %s ms, max %s ms (%s samples, %s lost). Idle %s s: %s "
                 "event-loop wake-ups. Working set %s MB (peak %s MB); a Windows program's floor under this Wine: %s MB." % (
                     fmt(svc["propagation_p50_ms"]), fmt(svc["propagation_p99_ms"]), fmt(svc["propagation_max_ms"]),
                     svc["samples"], svc["lost"], svc["idle_seconds"], fmt(svc["idle_wakeups"]),
                     fmt(svc["working_set_mb"]), fmt(svc["peak_working_set_mb"]), fmt(svc["floor_working_set_mb"])))
        L.append("")

    ts = r.get("table_size")
    if ts:
        L.append("## Table size against user scopes")
        L.append("")
        L.append("| user scopes | " + " | ".join(str(x["users"]) for x in ts["tables"]) + " |")
        L.append("|---|" + "---|" * len(ts["tables"]))
        L.append("| bytes | " + " | ".join("{:,}".format(x["bytes"]) for x in ts["tables"]) + " |")
        L.append("")
        L.append("About %.0f bytes per user scope: the default 4 MB section holds about %s users." % (
            ts["bytes_per_user"], "{:,}".format(ts["users_fitting_default_section"])))
        L.append("")

    tb = r.get("table_bench")
    if tb:
        L.append("## Native seqlock and table microbenchmarks (Google Benchmark)")
        L.append("")
        L.append("`table_bench` (gcc, RelWithDebInfo). Wall-clock time; with two cores shared, the threaded rows "
                 "include waiting for a core.%s" % (
                     " Debian's libbenchmark reports itself as a debug build: that concerns the harness's "
                     "loop, not the code measured." if tb.get("library_build_type") == "debug" else ""))
        L.append("")
        L.append("| benchmark | time | table bytes |")
        L.append("|---|---|---|")
        for b in tb["benchmarks"]:
            L.append("| %s | %s %s | %s |" % (b["name"], fmt(float(b["real_time"]), digits=2), b.get("time_unit", ""),
                                             "{:,}".format(int(b["table_bytes"])) if "table_bytes" in b else ""))
        L.append("")

    fz = r.get("fuzz")
    if fz:
        L.append("## Fuzzing (libFuzzer, ASan + UBSan)")
        L.append("")
        L.append("| target | executions | time | exec/s | seeds | corpus after (files / bytes) | crashes |")
        L.append("|---|---|---|---|---|---|---|")
        for name in FUZZ_LABELS:
            x = fz.get(name)
            if x:
                L.append("| %s | %s | %s s | %s | %d | %d / %s | %d |" % (
                    name, fmt(x["executions"]), fmt(x["seconds"]), fmt(x["exec_per_s"]), x["seed_files"],
                    x["corpus_files"], "{:,}".format(x["corpus_bytes"]), x["crashes"]))
        L.append("")
        L.append("Total: %s executions. Both targets ran at once on scratch copies of `tests/fuzz/corpus/`%s." % (
            fmt(fz.get("total_executions")),
            "; table_reader_fuzz.2 is a second table reader on the first one's corpus, on the core the .reg "
            "parser left when its time was up" if fz.get("table_reader_fuzz.2") else ""))
        L.append("")

    L.append("## Fault scenarios")
    L.append("")
    faults = r.get("faults")
    if faults and isinstance(faults.get("scenarios"), list):
        L.append("From `fault_bench.exe` (tests/evidence/fault_bench.cpp); its JSON is under `faults` in results.json.")
        L.append("")
        L.append("| scenario | iterations | calls attempted | calls failed | reads checked | torn | goal | note |")
        L.append("|---|---|---|---|---|---|---|---|")
        definitions = None
        for s in faults["scenarios"]:
            # Every note ends with the same definitions: printed once, below the table.
            note, _, rest = str(s.get("note") or "").partition(" Definitions:")
            definitions = definitions or (rest.strip() or None)
            L.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                s.get("name"), s.get("iterations"), s.get("calls_attempted"), s.get("calls_failed"),
                s.get("reads_checked"), s.get("torn_reads"), "met" if s.get("meets_goal") else "**not met**",
                note.replace("|", "/")))
        if definitions:
            L.append("")
            L.append("Definitions: " + definitions)
    else:
        L.append("Not measured in this run: %s." % r.get("faults_note", "fault_bench.exe did not produce results"))
    L.append("")

    L.append("## Steps")
    L.append("")
    L.append("| step | status | seconds |")
    L.append("|---|---|---|")
    for s in r["steps"]:
        L.append("| %s | %s%s | %s |" % (s["name"], s["status"], " (%s)" % s["note"] if s["note"] else "", s["seconds"]))
    L.append("")
    if drawn:
        L.append("## Plots")
        L.append("")
        for p in drawn:
            L.append("![%s](%s)" % (p[:-4], p))
        L.append("")
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", default="0")
    ap.add_argument("--wine", default="wine")
    ap.add_argument("--logs", default="")
    a = ap.parse_args()
    raw = a.raw

    steps = []
    for line in read_text(os.path.join(raw, "steps.tsv")).splitlines():
        parts = (line.split("\t") + ["", "", "", ""])[:4]
        steps.append({"name": parts[0], "status": parts[1], "seconds": int(parts[2] or 0), "note": parts[3]})

    r = {
        "schema": "mapidispatch.evidence/1",
        "date": read_text(os.path.join(raw, "started")),
        "duration_seconds": int(read_text(os.path.join(raw, "seconds"), "0") or 0),
        "quick": a.quick == "1",
        "machine": machine(a.wine),
        "source": source_tree(),
        "load_average": {"start": read_text(os.path.join(raw, "load-start")).split(),
                         "end": read_text(os.path.join(raw, "load-end")).split()},
        "steps": steps,
        "per_call": load_json(os.path.join(raw, "stub_bench.json")),
        "propagation": load_json(os.path.join(raw, "propagation.json")),
        "throughput": {k: v for k, v in (("native", load_json(os.path.join(raw, "throughput_native.json"))),
                                         ("wine", load_json(os.path.join(raw, "throughput_wine.json")))) if v},
        "service": load_json(os.path.join(raw, "service_bench.json")),
        "table_size": load_json(os.path.join(raw, "table_size.json")),
        "table_bench": table_bench_part(raw),
        "faults": load_json(os.path.join(raw, "faults.json")),
        "farm": load_json(os.path.join(raw, "farm.json")),
    }
    if r["faults"] is None:
        st = [s for s in steps if s["name"].startswith("fault scenarios")]
        r["faults_note"] = (st[0]["note"] or st[0]["status"]) if st else "fault_bench was not run"
    fz = {n: fuzz_part(raw, n) for n in FUZZ_LABELS}
    if any(fz.values()):
        fz = {k: v for k, v in fz.items() if v}
        fz["total_executions"] = sum(v["executions"] or 0 for v in fz.values())
        fz["crashes"] = sum(v["crashes"] for k, v in fz.items() if isinstance(v, dict))
        r["fuzz"] = fz
    else:
        r["fuzz"] = None
    r["torn_reads"] = torn_total(r)
    rows = targets(r)
    r["targets"] = rows

    os.makedirs(a.out, exist_ok=True)
    for old in ("propagation.png", "per_call.png", "throughput.png", "table_size.png", "farm.png"):
        try:
            os.remove(os.path.join(a.out, old))
        except OSError:
            pass
    stamp = "%s, %s, %s cores, %s%s" % (r["date"][:10], r["machine"]["cpu"], r["machine"]["cores"],
                                        r["machine"]["wine"] or "", " (QUICK RUN)" if r["quick"] else "")
    ok, drawn = plots(r, a.out, stamp)
    r["plots"] = drawn
    with open(os.path.join(a.out, "results.json"), "w", encoding="utf-8") as f:
        json.dump(r, f, indent=2)
        f.write("\n")
    with open(os.path.join(a.out, "summary.md"), "w", encoding="utf-8") as f:
        f.write(summary(r, rows, drawn))
        f.write("\n")
    bad = (r["torn_reads"]["total"] or 0) > 0 or (r["fuzz"] or {}).get("crashes", 0) > 0
    return 1 if bad or not ok else 0


if __name__ == "__main__":
    sys.exit(main())
