# `argus doctor` on this machine (no GPU, no driver): a fail line saying there is no driver,
# exit 1, nothing on stderr.  Under scripts/with-simgpu it finds simgpu's libraries and a
# device: exit 0.  With SIMGPU_CUPTI_BUSY=1 it reports CUPTI as busy.
. "$(dirname "$0")/lib.sh"
set +e
env -u LD_LIBRARY_PATH "$ARGUS_BIN" doctor >"$WORK/out" 2>"$WORK/err"; rc=$?
set -e
cat "$WORK/out"
[ -s "$WORK/err" ] && { cat "$WORK/err" >&2; fail "doctor wrote to stderr"; }
grep -Evq '^(ok|warn|fail) ' <(sed '$d' "$WORK/out") && fail "a line without ok/warn/fail"
if [ -e /dev/nvidiactl ]; then skip "this machine has an NVIDIA driver"; fi
[ $rc = 1 ] || fail "exit $rc on a machine without a GPU, expected 1"
grep -q '^fail  CUDA driver: .*no NVIDIA driver\|^fail  CUDA driver: .*no usable GPU' "$WORK/out" || fail "no GPU not reported"
grep -q '^ok    shared memory /dev/shm' "$WORK/out" || fail "/dev/shm check"
tail -1 "$WORK/out" | grep -q "observation NOT possible" || fail "summary line"
[ -e "$BUILD_DIR/lib/simgpu/libcudart.so.13" ] || skip "simgpu is not built"
"$SRC_DIR/scripts/with-simgpu" -- "$ARGUS_BIN" doctor >"$WORK/sim" 2>"$WORK/sim.err" || { cat "$WORK/sim" "$WORK/sim.err" >&2; fail "doctor on simgpu: exit $?"; }
cat "$WORK/sim"
grep -q "^ok    CUDA driver: .*device(s) ($BUILD_DIR/lib/simgpu/libcuda.so.1)" "$WORK/sim" || fail "simgpu driver not found"
grep -q "^ok    CUPTI subscriber: free" "$WORK/sim" || fail "CUPTI subscriber"
grep -q "^ok    NCCL: libnccl.so.2 version 2\." "$WORK/sim" || fail "NCCL"
set +e; SIMGPU_CUPTI_BUSY=1 "$SRC_DIR/scripts/with-simgpu" -- "$ARGUS_BIN" doctor >"$WORK/busy" 2>&1; set -e
grep -q "^warn  CUPTI subscriber: busy" "$WORK/busy" || { cat "$WORK/busy" >&2; fail "busy CUPTI not reported"; }
# Leftover segments of a dead process: reported, and collected + removed by --clean.  In a
# private mount namespace with its own /dev/shm so other runs' segments are never touched.
unshare -m true 2>/dev/null || skip "no mount namespaces here: --clean not tested"
cat >"$WORK/w1.json" <<'JSON'
{"world_size": 1, "steps": 2, "seed": 1, "host_us": 100,
 "sequence": [{"kernel": "sm80_xmma_gemm_bf16bf16_bf16f32_f32_tn_n", "count": 1, "median_us": 50.0, "sigma": 0.02}]}
JSON
cd "$WORK"
unshare -m bash -c '
  set -e
  mount -t tmpfs tmpfs /dev/shm
  RANK=0 WORLD_SIZE=1 ARGUS_RUN_ID=opsleft ARGUS_HOST=hostx LD_PRELOAD="$1/lib/libargus.so"     "$2/scripts/with-simgpu" --workload "$3" -- simtrain >/dev/null
  ls /dev/shm/argus-*-opsleft-hostx-* >/dev/null
  "$4" doctor >"$5/left" 2>&1 || true
  "$4" doctor --clean >"$5/clean" 2>&1 || true
  "$4" doctor >"$5/after" 2>&1 || true
  ! ls /dev/shm/argus-* 2>/dev/null
' _ "$BUILD_DIR" "$SRC_DIR" "$WORK/w1.json" "$ARGUS_BIN" "$WORK" || { cat "$WORK"/left "$WORK"/clean >&2; fail "--clean left segments behind"; }
grep -q "^warn  leftover segments: 1 segment(s) of dead processes of run 'opsleft'" "$WORK/left" || { cat "$WORK/left" >&2; fail "leftover not reported"; }
grep -q "^ok    leftover segments: .*collected 1 record(s) into argus-leftovers/opsleft" "$WORK/clean" || { cat "$WORK/clean" >&2; fail "--clean"; }
grep -q "^ok    leftover segments: none" "$WORK/after" || fail "still leftovers after --clean"
ls "$WORK"/argus-leftovers/opsleft/ranks/hostx-*.argus >/dev/null || fail "record not collected"
echo PASS
