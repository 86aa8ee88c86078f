#!/usr/bin/env bash
# Time to relative gap 1e-4 and 1e-6 on every TNTP network in the shared data, in one table:
# huetwin's bush-based Algorithm B and path-based gradient projection
# (scenarios/benches/traffic.rs, release build) against AequilibraE's bi-conjugate Frank-Wolfe
# ('bfw') on the same network, trips and generalized cost.
#
#   scripts/bench_traffic.sh [DATA_ROOT]
#
# DATA_ROOT defaults to ../shared/data/traffic (beside the repo); every folder under it with a
# *_net.tntp and *_trips.tntp is a network (NETWORKS="siouxfalls barcelona" picks some).
# AequilibraE is installed with pip into a venv under the cargo target dir ($CARGO_TARGET_DIR or
# ./target). Both engines use every core (AEQ_CORES=n limits AequilibraE's threads).
#
# Same work on both sides: AequilibraE gets the network's toll and distance factors (as a fixed
# cost per link, when not 0), no skimming, centroids blocked as through nodes where the file's
# <FIRST THRU NODE> says so, and only `TrafficAssignment.execute()` is timed (graph and matrix
# set up before; reading the files excluded on both sides).
# Times are medians of REPEATS (ours, default 5) and REPEATS_AEQ (AequilibraE, default 1) whole
# assignments. Each run is bounded: LIMIT seconds (default 300) for one assignment; a run that
# does not reach the gap in time is reported as "> LIMIT s". METHODS (default "bush path")
# chooses huetwin's methods; ENGINES="huetwin aeq" (default both) which engines run now (the
# other's last figures under $target/bench_traffic are reused). Both sides report the relative gap (TC - SPC) / TC over
# generalized cost (AequilibraE's `rgap`; TSTT/SPTT when the factors are 0), and huetwin the
# Beckmann objective.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
root=${1:-$repo/../shared/data/traffic}
root=$(cd "$root" && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
repeats=${REPEATS:-5}
repeats_aeq=${REPEATS_AEQ:-1}
limit=${LIMIT:-300}
methods=${METHODS:-path bush}
gaps=(1e-4 1e-6)
work=$target/bench_traffic
engines=${ENGINES:-huetwin aeq}
mkdir -p "$work"
[[ " $engines " == *" huetwin "* ]] && : > "$work/huetwin.txt"
[[ " $engines " == *" aeq "* ]] && : > "$work/aeq.txt"
touch "$work/huetwin.txt" "$work/aeq.txt"

nets=()
for d in "$root"/*/; do
  name=$(basename "$d")
  if [[ -n ${NETWORKS:-} && " $NETWORKS " != *" $name "* ]]; then continue; fi
  compgen -G "$d*_net.tntp" > /dev/null && compgen -G "$d*_trips.tntp" > /dev/null && nets+=("$name")
done
((${#nets[@]})) || { echo "no TNTP networks under $root" >&2; exit 1; }

[[ " $engines " == *" huetwin "* ]] && (cd "$repo" && cargo bench -q -p scenarios --bench traffic --no-run) >&2
for name in "${nets[@]}"; do
  [[ " $engines " == *" huetwin "* ]] || break
  for method in $methods; do
    echo "== huetwin $method on $name" >&2
    for g in "${gaps[@]}"; do
      if out=$(cd "$repo" && timeout "$((limit * repeats + 60))" cargo bench -q -p scenarios --bench traffic -- \
        --dir "$root/$name" --repeats "$repeats" --method "$method" --max-seconds "$limit" \
        --time-limit "$limit" "$g"); then
        echo "$out" >&2
        echo "$name $out" >> "$work/huetwin.txt"
      else
        echo "$name huetwin-$method $g timeout" >> "$work/huetwin.txt"
      fi
    done
  done
done

venv=$target/bench-venv
aeq_ok=1
if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c "import aequilibrae" 2>/dev/null; then
  echo "== installing AequilibraE into $venv" >&2
  python3 -m venv "$venv" && "$venv/bin/pip" install -q "aequilibrae==${AEQ_VERSION:-1.7.2}" >&2 || aeq_ok=0
fi

cat > "$work/aeq.py" <<'PY'
import os
os.environ["AEQ_SHOW_PROGRESS"] = "FALSE"  # tqdm bars cost more than the assignment itself
import logging, sys, time
import numpy as np, pandas as pd
from aequilibrae.paths import Graph, TrafficAssignment, TrafficClass
from aequilibrae.matrix import AequilibraeMatrix
logging.getLogger("aequilibrae").setLevel(logging.WARNING)

d, repeats, gap = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
stem = next(f[: -len("_net.tntp")] for f in os.listdir(d) if f.endswith("_net.tntp"))
meta, rows, body = {}, [], False
for line in open(os.path.join(d, stem + "_net.tntp")):
    s = line.strip()
    if not body:
        if s.startswith("<") and ">" in s:
            k, v = s[1:].split(">", 1)
            if k.strip().upper() == "END OF METADATA":
                body = True
            else:
                meta[k.strip().upper()] = v.strip()
            continue
        if not s or s.startswith("~"):
            continue
        body = True
    if not s or s.startswith("~"):
        continue
    f = s.split(";")[0].split()
    rows.append([int(f[0]), int(f[1]), float(f[2]), float(f[3]), float(f[4]), float(f[5]), float(f[6]), float(f[8])])
num = lambda k, x: float(meta[k]) if meta.get(k, "") != "" else x
zones, first_thru = int(num("NUMBER OF ZONES", 0)), int(num("FIRST THRU NODE", 1))
toll_f, dist_f = num("TOLL FACTOR", 0.0), num("DISTANCE FACTOR", 0.0)
net = pd.DataFrame(rows, columns=["a_node", "b_node", "capacity", "length", "free_flow_time", "b", "power", "toll"])
net["fixed"] = toll_f * net["toll"] + dist_f * net["length"]
# AequilibraE refuses a BPR power below 1 and a free-flow time of 0. Where B is 0 the power
# changes nothing (cost = t0), so it becomes 1; a free-flow time of 0 (Berlin-Center's
# connectors) becomes 1e-9, which moves the objective by at most 1e-9 x the trips.
net.loc[net["b"] == 0, "power"] = np.maximum(net.loc[net["b"] == 0, "power"], 1.0)
bad = (net["b"] > 0) & (net["power"] < 1)
if bad.any():
    sys.exit("links with B > 0 and power < 1: AequilibraE cannot run this network")
net["free_flow_time"] = np.maximum(net["free_flow_time"], 1e-9)
net["link_id"] = np.arange(1, len(net) + 1)
net["direction"] = 1
od = np.zeros((zones, zones))
origin, body = None, False
for line in open(os.path.join(d, stem + "_trips.tntp")):
    s = line.strip()
    if s.startswith("<END OF METADATA>"):
        body = True
        continue
    if not body or not s or s.startswith("~"):
        continue
    if s.startswith("Origin"):
        origin = int(s.split()[1])
        continue
    for e in s.split(";"):
        if ":" in e:
            k, v = e.split(":")
            od[origin - 1, int(k) - 1] += float(v)
np.fill_diagonal(od, 0.0)  # intrazonal trips stay off the network on both sides

def run():
    g = Graph()
    g.network = net.copy()
    g.prepare_graph(np.arange(1, zones + 1))
    g.set_graph("free_flow_time")
    g.set_blocked_centroid_flows(first_thru > 1)
    m = AequilibraeMatrix()
    m.create_empty(zones=zones, matrix_names=["m"], memory_only=True)
    m.index = np.arange(1, zones + 1)
    m.matrices[:, :, 0] = od
    m.computational_view(["m"])
    tc = TrafficClass("car", g, m)
    if (net["fixed"] != 0).any():
        tc.set_fixed_cost("fixed", 1.0)
        tc.set_vot(1.0)
    ta = TrafficAssignment()
    ta.set_classes([tc])
    ta.set_vdf("BPR")
    ta.set_vdf_parameters({"alpha": "b", "beta": "power"})
    ta.set_capacity_field("capacity")
    ta.set_time_field("free_flow_time")
    ta.set_algorithm("bfw")
    if os.environ.get("AEQ_CORES"):
        ta.set_cores(int(os.environ["AEQ_CORES"]))
    ta.max_iter = 1000000
    ta.rgap_target = gap
    t = time.perf_counter()
    ta.execute(log_specification=False)
    return time.perf_counter() - t, ta.assignment.iter, ta.assignment.rgap

res = [run() for _ in range(repeats)]
ts = sorted(r[0] for r in res)
print("aequilibrae %g %.6f %d %g" % (gap, ts[len(ts) // 2], res[-1][1], res[-1][2]), flush=True)
PY

if ((aeq_ok)) && [[ " $engines " == *" aeq "* ]]; then
  for name in "${nets[@]}"; do
    echo "== AequilibraE bfw on $name" >&2
    for g in "${gaps[@]}"; do
      if out=$(timeout "$((limit * repeats_aeq + 60))" "$venv/bin/python" "$work/aeq.py" "$root/$name" "$repeats_aeq" "$g"); then
        echo "$out" >&2
        echo "$name $out" >> "$work/aeq.txt"
      else
        echo "$name aequilibrae $g timeout" >> "$work/aeq.txt"
      fi
    done
  done
fi
((aeq_ok)) || echo "AequilibraE could not be installed; only huetwin's figures follow" >&2

echo
echo "Time to relative gap (median wall seconds; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; limit ${limit} s a run)"
awk -v limit="$limit" '
  function cell(t, it, g) { return t == "timeout" ? sprintf("> %d s (not reached)", limit) : sprintf("%.3f (%d, %.1e)", t, it, g) }
  function ratio(a, t) {
    if (t == "" || t == "timeout" || t <= 0) return "n/a"
    return a == "timeout" ? sprintf("> %.0fx", limit / t) : sprintf("%.0fx", a / t)
  }
  FNR == NR {
    k = $1 " " ($3 + 0); m = $2; sub("huetwin-", "", m)
    if (!(k in seen)) { seen[k] = 1; order[++n] = k; gs[k] = $3 }
    t[k, m] = $4; it[k, m] = $5; gp[k, m] = $6; obj[k, m] = $7; next
  }
  { k = $1 " " ($3 + 0); at[k] = $4; ait[k] = $5; agp[k] = $6 }
  END {
    printf "| %-13s | %-5s | %-22s | %-22s | %-26s | %-9s | %-9s | %-17s |\n", "network", "gap", "huetwin path s (it, gap)", "huetwin bush s (it, gap)", "AequilibraE bfw s (it, gap)", "AEQ/path", "AEQ/bush", "path Beckmann"
    print "|---------------|-------|------------------------|------------------------|----------------------------|-----------|-----------|-------------------|"
    for (i = 1; i <= n; i++) {
      k = order[i]; split(k, p, " ")
      q = ((k, "path") in t) ? cell(t[k, "path"], it[k, "path"], gp[k, "path"]) : "n/a"
      b = ((k, "bush") in t) ? cell(t[k, "bush"], it[k, "bush"], gp[k, "bush"]) : "n/a"
      o = ((k, "path") in obj && obj[k, "path"] != "") ? sprintf("%.6f", obj[k, "path"]) : "n/a"
      a = (k in at) ? cell(at[k], ait[k], agp[k]) : "n/a"
      rp = (k in at) ? ratio(at[k], t[k, "path"]) : "n/a"
      rb = (k in at) ? ratio(at[k], t[k, "bush"]) : "n/a"
      printf "| %-13s | %-5s | %-22s | %-22s | %-26s | %-9s | %-9s | %-17s |\n", p[1], gs[k], q, b, a, rp, rb, o
    }
  }' "$work/huetwin.txt" "$work/aeq.txt"
