# 8 simtrain ranks; rank 5 never enters collective index 1 of step 3 (sequence number 8 of the
# communicator: two collectives per step).  While the job hangs, `argus status` must name
# rank 5 and sequence 8 within 2 s; after SIGINT to argus-run, the report's hang finding
# must say the same.
. "$(dirname "$0")/lib.sh"
need_simgpu
cat >"$WORK/w.json" <<'JSON'
{"world_size": 8, "steps": 40, "seed": 1, "host_us": 1000,
 "sequence": [
   {"kernel": "sm80_xmma_gemm_bf16bf16_bf16f32_f32_tn_n", "count": 2, "median_us": 200.0, "sigma": 0.02},
   {"collective": "allreduce", "dtype": "bf16", "bytes": 65536},
   {"kernel": "flash_fwd_kernel", "count": 1, "median_us": 100.0, "sigma": 0.02},
   {"collective": "allgather", "dtype": "bf16", "bytes": 65536}],
 "faults": [{"kind": "hang", "ranks": [5], "steps": [3, 3], "collective_index": 1}]}
JSON
start_job "$WORK/w.json"
wait_for_stderr "rank 5: hang fault" 60
t0=$(now)
found=""
while :; do
  set +e; "$ARGUS_BIN" status "$WORK/run" >"$WORK/status" 2>"$WORK/status.err"; rc=$?; set -e
  if [ $rc = 1 ] && grep -q "^HANG .*seq 8 allgather.*rank(s) 5 never entered collective 8" "$WORK/status"; then found=$(elapsed "$t0"); break; fi
  [ $rc = 2 ] && { cat "$WORK/status.err" >&2; fail "status failed"; }
  "$PY" -c "import sys; sys.exit(0 if float(sys.argv[1]) < 10 else 1)" "$(elapsed "$t0")" || { cat "$WORK/status" >&2; fail "status never named rank 5 / collective 8"; }
  sleep 0.1
done
cat "$WORK/status"
echo "status named the hang ${found}s after rank 5 stopped"
"$PY" -c "import sys; sys.exit(0 if float(sys.argv[1]) <= 2.0 else 1)" "$found" || fail "took ${found}s (> 2 s)"
[ -s "$WORK/status.err" ] && { cat "$WORK/status.err" >&2; fail "status wrote to stderr"; }
grep -q "STALL" "$WORK/status" && fail "a hang must not be shown as a stall"
# The waiting ranks are the other seven.
grep -q "^HANG .*rank(s) 0,1,2,3,4,6,7 waiting in it" "$WORK/status" || fail "waiting ranks"
# End the job like a user would: SIGINT to argus-run.
kill -INT "$JOB_PID"
set +e; wait "$JOB_PID"; rc=$?; set -e
JOB_PID=""
[ "$(ls "$WORK/run/ranks" | wc -l)" = 8 ] || fail "expected 8 records, got $(ls "$WORK/run/ranks")"
"$ARGUS_BIN" report --format json "$WORK/run" >/dev/null 2>"$WORK/report.err" || { cat "$WORK/report.err" >&2; fail "argus report failed"; }
"$PY" - "$WORK/run/metrics.json" <<'PYEOF'
import json, sys
m = json.load(open(sys.argv[1]))
hangs = [f for f in m["findings"] if f["kind"] == "hang"]
assert len(hangs) == 1, [f["kind"] for f in m["findings"]]
h = hangs[0]
print("hang finding:", json.dumps(h))
assert h["ranks"] == [5], h
assert h.get("collective") == "allgather", h
assert "sequence number 8" in h["evidence"], h["evidence"]
assert "communicator" in h["evidence"], h["evidence"]
PYEOF
echo PASS
