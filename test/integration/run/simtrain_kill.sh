# 8 simtrain ranks on simgpu; rank 3 is SIGKILLed at step 6 (workload fault "crash"). The
# launcher (like torchrun) then stops the other ranks. All 8 records are in the run
# directory, rank 3 "killed" with its steps up to its death, argus-run's status says SIGKILL.
. "$(dirname "$0")/lib.sh"
need_libargus
need_simgpu
cat >"$WORK/w.json" <<'JSON'
{"world_size": 8, "steps": 12, "seed": 1, "host_us": 2000,
 "sequence": [
   {"kernel": "sm80_xmma_gemm_bf16bf16_bf16f32_f32_tn_n", "count": 4, "median_us": 300.0, "sigma": 0.02},
   {"collective": "allreduce", "dtype": "bf16", "bytes": 1048576}],
 "faults": [{"kind": "crash", "ranks": [3], "steps": [6, 6], "signal": "KILL"}]}
JSON
export SIMTRAIN_RENDEZVOUS="$WORK/rdv"
mkdir -p "$SIMTRAIN_RENDEZVOUS"
simtrain_launcher "$WORK/launch.sh" 0 8 8
set +e
"$ARGUS_RUN_BIN" --no-report --out "$WORK/run" -- "$SRC_DIR/scripts/with-simgpu" --workload "$WORK/w.json" -- "$WORK/launch.sh" \
  >"$WORK/out" 2>"$WORK/err"
rc=$?
set -e
cat "$WORK/err" >&2
[ $rc = 137 ] || fail "argus-run status $rc, expected 137 (a rank was SIGKILLed)"
[ "$(ls "$WORK/run/ranks" | wc -l)" = 8 ] || fail "expected 8 records: $(ls "$WORK/run/ranks")"
for f in "$WORK"/run/ranks/*.argus; do "$RECORD_DUMP" "$f"; done >"$WORK/dump.jsonl"
"$PY" - "$WORK/dump.jsonl" "$WORK/run/run_meta.json" <<'PYEOF'
import json, sys
recs = {r["rank"]: r for r in map(json.loads, open(sys.argv[1]))}
meta = json.load(open(sys.argv[2]))
assert sorted(recs) == list(range(8)), sorted(recs)
dead = recs[3]
assert dead["state"] == "killed", dead["state"]
# Killed at the start of step 6 (0-based): steps 0..5 complete, maybe step 6 begun.
assert 6 <= dead["steps_begun"] <= 7, dead["steps_begun"]
for k, r in recs.items():
    if k != 3:
        assert r["steps_begun"] >= dead["steps_begun"] - 1, (k, r["steps_begun"])
procs = {p["rank"]: p for p in meta["processes"]}
assert procs[3]["state"] == "killed", procs[3]
print("states:", {k: r["state"] for k, r in sorted(recs.items())}, "rank 3 steps:", dead["steps_begun"])
PYEOF
grep -q "rank 3 (pid .*(killed)" "$WORK/err" || fail "killed rank not named on stderr"
validate_meta "$WORK/run/run_meta.json"
no_segments_left "$(q "$WORK/run/run_meta.json" "d['run_id']")" || fail "segments left"
echo PASS
