# Two "nodes" (two argus-run with different host names, at the same time) write one run
# directory: per-host record names, one run id, a run_meta.json that merges both.
. "$(dirname "$0")/lib.sh"
unset ARGUS_RUN_ID SLURM_JOB_ID
out="$WORK/shared/$RUN_ID"   # the run id is the shared directory's name
job='for r in 0 1; do RANK=$(( $1 * 2 + r )) WORLD_SIZE=4 LOCAL_RANK=$r "$0" --steps 5 --step-ms 20 & done; wait'
"$ARGUS_RUN_BIN" --no-report --host nodeA --out "$out" -- sh -c "$job" "$FAKE_RANK" 0 2>"$WORK/ea" &
a=$!
"$ARGUS_RUN_BIN" --no-report --host nodeB --out "$out" -- sh -c "$job" "$FAKE_RANK" 1 2>"$WORK/eb" &
b=$!
wait $a || fail "node A status"
wait $b || fail "node B status"
cat "$WORK/ea" "$WORK/eb" >&2
m="$out/run_meta.json"
[ "$(ls "$out/ranks" | sed 's/-[0-9]*\.argus$//' | sort | uniq -c | tr -s ' ')" = "$(printf ' 2 nodeA\n 2 nodeB')" ] || fail "record names: $(ls "$out/ranks")"
[ "$(q "$m" "d['run_id']")" = "$RUN_ID" ] || fail "run id"
[ "$(q "$m" "[h['host'] for h in d['hosts']]")" = "['nodeA', 'nodeB']" ] || fail "hosts"
[ "$(q "$m" "len(d['launches']), d['status']")" = "(2, 'finished')" ] || fail "launches/status"
[ "$(q "$m" "sorted((p['host'], p['rank'], p['state'], p['steps']) for p in d['processes'])")" = \
  "[('nodeA', 0, 'exited', 5), ('nodeA', 1, 'exited', 5), ('nodeB', 2, 'exited', 5), ('nodeB', 3, 'exited', 5)]" ] || fail "processes"
ls "$out/run_meta.d" | grep -q '^nodeA-' && ls "$out/run_meta.d" | grep -q '^nodeB-' || fail "per-host parts"
validate_meta "$m"

# The same with a real job: one 8-rank simtrain job whose ranks 0-3 run under "nodeA" and 4-7
# under "nodeB" (one collective group across both), recorded by libargus.
if [ -f "$BUILD_DIR/lib/libargus.so" ] && [ -x "$BUILD_DIR/bin/simtrain" ] && [ -x "$SRC_DIR/scripts/with-simgpu" ]; then
  out="$WORK/shared2/$RUN_ID-sim"
  cat >"$WORK/w.json" <<'JSON'
{"world_size": 8, "steps": 6, "seed": 3, "host_us": 1000,
 "sequence": [{"kernel": "sm80_xmma_gemm_bf16bf16_bf16f32_f32_tn_n", "count": 2, "median_us": 100.0, "sigma": 0.02},
              {"collective": "allreduce", "dtype": "bf16", "bytes": 65536}]}
JSON
  export SIMTRAIN_RENDEZVOUS="$WORK/rdv"; mkdir -p "$SIMTRAIN_RENDEZVOUS"
  simtrain_launcher "$WORK/la.sh" 0 4 8
  simtrain_launcher "$WORK/lb.sh" 4 4 8
  "$ARGUS_RUN_BIN" --no-report --host nodeA --out "$out" -- "$SRC_DIR/scripts/with-simgpu" --workload "$WORK/w.json" -- "$WORK/la.sh" >/dev/null 2>"$WORK/ea2" &
  a=$!
  "$ARGUS_RUN_BIN" --no-report --host nodeB --out "$out" -- "$SRC_DIR/scripts/with-simgpu" --workload "$WORK/w.json" -- "$WORK/lb.sh" >/dev/null 2>"$WORK/eb2" &
  b=$!
  wait $a || { cat "$WORK/ea2" >&2; fail "sim node A status"; }
  wait $b || { cat "$WORK/eb2" >&2; fail "sim node B status"; }
  m="$out/run_meta.json"
  validate_meta "$m"
  [ "$(q "$m" "sorted((p['host'], p['rank'], p['state'], p['steps']) for p in d['processes'])")" = \
    "$("$PY" -c "print(sorted((('nodeA' if r < 4 else 'nodeB'), r, 'exited', 6) for r in range(8)))")" ] || fail "sim processes: $(q "$m" "d['processes']")"
  for f in "$out"/ranks/*.argus; do "$RECORD_DUMP" "$f"; done | "$PY" -c '
import json, sys
recs = [json.loads(l) for l in sys.stdin]
assert sorted((r["host"], r["rank"]) for r in recs) == [("nodeA" if r < 4 else "nodeB", r) for r in range(8)], recs
assert all(r["steps_source"] == "nvtx" for r in recs), [r["steps_source"] for r in recs]
' || fail "sim records"
else
  echo "real-job part not run: libargus.so or simgpu not built" >&2
fi
echo PASS
