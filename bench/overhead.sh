#!/usr/bin/env bash
# scripts/bench overhead — what libargus.so costs, on simgpu.
#   launch_overhead_ns: ns added per intercepted cudaLaunchKernel, hooked minus unhooked in one
#     run: bench-launch-loop under LD_PRELOAD alternates batches of launches through the hook
#     and through libcudart's own cudaLaunchKernel (same process, same threads, same simgpu
#     state); the median over RUNS runs of N launches each.  Hooks + record only (CUPTI off and
#     its event-pair fallback off).  launch_overhead_ratio: hooked / unhooked, the same way.
#     launch_overhead_with_cupti_ns: the same with CUPTI activity collection on.
#     launch_overhead_event_sampling_ns: CUPTI off and the fallback on (sampled CUDA event
#     pairs, as when CUPTI is missing or taken by another profiler).
#     launch_noise_ns: the same difference in an unhooked process (both ways are then the same
#     function): what the method cannot resolve.
#   launch_process_delta_ns: hooked process minus unhooked process (min of RUNS).  It holds more
#     than the hook: launch_idle_thread_delta_ns is the same delta for an unhooked process with
#     one extra sleeping thread (bench-idle-thread), which changes where the scheduler puts
#     simgpu's worker thread and so the cost of its device mutex.  That is simgpu's, not ours.
#   step_overhead_pct: end-to-end step time of a simtrain replay of
#     ../shared/traces/a100-16rank-rank0.json.gz (kernel sequence and durations of one real
#     ProfilerStep), hooked (LD_PRELOAD + CUDA/NVTX injection, CUPTI on) vs unhooked, min of RUNS.
#   step_overhead_event_sampling_pct: the replay with CUPTI off and the event-pair fallback on.
#   self_overhead_ns: the interposer's own measurement of its hook bodies (record integrity).
# Timing on a shared, loaded machine is noisy (paired batches and medians help, not fully):
# bench/overhead-ir.sh gives the noise-free companion figure (callgrind instructions/launch).
# Last line: one JSON object.  Env: RUNS (default 5), LAUNCHES (default 200000), STEPS (20).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${ARGUS_BUILD_DIR:-$root/build}
runs=${RUNS:-5}
launches=${LAUNCHES:-200000}
steps=${STEPS:-20}
trace=${ARGUS_TRACE:-$("$root/scripts/shared-dir" || true)/traces/a100-16rank-rank0.json.gz}
lib=$build/lib/libargus.so
idle=$build/lib/libbench-idle-thread.so
for f in "$lib" "$idle" "$build/bin/bench-launch-loop" "$build/bin/simtrain" "$build/bin/argus-recdump"; do
  [ -e "$f" ] || { echo "bench overhead: $f: not built" >&2; exit 2; }
done
[ -r "$trace" ] || { echo "bench overhead: $trace: cannot read the trace" >&2; exit 2; }
tmp=$(mktemp -d)
shm=$(mktemp -d -p /dev/shm 2>/dev/null || mktemp -d)  # records on tmpfs, as in production
trap 'rm -rf "$tmp" "$shm"' EXIT
export LD_LIBRARY_PATH=$build/lib/simgpu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

# Workload from the trace: the kernels of ProfilerStep #2 in start order (runs of the same
# kernel merged), each with the median duration of that kernel over the whole trace.
python3 - "$trace" "$tmp/replay.json" "$steps" <<'EOF'
import gzip, json, statistics, sys
src, dst, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = json.load(gzip.open(src))
ev = d["traceEvents"] if isinstance(d, dict) else d
st = sorted((e for e in ev if str(e.get("name", "")).startswith("ProfilerStep#")), key=lambda e: e["ts"])
ks = [e for e in ev if e.get("cat") == "kernel"]
durs = {}
for k in ks:
    durs.setdefault(k["name"], []).append(float(k["dur"]))
s = st[1]
inside = sorted((k for k in ks if s["ts"] <= k["ts"] < s["ts"] + s["dur"]), key=lambda k: k["ts"])
seq = []
for k in inside:
    if seq and seq[-1]["kernel"] == k["name"]:
        seq[-1]["count"] += 1
    else:
        seq.append({"kernel": k["name"], "count": 1, "median_us": max(1.0, statistics.median(durs[k["name"]])), "sigma": 0.05})
gpu_us = sum(x["count"] * x["median_us"] for x in seq)
host_us = max(0.0, float(s["dur"]) - gpu_us)  # the rest of the real step was host time
json.dump({"world_size": 1, "steps": steps, "seed": 1, "host_us": host_us, "sequence": seq}, open(dst, "w"))
print("replay: %d kernels/step, %.1f ms GPU, %.1f ms host per step" % (len(inside), gpu_us / 1000, host_us / 1000), file=sys.stderr)
EOF

launch_loop() {  # $1 = plain|idle|hooked|cupti|events → "linked direct" ns per launch
  local d=$shm/ll-$RANDOM
  mkdir -p "$d"
  case $1 in
    plain) "$build/bin/bench-launch-loop" "$launches" ;;
    idle) LD_PRELOAD=$idle "$build/bin/bench-launch-loop" "$launches" ;;
    hooked) ARGUS_SHM_DIR=$d ARGUS_CUPTI=0 ARGUS_EVENT_SAMPLING=0 LD_PRELOAD=$lib "$build/bin/bench-launch-loop" "$launches" ;;
    events) ARGUS_SHM_DIR=$d ARGUS_CUPTI=0 LD_PRELOAD=$lib "$build/bin/bench-launch-loop" "$launches" ;;
    cupti) ARGUS_SHM_DIR=$d LD_PRELOAD=$lib CUDA_INJECTION64_PATH=$lib "$build/bin/bench-launch-loop" "$launches" ;;
  esac | awk '/^ns_per_launch / {l = $2} /^ns_per_launch_direct / {d = $2} END {print l "," d}'
  if [ "$1" = hooked ]; then "$build/bin/argus-recdump" "$d"/argus-* > "$tmp/self-$RANDOM.json"; fi
  rm -rf "$d"
}
replay() {  # $1 = plain|hooked|hooks|events → seconds for the run (hooks: CUPTI and events off; events: CUPTI off)
  local d=$shm/rp-$RANDOM
  mkdir -p "$d"
  local t0 t1
  t0=$(date +%s.%N)
  if [ "$1" = plain ]; then
    SIMGPU_WORKLOAD=$tmp/replay.json SIMTRAIN_RENDEZVOUS=$d "$build/bin/simtrain" >/dev/null
  elif [ "$1" = hooks ] || [ "$1" = events ]; then
    local ev=0
    [ "$1" = events ] && ev=  # empty: the default sampling rate
    SIMGPU_WORKLOAD=$tmp/replay.json SIMTRAIN_RENDEZVOUS=$d ARGUS_SHM_DIR=$d ARGUS_CUPTI=0 ARGUS_EVENT_SAMPLING=$ev \
      LD_PRELOAD=$lib NVTX_INJECTION64_PATH=$lib "$build/bin/simtrain" >/dev/null
  else
    SIMGPU_WORKLOAD=$tmp/replay.json SIMTRAIN_RENDEZVOUS=$d ARGUS_SHM_DIR=$d LD_PRELOAD=$lib \
      CUDA_INJECTION64_PATH=$lib NVTX_INJECTION64_PATH=$lib "$build/bin/simtrain" >/dev/null
  fi
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
  rm -rf "$d"
}

plain=() idlet=() hooked=() cupti=() events=() rplain=() rhooked=() rhooks=() revents=()
for ((i = 0; i < runs; i++)); do
  plain+=("$(launch_loop plain)"); idlet+=("$(launch_loop idle)"); hooked+=("$(launch_loop hooked)")
  cupti+=("$(launch_loop cupti)"); events+=("$(launch_loop events)")
  rplain+=("$(replay plain)"); rhooked+=("$(replay hooked)"); rhooks+=("$(replay hooks)"); revents+=("$(replay events)")
  echo "run $i: launch (linked,direct) plain ${plain[-1]} idle-thread ${idlet[-1]} hooked ${hooked[-1]} cupti ${cupti[-1]} events ${events[-1]} ns;" \
       "replay plain ${rplain[-1]} hooked ${rhooked[-1]} hooks-only ${rhooks[-1]} events ${revents[-1]} s" >&2
done
python3 - "$tmp" "$steps" "${plain[*]}" "${hooked[*]}" "${cupti[*]}" "${rplain[*]}" "${rhooked[*]}" "${rhooks[*]}" \
  "${events[*]}" "${revents[*]}" "${idlet[*]}" <<'EOF'
import glob, json, statistics, sys
tmp, steps = sys.argv[1], int(sys.argv[2])
pair = lambda a: [tuple(float(v) for v in x.split(",")) for x in a.split()]  # (linked, direct)
p, h, c = pair(sys.argv[3]), pair(sys.argv[4]), pair(sys.argv[5])
rp, rh, rk = ([float(x) for x in a.split()] for a in sys.argv[6:9])
ev, rev, idle = pair(sys.argv[9]), [float(x) for x in sys.argv[10].split()], pair(sys.argv[11])
added = lambda runs: statistics.median(l - d for l, d in runs)  # paired, within each run
self_ns = []
for f in glob.glob(tmp + "/self-*.json"):
    i = json.load(open(f))["integrity"]
    if i["overhead_samples"]:
        self_ns.append(i["overhead_sum_ns"] / i["overhead_samples"])
out = {
    "launch_plain_ns": round(min(l for l, _ in p), 2),
    "launch_hooked_ns": round(min(l for l, _ in h), 2),
    "launch_direct_ns": round(min(d for _, d in h), 2),
    "launch_overhead_ns": round(added(h), 2),
    "launch_overhead_ratio": round(statistics.median(l / d for l, d in h), 4),
    "launch_overhead_with_cupti_ns": round(added(c), 2),
    "launch_overhead_event_sampling_ns": round(added(ev), 2),
    "launch_noise_ns": round(statistics.median(abs(l - d) for l, d in p), 2),
    "launch_process_delta_ns": round(min(l for l, _ in h) - min(l for l, _ in p), 2),
    "launch_idle_thread_delta_ns": round(min(l for l, _ in idle) - min(l for l, _ in p), 2),
    "self_overhead_ns_per_sampled_call": round(min(self_ns), 1) if self_ns else None,
    "step_plain_ms": round(min(rp) * 1000 / steps, 3),
    "step_hooked_ms": round(min(rh) * 1000 / steps, 3),
    "step_overhead_pct": round((min(rh) - min(rp)) / min(rp) * 100, 3),
    "step_overhead_hooks_only_pct": round((min(rk) - min(rp)) / min(rp) * 100, 3),
    "step_overhead_event_sampling_pct": round((min(rev) - min(rp)) / min(rp) * 100, 3),
    "step_noise_pct": round((max(rp) - min(rp)) / min(rp) * 100, 3),
    "runs": len(p),
}
print(json.dumps(out))
EOF
