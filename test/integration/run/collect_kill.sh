# 4 ranks (stand-ins that write records exactly as libargus lays them out); rank 2 is
# SIGKILLed half-way: all 4 records collected, rank 2 "killed" with its steps up to death,
# the others "exited", exit status 137, no segment left behind.
. "$(dirname "$0")/lib.sh"
export ARGUS_RUN_ID=$RUN_ID
set +e
"$ARGUS_RUN_BIN" --no-report --out "$WORK/run" -- bash -c '
  for r in 0 1 2 3; do RANK=$r WORLD_SIZE=4 LOCAL_RANK=$r "$0" --steps 8 --step-ms 30 --kill-rank 2 & pids="$pids $!"; done
  rc=0; for p in $pids; do wait $p || rc=$?; done; exit $rc' "$FAKE_RANK" 2>"$WORK/err"
rc=$?
set -e
cat "$WORK/err" >&2
[ $rc = 137 ] || fail "exit status $rc, expected 137 (a rank was SIGKILLed)"
[ "$(ls "$WORK/run/ranks" | wc -l)" = 4 ] || fail "expected 4 records: $(ls "$WORK/run/ranks")"
m="$WORK/run/run_meta.json"
[ "$(q "$m" "sorted((p['rank'], p['state'], p['steps']) for p in d['processes'])")" = \
  "[(0, 'exited', 8), (1, 'exited', 8), (2, 'killed', 4), (3, 'exited', 8)]" ] || fail "states: $(q "$m" "d['processes']")"
grep -q "rank 2 (pid .*(killed)" "$WORK/err" || fail "killed rank not reported on stderr"
# The state is also in the copied record itself.
f=$(q "$m" "[p['file'] for p in d['processes'] if p['rank']==2][0]")
[ "$("$RECORD_DUMP" "$WORK/run/$f" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["state"])')" = killed ] || fail "record state"
# Records are copied sparsely: the 55 MiB record takes little disk.
du_k=$(du -k "$WORK/run/$f" | cut -f1); [ "$du_k" -lt 4096 ] || fail "record copy not sparse: ${du_k} KiB"
no_segments_left "$RUN_ID" || fail "segments left in /dev/shm"
validate_meta "$m"
echo PASS
