#!/usr/bin/env bash
# scripts/bench simgpu — CPU cost of simgpu: 8 simtrain ranks (processes) of a DDP-like
# workload on this machine; reports CPU seconds (user+sys of all ranks) per simulated step.
# simgpu sleeps until simulated times instead of spinning, so this stays far below the
# simulated GPU time per step. Last line: one JSON object.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${ARGUS_BUILD_DIR:-$root/build}
ranks=${SIMGPU_BENCH_RANKS:-8}
steps=${SIMGPU_BENCH_STEPS:-100}
exec python3 - "$root" "$build" "$ranks" "$steps" <<'PY'
import json, os, resource, subprocess, sys, tempfile, time
root, build, ranks, steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
tmp = tempfile.mkdtemp(prefix="simgpu-bench-")
seq = [{"kernel": "sm80_xmma_gemm_bf16bf16_bf16f32_f32_tn_n", "count": 40, "median_us": 120, "sigma": 0.03},
       {"kernel": "void at::native::vectorized_elementwise_kernel<4>", "count": 60, "median_us": 15, "sigma": 0.05},
       {"collective": "allreduce", "dtype": "bf16", "bytes": 25 << 20, "overlap": True},
       {"kernel": "sm80_xmma_gemm_bf16bf16_bf16f32_f32_nn_n", "count": 40, "median_us": 110, "sigma": 0.03},
       {"collective": "allreduce", "dtype": "bf16", "bytes": 25 << 20, "overlap": True},
       {"kernel": "multi_tensor_apply_kernel", "count": 4, "median_us": 50, "sigma": 0.02}]
wl = {"world_size": ranks, "steps": steps, "seed": 1, "host_us": 2000, "link_gbps": 200, "sequence": seq}
path = os.path.join(tmp, "bench.json")
json.dump(wl, open(path, "w"))
kernels_per_step = sum(i.get("count", 1) for i in seq)
t0 = time.time()
before = resource.getrusage(resource.RUSAGE_CHILDREN)
procs = []
for r in range(ranks):
    env = dict(os.environ, RANK=str(r), WORLD_SIZE=str(ranks), LOCAL_RANK=str(r),
               SIMTRAIN_RENDEZVOUS=os.path.join(tmp, "rdzv"))
    procs.append(subprocess.Popen([os.path.join(root, "scripts", "with-simgpu"), "--build", build, "--workload", path,
                                   "--", os.path.join(build, "bin", "simtrain")], env=env, stdout=subprocess.DEVNULL))
rc = [p.wait() for p in procs]
wall = time.time() - t0
after = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
if any(rc):
    print("bench simgpu: a rank failed: %s" % rc, file=sys.stderr)
    sys.exit(1)
res = {"bench": "simgpu", "ranks": ranks, "steps": steps, "kernels_per_rank_step": kernels_per_step,
       "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
       "cpu_s_per_step": round(cpu / steps, 5),
       "cpu_us_per_kernel": round(cpu / (steps * ranks * kernels_per_step) * 1e6, 2),
       "simulated_step_ms": round(wall / steps * 1000, 2),
       "cpu_fraction_of_8_ranks_wall": round(cpu / (wall * os.cpu_count()), 3)}
print("per simulated step (all %d ranks): %.4f CPU s; wall %.1f ms/step" % (ranks, cpu / steps, wall / steps * 1000))
print(json.dumps(res))
PY
