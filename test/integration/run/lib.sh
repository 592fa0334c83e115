# Shared helpers of the argus-run integration tests (sourced).
set -euo pipefail
: "${ARGUS_RUN_BIN:?}" "${BUILD_DIR:?}" "${SRC_DIR:?}"
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/argus-run-test.XXXXXX)
cleanup() {
  local rc=$?
  if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then echo "FAILED (rc=$rc); work dir kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIPPED: $*" >&2; exit 77; }
# A run id unique to this test process, so segments of parallel tests never mix.
RUN_ID="t$$-$(basename "$0" .sh)"
# jq-free JSON queries: q FILE PYTHON_EXPR (the document is `d`).
q() { "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); r=($2); print(r)" "$1"; }
validate_meta() {
  "$PY" - "$1" "$SRC_DIR/schemas/run_meta.schema.json" <<'PYEOF'
import json, sys
try:
    import jsonschema
except ImportError:
    print("SKIPPED schema validation: python3-jsonschema is not installed", file=sys.stderr)
    sys.exit(0)
doc, schema = (json.load(open(p)) for p in sys.argv[1:3])
jsonschema.Draft7Validator.check_schema(schema)
jsonschema.validate(doc, schema)
PYEOF
}
no_segments_left() {  # no /dev/shm segment of this run id remains
  if ls /dev/shm/argus-"$(id -u)"-"$1"-* >/dev/null 2>&1; then ls -l /dev/shm/argus-"$(id -u)"-"$1"-* >&2; return 1; fi
}
need_libargus() { [ -f "$BUILD_DIR/lib/libargus.so" ] || skip "libargus.so is not built yet (branch interpose)"; }
need_simgpu() {
  [ -x "$BUILD_DIR/bin/simtrain" ] || skip "simtrain is not built yet (branch simgpu)"
  [ -x "$SRC_DIR/scripts/with-simgpu" ] || skip "scripts/with-simgpu does not exist yet (branch simgpu)"
}
# simtrain_launcher FILE FIRST_RANK COUNT WORLD: writes a torchrun-like launcher script that
# starts ranks FIRST_RANK..FIRST_RANK+COUNT-1 of a WORLD-rank simtrain job; when one fails, it
# terminates the others and returns the first failure's status. Ranks start with SIGINT at its
# default (bash would start background jobs with SIGINT ignored; torchrun/mpirun do not).
simtrain_launcher() {
  cat >"$1" <<SH
#!/bin/bash
pids=()
for ((r = $2; r < $2 + $3; r++)); do RANK=\$r LOCAL_RANK=\$((r - $2)) WORLD_SIZE=$4 env --default-signal=INT,QUIT simtrain & pids+=(\$!); done
rc=0
for _ in "\${pids[@]}"; do
  wait -n; s=\$?
  if [ \$s != 0 ] && [ \$rc = 0 ]; then rc=\$s; kill -TERM "\${pids[@]}" 2>/dev/null; fi
done
exit \$rc
SH
  chmod +x "$1"
}
