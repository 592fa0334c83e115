# argus-run over a real CPU PyTorch DDP training (gloo, 2 ranks, torchrun), script unchanged:
# one record per rank, the right number of steps, PyTorch version in run_meta.json.
. "$(dirname "$0")/lib.sh"
need_libargus
STEPS=4
port=$((20000 + $$ % 20000))
# Debian's torchrun 1.13 on Python 3.11 fails with the default --redirects/--tee "0"
# (Std.from_str: Flag iteration skips 0 on 3.11); "1" (stdout, teed) avoids that path.
set +e
"$ARGUS_RUN_BIN" --no-report --out "$WORK/run" -- /usr/bin/torchrun --nproc_per_node 2 --master_port $port \
  --redirects 1 --tee 1 --log_dir "$WORK/logs" "$SRC_DIR/examples/pytorch/train_ddp.py" --steps $STEPS \
  >"$WORK/out" 2>"$WORK/err"
rc=$?
set -e
[ $rc = 0 ] || { tail -30 "$WORK/err" >&2; fail "job status $rc"; }
. "$TEST_DIR/check_ddp.sh"
check_ddp "$WORK/run" $STEPS
echo PASS
