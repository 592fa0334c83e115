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
echo PASS
