# argus-run itself gets SIGINT: it forwards it to the job, the job stops, every record is
# collected. Then the same with ranks that ignore SIGINT: SIGKILL after --grace.
. "$(dirname "$0")/lib.sh"
export ARGUS_RUN_ID=$RUN_ID
wait_records() {  # wait until $1 segments of the run exist
  for _ in $(seq 100); do
    [ "$(ls /dev/shm/argus-"$(id -u)"-"$RUN_ID"-* 2>/dev/null | wc -l)" -ge "$1" ] && return 0; sleep 0.1
  done; fail "records never appeared"
}
# 1. Ranks that stop on SIGINT.
"$ARGUS_RUN_BIN" --no-report --out "$WORK/a" -- bash -c '
  for r in 0 1 2; do RANK=$r WORLD_SIZE=3 "$0" --steps 3 --step-ms 10 --end hang & pids="$pids $!"; done
  rc=0; for p in $pids; do wait $p || rc=$?; done; exit $rc' "$FAKE_RANK" 2>"$WORK/err_a" &
pid=$!
wait_records 3; sleep 0.3
rank_pids=$(for seg in /dev/shm/argus-"$(id -u)"-"$RUN_ID"-*; do echo "${seg##*-}"; done)
kill -INT $pid
set +e; wait $pid; rc=$?; set -e
cat "$WORK/err_a" >&2
[ $rc = 130 ] || fail "exit status $rc, expected 130 (job ended by SIGINT)"
[ "$(ls "$WORK/a/ranks" | wc -l)" = 3 ] || fail "expected 3 records"
[ "$(q "$WORK/a/run_meta.json" "sorted((p['state'], p['steps']) for p in d['processes'])")" = \
  "[('killed', 3), ('killed', 3), ('killed', 3)]" ] || fail "states"
[ "$(q "$WORK/a/run_meta.json" "d['launches'][0]['exit']['stopped_by']")" = SIGINT ] || fail "stopped_by"
for p in $rank_pids; do kill -0 "$p" 2>/dev/null && fail "rank $p still running"; done
no_segments_left "$RUN_ID" || fail "segments left"

# 2. Ranks that ignore SIGINT/SIGTERM: argus-run SIGKILLs the group after the grace period.
export ARGUS_RUN_ID=$RUN_ID-b
RUN_ID=$RUN_ID-b
"$ARGUS_RUN_BIN" --no-report --grace 1 --out "$WORK/b" -- bash -c 'trap "" INT TERM
  for r in 0 1; do RANK=$r WORLD_SIZE=2 "$0" --steps 2 --step-ms 10 --end hang --ignore-signals & done; wait' "$FAKE_RANK" 2>"$WORK/err_b" &
pid=$!
wait_records 2; sleep 0.2
start=$(date +%s.%N)
kill -INT $pid
set +e; wait $pid; rc=$?; set -e
took=$("$PY" -c "import sys; print(float(sys.argv[2])-float(sys.argv[1]))" "$start" "$(date +%s.%N)")
cat "$WORK/err_b" >&2
[ $rc = 137 ] || fail "exit status $rc, expected 137 (SIGKILL after grace)"
"$PY" -c "import sys; sys.exit(0 if 0.9 < float(sys.argv[1]) < 6 else 1)" "$took" || fail "grace not honoured: ${took}s"
[ "$(q "$WORK/b/run_meta.json" "d['launches'][0]['exit']['sent_sigkill']")" = True ] || fail "sent_sigkill"
[ "$(ls "$WORK/b/ranks" | wc -l)" = 2 ] || fail "expected 2 records"
no_segments_left "$RUN_ID" || fail "segments left"

# 3. A real job (8 simtrain ranks on simgpu, recorded by libargus): SIGINT stops it and every
#    record is collected with the steps done so far.
if [ -f "$BUILD_DIR/lib/libargus.so" ] && [ -x "$BUILD_DIR/bin/simtrain" ] && [ -x "$SRC_DIR/scripts/with-simgpu" ]; then
  export ARGUS_RUN_ID=$RUN_ID-c
  RUN_ID=$RUN_ID-c
  cat >"$WORK/w.json" <<'JSON'
{"world_size": 8, "steps": 100000, "seed": 1, "host_us": 3000,
 "sequence": [{"kernel": "sm80_xmma_gemm_bf16bf16_bf16f32_f32_tn_n", "count": 2, "median_us": 200.0, "sigma": 0.02},
              {"collective": "allreduce", "dtype": "bf16", "bytes": 65536}]}
JSON
  export SIMTRAIN_RENDEZVOUS="$WORK/rdv"; mkdir -p "$SIMTRAIN_RENDEZVOUS"
  simtrain_launcher "$WORK/launch.sh" 0 8 8
  "$ARGUS_RUN_BIN" --no-report --out "$WORK/c" -- "$SRC_DIR/scripts/with-simgpu" --workload "$WORK/w.json" -- "$WORK/launch.sh" \
    >/dev/null 2>"$WORK/err_c" &
  pid=$!
  wait_records 8; sleep 1
  kill -INT $pid
  set +e; wait $pid; rc=$?; set -e
  cat "$WORK/err_c" >&2
  [ $rc = 130 ] || fail "simtrain job: exit status $rc, expected 130"
  [ "$(ls "$WORK/c/ranks" | wc -l)" = 8 ] || fail "simtrain job: expected 8 records"
  for f in "$WORK"/c/ranks/*.argus; do "$RECORD_DUMP" "$f"; done >"$WORK/c.jsonl"
  "$PY" - "$WORK/c.jsonl" <<'PYEOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert sorted(r["rank"] for r in recs) == list(range(8))
assert all(r["state"] in ("killed", "exited") for r in recs), [r["state"] for r in recs]
assert all(r["steps_begun"] >= 1 for r in recs), [r["steps_begun"] for r in recs]
print("simtrain after SIGINT:", [(r["rank"], r["state"], r["steps_begun"]) for r in recs])
PYEOF
  no_segments_left "$RUN_ID" || fail "segments left"
else
  echo "part 3 (real libargus + simtrain) not run: libargus.so or simgpu not built" >&2
fi
echo PASS
