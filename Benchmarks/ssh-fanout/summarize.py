#!/usr/bin/python3
"""Turns the per-run times of ./run into a table (stdout) and results.json.

usage: summarize.py TIMES_TSV RESULTS_JSON [KEY=VALUE ...]

TIMES_TSV has one line per tool and run: run<TAB>tool<TAB>seconds<TAB>status<TAB>note,
status being ok, failed or skipped. KEY=VALUE pairs go into the JSON's "setup".
"""
import json
import statistics
import sys

TOOLS = ["bare-ssh", "pssh", "ansible", "photon"]
RATIOS = [
    ("ansible / photon", "ansible", "photon"),
    ("pssh / photon", "pssh", "photon"),
    ("photon / bare-ssh", "photon", "bare-ssh"),
    ("ansible / bare-ssh", "ansible", "bare-ssh"),
    ("pssh / bare-ssh", "pssh", "bare-ssh"),
]

times_path, results_path = sys.argv[1], sys.argv[2]
setup = dict(arg.split("=", 1) for arg in sys.argv[3:])

rows = {}
with open(times_path) as f:
    for line in f:
        if not line.strip():
            continue
        run, tool, seconds, status, note = (line.rstrip("\n").split("\t") + [""] * 5)[:5]
        rows.setdefault(tool, []).append((int(run), float(seconds) if seconds else None, status, note))

tools = {}
for tool in TOOLS + sorted(set(rows) - set(TOOLS)):
    if tool not in rows:
        continue
    entries = rows[tool]
    statuses = {status for _, _, status, _ in entries}
    notes = sorted({note for _, _, _, note in entries if note})
    ok_times = [s for _, s, status, _ in entries if status == "ok" and s is not None]
    if statuses == {"skipped"}:
        status = "skipped"
    elif statuses == {"ok"}:
        status = "ok"
    else:
        status = "failed"
    result = {"status": status, "runs_s": [s for _, s, _, _ in sorted(entries)]}
    if ok_times:
        result.update(median_s=round(statistics.median(ok_times), 3), min_s=round(min(ok_times), 3), max_s=round(max(ok_times), 3))
    if notes:
        result["note"] = "; ".join(notes)
    tools[tool] = result

ratios = {}
for label, a, b in RATIOS:
    ta, tb = tools.get(a, {}), tools.get(b, {})
    if ta.get("status") == "ok" and tb.get("status") == "ok" and tb["median_s"] > 0:
        ratios[label] = round(ta["median_s"] / tb["median_s"], 2)
    else:
        ratios[label] = None

with open(results_path, "w") as f:
    json.dump({"benchmark": "ssh-fanout", "setup": setup, "tools": tools, "ratios": ratios}, f, indent=2)
    f.write("\n")

hosts, runs = setup.get("hosts", "?"), setup.get("runs", "?")
print(f"\nssh-fanout: {hosts} hosts, 3 x 4 KiB files (mode 0644) + `hostname`, median of {runs} run(s)")
print(f"{'tool':<10} {'median s':>9} {'min s':>8} {'max s':>8}  status")
for tool, r in tools.items():
    def cell(key):
        return f"{r[key]:.3f}" if key in r else "-"
    status = r["status"] + (f" ({r['note']})" if r.get("note") else "")
    print(f"{tool:<10} {cell('median_s'):>9} {cell('min_s'):>8} {cell('max_s'):>8}  {status}")
print()
for label, value in ratios.items():
    print(f"{label:<20} {'n/a' if value is None else f'{value:.2f}'}")
print(f"\nwritten: {results_path}")
