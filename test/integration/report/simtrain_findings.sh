#!/bin/bash
# argus report on real simtrain runs (simgpu + libargus.so + argus-run): a planted fault
# gives the matching finding with the right ranks, steps and kernel; a healthy run none.
# Usage: simtrain_findings.sh SCENARIO   (healthy | straggler | slow_kernel | crash)
# Exit 77 = skipped (libargus.so, simgpu or argus-run not built).
set -euo pipefail
: "${ARGUS_BIN:?}" "${ARGUS_RUN_BIN:?}" "${BUILD_DIR:?}" "${SRC_DIR:?}"
scenario=${1:?scenario}
PY=/usr/bin/python3
[ -f "$BUILD_DIR/lib/libargus.so" ] || { echo "SKIPPED: libargus.so not built" >&2; exit 77; }
[ -x "$BUILD_DIR/bin/simtrain" ] || { echo "SKIPPED: simtrain not built" >&2; exit 77; }
WORK=$(mktemp -d /tmp/argus-report-it.XXXXXX)
trap 'rc=$?; if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then echo "FAILED; work dir kept: $WORK" >&2; else rm -rf "$WORK"; fi' EXIT

world=4; steps=80
case "$scenario" in
  healthy)     faults='[]' ;;
  straggler)   faults='[{"kind": "slow_rank", "ranks": [2], "steps": [30, 79], "factor": 1.3}]' ;;
  slow_kernel) faults='[{"kind": "slow_kernel", "ranks": [1], "steps": [30, 60], "kernel": "xmma_gemm", "factor": 1.6}]' ;;
  crash)       faults='[{"kind": "crash", "ranks": [3], "steps": [40, 40], "signal": "KILL"}]' ;;
  *) echo "unknown scenario $scenario" >&2; exit 2 ;;
esac
cat >"$WORK/w.json" <<JSON
{"world_size": $world, "steps": $steps, "seed": 3, "host_us": 800,
 "sequence": [
   {"kernel": "void at::native::vectorized_elementwise_kernel<4, at::native::FillFunctor<float> >", "count": 6, "median_us": 40.0, "sigma": 0.03},
   {"kernel": "sm80_xmma_gemm_bf16bf16_bf16f32_f32_tn_n", "count": 8, "median_us": 300.0, "sigma": 0.02},
   {"kernel": "flash_fwd_kernel", "count": 4, "median_us": 200.0, "sigma": 0.03},
   {"collective": "allreduce", "dtype": "bf16", "bytes": 4194304}],
 "faults": $faults}
JSON
export SIMTRAIN_RENDEZVOUS="$WORK/rdv"
mkdir -p "$SIMTRAIN_RENDEZVOUS"
cat >"$WORK/launch.sh" <<SH
#!/bin/bash
pids=()
for r in \$(seq 0 $((world - 1))); do RANK=\$r LOCAL_RANK=\$r WORLD_SIZE=$world simtrain & pids+=(\$!); done
rc=0
for _ in "\${pids[@]}"; do
  wait -n; s=\$?
  if [ \$s != 0 ] && [ \$rc = 0 ]; then rc=\$s; kill -TERM "\${pids[@]}" 2>/dev/null; fi
done
exit \$rc
SH
chmod +x "$WORK/launch.sh"
set +e
ARGUS_RUN_ID="it$$-$scenario" "$ARGUS_RUN_BIN" --no-report --out "$WORK/run" -- \
  "$SRC_DIR/scripts/with-simgpu" --workload "$WORK/w.json" -- "$WORK/launch.sh" >"$WORK/out" 2>"$WORK/err"
rc=$?
set -e
[ "$scenario" = crash ] || [ $rc = 0 ] || { cat "$WORK/err" >&2; echo "FAIL: argus-run status $rc" >&2; exit 1; }
"$ARGUS_BIN" report -q "$WORK/run" 2>"$WORK/report.err" || { cat "$WORK/report.err" >&2; echo "FAIL: argus report failed" >&2; exit 1; }
cp "$WORK/run/metrics.json" "$WORK/metrics.first"
"$ARGUS_BIN" report -q "$WORK/run"
cmp -s "$WORK/run/metrics.json" "$WORK/metrics.first" || { echo "FAIL: regeneration is not byte-identical" >&2; exit 1; }
"$PY" "$SRC_DIR/test/unit/report/validate_json.py" "$SRC_DIR/schemas/metrics.schema.json" "$WORK/run/metrics.json"
"$PY" - "$WORK/run/metrics.json" "$scenario" <<'PYEOF'
import json, sys
m = json.load(open(sys.argv[1])); scenario = sys.argv[2]
f = m["findings"]
print(scenario, "findings:", json.dumps(f, indent=1))
kinds = [x["kind"] for x in f]
def overlaps(x, a, b): return x["steps"][0] <= b and a <= x["steps"][1]
assert m["integrity"]["ranks_found"] == 4, m["integrity"]
if scenario == "healthy":
    # On a loaded 2-core machine ranks really are descheduled for milliseconds: host_stall and
    # anomalous_window findings can be true there. Nothing else may appear.
    wrong = [x for x in f if x["kind"] not in ("host_stall", "anomalous_window")]
    assert wrong == [], wrong
    assert m["integrity"]["complete"], m["integrity"]
elif scenario == "straggler":
    s = [x for x in f if x["kind"] == "straggler_rank"]
    assert s and s[0]["ranks"] == [2] and overlaps(s[0], 30, 79), f
    assert not [x for x in s if x["ranks"] != [2]], "another rank named as straggler"
elif scenario == "slow_kernel":
    d = [x for x in f if x["kind"] == "degraded_kernel"]
    assert d and "xmma_gemm" in d[0]["kernel"] and 1 in d[0]["ranks"] and overlaps(d[0], 30, 60), f
elif scenario == "crash":
    # Without exit signals in run_meta.json (the launcher, not argus-run, reaped the ranks) a
    # rank killed before a collective looks like one that never entered it: crash or hang,
    # but naming rank 3 at step 40.
    c = [x for x in f if x["kind"] in ("crash", "hang")]
    assert c and c[0]["ranks"] == [3] and 39 <= c[0]["steps"][0] <= 41, f
print("PASS")
PYEOF
