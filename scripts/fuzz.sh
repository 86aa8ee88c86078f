#!/usr/bin/env bash
# Fuzz every parser (the `fuzz` crate, docs/adr/0011-fuzzing-on-stable.md) for FUZZ_SECONDS
# each (default 600, ten minutes), one process per target, and print a table of executions and
# crashes. Crashing inputs are saved in fuzz/regressions/<target>/ (commit them with the fix:
# `cargo test -p fuzz` replays them). An input that aborts the process (e.g. a failed
# allocation) is saved by the next run of that target from fuzz/regressions/<target>/.inflight.
#
#   scripts/fuzz.sh                   # every target, 10 minutes each
#   FUZZ_SECONDS=20 scripts/fuzz.sh   # a quick pass
#   scripts/fuzz.sh las laz           # some targets
#   FUZZ_PROFILE=dev scripts/fuzz.sh  # without a release build
set -uo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-600}"
profile="${FUZZ_PROFILE:-release}"
seed="${FUZZ_SEED:-1}"
target_dir="${CARGO_TARGET_DIR:-target}"
if [ "$profile" = release ]; then
  cargo build -q -p fuzz --release || exit 2
  bin="$target_dir/release/fuzz"
else
  cargo build -q -p fuzz || exit 2
  bin="$target_dir/debug/fuzz"
fi
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <("$bin" --list | awk '{print $1}')
fi
echo "fuzzing ${#targets[@]} targets for ${seconds} s each ($profile build, seed $seed)"
echo "| target | seconds | executions | exec/s | accepted | refused | panics | distinct crashes | slowest ms |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
failed=0
for t in "${targets[@]}"; do
  out=$("$bin" "$t" --seconds "$seconds" --seed "$seed" 2>"/tmp/fuzz-$t.err")
  rc=$?
  row=$(printf '%s\n' "$out" | grep "^| $t |")
  if [ -n "$row" ]; then
    echo "$row"
  else
    # The process died (abort, out of memory): the input is in fuzz/regressions/$t/.inflight.
    echo "| $t | - | - | - | - | - | - | process died (rc $rc), input kept in fuzz/regressions/$t/.inflight | - |"
  fi
  [ "$rc" -ne 0 ] && { failed=1; grep -m 5 "crash in\|memory allocation\|panicked" "/tmp/fuzz-$t.err" >&2; }
done
exit $failed
