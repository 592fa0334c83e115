# The launcher dies (SIGKILL) with its ranks running; the ranks die later. The segments stay in
# /dev/shm until collect_leftovers (what `argus report --collect RUN_DIR` calls) collects them.
. "$(dirname "$0")/lib.sh"
export ARGUS_RUN_ID=$RUN_ID
"$ARGUS_RUN_BIN" --no-report --out "$WORK/run" -- sh -c '
  for r in 0 1; do RANK=$r WORLD_SIZE=2 "$0" --steps 4 --step-ms 10 --end hang & done; wait' "$FAKE_RANK" 2>/dev/null &
pid=$!
for _ in $(seq 100); do [ "$(ls /dev/shm/argus-"$(id -u)"-"$RUN_ID"-* 2>/dev/null | wc -l)" = 2 ] && break; sleep 0.1; done
sleep 0.2
kill -KILL $pid; wait $pid 2>/dev/null || true
# While the ranks live, nothing is taken.
"$COLLECT_LEFTOVERS" "$WORK/run" >"$WORK/live.jsonl"
[ "$(grep -c '"state":"running"' "$WORK/live.jsonl")" = 2 ] || fail "live ranks: $(cat "$WORK/live.jsonl")"
[ "$(ls "$WORK/run/ranks" | wc -l)" = 0 ] || fail "live records copied"
# The ranks' pids are the last field of their segment names.
for seg in /dev/shm/argus-"$(id -u)"-"$RUN_ID"-*; do kill -KILL "${seg##*-}"; done
sleep 0.3
"$COLLECT_LEFTOVERS" "$WORK/run" >"$WORK/dead.jsonl"
[ "$(grep -c '"state":"killed"' "$WORK/dead.jsonl")" = 2 ] || fail "dead ranks: $(cat "$WORK/dead.jsonl")"
[ "$(ls "$WORK/run/ranks" | wc -l)" = 2 ] || fail "records not copied"
no_segments_left "$RUN_ID" || fail "segments left"
m="$WORK/run/run_meta.json"
[ "$(q "$m" "len(d['collections']), sorted(p['state'] for p in d['processes'])")" = "(1, ['killed', 'killed'])" ] || fail "run_meta: $(cat "$m")"
validate_meta "$m"
set +e; "$COLLECT_LEFTOVERS" "$WORK/nope" 2>"$WORK/e"; rc=$?; set -e
[ $rc = 2 ] && grep -q "$WORK/nope" "$WORK/e" || fail "bad run dir: rc $rc"
echo PASS
