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
echo PASS
