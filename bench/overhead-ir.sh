#!/usr/bin/env bash
# scripts/bench overhead-ir — instructions added per intercepted cudaLaunchKernel, counted by
# valgrind (callgrind, deterministic: immune to the load of a shared machine, unlike timing).
#   launch_plain_ir / launch_hooked_ir: instructions per launch of bench-launch-loop, from the
#     difference of two runs (N1 and N2) so that start-up cost cancels out;
#   launch_overhead_ir: hooked minus plain (hooks + record only, CUPTI and its event-pair
#     fallback off).
# The per-function split of the hooked run is printed to stderr (callgrind_annotate).
# Last line: one JSON object.  Env: N1 (default 10240), N2 (default 30720).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${ARGUS_BUILD_DIR:-$root/build}
n1=${N1:-10240}
n2=${N2:-30720}
lib=$build/lib/libargus.so
command -v valgrind >/dev/null || { echo "bench overhead-ir: valgrind: not installed" >&2; exit 2; }
for f in "$lib" "$build/bin/bench-launch-loop"; do
  [ -e "$f" ] || { echo "bench overhead-ir: $f: not built" >&2; exit 2; }
done
tmp=$(mktemp -d)
shm=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)
trap 'rm -rf "$tmp" "$shm"' EXIT
export LD_LIBRARY_PATH=$build/lib/simgpu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
ir() {  # $1 = plain|hooked, $2 = launches → total instructions of the run
  local out=$tmp/$1-$2.cg env=()
  [ "$1" = hooked ] && env=(ARGUS_SHM_DIR=$shm ARGUS_CUPTI=0 ARGUS_EVENT_SAMPLING=0 LD_PRELOAD=$lib)
  env "${env[@]}" valgrind --tool=callgrind --callgrind-out-file="$out" "$build/bin/bench-launch-loop" "$2" \
    2>"$tmp/vg.log" >/dev/null
  awk '/^summary:/ {print $2}' "$out"
}
p1=$(ir plain "$n1"); p2=$(ir plain "$n2"); h1=$(ir hooked "$n1"); h2=$(ir hooked "$n2")
if command -v callgrind_annotate >/dev/null; then
  callgrind_annotate --threshold=99 "$tmp/hooked-$n2.cg" 2>/dev/null | sed -n '1,40p' >&2 || true
fi
python3 - "$n1" "$n2" "$p1" "$p2" "$h1" "$h2" <<'PY'
import json, sys
n1, n2, p1, p2, h1, h2 = (int(x) for x in sys.argv[1:])
# bench-launch-loop N makes 2N launches: N through the linked symbol (the hook when preloaded)
# and N straight into libcudart; only the first N differ between the two runs.
p = (p2 - p1) / (2 * (n2 - n1))
added = ((h2 - h1) - (p2 - p1)) / (n2 - n1)
print(json.dumps({"launch_plain_ir": round(p, 1), "launch_hooked_ir": round(p + added, 1),
                  "launch_overhead_ir": round(added, 1), "launches": [n1, n2]}))
PY
