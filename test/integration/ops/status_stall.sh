# A rank whose host stops launching between steps (workload fault "stall", a 5 s pause
# before step 3 on rank 2) is shown as stalled, not hung in a collective; afterwards the job
# finishes and status reports it healthy (exit 0).
. "$(dirname "$0")/lib.sh"
need_simgpu
cat >"$WORK/w.json" <<'JSON'
{"world_size": 8, "steps": 6, "seed": 1, "host_us": 1000,
 "sequence": [
   {"kernel": "sm80_xmma_gemm_bf16bf16_bf16f32_f32_tn_n", "count": 2, "median_us": 200.0, "sigma": 0.02},
   {"collective": "allreduce", "dtype": "bf16", "bytes": 65536}],
 "faults": [{"kind": "stall", "ranks": [2], "steps": [3, 3], "us": 5000000}]}
JSON
start_job "$WORK/w.json"
# Wait until the others have entered step 3's collective (sequence 4) and the stall is old.
t0=$(now)
while :; do
  set +e; "$ARGUS_BIN" status "$WORK/run" >"$WORK/status" 2>&1; rc=$?; set -e
  grep -q "^STALL comm" "$WORK/status" && break
  "$PY" -c "import sys; sys.exit(0 if float(sys.argv[1]) < 30 else 1)" "$(elapsed "$t0")" || { cat "$WORK/status" >&2; fail "no stall seen"; }
  sleep 0.2
done
cat "$WORK/status"
[ $rc = 1 ] || fail "status exit $rc during a stall, expected 1"
grep -q "^STALL comm .*seq 4 allreduce.*rank(s) 2 stopped launching" "$WORK/status" || fail "stall line does not name rank 2 / seq 4"
grep -q "^STALL ranks whose host stopped launching: 2 " "$WORK/status" || fail "stalled ranks"
grep -q "^HANG" "$WORK/status" && fail "a stall was reported as a hang"
grep -Eq "^ +2 .*STALLED" "$WORK/status" || fail "rank 2 row not marked STALLED"
# --watch keeps refreshing (clear screen + a new table each interval) until interrupted.
set +e; timeout -s INT 1.5 "$ARGUS_BIN" status --watch --interval 0.2 "$WORK/run" >"$WORK/watch" 2>&1; set -e
n=$(grep -o $'\033\[H\033\[2J' "$WORK/watch" | wc -l)
[ "$n" -ge 3 ] || fail "status --watch refreshed $n times in 1.5 s at 0.2 s intervals"
[ "$(grep -c "^STALL ranks whose host stopped launching: 2 " "$WORK/watch")" -ge 3 ] || fail "--watch frames do not all show the stall"
set +e; wait "$JOB_PID"; rc=$?; set -e
JOB_PID=""
[ $rc = 0 ] || { cat "$WORK/err" >&2; fail "job exit $rc"; }
"$ARGUS_BIN" status "$WORK/run" >"$WORK/status2" || { cat "$WORK/status2" >&2; fail "finished job not healthy"; }
grep -q "^healthy" "$WORK/status2" || fail "no healthy line"
echo PASS
