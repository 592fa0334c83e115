# argus-run's exit status is CMD's (128+signal when killed); usage errors are 2.
. "$(dirname "$0")/lib.sh"
r() { set +e; "$ARGUS_RUN_BIN" --no-report --out "$WORK/r$1" -- "${@:2}" 2>"$WORK/err$1"; echo $?; set -e; }
[ "$(r 1 true)" = 0 ] || fail "true"
[ "$(r 2 sh -c 'exit 3')" = 3 ] || fail "exit 3"
[ "$(r 3 sh -c 'kill -TERM $$')" = 143 ] || fail "SIGTERM should give 143"
grep -q "killed by SIGTERM" "$WORK/err3" || fail "no SIGTERM message"
[ "$(q "$WORK/r3/run_meta.json" "d['launches'][0]['exit']['signal']")" = SIGTERM ] || fail "run_meta exit.signal"
[ "$(r 4 /nonexistent/cmd)" = 127 ] || fail "missing command should give 127"
set +e
"$ARGUS_RUN_BIN" --bogus -- true 2>"$WORK/e5"; [ $? = 2 ] || fail "unknown option should give 2"
"$ARGUS_RUN_BIN" --steps-from nvtx: -- true 2>"$WORK/e6"; [ $? = 2 ] || fail "bad --steps-from should give 2"
"$ARGUS_RUN_BIN" 2>"$WORK/e7"; [ $? = 2 ] || fail "no command should give 2"
set -e
[ "$(wc -l <"$WORK/e6")" = 1 ] || fail "usage error must be one line"
# The report tool is optional at the end: missing -> said on stderr, status unchanged.
set +e; PATH=/usr/bin:/bin "$ARGUS_RUN_BIN" --out "$WORK/r8" -- sh -c 'exit 5' 2>"$WORK/e8"; rc=$?; set -e
[ $rc = 5 ] || fail "status with report step: $rc"
if [ ! -x "$BUILD_DIR/bin/argus" ]; then grep -q "argus\` not found" "$WORK/e8" || fail "missing argus not reported"; fi
# `argus report RUN_DIR` runs after collection (a stand-in `argus` on PATH when the real
# one is not built next to argus-run); its failure does not change the status.
if [ ! -x "$BUILD_DIR/bin/argus" ]; then
  mkdir -p "$WORK/fakebin"
  cat >"$WORK/fakebin/argus" <<'SH'
#!/bin/sh
echo "$@" >"$2/report-called"; [ -f "$2/run_meta.json" ] && grep -q '"status": "finished"' "$2/run_meta.json" && echo ok >>"$2/report-called"
exit 4
SH
  chmod +x "$WORK/fakebin/argus"
  set +e; PATH="$WORK/fakebin:$PATH" "$ARGUS_RUN_BIN" --out "$WORK/r9" -- sh -c 'exit 6' 2>"$WORK/e9"; rc=$?; set -e
  [ $rc = 6 ] || fail "status with a failing report: $rc"
  [ "$(cat "$WORK/r9/report-called")" = "$(printf 'report %s\nok' "$WORK/r9")" ] || fail "argus report not called after completion: $(cat "$WORK/r9/report-called" 2>&1)"
  grep -q "failed (status 4)" "$WORK/e9" || fail "report failure not said"
fi
echo PASS
