# Shared helpers of the ops integration tests (sourced).
set -euo pipefail
: "${ARGUS_BIN:?}" "${ARGUS_RUN_BIN:?}" "${BUILD_DIR:?}" "${SRC_DIR:?}"
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/argus-ops-test.XXXXXX)
JOB_PID=""
cleanup() {
  local rc=$?
  if [ -n "$JOB_PID" ] && kill -0 "$JOB_PID" 2>/dev/null; then kill -INT "$JOB_PID" 2>/dev/null || true; wait "$JOB_PID" 2>/dev/null || true; fi
  if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then echo "FAILED (rc=$rc); work dir kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIPPED: $*" >&2; exit 77; }
need_simgpu() {
  [ -f "$BUILD_DIR/lib/libargus.so" ] || skip "libargus.so is not built"
  [ -x "$BUILD_DIR/bin/simtrain" ] || skip "simtrain is not built"
  [ -e "$BUILD_DIR/lib/simgpu/libcudart.so.13" ] || skip "simgpu is not built"
}
now() { date +%s.%N; }
elapsed() { "$PY" -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$(now)"; }
# Starts an 8-rank simtrain job under argus-run in the background (JOB_PID); $1 = workload.
start_job() {
  export SIMTRAIN_RENDEZVOUS="$WORK/rdv"
  mkdir -p "$SIMTRAIN_RENDEZVOUS"
  cat >"$WORK/launch.sh" <<'SH'
#!/bin/bash
pids=()
for r in 0 1 2 3 4 5 6 7; do RANK=$r LOCAL_RANK=$r WORLD_SIZE=8 simtrain & pids+=($!); done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=$?; done
exit $rc
SH
  chmod +x "$WORK/launch.sh"
  ARGUS_RUN_ID="ops$$" "$ARGUS_RUN_BIN" --no-report --out "$WORK/run" -- \
    "$SRC_DIR/scripts/with-simgpu" --workload "$1" -- "$WORK/launch.sh" >"$WORK/out" 2>"$WORK/err" &
  JOB_PID=$!
}
wait_for_stderr() {  # $1 = pattern, $2 = timeout seconds
  for _ in $(seq $(( $2 * 20 ))); do grep -q "$1" "$WORK/err" 2>/dev/null && return 0; sleep 0.05; done
  cat "$WORK/err" >&2; fail "never saw '$1' on the job's stderr"
}
