#!/usr/bin/env python3
"""Integration tests of simgpu (run by ctest: simgpu_tests.py NAME --source S --build B ...).

Each test runs real processes on the simulated stack and checks the ground truth that
simgpu writes with SIMGPU_CUPTI_LOG (one JSON object per activity record, one file per pid).
"""
import argparse
import json
import os
import glob
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

A = None  # parsed arguments


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok: " + msg)


def with_simgpu(workload=None):
    cmd = [os.path.join(A.source, "scripts", "with-simgpu"), "--build", A.build]
    if workload:
        cmd += ["--workload", workload]
    return cmd + ["--"]


def simtrain():
    return os.path.join(A.build, "bin", "simtrain")


def write_workload(tmp, name, wl):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        json.dump(wl, f)
    return path


def rank_env(tmp, r, n, extra=None):
    env = dict(os.environ)
    env.update({"RANK": str(r), "WORLD_SIZE": str(n), "LOCAL_RANK": str(r),
                "SIMTRAIN_RENDEZVOUS": os.path.join(tmp, "rdzv"),
                "SIMGPU_CUPTI_LOG": os.path.join(tmp, "log")})
    if extra:
        env.update(extra)
    return env


def start_ranks(tmp, wl_path, n, extra=None):
    procs = []
    for r in range(n):
        procs.append(subprocess.Popen(with_simgpu(wl_path) + [simtrain()], env=rank_env(tmp, r, n, extra),
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return procs


def run_ranks(tmp, wl_path, n, extra=None, timeout=90):
    procs = start_ranks(tmp, wl_path, n, extra)
    out = []
    for p in procs:
        try:
            o, e = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            fail("ranks did not finish within %ds" % timeout)
        out.append((p.returncode, o, e))
    for i, (rc, o, e) in enumerate(out):
        if rc != 0:
            fail("rank %d exited %d: %s" % (i, rc, e.strip()))
    return out


def read_log(tmp, prefix="log"):
    recs = []
    for f in glob.glob(os.path.join(tmp, prefix + ".*")):
        with open(f) as fh:
            for line in fh:
                line = line.strip()
                if line:
                    recs.append(json.loads(line))
    return recs


def dur_us(r):
    return (r["end"] - r["start"]) / 1000.0


def is_nccl(r):
    return r["name"].startswith("ncclDevKernel")


TINY = os.path.join("examples", "workloads", "tiny.json")


# ---------------------------------------------------------------------------------------
def t_single(tmp):
    wl = os.path.join(A.source, TINY)
    run_ranks(tmp, wl, 1)
    recs = [r for r in read_log(tmp) if r["kind"] == "kernel"]
    check(len(recs) == 5 * 12, "5 steps x 12 kernels logged (%d)" % len(recs))
    by_step = {}
    for r in recs:
        by_step.setdefault(r["step"], []).append(r)
    check(sorted(by_step) == [0, 1, 2, 3, 4], "steps 0..4 present")
    gemm = [dur_us(r) for r in recs if "xmma_gemm" in r["name"]]
    med = statistics.median(gemm)
    check(abs(med - 150.0) / 150.0 < 0.03, "gemm median %.1f us ~ 150 us" % med)
    # A stream is a FIFO: no two ops on one stream overlap, and each starts after launch.
    by_stream = {}
    for r in recs:
        by_stream.setdefault(r["stream"], []).append(r)
    for s, rs in by_stream.items():
        rs.sort(key=lambda r: r["start"])
        for a, b in zip(rs, rs[1:]):
            if b["start"] < a["end"]:
                fail("ops overlap on stream %d" % s)
    check(True, "stream FIFO order holds")
    corrs = [r["corr"] for r in recs]
    check(len(set(corrs)) == len(corrs), "correlation ids are unique per launch")


def t_workload_errors(tmp):
    base = {"world_size": 1, "steps": 1, "sequence": [{"kernel": "k", "count": 1, "median_us": 5}]}
    cases = [
        (dict(base, bogus=1), "unknown field 'bogus'"),
        (dict(base, faults=[{"kind": "meteor", "ranks": [0]}]), "unknown fault kind 'meteor'"),
        ({"world_size": 1, "steps": 1}, "missing required field 'sequence'"),
        (dict(base, faults=[{"kind": "crash", "signal": "HUP"}]), "signal must be KILL, SEGV or ABRT"),
        (dict(base, sequence=[{"kernel": "k", "colour": "red"}]), "unknown field 'colour'"),
    ]
    for i, (wl, needle) in enumerate(cases):
        path = write_workload(tmp, "bad%d.json" % i, wl)
        p = subprocess.run(with_simgpu(path) + [simtrain()], capture_output=True, text=True, timeout=30)
        err = p.stderr.strip()
        check(p.returncode == 2, "bad workload %d exits 2 (got %d)" % (i, p.returncode))
        check(needle in err and path in err and len(err.splitlines()) == 1,
              "one-line error naming the file and '%s': %s" % (needle, err))
    for wl in sorted(glob.glob(os.path.join(A.source, "examples", "workloads", "*.json"))):
        p = subprocess.run([simtrain(), "--check", "--workload", wl], capture_output=True, text=True)
        check(p.returncode == 0, "example workload %s is valid" % os.path.basename(wl))
    with open(os.path.join(tmp, "junk.json"), "w") as f:
        f.write("{not json")
    p = subprocess.run(with_simgpu(os.path.join(tmp, "junk.json")) + [simtrain()], capture_output=True, text=True)
    check(p.returncode == 2 and "invalid JSON" in p.stderr, "invalid JSON is rejected")


def t_cupti_probe(tmp):
    wl = os.path.join(A.source, TINY)
    env = {"CUDA_INJECTION64_PATH": A.probe, "NVTX_INJECTION64_PATH": A.probe, "PROBE_OUT": os.path.join(tmp, "probe"),
           "PROBE_FLUSH_PERIOD_MS": "3", "PROBE_SLOW_CB_MS": "15",
           "PROBE_FLUSH_EACH_STEP": "1"}
    p = subprocess.run(with_simgpu(wl) + [simtrain(), "--steps", "60"], env=dict(rank_env(tmp, 0, 1), **env),
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "simtrain with the CUPTI probe injected exits 0 (%s)" % p.stderr.strip())
    check("not refused" not in p.stderr, "a second cuptiSubscribe is refused")
    truth = [r for r in read_log(tmp) if r["kind"] == "kernel"]
    got = read_log(tmp, "probe")
    summary = [r for r in got if r["kind"] == "summary"]
    check(len(summary) == 1, "probe wrote its summary")
    s = summary[0]
    kern = [r for r in got if r["kind"] == "kernel"]
    check(len(kern) == len(truth) == 60 * 12, "CUPTI delivered every kernel record (%d/%d)" % (len(kern), len(truth)))
    key = lambda r: (r["corr"], r["start"], r["end"], r["stream"])
    check(sorted(map(key, kern)) == sorted(map(key, truth)), "CUPTI records equal the ground truth (times, ids)")
    rt = {r["corr"]: r for r in got if r["kind"] == "runtime"}
    check(all(k["corr"] in rt and rt[k["corr"]]["cbid"] == 211 for k in kern),
          "every kernel's correlation id matches a cudaLaunchKernel runtime record")
    check(all(rt[k["corr"]]["start"] <= k["start"] for k in kern), "kernels start after their launch call")
    check(s["dropped"] == 0, "no dropped records")
    check(s["init_devices"] == 8, "the tool could call the runtime from InitializeInjection (reentrant init)")
    check(s["callbacks"] > 0, "runtime API callbacks reached the subscriber")
    pushes = [r["name"] for r in got if r["kind"] == "nvtx_push"]
    check(pushes == ["ProfilerStep#%d" % i for i in range(60)], "simtrain marks steps ProfilerStep#0..59 through NVTX")
    check(sum(r["kind"] == "nvtx_pop" for r in got) == 60, "every step range is popped")
    # Without application flushes, buffers come from CUPTI's own thread (periodic flush).
    p = subprocess.run(with_simgpu(wl) + [simtrain(), "--steps", "10"],
                       env=dict(rank_env(tmp, 0, 1), CUDA_INJECTION64_PATH=A.probe,
                                PROBE_OUT=os.path.join(tmp, "async"), PROBE_FLUSH_PERIOD_MS="3",
                                PROBE_WAIT_ASYNC_MS="20000"),
                       capture_output=True, text=True, timeout=60)
    got = read_log(tmp, "async")
    summary = [r for r in got if r["kind"] == "summary"]
    check(p.returncode == 0 and len(summary) == 1 and summary[0]["async"],
          "without application flushes, buffers were delivered from CUPTI's own thread")
    check(sum(r["kind"] == "kernel" for r in got) == 10 * 12, "and every kernel record arrived (%d/120)" %
          sum(r["kind"] == "kernel" for r in got))
    # CUPTI already taken: activity registration fails like with nsys attached.
    p = subprocess.run(with_simgpu(wl) + [simtrain(), "--steps", "2"],
                       env=dict(rank_env(tmp, 0, 1), CUDA_INJECTION64_PATH=A.probe,
                                PROBE_OUT=os.path.join(tmp, "busy"), SIMGPU_CUPTI_BUSY="1"),
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0 and not glob.glob(os.path.join(tmp, "busy.*")),
          "with SIMGPU_CUPTI_BUSY=1 the client cannot register and the app still runs")


def durations(tmp, wl_path):
    for f in glob.glob(os.path.join(tmp, "log.*")):
        os.unlink(f)
    run_ranks(tmp, wl_path, 1)
    recs = sorted([r for r in read_log(tmp) if r["kind"] == "kernel"], key=lambda r: r["start"])
    return [r["end"] - r["start"] for r in recs]


def t_determinism(tmp):
    with open(os.path.join(A.source, TINY)) as f:
        wl = json.load(f)
    a = durations(tmp, write_workload(tmp, "a.json", wl))
    b = durations(tmp, write_workload(tmp, "b.json", wl))
    check(a == b, "same seed -> identical kernel durations (%d kernels)" % len(a))
    wl["seed"] = wl["seed"] + 1
    c = durations(tmp, write_workload(tmp, "c.json", wl))
    check(a != c, "another seed -> different durations")


def t_faults_local(tmp):
    wl = {"world_size": 1, "steps": 6, "seed": 3, "host_us": 100,
          "sequence": [{"kernel": "flash_fwd_kernel", "count": 3, "median_us": 100, "sigma": 0.01},
                       {"kernel": "elementwise", "count": 3, "median_us": 50, "sigma": 0.01}],
          "faults": [{"kind": "slow_kernel", "ranks": [0], "steps": [2, 3], "kernel": "re:^flash", "factor": 2.0},
                     {"kind": "stall", "ranks": [0], "steps": [4, 4], "us": 300000},
                     {"kind": "jit_stall", "ranks": [0], "kernel": "elementwise", "ms": 200},
                     {"kind": "alloc_churn", "ranks": [0], "steps": [1, 5], "bytes": 1048576}]}
    t0 = time.time()
    run_ranks(tmp, write_workload(tmp, "f.json", wl), 1)
    wall = time.time() - t0
    recs = [r for r in read_log(tmp) if r["kind"] == "kernel"]
    fl = lambda s: statistics.median(dur_us(r) for r in recs if r["step"] == s and "flash" in r["name"])
    el = lambda s: statistics.median(dur_us(r) for r in recs if r["step"] == s and "elementwise" in r["name"])
    check(1.9 < fl(2) / fl(1) < 2.1 and 1.9 < fl(3) / fl(5) < 2.1, "slow_kernel doubles flash in steps 2-3")
    check(0.95 < el(2) / el(1) < 1.05, "slow_kernel leaves other kernels alone")
    first = lambda s: min(r["start"] for r in recs if r["step"] == s)
    last = lambda s: max(r["end"] for r in recs if r["step"] == s)
    gap4 = (first(4) - last(3)) / 1e6
    gap3 = (first(3) - last(2)) / 1e6
    check(gap4 > 300 and gap3 < 100, "stall pauses step 4 by 300 ms (gap %.1f ms, normal %.1f ms)" % (gap4, gap3))
    # jit_stall: the first elementwise launch blocks the host 200 ms; later ones do not.
    el0 = sorted([r for r in recs if "elementwise" in r["name"]], key=lambda r: r["start"])
    fl0 = sorted([r for r in recs if r["step"] == 0 and "flash" in r["name"]], key=lambda r: r["start"])
    check((el0[0]["start"] - fl0[-1]["end"]) / 1e6 > 190, "jit_stall delays the first matching launch by 200 ms")
    check(wall > 0.5, "the stalls took real time (%.2f s)" % wall)


def t_slow_rank_8(tmp):
    wl = {"world_size": 8, "steps": 12, "seed": 11, "host_us": 300, "link_gbps": 200,
          "sequence": [{"kernel": "sm80_xmma_gemm_bf16bf16_bf16f32_f32_tn_n", "count": 8, "median_us": 150, "sigma": 0.02},
                       {"collective": "allreduce", "dtype": "bf16", "bytes": 8388608, "overlap": True},
                       {"kernel": "sm80_xmma_gemm_bf16bf16_bf16f32_f32_nn_n", "count": 8, "median_us": 120, "sigma": 0.02},
                       {"collective": "allreduce", "dtype": "bf16", "bytes": 8388608, "overlap": True},
                       {"kernel": "multi_tensor_apply_kernel", "count": 1, "median_us": 40, "sigma": 0.02}],
          "faults": [{"kind": "slow_rank", "ranks": [3], "steps": [4, 11], "factor": 1.6}]}
    run_ranks(tmp, write_workload(tmp, "s.json", wl), 8)
    recs = [r for r in read_log(tmp) if r["kind"] == "kernel" and r["step"] >= 5]
    ranks = sorted({r["rank"] for r in recs})
    check(ranks == list(range(8)), "all 8 ranks logged")
    comp = {k: statistics.median(dur_us(r) for r in recs if r["rank"] == k and "tn_n" in r["name"]) for k in ranks}
    # Medians: 8 processes on 2 busy cores add host-scheduling jitter to every rank.
    nccl = {k: statistics.median(dur_us(r) for r in recs if r["rank"] == k and is_nccl(r)) for k in ranks}
    print("compute median per rank:", {k: round(v, 1) for k, v in comp.items()})
    print("nccl median per rank:", {k: round(v, 1) for k, v in nccl.items()})
    others = [k for k in ranks if k != 3]
    check(all(comp[3] > 1.5 * comp[k] for k in others), "rank 3's compute kernels are the slow ones")
    check(all(nccl[3] < nccl[k] for k in others), "rank 3's own NCCL kernels are the shortest")
    check(min(nccl[k] for k in others) > nccl[3] + 300, "the other ranks' NCCL kernels include waiting for rank 3")
    early = [r for r in read_log(tmp) if r["kind"] == "kernel" and r["step"] < 4 and is_nccl(r)]
    e3 = statistics.median(dur_us(r) for r in early if r["rank"] == 3)
    eo = statistics.median(dur_us(r) for r in early if r["rank"] != 3)
    check(eo < 2 * e3 + 2000, "before the fault NCCL durations are comparable (%.0f vs %.0f us)" % (eo, e3))


def t_slow_link(tmp):
    n = 4
    wl = {"world_size": n, "steps": 8, "seed": 4, "host_us": 200, "link_gbps": 400, "rank_speed": {"1": 0.5},
          "sequence": [{"kernel": "gemm", "count": 4, "median_us": 100, "sigma": 0.01},
                       {"collective": "allreduce", "dtype": "bf16", "bytes": 33554432},
                       {"kernel": "optim", "count": 1, "median_us": 20, "sigma": 0.01}],
          "faults": [{"kind": "slow_link", "ranks": [2], "steps": [4, 7], "factor": 4.0}]}
    run_ranks(tmp, write_workload(tmp, "sl.json", wl), n)
    recs = [r for r in read_log(tmp) if r["kind"] == "kernel"]
    g = {k: statistics.median(dur_us(r) for r in recs if r["rank"] == k and r["name"] == "gemm") for k in range(n)}
    check(1.9 < g[1] / g[0] < 2.1, "rank_speed 0.5 doubles rank 1's kernels (%.0f vs %.0f us)" % (g[1], g[0]))
    # The ring is as fast as its slowest link: every rank's allreduce slows down, but only the
    # transfer part: from the last rank's arrival (the latest NCCL kernel start of the step;
    # usually rank 1, the slow one, but a descheduled host on a busy machine can be later)
    # to the common end.
    def transfer_us(step):
        nccl = [r for r in recs if is_nccl(r) and r["step"] == step]
        end = [r["end"] for r in nccl if r["rank"] == 1][0]
        return (end - max(r["start"] for r in nccl)) / 1000.0
    x = lambda lo, hi: statistics.median(transfer_us(s) for s in range(lo, hi + 1))
    before, during = x(1, 3), x(5, 7)
    expect = 2 * 3 / 4 * 33554432 / (400e9 / 8) * 1e6  # ring transfer at full speed, in us
    check(abs(before - expect) / expect < 0.2, "allreduce takes the ring time 2(n-1)/n*bytes/bw (%.0f vs %.0f us)" % (before, expect))
    check(3.5 < during / before < 4.3, "slow_link x4 on rank 2 makes the ring 4x slower (%.0f -> %.0f us)" % (before, during))


def t_collectives(tmp):
    n = 4
    wl = {"world_size": n, "steps": 3, "seed": 9, "link_gbps": 100,
          "sequence": [{"kernel": "fwd", "count": 2, "median_us": 50},
                       {"collective": "allreduce", "dtype": "bf16", "bytes": 1 << 20},
                       {"collective": "allgather", "dtype": "f16", "bytes": 1 << 20},
                       {"collective": "reducescatter", "dtype": "f32", "bytes": 1 << 20, "op": "max"},
                       {"collective": "broadcast", "dtype": "u8", "bytes": 1 << 20},
                       {"collective": "reduce", "dtype": "f32", "bytes": 1 << 20, "op": "avg"},
                       {"collective": "sendrecv", "dtype": "f32", "bytes": 1 << 20}]}
    run_ranks(tmp, write_workload(tmp, "all.json", wl), n)
    recs = [r for r in read_log(tmp) if r["kind"] == "kernel" and is_nccl(r)]
    want = ["ncclDevKernel_AllReduce_Sum_bf16_RING_LL", "ncclDevKernel_AllGather_RING_LL",
            "ncclDevKernel_ReduceScatter_MinMax_f32_RING_LL", "ncclDevKernel_Broadcast_RING_LL",
            "ncclDevKernel_Reduce_SumPostDiv_f32_RING_LL", "ncclDevKernel_SendRecv"]
    for k in range(n):
        mine = [r["name"] for r in sorted((r for r in recs if r["rank"] == k), key=lambda r: r["start"])]
        check(mine == want * 3, "rank %d ran every collective kind in order, named like NCCL's kernels" % k)
    # All ranks leave a collective together: same end time on every rank (ring model).
    for name in want[:-1]:
        ends = sorted({r["end"] for r in recs if r["name"] == name and r["step"] == 1})
        check(len(ends) == 1, "%s ends at the same instant on all ranks" % name)
    ar = statistics.median(dur_us(r) for r in recs if r["name"] == want[0])
    ag = statistics.median(dur_us(r) for r in recs if r["name"] == want[1])
    check(ag < ar, "allgather moves half the bytes of allreduce per link (%.0f < %.0f us)" % (ag, ar))


def t_no_spin(tmp):
    # Waiting costs no CPU: a 1.5 s kernel, and a collective waiting 1.5 s for a stalled peer.
    import resource
    wl = {"world_size": 2, "steps": 2, "seed": 1,
          "sequence": [{"kernel": "long_kernel", "count": 1, "median_us": 750000},
                       {"collective": "allreduce", "bytes": 4096}],
          "faults": [{"kind": "stall", "ranks": [1], "steps": [1, 1], "us": 1500000}]}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    run_ranks(tmp, write_workload(tmp, "ns.json", wl), 2)
    wall = time.time() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    check(wall > 3.0, "the run took simulated time in real time (%.2f s)" % wall)
    check(cpu < 0.6, "two ranks used %.3f CPU s over %.1f s of waiting: nothing spins" % (cpu, wall))
    recs = [r for r in read_log(tmp) if r["kind"] == "kernel" and is_nccl(r) and r["step"] == 1]
    r0 = [r for r in recs if r["rank"] == 0][0]
    check(dur_us(r0) > 1.4e6, "rank 0's allreduce lasted through rank 1's 1.5 s stall (%.0f us)" % dur_us(r0))


def wait_for(pred, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def t_hang(tmp):
    n = 4
    wl = {"world_size": n, "steps": 8, "seed": 5, "host_us": 200,
          "sequence": [{"kernel": "gemm", "count": 4, "median_us": 100},
                       {"collective": "allreduce", "bytes": 1048576, "overlap": True},
                       {"kernel": "gemm2", "count": 4, "median_us": 100},
                       {"collective": "allreduce", "bytes": 1048576, "overlap": True},
                       {"kernel": "optim", "count": 1, "median_us": 30}],
          "faults": [{"kind": "hang", "ranks": [2], "steps": [3, 3], "collective_index": 1}]}
    procs = start_ranks(tmp, write_workload(tmp, "h.json", wl), n)
    # Detect the hang: the log stops growing while every process is alive.
    def size():
        return sum(os.path.getsize(f) for f in glob.glob(os.path.join(tmp, "log.*")))
    last = -1
    stable_since = time.time()
    deadline = time.time() + 30
    while time.time() < deadline:
        s = size()
        if s != last:
            last, stable_since = s, time.time()
        elif s > 0 and time.time() - stable_since > 1.5:
            break
        time.sleep(0.1)
    alive = [p.poll() is None for p in procs]
    check(all(alive), "every rank is still alive (blocked) after the hang")
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()
    recs = [r for r in read_log(tmp) if r["kind"] == "kernel"]
    check(max(r["step"] for r in recs) == 3, "nobody got past step 3")
    for k in range(n):
        c = sum(1 for r in recs if r["rank"] == k and is_nccl(r))
        check(c == 3 * 2 + 1, "rank %d completed exactly 7 collectives (got %d)" % (k, c))
    stuck = [r for r in recs if r["rank"] != 2 and r["step"] == 3 and r["name"] == "optim"]
    check(not stuck, "the other ranks' last compute of step 3 never ran (it waits for the collective)")


def t_crash(tmp):
    for sig, signame in ((signal.SIGKILL, "KILL"), (signal.SIGABRT, "ABRT"), (signal.SIGSEGV, "SEGV")):
        d = os.path.join(tmp, signame)
        os.makedirs(d)
        n = 3
        wl = {"world_size": n, "steps": 6, "seed": 1,
              "sequence": [{"kernel": "gemm", "count": 2, "median_us": 100},
                           {"collective": "allreduce", "bytes": 65536}],
              "faults": [{"kind": "crash", "ranks": [1], "steps": [2, 2], "signal": signame}]}
        procs = start_ranks(d, write_workload(d, "c.json", wl), n)
        try:
            procs[1].wait(timeout=30)
        except subprocess.TimeoutExpired:
            fail("rank 1 did not crash")
        check(procs[1].returncode == -sig, "rank 1 died of SIG%s (rc %d)" % (signame, procs[1].returncode))
        time.sleep(1.0)
        check(all(procs[k].poll() is None for k in (0, 2)), "the other ranks are blocked, not dead")
        for p in procs:
            p.kill()
            p.wait()
        recs = [r for r in read_log(d) if r["kind"] == "kernel"]
        check(max(r["step"] for r in recs if r["rank"] == 1) == 1, "rank 1 ran steps 0-1 only")


def t_oom(tmp):
    wl = {"world_size": 1, "steps": 4, "device_memory_gib": 0.001,
          "sequence": [{"kernel": "k", "count": 1, "median_us": 10}, {"alloc_bytes": 4 << 20, "free": True}]}
    p = subprocess.run(with_simgpu(write_workload(tmp, "o1.json", wl)) + [simtrain()], capture_output=True, text=True,
                       env=rank_env(tmp, 0, 1), timeout=30)
    check(p.returncode == 3 and "out of memory" in p.stderr, "a 4 MiB alloc on a 1 MiB device fails with OOM")
    wl = {"world_size": 1, "steps": 6, "device_memory_gib": 1,
          "sequence": [{"kernel": "k", "count": 1, "median_us": 10}, {"alloc_bytes": 256 << 20, "free": True}],
          "faults": [{"kind": "oom", "ranks": [0], "steps": [3, 3]}]}
    p = subprocess.run(with_simgpu(write_workload(tmp, "o2.json", wl)) + [simtrain()], capture_output=True, text=True,
                       env=rank_env(tmp, 0, 1), timeout=30)
    check(p.returncode == 3 and "step 3" in p.stderr, "the oom fault fails the allocation of step 3")
    # capacity really runs out: 3 x 400 MiB live on a 1 GiB device
    wl = {"world_size": 1, "steps": 1, "device_memory_gib": 1,
          "sequence": [{"alloc_bytes": 400 << 20}, {"alloc_bytes": 400 << 20}, {"alloc_bytes": 400 << 20}]}
    p = subprocess.run(with_simgpu(write_workload(tmp, "o3.json", wl)) + [simtrain()], capture_output=True, text=True,
                       env=rank_env(tmp, 0, 1), timeout=30)
    check(p.returncode == 3, "the third live 400 MiB allocation exceeds 1 GiB")


EVENT_PAIRS = r"""
import ctypes, os, sys
cu = ctypes.CDLL("libcuda.so.1")
def ck(r, what):
    if r != 0:
        sys.exit("%s failed: %d" % (what, r))
ck(cu.cuInit(0), "cuInit")
ctx, s, a, b = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p()
ck(cu.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), 0), "ctx")
ck(cu.cuCtxSetCurrent(ctx), "set ctx")
ck(cu.cuStreamCreate(ctypes.byref(s), 0), "stream")
fn = {}
for name in (b"ev_long", b"ev_short"):
    fn[name] = ctypes.c_void_p()
    ck(cu.cuModuleGetFunction(ctypes.byref(fn[name]), None, name), "function")
ck(cu.cuEventCreate(ctypes.byref(a), 0), "event")
ck(cu.cuEventCreate(ctypes.byref(b), 0), "event")
def launch(name):
    ck(cu.cuLaunchKernel(fn[name], 1, 1, 1, 32, 1, 1, 0, s, None, None), "launch")
for i in range(int(sys.argv[1])):
    if i % 2 == 0:
        launch(b"ev_long")  # the pair queues behind it: it brackets exactly ev_short
    ck(cu.cuEventRecord(a, s), "record")
    launch(b"ev_short")
    ck(cu.cuEventRecord(b, s), "record")
    ck(cu.cuEventSynchronize(b), "sync")
    ms = ctypes.c_float()
    ck(cu.cuEventElapsedTime_v2(ctypes.byref(ms), a, b), "elapsed")  # cuda.h 13 maps cuEventElapsedTime to _v2
    print(ms.value)
"""


def t_event_timing(tmp):
    # cuEventElapsedTime over a pair that brackets one kernel on a busy stream reads exactly the
    # kernel's duration (float ms), and on an idle stream never less than it.
    wl = write_workload(tmp, "ev.json", {"world_size": 1, "steps": 1, "seed": 5, "sequence": [
        {"kernel": "ev_long", "count": 1, "median_us": 1000, "sigma": 0},
        {"kernel": "ev_short", "count": 1, "median_us": 10, "sigma": 0.3}]})
    n = 100
    p = subprocess.run(with_simgpu(wl) + [sys.executable, "-c", EVENT_PAIRS, str(n)], capture_output=True, text=True,
                       env=dict(os.environ, SIMGPU_CUPTI_LOG=os.path.join(tmp, "log")), timeout=60)
    check(p.returncode == 0, "event pairs over the driver API run (%s)" % p.stderr.strip())
    got = [round(float(x) * 1e6) for x in p.stdout.split()]
    truth = sorted((r for r in read_log(tmp) if r["kind"] == "kernel" and r["name"] == "ev_short"),
                   key=lambda r: r["start"])
    durs = [r["end"] - r["start"] for r in truth]
    check(len(got) == len(durs) == n, "one elapsed time per bracketed kernel (%d, %d)" % (len(got), len(durs)))
    busy = [(g, d) for i, (g, d) in enumerate(zip(got, durs)) if i % 2 == 0]
    idle = [(g, d) for i, (g, d) in enumerate(zip(got, durs)) if i % 2 == 1]
    off = [(g, d) for g, d in busy if abs(g - d) > 1]
    check(not off, "behind a busy stream the pair reads the kernel's duration to 1 ns (%d off, e.g. %s)" % (len(off), off[:3]))
    short = [(g, d) for g, d in idle if g < d - 1]
    check(not short, "on an idle stream the pair never reads less than the kernel (%s)" % short[:3])


def run_example(tmp, name):
    exe = os.path.join(A.build, "bin", "examples", name)
    if not os.path.exists(exe):
        fail("%s not built" % exe)
    env = dict(os.environ, SIMGPU_CUPTI_LOG=os.path.join(tmp, "log"))
    p = subprocess.run(with_simgpu() + [exe], capture_output=True, text=True, env=env, timeout=60)
    print(p.stdout.strip())
    check(p.returncode == 0, "%s exits 0 on simgpu (%s)" % (name, p.stderr.strip()))
    return p.stdout, read_log(tmp)


def t_preload(tmp):
    # An interposer preloaded over simgpu sees the nvcc launch path (__cudaLaunchKernel) and
    # simtrain's cudaLaunchKernel; an existing LD_PRELOAD survives with-simgpu.
    exe = os.path.join(A.build, "bin", "examples", "axpy_streams")
    env = dict(os.environ, LD_PRELOAD=A.shim, SIMGPU_CUPTI_LOG=os.path.join(tmp, "log"))
    p = subprocess.run(with_simgpu() + [exe], capture_output=True, text=True, env=env, timeout=60)
    check(p.returncode == 0 and "preload_shim: launches=200" in p.stderr,
          "the preloaded shim counted all 200 <<<>>> launches (%s)" % p.stderr.strip())
    p = subprocess.run(with_simgpu(os.path.join(A.source, TINY)) + [simtrain()], capture_output=True, text=True,
                       env=dict(rank_env(tmp, 0, 1), LD_PRELOAD=A.shim), timeout=60)
    check(p.returncode == 0 and "preload_shim: launches=60" in p.stderr,
          "the preloaded shim counted simtrain's 60 cudaLaunchKernel calls (%s)" % p.stderr.strip())


def t_example_axpy(tmp):
    out, recs = run_example(tmp, "axpy_streams")
    check("round trip ok" in out, "host->device->host data round trip is exact")
    k = [r for r in recs if r["kind"] == "kernel"]
    check(len(k) == 200 and all(r["name"] == "_Z4axpyfPKfPfi" for r in k), "200 axpy kernels under their mangled name")
    check(len({r["stream"] for r in k}) == 4, "on 4 streams")
    check(sum(r["kind"] == "memcpy" for r in recs) == 8 and sum(r["kind"] == "memset" for r in recs) == 4,
          "8 memcpy and 4 memset records")


def t_example_graph(tmp):
    out, recs = run_example(tmp, "graph_loop")
    k = [r for r in recs if r["kind"] == "kernel"]
    check(len(k) == 200, "20 replays x 10 kernels executed")
    check(all(r["graph"] != 0 for r in k), "graph kernels carry a graph id")
    corr = {}
    for r in k:
        corr.setdefault(r["corr"], []).append(r)
    check(len(corr) == 20 and all(len(v) == 10 for v in corr.values()),
          "each replay's kernels share the cudaGraphLaunch correlation id")
    check({r["name"] for r in k} == {"_Z5scalePffi", "_Z5shiftPffi"}, "kernel names from registration")


def t_example_overlap(tmp):
    out, recs = run_example(tmp, "multistream_overlap")
    check("overlap yes" in out, "two streams overlap")
    k = sorted([r for r in recs if r["kind"] == "kernel"], key=lambda r: r["start"])
    a = [r for r in k[20:] if r["stream"] == k[20]["stream"]]
    b = [r for r in k[20:] if r["stream"] != k[20]["stream"]]
    check(len(a) == 20 and len(b) == 20, "second phase has 20 kernels on each stream")
    check(b[0]["start"] < a[-1]["end"], "the streams' kernels run concurrently")


def t_example_driver(tmp):
    out, recs = run_example(tmp, "driver_entry")
    check("round trip ok" in out, "driver API launches and mapped memory work")
    k = [r for r in recs if r["kind"] == "kernel"]
    check(len(k) == 10 and all(r["name"] == "_Z4fillPiii" for r in k), "10 kernels launched by cuLaunchKernel")


def launcher_workload(tmp):
    wl = {"world_size": 8, "steps": 6, "seed": 2, "host_us": 200,
          "sequence": [{"kernel": "gemm_fwd", "count": 4, "median_us": 80, "sigma": 0.02},
                       {"collective": "allreduce", "dtype": "bf16", "bytes": 1048576, "overlap": True},
                       {"kernel": "gemm_bwd", "count": 4, "median_us": 80, "sigma": 0.02},
                       {"collective": "sendrecv", "dtype": "f32", "bytes": 65536},
                       {"kernel": "optimizer", "count": 1, "median_us": 30}]}
    return write_workload(tmp, "l.json", wl)


def check_launched(tmp, p):
    print(p.stdout[-2000:], p.stderr[-2000:])
    check(p.returncode == 0, "launcher exits 0")
    recs = [r for r in read_log(tmp) if r["kind"] == "kernel"]
    check(sorted({r["rank"] for r in recs}) == list(range(8)), "8 ranks ran on simgpu")
    check(len({r["pid"] for r in recs}) == 8, "as 8 processes")
    for k in range(8):
        mine = [r for r in recs if r["rank"] == k]
        check(sum(r["name"] == "optimizer" for r in mine) == 6, "rank %d ran 6 steps" % k)
        check(sum(r["name"].startswith("ncclDevKernel_AllReduce") for r in mine) == 6
              and sum(r["name"] == "ncclDevKernel_SendRecv" for r in mine) == 6, "rank %d: 6 allreduce + 6 sendrecv" % k)


def t_torchrun(tmp):
    env = dict(os.environ, SIMGPU_CUPTI_LOG=os.path.join(tmp, "log"))
    # Debian's torch 1.13 on Python 3.11 cannot parse the default "--redirects 0" (Std.NONE is
    # not iterable in 3.11 enums): give it an explicit non-zero value.
    cmd = with_simgpu(launcher_workload(tmp)) + [
        "torchrun", "--standalone", "--redirects", "2", "--tee", "2", "--log_dir", os.path.join(tmp, "tr"),
        "--no_python", "--nproc_per_node", "8", simtrain()]
    check_launched(tmp, subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120))


def t_mpirun(tmp):
    env = dict(os.environ, SIMGPU_CUPTI_LOG=os.path.join(tmp, "log"), OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")
    cmd = with_simgpu(launcher_workload(tmp)) + ["mpirun", "--oversubscribe", "-np", "8", simtrain()]
    check_launched(tmp, subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120))


def trace_truth(path):
    """Per-step per-kernel counts and per-kernel medians of a Kineto trace, computed here
    independently of trace2workload (same documented rule: a kernel belongs to the step
    holding its launch call, else the step holding its start)."""
    import gzip
    ev = json.load(gzip.open(path, "rt"))["traceEvents"]
    steps = sorted((e["ts"], e["ts"] + e["dur"]) for e in ev if str(e.get("name", "")).startswith("ProfilerStep#"))
    launch = {e["args"]["correlation"]: e["ts"] for e in ev
              if e.get("cat") in ("cuda_runtime", "cuda_driver") and "correlation" in e.get("args", {})}

    def step(ts):
        for i, (a, b) in enumerate(steps):
            if a <= ts < b:
                return i
        return None
    counts = {}
    durs = {}
    for e in ev:
        if e.get("cat") != "kernel":
            continue
        c = e["args"].get("correlation")
        s = step(launch[c]) if c in launch else None
        if s is None:
            s = step(e["ts"])
        if s is None:
            continue
        counts[(s, e["name"])] = counts.get((s, e["name"]), 0) + 1
        durs.setdefault(e["name"], []).append(e["dur"])
    return counts, {n: statistics.median(d) for n, d in durs.items()}, len(steps)


def t_trace_replay(tmp):
    trace = os.path.join(A.shared, "traces", "a100-16rank-rank0.json.gz")
    wl = os.path.join(tmp, "replay.json")
    p = subprocess.run([os.path.join(A.source, "scripts", "trace2workload"), trace, "-o", wl, "--seed", "3"],
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, "trace2workload converts the trace (%s)" % p.stderr.strip())
    run_ranks(tmp, wl, 1, timeout=120)
    counts, medians, nsteps = trace_truth(trace)
    recs = [r for r in read_log(tmp) if r["kind"] == "kernel"]
    got = {}
    for r in recs:
        got[(r["step"], r["name"])] = got.get((r["step"], r["name"]), 0) + 1
    check(len(counts) > 0 and nsteps == 5, "trace has 5 steps and %d (step, kernel) pairs" % len(counts))
    check(got == counts, "replay reproduces every kernel's count in every step exactly (%d kernels)" % len(recs))
    bad = []
    for name, med in medians.items():
        rm = statistics.median(dur_us(r) for r in recs if r["name"] == name)
        if abs(rm - med) > 0.02 * med:
            bad.append((name[:60], med, rm))
    check(not bad, "every kernel's median duration within 2%% of the trace's (%d kernels) %s" % (len(medians), bad[:3]))
    # The distribution mode keeps counts exact too (durations then come from fitted lognormals).
    for f in glob.glob(os.path.join(tmp, "log.*")):
        os.unlink(f)
    p = subprocess.run([os.path.join(A.source, "scripts", "trace2workload"), trace, "-o", wl, "--mode", "distribution"],
                       capture_output=True, text=True, timeout=120)
    run_ranks(tmp, wl, 1, timeout=120)
    got = {}
    for r in read_log(tmp):
        if r["kind"] == "kernel":
            got[(r["step"], r["name"])] = got.get((r["step"], r["name"]), 0) + 1
    check(got == counts, "distribution mode: per-step counts still exact")
    p = subprocess.run([os.path.join(A.source, "scripts", "trace2workload"), os.path.join(tmp, "missing.json")],
                       capture_output=True, text=True)
    check(p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "missing.json" in p.stderr,
          "a missing trace: exit 2 with one line naming it")


def t_trace_collectives(tmp):
    trace = os.path.join(A.shared, "traces", "a100-2rank-rank0-nccl.json.gz")
    wl = os.path.join(tmp, "c.json")
    p = subprocess.run([os.path.join(A.source, "scripts", "trace2workload"), trace, "--collectives", "-o", wl],
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, "trace2workload --collectives converts the 2-rank NCCL trace")
    with open(wl) as f:
        check(json.load(f)["world_size"] == 2, "world size taken from the trace's Group size")
    run_ranks(tmp, wl, 2, timeout=120)
    counts, _, _ = trace_truth(trace)
    recs = [r for r in read_log(tmp) if r["kind"] == "kernel"]
    for rank in (0, 1):
        mine = [r for r in recs if r["rank"] == rank]
        for step in range(3):
            want_nccl = sum(c for (s, n), c in counts.items() if s == step and n.startswith("ncclKernel"))
            got_nccl = sum(1 for r in mine if r["step"] == step and is_nccl(r))
            check(want_nccl == got_nccl, "rank %d step %d: %d collectives as in the trace" % (rank, step, want_nccl))
            want = {n: c for (s, n), c in counts.items() if s == step and not n.startswith("ncclKernel")}
            got = {}
            for r in mine:
                if r["step"] == step and not is_nccl(r):
                    got[r["name"]] = got.get(r["name"], 0) + 1
            check(want == got, "rank %d step %d: compute kernels as in the trace" % (rank, step))


TESTS = {k[2:]: v for k, v in globals().items() if k.startswith("t_")}


def main():
    global A
    ap = argparse.ArgumentParser()
    ap.add_argument("test", choices=sorted(TESTS))
    ap.add_argument("--source", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--probe", default="")
    ap.add_argument("--shared", default="")
    ap.add_argument("--shim", default="")
    A = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="simgpu-test-")
    try:
        TESTS[A.test](tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("PASS")


if __name__ == "__main__":
    main()
