#!/usr/bin/env bash
# UK Environment Agency 2D benchmark tests (Néelz and Pender 2013, SC120002) for the flood
# solvers: EA test 4 (speed of flood propagation over an extended floodplain), 5 h on the 5 m
# grid with the CPU solver, compared at P1..P6 with the published LISFLOOD-FP 8.0 series (ACC
# at 1 m and DG2 at 5 m, Shaw et al. 2021, in ../shared/data/flood/ea): RMSE, arrival time of
# 0.01 m and peak depth, printed as markdown tables (scenarios/tests/flood_ea.rs, its
# #[ignore]d full run; the default tests run the first 2 h). The scenarios crate is built
# with opt-level 2 in the dev profile, so no release build is needed.
#   scripts/ea_benchmarks.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d ../shared/data/flood/ea ]; then
    echo "ea_benchmarks.sh: ../shared/data/flood/ea (the LISFLOOD-FP 8.0 series) is missing" >&2
    exit 1
fi
cargo test -p scenarios --test flood_ea -- --include-ignored --nocapture --test-threads 1 2>&1 |
    grep -E '^(\||EA test|5 h|test result)'
