#!/usr/bin/env bash
# Time to relative gap 1e-4 and 1e-6 on Sioux Falls: huetwin's path-based gradient projection
# (scenarios/benches/traffic.rs, release build) against AequilibraE's bi-conjugate Frank-Wolfe
# ('bfw') on the same TNTP network and trips, side by side.
#
#   scripts/bench_traffic.sh [DATA_DIR]
#
# DATA_DIR defaults to ../shared/data/traffic/siouxfalls (beside the repo). AequilibraE is
# installed with pip into a venv under the cargo target dir ($CARGO_TARGET_DIR or ./target).
# Both engines use every core (AEQ_CORES=n limits AequilibraE's threads). Times are medians of REPEATS (ours, default 20) and
# REPEATS_AEQ (AequilibraE, default 3) whole assignments, reading the files excluded; for
# AequilibraE only `TrafficAssignment.execute()` is timed (graph and matrix set up before).
# Both report the relative gap (TSTT - SPTT) / TSTT (AequilibraE's `rgap` is the same ratio).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-$repo/../shared/data/traffic/siouxfalls}
data=$(cd "$data" && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
repeats=${REPEATS:-20}
repeats_aeq=${REPEATS_AEQ:-3}
gaps=(1e-4 1e-6)
work=$target/bench_traffic
mkdir -p "$work"

echo "== huetwin (cargo bench -p scenarios --bench traffic)" >&2
(cd "$repo" && cargo bench -q -p scenarios --bench traffic -- --dir "$data" --repeats "$repeats" "${gaps[@]}") \
  | tee "$work/huetwin.txt" >&2

venv=$target/bench-venv
aeq_ok=1
if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c "import aequilibrae" 2>/dev/null; then
  echo "== installing AequilibraE into $venv" >&2
  python3 -m venv "$venv" && "$venv/bin/pip" install -q aequilibrae >&2 || aeq_ok=0
fi

cat > "$work/aeq.py" <<'PY'
import os
os.environ["AEQ_SHOW_PROGRESS"] = "FALSE"  # tqdm bars cost more than the assignment itself
import logging, sys, time
import numpy as np, pandas as pd
from aequilibrae.paths import Graph, TrafficAssignment, TrafficClass
from aequilibrae.matrix import AequilibraeMatrix
logging.getLogger("aequilibrae").setLevel(logging.WARNING)

d, repeats, gaps = sys.argv[1], int(sys.argv[2]), [float(g) for g in sys.argv[3:]]
stem = next(f[: -len("_net.tntp")] for f in os.listdir(d) if f.endswith("_net.tntp"))
rows, zones, first_thru = [], None, 1
for line in open(os.path.join(d, stem + "_net.tntp")):
    s = line.strip()
    if s.startswith("<NUMBER OF ZONES>"):
        zones = int(s.split(">")[1])
    if s.startswith("<FIRST THRU NODE>"):
        first_thru = int(s.split(">")[1])
    if not s or s.startswith("<") or s.startswith("~"):
        continue
    f = s.rstrip(";").split()
    rows.append([int(f[0]), int(f[1]), float(f[2]), float(f[4]), float(f[5]), float(f[6])])
net = pd.DataFrame(rows, columns=["a_node", "b_node", "capacity", "free_flow_time", "b", "power"])
net["link_id"] = np.arange(1, len(net) + 1)
net["direction"] = 1
od = np.zeros((zones, zones))
origin, body = None, False
for line in open(os.path.join(d, stem + "_trips.tntp")):
    s = line.strip()
    if s.startswith("<END OF METADATA>"):
        body = True
        continue
    if not body or not s:
        continue
    if s.startswith("Origin"):
        origin = int(s.split()[1])
        continue
    for e in s.split(";"):
        if ":" in e:
            k, v = e.split(":")
            od[origin - 1, int(k) - 1] = float(v)

def run(gap):
    g = Graph()
    g.network = net.copy()
    g.prepare_graph(np.arange(1, zones + 1))
    g.set_graph("free_flow_time")
    g.set_skimming(["free_flow_time"])
    g.set_blocked_centroid_flows(first_thru > 1)
    m = AequilibraeMatrix()
    m.create_empty(zones=zones, matrix_names=["m"], memory_only=True)
    m.index = np.arange(1, zones + 1)
    m.matrices[:, :, 0] = od
    m.computational_view(["m"])
    ta = TrafficAssignment()
    ta.set_classes([TrafficClass("car", g, m)])
    ta.set_vdf("BPR")
    ta.set_vdf_parameters({"alpha": "b", "beta": "power"})
    ta.set_capacity_field("capacity")
    ta.set_time_field("free_flow_time")
    ta.set_algorithm("bfw")
    if os.environ.get("AEQ_CORES"):
        ta.set_cores(int(os.environ["AEQ_CORES"]))
    ta.max_iter = 100000
    ta.rgap_target = gap
    t = time.perf_counter()
    ta.execute(log_specification=False)
    return time.perf_counter() - t, ta.assignment.iter, ta.assignment.rgap

for gap in gaps:
    res = [run(gap) for _ in range(repeats)]
    ts = sorted(r[0] for r in res)
    print("aequilibrae %g %.6f %d %g" % (gap, ts[len(ts) // 2], res[-1][1], res[-1][2]), flush=True)
PY

if ((aeq_ok)); then
  echo "== AequilibraE bfw" >&2
  "$venv/bin/python" "$work/aeq.py" "$data" "$repeats_aeq" "${gaps[@]}" | tee "$work/aeq.txt" >&2 || aeq_ok=0
fi
((aeq_ok)) || { echo "AequilibraE could not be installed or run; only huetwin's figures follow" >&2; : > "$work/aeq.txt"; }

echo
echo "Sioux Falls, time to relative gap (median wall seconds; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg))"
awk '
  FNR == NR { ours[$2] = $3; oit[$2] = $4; ogap[$2] = $5; order[++n] = $2; next }
  { aeq[$2 + 0] = $3; ait[$2 + 0] = $4; agap[$2 + 0] = $5 }
  END {
    printf "| %-8s | %-22s | %-28s | %-14s |\n", "gap", "huetwin GP s (iter, gap)", "AequilibraE bfw s (iter, gap)", "AequilibraE/huetwin"
    printf "|----------|------------------------|------------------------------|----------------|\n"
    for (i = 1; i <= n; i++) {
      g = order[i]; k = g + 0
      a = (k in aeq) ? sprintf("%.4f (%d, %.1e)", aeq[k], ait[k], agap[k]) : "n/a"
      r = (k in aeq && ours[g] > 0) ? sprintf("%.0fx", aeq[k] / ours[g]) : "n/a"
      printf "| %-8s | %-22s | %-28s | %-14s |\n", g, sprintf("%.4f (%d, %.1e)", ours[g], oit[g], ogap[g]), a, r
    }
  }' "$work/huetwin.txt" "$work/aeq.txt"
