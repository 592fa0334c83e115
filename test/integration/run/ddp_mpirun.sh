# The same DDP training under mpirun (Open MPI): ranks from OMPI_COMM_WORLD_*.
. "$(dirname "$0")/lib.sh"
need_libargus
command -v mpirun >/dev/null || skip "mpirun is not installed"
STEPS=3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
set +e
"$ARGUS_RUN_BIN" --no-report --out "$WORK/run" -- mpirun -np 2 --oversubscribe -x MASTER_PORT=$((20000 + $$ % 20000)) \
  "$PY" "$SRC_DIR/examples/pytorch/train_ddp.py" --steps $STEPS >"$WORK/out" 2>"$WORK/err"
rc=$?
set -e
[ $rc = 0 ] || { tail -30 "$WORK/err" >&2; fail "job status $rc"; }
. "$TEST_DIR/check_ddp.sh"
check_ddp "$WORK/run" $STEPS
echo PASS
