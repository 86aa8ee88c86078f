#!/usr/bin/env bash
# Flood solver benchmark: cell updates per second on a 1000x1000 grid (5 m cells: a bowl with a
# lake, 50 mm/h of rain, 60 s simulated) for
#   - the CPU reference solver (scenarios::flood::CpuSolver, rayon over rows),
#   - the GPU solver (renderer::flood::GpuSolver) on whatever adapter is present,
#   - landlab's OverlandFlow (the same de Almeida scheme in numpy), installed from PyPI into a
#     venv under target/,
# all on the same DEM, initial water, rain and duration. ROUNDS rounds (3 by default) run the
# three one after the other; each round's figures are printed, then a table of the medians and
# of the rounds' ratios to landlab (a busy machine slows numpy and the solvers unevenly, so a
# ratio pairs figures of one round). A CPU solver run lasts a fraction of a second (landlab's
# several seconds), so within a round the CPU solver runs REPEAT times (5 by default) from the
# start and its median run counts.
#   scripts/bench_flood.sh [N] [DURATION_S]
#   ROUNDS=1 REPEAT=1 scripts/bench_flood.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000}"
DURATION="${2:-60}"
ROUNDS="${ROUNDS:-3}"
REPEAT="${REPEAT:-5}"
TARGET="${CARGO_TARGET_DIR:-target}"
WORK="$TARGET/flood-bench"
VENV="$TARGET/flood-bench-venv"
mkdir -p "$WORK"

echo "== building the benchmark (release)" >&2
cargo build --release -q -p renderer --example flood_bench
BIN="$TARGET/release/examples/flood_bench"

echo "== landlab venv ($VENV)" >&2
if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
fi
# requireit >= 0.9 (a landlab dependency) uses Python 3.12 syntax; Debian 12 has Python 3.11.
"$VENV/bin/python" -c "import landlab" 2>/dev/null || "$VENV/bin/pip" install -q landlab \
  $("$VENV/bin/python" -c 'import sys; print("requireit<0.9" if sys.version_info < (3, 12) else "")')

cat > "$WORK/landlab_run.py" <<'PY'
import json, sys, time
import numpy as np
from landlab import RasterModelGrid
from landlab.components.overland_flow import OverlandFlow

work = sys.argv[1]
p = json.load(open(f"{work}/params.json"))
n, dx = p["n"], p["dx"]
# Our rows run from the north; landlab's nodes from the south.
z = np.fromfile(f"{work}/z.f64", dtype="<f8").reshape(n, n)[::-1].ravel()
h0 = np.fromfile(f"{work}/h0.f64", dtype="<f8").reshape(n, n)[::-1].ravel()
grid = RasterModelGrid((n, n), xy_spacing=dx)
grid.add_field("topographic__elevation", z.copy(), at="node")
grid.add_field("surface_water__depth", h0.copy(), at="node")
grid.set_closed_boundaries_at_grid_edges(True, True, True, True)
of = OverlandFlow(grid, alpha=p["alpha"], theta=p["theta"], mannings_n=p["manning"],
                  g=p["g"], rainfall_intensity=p["rain_m_per_s"])
steps = 0
calc = of.calc_time_step
def counted():
    global steps
    steps += 1
    return calc()
of.calc_time_step = counted
t0 = time.perf_counter()
of.overland_flow(dt=p["duration"])
wall = time.perf_counter() - t0
import landlab
print(f"solver=landlab cells={n*n} steps={steps} wall_s={wall:.3f} updates_per_s={n*n*steps/wall:.4e} device=\"landlab {landlab.__version__}, numpy {np.__version__}\"")
PY

: > "$WORK/rust.txt"
: > "$WORK/landlab.txt"
for ((r = 1; r <= ROUNDS; r++)); do
  echo "== round $r of $ROUNDS: Rust solvers on ${N}x${N}, ${DURATION} s" >&2
  "$BIN" --n "$N" --duration "$DURATION" --solvers cpu,gpu --repeat "$REPEAT" --write-inputs "$WORK" \
    | tee -a "$WORK/rust.txt" >&2
  echo "== round $r of $ROUNDS: landlab OverlandFlow on the same inputs" >&2
  "$VENV/bin/python" "$WORK/landlab_run.py" "$WORK" | tee -a "$WORK/landlab.txt" >&2
done

python3 - "$WORK" <<'PY'
import re, statistics, sys
work = sys.argv[1]
runs = {}  # solver -> list of result dicts, one per round
for f in ("rust.txt", "landlab.txt"):
    for line in open(f"{work}/{f}"):
        if not line.startswith("solver="):
            continue
        kv = {k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', line)}
        runs.setdefault(kv["solver"], []).append(kv)
ups = {s: [float(r["updates_per_s"]) for r in rs if "updates_per_s" in r] for s, rs in runs.items()}
ll = ups.get("landlab", [])
for k in range(len(ll)):
    parts = [f"{s} {ups[s][k]:.3e}" for s in ("cpu", "gpu") if len(ups.get(s, [])) > k]
    ratios = [f"{s} {ups[s][k] / ll[k]:.1f}x" for s in ("cpu", "gpu") if len(ups.get(s, [])) > k]
    print(f"round {k + 1}: " + ", ".join(parts + [f"landlab {ll[k]:.3e}"]) + " cell updates/s; " + ", ".join(ratios) + " landlab")
print(f"medians of {max((len(v) for v in ups.values()), default=0)} rounds:")
print(f"{'solver':<8} {'cells':>9} {'steps':>6} {'wall s':>8} {'cell updates/s':>15} {'x landlab':>9}  device")
for name in ("cpu", "gpu", "landlab"):
    rs = runs.get(name)
    if not rs:
        continue
    if "error" in rs[-1]:
        print(f"{name:<8} error: {rs[-1]['error']}")
        continue
    u = statistics.median(ups[name])
    wall = statistics.median(float(r["wall_s"]) for r in rs)
    # The ratio is the median of the rounds' ratios (each round's solvers ran at about the same
    # moment), not the ratio of the medians (which pairs figures from different moments).
    paired = [a / b for a, b in zip(ups[name], ll)]
    ratio = f"{statistics.median(paired):9.1f}" if paired else f"{'-':>9}"
    r = rs[-1]
    extra = f" (largest Courant number {r['max_courant']})" if "max_courant" in r else ""
    print(f"{name:<8} {r['cells']:>9} {r['steps']:>6} {wall:>8.2f} {u:>15.3e} {ratio}  {r.get('device', '')}{extra}")
PY
