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
echo PASS
