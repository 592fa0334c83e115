# A 2-rank simtrain run planted with a user name, a host name, an IP, a home path and an API
# key in an allow-listed variable (through the real launch: ARGUS_HOST, MASTER_ADDR, cwd,
# NCCL_* environment; plus a note appended to report.md).  After `export --sanitize` none of
# them appears in any byte of the decompressed archive; the sanitized run still reports and
# compares.  The plain export keeps them (so the grep is known to work).
. "$(dirname "$0")/lib.sh"
need_simgpu
USER_P=jdoeplanted
HOST_P=node-secret-a17
IP_P=10.77.3.21
HOME_P=/home/$USER_P
KEY_P=sk-live-7f3a9c0e5d2b4a6189
cat >"$WORK/w.json" <<'JSON'
{"world_size": 2, "steps": 5, "seed": 1, "host_us": 500,
 "sequence": [
   {"kernel": "sm80_xmma_gemm_bf16bf16_bf16f32_f32_tn_n", "count": 2, "median_us": 100.0, "sigma": 0.02},
   {"collective": "allreduce", "dtype": "bf16", "bytes": 65536}]}
JSON
export SIMTRAIN_RENDEZVOUS="$WORK/rdv"
mkdir -p "$SIMTRAIN_RENDEZVOUS" "$WORK$HOME_P/proj"
cd "$WORK$HOME_P/proj"
USER=$USER_P HOME=$HOME_P ARGUS_HOST=$HOST_P MASTER_ADDR=$IP_P NCCL_SOCKET_IFNAME=$KEY_P ARGUS_RUN_ID="ops$$exp" \
  "$ARGUS_RUN_BIN" --out "$WORK/run" -- "$SRC_DIR/scripts/with-simgpu" --workload "$WORK/w.json" -- \
  bash -c 'for r in 0 1; do RANK=$r LOCAL_RANK=$r WORLD_SIZE=2 simtrain & done; wait' >"$WORK/out" 2>"$WORK/err" \
  || { cat "$WORK/err" >&2; fail "the run failed"; }
cd "$WORK"
[ "$(ls run/ranks/*.argus | wc -l)" = 2 ] || fail "expected 2 records"
echo "run by $USER_P on $HOST_P ($IP_P) from $HOME_P/proj with $KEY_P" >>run/report.md
for s in "$HOST_P" "$IP_P" "$KEY_P" "$HOME_P"; do
  grep -rqaF -- "$s" run || fail "planting failed: $s not in the run directory"
done
# Plain export: everything is there (the archive is complete and greppable).
"$ARGUS_BIN" export run -o plain.tar.zst >/dev/null
zstd -q -dc plain.tar.zst >plain.tar
for s in "$USER_P" "$HOST_P" "$IP_P" "$KEY_P" "$HOME_P"; do grep -qaF -- "$s" plain.tar || fail "plain export lacks $s"; done
# Sanitized export.
t0=$(now)
"$ARGUS_BIN" export run --sanitize -o clean.tar.zst >/dev/null
echo "export --sanitize took $(elapsed "$t0")s; archive $(stat -c %s clean.tar.zst) bytes"
zstd -q -dc clean.tar.zst >clean.tar
for s in "$USER_P" "$HOST_P" "$IP_P" "$KEY_P" "$HOME_P" "secret-a17" "7f3a9c0e5d2b"; do
  if grep -qaF -- "$s" clean.tar; then grep -aoF -- "$s" clean.tar | head -3 >&2; fail "sanitized archive still contains $s"; fi
done
mkdir x && tar -xf clean.tar -C x
ls x/run/ranks | grep -q '^host-[0-9]*-[0-9]*\.argus$' || fail "rank files not renamed consistently: $(ls x/run/ranks)"
grep -q '"<redacted>"' x/run/run_meta.json || fail "environment values not redacted"
# Every record names the same placeholder host as its file.
for f in x/run/ranks/*.argus; do
  h=$(dd if="$f" bs=1 skip=120 count=64 2>/dev/null | tr -d '\0')
  case "$(basename "$f")" in "$h"-*) ;; *) fail "$f: header host '$h' does not match its file name";; esac
done
# Still reportable and comparable.
"$ARGUS_BIN" report --format json x/run >/dev/null 2>report.err || { cat report.err >&2; fail "sanitized run does not report"; }
"$PY" -c "import json,sys; json.load(open(sys.argv[1]))" x/run/metrics.json || fail "metrics.json"
set +e; "$ARGUS_BIN" compare run x/run >compare.out 2>compare.err; rc=$?; set -e
[ $rc = 0 ] || [ $rc = 1 ] || [ $rc = 3 ] || { cat compare.err >&2; fail "compare exit $rc"; }
echo "compare exit $rc"
echo PASS
