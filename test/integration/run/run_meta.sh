# run_meta.json: validates against schemas/run_meta.schema.json, records allow-listed
# variables only (credential-like allow-listed names masked), reads nvidia-smi when present,
# and is identical on two runs of the same job except times and ids.
. "$(dirname "$0")/lib.sh"
cd "$WORK"
mkdir -p rdv1 rdv2
export NCCL_DEBUG=INFO OMP_NUM_THREADS=3 TORCH_HUB_TOKEN=s3cr3t-hub-value NCCL_IB_SECRET_KEY=s3cr3t-nccl-value
export MY_PRIVATE_THING=s3cr3t-plain-value DATABASE_URL=postgres://u:s3cr3t-pw@db/x
export CUDA_CACHE_PATH=https://user:s3cr3t-url-pass@example.com/x
run() { unset ARGUS_RUN_ID; "$ARGUS_RUN_BIN" --no-report --name meta -- sh -c 'exit 0' 2>/dev/null; }
run; sleep 1.1; run
dirs=$(ls -d argus-runs/*-meta | sort)
[ "$(echo "$dirs" | wc -l)" = 2 ] || fail "expected two run dirs under ./argus-runs: $dirs"
a=$(echo "$dirs" | head -1); b=$(echo "$dirs" | tail -1)
for d in $a $b; do validate_meta "$d/run_meta.json"; done
grep -r "s3cr3t" argus-runs >/dev/null && fail "a secret value reached the run directory: $(grep -rl s3cr3t argus-runs)"
m="$a/run_meta.json"
[ "$(q "$m" "d['environment']['NCCL_DEBUG'], d['environment']['OMP_NUM_THREADS']")" = "('INFO', '3')" ] || fail "allow-listed values"
[ "$(q "$m" "d['environment']['TORCH_HUB_TOKEN'], d['environment']['NCCL_IB_SECRET_KEY'], d['environment']['CUDA_CACHE_PATH']")" = \
  "('<masked>', '<masked>', '<masked>')" ] || fail "masking"
[ "$(q "$m" "'MY_PRIVATE_THING' in d['environment'] or 'DATABASE_URL' in d['environment'] or 'PATH' in d['environment']")" = False ] || fail "non-allow-listed name recorded"
[ "$(q "$m" "d['hosts'][0]['machine']['gpu']['available'], d['hosts'][0]['machine']['gpu']['reason'][:13]")" = "(False, 'not available')" ] || fail "gpu without nvidia-smi"
[ "$(q "$m" "d['hosts'][0]['software']['pytorch']")" = "not available" ] || fail "software without a python job"
# Identical except times and ids.
normalise() {
  "$PY" - "$1" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
VOLATILE = {"run_id", "start_time", "end_time", "time", "duration_seconds", "launch_id", "pid", "file", "host_load"}
def strip(x):
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items() if k not in VOLATILE}
    if isinstance(x, list):
        return [strip(v) for v in x]
    return x
print(json.dumps(strip(d), sort_keys=True, indent=1))
PYEOF
}
normalise "$a/run_meta.json" >na; normalise "$b/run_meta.json" >nb
diff na nb >&2 || fail "run_meta.json differs between two runs beyond times and ids"
[ "$(q "$a/run_meta.json" "d['run_id']")" != "$(q "$b/run_meta.json" "d['run_id']")" ] || fail "run ids should differ"

# The same with a real job (4 simtrain ranks on simgpu recorded by libargus): processes,
# steps, states and versions agree too.
if [ -f "$BUILD_DIR/lib/libargus.so" ] && [ -x "$BUILD_DIR/bin/simtrain" ] && [ -x "$SRC_DIR/scripts/with-simgpu" ]; then
  cat >w.json <<'JSON'
{"world_size": 4, "steps": 5, "seed": 2, "host_us": 1000,
 "sequence": [{"kernel": "sm80_xmma_gemm_bf16bf16_bf16f32_f32_tn_n", "count": 2, "median_us": 100.0, "sigma": 0.02},
              {"collective": "allreduce", "dtype": "bf16", "bytes": 65536}]}
JSON
  simtrain_launcher launch.sh 0 4 4
  for i in 1 2; do
    SIMTRAIN_RENDEZVOUS="$WORK/rdv$i" "$ARGUS_RUN_BIN" --no-report --out "sim$i" -- "$SRC_DIR/scripts/with-simgpu" --workload w.json -- ./launch.sh >/dev/null 2>&1 \
      || fail "simtrain run $i failed"
    validate_meta "sim$i/run_meta.json"
  done
  [ "$(q sim1/run_meta.json "len(d['processes'])")" = 4 ] || fail "simtrain processes"
  # The host's CPU while the job ran: the 4 ranks are the job's CPU, shares of the capacity.
  [ "$(q sim1/run_meta.json "(lambda h: (h['cpus'] >= 1, 0 < h['job_share'] <= 1, 0 <= h['other_share'] <= 1, h['job_share'] + h['other_share'] <= 1.001))(d['launches'][0]['host_load'])")" = \
    "(True, True, True, True)" ] || fail "host_load: $(q sim1/run_meta.json "d['launches'][0].get('host_load')")"
  normalise sim1/run_meta.json >s1; normalise sim2/run_meta.json >s2
  diff s1 s2 >&2 || fail "run_meta.json of two simtrain runs differs beyond times and ids"
fi

# With nvidia-smi present (a stand-in printing two A100s), GPUs are recorded and the live
# readings (temperature, clocks) are kept out of the fingerprints.
mkdir -p fakebin
cat >fakebin/nvidia-smi <<SH
#!/bin/sh
echo "0, NVIDIA A100-SXM4-80GB, GPU-aaaa, 00000000:07:00.0, 550.54.15, 81920, 1410, 1593, Enabled, 400.00, 210, 1593, \${TEMP:-31}, 0"
echo "1, NVIDIA A100-SXM4-80GB, GPU-bbbb, 00000000:0F:00.0, 550.54.15, 81920, 1410, 1593, Enabled, 400.00, 1410, 1593, \${TEMP2:-33}, [N/A]"
SH
chmod +x fakebin/nvidia-smi
PATH="$WORK/fakebin:$PATH" TEMP=30 "$ARGUS_RUN_BIN" --no-report --out g1 -- true 2>/dev/null
PATH="$WORK/fakebin:$PATH" TEMP=77 "$ARGUS_RUN_BIN" --no-report --out g2 -- true 2>/dev/null
validate_meta g1/run_meta.json
[ "$(q g1/run_meta.json "[(g['name'], g['memory_total_mib'], g['readings']['temperature_c']) for g in d['hosts'][0]['machine']['gpu']['devices']]")" = \
  "[('NVIDIA A100-SXM4-80GB', 81920, 30), ('NVIDIA A100-SXM4-80GB', 81920, 33)]" ] || fail "nvidia-smi parse"
[ "$(q g1/run_meta.json "d['hosts'][0]['fingerprint']")" = "$(q g2/run_meta.json "d['hosts'][0]['fingerprint']")" ] || fail "readings changed the fingerprint"
[ "$(q g1/run_meta.json "d['hosts'][0]['fingerprint']['hardware']")" != "$(q "$m" "d['hosts'][0]['fingerprint']['hardware']")" ] || fail "GPUs must change the hardware fingerprint"
echo PASS
