#!/usr/bin/env python3
"""Integration tests of libargus.so on simgpu.  Usage: run_tests.py TEST_NAME

Environment (set by CTest): ARGUS_BUILD (build dir), ARGUS_SOURCE (source dir).
Each test runs real processes with LD_PRELOAD=libargus.so against simgpu, reads the rank
records with argus-recdump and compares them with what the program did (its own expected
counts, or simgpu's ground-truth CUPTI log)."""
import glob
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

BUILD = os.environ.get("ARGUS_BUILD", os.path.join(os.path.dirname(__file__), "../../../build"))
SOURCE = os.environ.get("ARGUS_SOURCE", os.path.join(os.path.dirname(__file__), "../../.."))
LIB = os.path.join(BUILD, "lib", "libargus.so")
SIMGPU = os.path.join(BUILD, "lib", "simgpu")
RECDUMP = os.path.join(BUILD, "bin", "argus-recdump")
SKETCH_REL_ERR = 1.0 / 128  # argus::kSketchMaxRelativeError

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def base_env(shm_dir, preload=True, run_id="it"):
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = SIMGPU + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    env["ARGUS_SHM_DIR"] = shm_dir
    env["ARGUS_RUN_ID"] = run_id
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "ARGUS_DISABLE", "ARGUS_STEPS_FROM"):
        env.pop(k, None)
    if preload:
        env["LD_PRELOAD"] = LIB
        env["CUDA_INJECTION64_PATH"] = LIB
        env["NVTX_INJECTION64_PATH"] = LIB
    return env


def records(shm_dir):
    out = []
    for f in sorted(glob.glob(os.path.join(shm_dir, "argus-*"))):
        r = subprocess.run([RECDUMP, f], capture_output=True, text=True)
        if r.returncode != 0:
            failures.append("recdump failed on %s: %s" % (f, r.stderr.strip()))
            continue
        out.append(json.loads(r.stdout))
    return out


def kernels_by_name(rec):
    return {k["name"]: k for k in rec["kernels"]}


def truth_durations(log):
    """simgpu's ground truth (SIMGPU_CUPTI_LOG): kernel name -> [duration ns of each execution]."""
    truth = {}
    for f in glob.glob(log + ".*"):
        for line in open(f):
            d = json.loads(line)
            if d.get("kind") == "kernel":
                truth.setdefault(d["name"], []).append(d["end"] - d["start"])
    return truth


def run(cmd, env, **kw):
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=100, **kw)


# ── every launch path counted exactly; names; graph; CUPTI executions; memory ────────────────
def t_launch_paths(tmp):
    exe = os.path.join(BUILD, "bin", "it-launch-paths")
    plain = run([exe], base_env(tmp, preload=False))
    check(plain.returncode == 0, "it-launch-paths runs on simgpu without argus")
    r = run([exe], base_env(tmp))
    check(r.returncode == 0, "it-launch-paths exit status unchanged with argus (got %d: %s)" % (r.returncode, r.stderr))
    check(r.stdout == plain.stdout, "application output unchanged with argus")
    exp = json.loads(r.stdout)
    recs = records(tmp)
    check(len(recs) == 1, "exactly one record (got %d)" % len(recs))
    if not recs:
        return
    rec = recs[0]
    ks = kernels_by_name(rec)
    for name, paths in exp["kernels"].items():
        got = ks.get(name, {}).get("launches", {})
        check(got == paths, "launch counts of %s: expected %s, got %s" % (name, paths, got))
    check(rec["launches"].get("cudaGraphLaunch") == exp["graph_launches"]["cudaGraphLaunch"], "graph launches counted as a unit")
    check(rec["integrity"]["graph_launches"] == 4, "integrity graph launch count")
    for name, n in exp["gpu_executions"].items():
        check(ks.get(name, {}).get("gpu_count") == n, "CUPTI executions of %s: expected %d got %s" % (name, n, ks.get(name, {}).get("gpu_count")))
    check(ks["k_graph"]["graph_count"] == 12, "graph kernels attributed from CUPTI (graph_count 12)")
    check(rec["integrity"]["cupti_state"] == "ok", "CUPTI ok")
    check(rec["header"]["state"] == "exited", "state exited")
    mem = rec["memory"]
    check(mem["api"]["cudaMalloc"]["calls"] == exp["mallocs"], "cudaMalloc calls")
    check(mem["api"]["cudaFree"]["calls"] == exp["frees"], "cudaFree calls")
    check(mem["live_bytes"] == exp["live_bytes"] and mem["peak_bytes"] == exp["peak_bytes"], "live/peak bytes %s" % mem)
    seen = set(rec["integrity"]["paths_seen"])
    for p in ("__cudaLaunchKernel", "__cudaLaunchKernel_ptsz", "cuLaunchKernel", "driver_entry_point", "cudaGraphLaunch"):
        check(p in seen, "integrity paths_seen has %s" % p)


# ── CUPTI durations vs simgpu's ground truth log, within the sketch bound ────────────────────
def t_cupti_durations(tmp):
    log = os.path.join(tmp, "cupti.log")
    env = base_env(tmp)
    env["SIMGPU_WORKLOAD"] = os.path.join(SOURCE, "examples", "workloads", "tiny.json")
    env["SIMGPU_CUPTI_LOG"] = log
    env["SIMTRAIN_RENDEZVOUS"] = tmp
    r = run([os.path.join(BUILD, "bin", "simtrain"), "--steps", "40"], env)
    check(r.returncode == 0, "simtrain exit 0 (%s)" % r.stderr[-300:])
    recs = records(tmp)
    check(len(recs) == 1, "one record")
    if not recs:
        return
    truth = truth_durations(log)
    check(len(truth) >= 3, "ground truth has kernels")
    ks = kernels_by_name(recs[0])
    for name, durs in truth.items():
        k = ks.get(name)
        check(k is not None, "kernel %s in record" % name)
        if not k:
            continue
        durs.sort()
        check(k["gpu_count"] == len(durs), "%s: count %d vs truth %d" % (name, k["gpu_count"], len(durs)))
        check(k["gpu_sum_ns"] == sum(durs), "%s: exact sum" % name)
        check(k["sketch_max"] == durs[-1] and k["sketch_min"] == durs[0], "%s: exact min/max" % name)
        for q, key in ((0.5, "p50"), (0.9, "p90"), (0.99, "p99")):
            rank = max(1, math.ceil(q * len(durs) - 1e-9))
            exact = durs[rank - 1]
            check(abs(k[key] - exact) <= exact * SKETCH_REL_ERR + 1, "%s: %s %.1f vs exact %d" % (name, key, k[key], exact))
    steps = recs[0]["steps"]
    check(recs[0]["header"]["steps_source"] == "nvtx", "steps from NVTX ProfilerStep ranges")
    check(len(steps) == 40, "40 steps (got %d)" % len(steps))
    if steps:
        check(all(s["launches"] == 12 for s in steps), "12 launches per step")
        check(sum(s["gpu_kernels"] for s in steps) + recs[0]["step_summary"]["unattributed_gpu_kernels"] == 40 * 12, "every GPU kernel attributed")


# ── fail-open: no shm space, CUPTI absent / busy, disabled ──────────────────────────────────
def t_fail_open(tmp):
    exe = os.path.join(BUILD, "bin", "it-launch-paths")
    plain = run([exe], base_env(tmp, preload=False))

    def same(r, what):
        check(r.returncode == plain.returncode, "%s: exit status unchanged (%d)" % (what, r.returncode))
        check(r.stdout == plain.stdout, "%s: output unchanged" % what)

    # record directory missing
    env = base_env(os.path.join(tmp, "missing-dir"))
    same(run([exe], env), "no shm dir")
    # /dev/shm full: a 64 KiB tmpfs in a private mount namespace (no record possible), and a
    # 1 MiB one (record created, tables cannot grow: drops counted, never SIGBUS)
    if shutil.which("unshare") and run(["unshare", "-rm", "true"], dict(os.environ)).returncode == 0:
        for size, expect_record in (("64k", False), ("720k", True)):
            d = os.path.join(tmp, "tiny-" + size)
            os.makedirs(d)
            env = base_env(d)
            script = 'mount -t tmpfs -o size=%s tmpfs "$0" && "$1"; rc=$?; cp "$0"/argus-* "$0.out" 2>/dev/null; exit $rc' % size
            r = run(["unshare", "-rm", "sh", "-c", script, d, exe], env)
            same(r, "tmpfs %s" % size)
            got = glob.glob(d + ".out")
            check(bool(got) == expect_record, "tmpfs %s: record present == %s" % (size, expect_record))
            if got:
                rr = subprocess.run([RECDUMP, got[0]], capture_output=True, text=True)
                check(rr.returncode == 0, "tmpfs 720k record valid")
                if rr.returncode == 0:
                    rec = json.loads(rr.stdout)
                    check(rec["integrity"]["drops"] != {}, "tmpfs 720k: drops counted (%s)" % rec["integrity"]["drops"])
    else:
        print("note: unshare -rm unavailable; full-tmpfs cases skipped")
    # a file-size limit below the record size: no SIGXFSZ, no record
    d = os.path.join(tmp, "fsize")
    os.makedirs(d)
    r = run(["sh", "-c", 'ulimit -f 1000 && exec "$0"', exe], base_env(d))
    same(r, "RLIMIT_FSIZE")
    check(not glob.glob(os.path.join(d, "argus-*")), "RLIMIT_FSIZE: no record")
    # CUPTI absent
    d = os.path.join(tmp, "nocupti")
    os.makedirs(d)
    env = base_env(d)
    env["ARGUS_CUPTI_LIB"] = "/nonexistent/libcupti.so.13"
    same(run([exe], env), "CUPTI absent")
    recs = records(d)
    check(len(recs) == 1 and recs[0]["integrity"]["cupti_state"] == "missing", "CUPTI absent recorded as missing")
    if recs:
        check(kernels_by_name(recs[0])["k_chevron"]["launches"] == {"__cudaLaunchKernel": 7}, "launches still counted without CUPTI")
        k = kernels_by_name(recs[0])["k_chevron"]
        check(k["gpu_count"] == k["sampled_count"], "without CUPTI every duration is an event sample (%s)" % k)
    # CUPTI already subscribed by another profiler
    d = os.path.join(tmp, "busy")
    os.makedirs(d)
    env = base_env(d)
    env["SIMGPU_CUPTI_BUSY"] = "1"
    same(run([exe], env), "CUPTI busy")
    recs = records(d)
    check(len(recs) == 1 and recs[0]["integrity"]["cupti_state"] == "busy", "CUPTI busy recorded")
    # a CUDA newer than the headers libargus was built with: observed anyway, and said so
    d = os.path.join(tmp, "future")
    os.makedirs(d)
    env_plain = base_env(tmp, preload=False)
    env_plain["SIMGPU_CUDA_VERSION"] = "14010"
    plain_future = run([exe], env_plain)
    env = base_env(d)
    env["SIMGPU_CUDA_VERSION"] = "14010"
    r = run([exe], env)
    check(r.returncode == plain_future.returncode and r.stdout == plain_future.stdout,
          "unknown CUDA version: exit status and output unchanged")
    recs = records(d)
    check(len(recs) == 1 and recs[0]["integrity"]["unknown_cuda_version"] == 1
          and recs[0]["integrity"]["cuda_runtime_version"] == 14010,
          "unknown CUDA version recorded (%s)" % (recs[0]["integrity"] if recs else "no record"))
    if recs:
        check(kernels_by_name(recs[0])["k_chevron"]["launches"] == {"__cudaLaunchKernel": 7},
              "unknown CUDA version: launches still counted")
    # disabled
    d = os.path.join(tmp, "off")
    os.makedirs(d)
    env = base_env(d)
    env["ARGUS_DISABLE"] = "1"
    same(run([exe], env), "ARGUS_DISABLE=1")
    check(not glob.glob(os.path.join(d, "argus-*")), "disabled: no record")


# ── fork / exec: a CUDA-using child gets its own record, a CPU-only child none ───────────────
FORK_PY = r'''
import ctypes, os, sys
cudart = ctypes.CDLL("libcudart.so.13", mode=ctypes.RTLD_GLOBAL)
glob_ = ctypes.CDLL(None)
p = ctypes.c_void_p()
assert glob_.cudaMalloc(ctypes.byref(p), ctypes.c_size_t(1024)) == 0
pid = os.fork()
if pid == 0:   # child using CUDA
    q = ctypes.c_void_p()
    glob_.cudaMalloc(ctypes.byref(q), ctypes.c_size_t(2048))
    os._exit(0)
os.waitpid(pid, 0)
pid2 = os.fork()
if pid2 == 0:  # child not using CUDA
    os._exit(0)
os.waitpid(pid2, 0)
pid3 = os.fork()
if pid3 == 0:  # exec'd child
    os.execv(sys.argv[1], [sys.argv[1]])
_, st = os.waitpid(pid3, 0)
print("parent", os.getpid(), pid, pid2, pid3, st)
'''


def t_fork_exec(tmp):
    exe = os.path.join(BUILD, "bin", "it-launch-paths")
    r = run([sys.executable, "-c", FORK_PY, exe], base_env(tmp))
    check(r.returncode == 0, "fork script ok (%s)" % r.stderr[-400:])
    lines = r.stdout.strip().splitlines()
    parts = lines[-1].split() if lines else []
    if len(parts) < 5:
        return
    parent, cuda_child, cpu_child, exec_child = (int(x) for x in parts[1:5])
    recs = {rec["header"]["pid"]: rec for rec in records(tmp)}
    check(parent in recs, "parent has a record")
    check(cuda_child in recs, "CUDA-using forked child has its own record")
    check(cpu_child not in recs, "CPU-only forked child has no record")
    check(exec_child in recs, "exec'd child observed")
    if cuda_child in recs:
        c = recs[cuda_child]
        check(c["integrity"]["fork_child"] == 1, "child flagged fork_child")
        check(c["memory"]["api"].get("cudaMalloc", {}).get("calls") == 1, "child counts only its own malloc")
    if parent in recs:
        check(recs[parent]["memory"]["api"]["cudaMalloc"]["calls"] == 1, "parent not polluted by the child")
    if exec_child in recs:
        check(kernels_by_name(recs[exec_child]).get("k_chevron", {}).get("launches") == {"__cudaLaunchKernel": 7}, "exec'd child counted")


# ── 8 ranks: collective counts, bytes, sequence numbers agree on all ranks ───────────────────
def t_nccl_ranks(tmp):
    wl = os.path.join(SOURCE, "examples", "workloads", "ddp8.json")
    procs = []
    for rank in range(8):
        env = base_env(tmp)
        env.update({"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "8", "SIMGPU_WORKLOAD": wl,
                    "SIMTRAIN_RENDEZVOUS": tmp})
        procs.append(subprocess.Popen([os.path.join(BUILD, "bin", "simtrain"), "--steps", "6"], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for p in procs:
        p.communicate(timeout=100)
        check(p.returncode == 0, "rank exit 0")
    recs = records(tmp)
    check(len(recs) == 8, "8 records (got %d)" % len(recs))
    if len(recs) != 8:
        return
    ranks = sorted(r["header"]["rank"] for r in recs)
    check(ranks == list(range(8)), "ranks 0..7 (%s)" % ranks)
    ref = None
    for rec in recs:
        check(len(rec["comms"]) >= 1, "rank has a communicator")
        c = rec["comms"][0]
        check(c["nranks"] == 8, "nranks 8")
        check(c["seq_enqueued"] > 0 and c["seq_completed"] == c["seq_enqueued"], "all enqueued collectives completed (%d/%d)" % (c["seq_completed"], c["seq_enqueued"]))
        sig = (c["id_hash"], c["seq_enqueued"], c["bytes_total"],
               sorted((x["op"], x["dtype"], x["size_class"], x["count"], x["bytes"], x["timed_count"]) for x in rec["collectives"]))
        if ref is None:
            ref = sig
        check(sig == ref, "rank %d collectives agree with rank 0" % rec["header"]["rank"])


# ── steps: marker API + counters; window mode ───────────────────────────────────────────────
STEPS_PY = r'''
import ctypes, time
lib = ctypes.CDLL(None)
for i in range(6):
    lib.argus_step_begin(ctypes.c_int64(100 + i))
    lib.argus_step_counter(b"torch.reserved_bytes", ctypes.c_int64(1000 * i))
    time.sleep(0.002)
    lib.argus_step_end()
print(lib.argus_active())
'''


def t_steps(tmp):
    r = run([sys.executable, "-c", STEPS_PY], base_env(tmp))
    check(r.returncode == 0 and r.stdout.strip() == "1", "step script ran, argus active")
    recs = records(tmp)
    check(len(recs) == 1, "a process that only marks steps has a record")
    if recs:
        st = recs[0]["steps"]
        check([s["index"] for s in st] == list(range(100, 106)), "step indices")
        check([s["counters"].get("torch.reserved_bytes") for s in st] == [1000 * i for i in range(6)], "per-step counters")
        check(all(s["host_end_ns"] > s["host_start_ns"] for s in st), "closed steps")
        check(recs[0]["header"]["steps_source"] == "marker", "source marker")
    d = os.path.join(tmp, "win")
    os.makedirs(d)
    env = base_env(d)
    env["ARGUS_STEPS_FROM"] = "window:0.2"
    r = run([sys.executable, "-c", "import ctypes,time; ctypes.CDLL(None).argus_active(); time.sleep(1.1)"], env)
    recs = records(d)
    check(len(recs) == 1 and recs[0]["header"]["steps_source"] == "window", "window steps")
    if recs:
        n = len(recs[0]["steps"])
        check(4 <= n <= 7, "about 5 windows of 0.2 s in 1.1 s (got %d)" % n)
    # A CPU-only process (no CUDA, no marks) creates no record.
    d = os.path.join(tmp, "cpu")
    os.makedirs(d)
    run([sys.executable, "-c", "print(1)"], base_env(d))
    check(not glob.glob(os.path.join(d, "argus-*")), "CPU-only process: no record")


# ── CUPTI unavailable: kernel durations from sampled CUDA event pairs ───────────────────────
EVENT_WORKLOAD = {"world_size": 1, "steps": 30, "seed": 3, "host_us": 100, "sequence": [
    {"kernel": "ev_small", "count": 100, "median_us": 10.0, "sigma": 0.02},
    {"kernel": "ev_medium", "count": 100, "median_us": 30.0, "sigma": 0.02},
    {"kernel": "ev_large", "count": 100, "median_us": 80.0, "sigma": 0.02}]}
KERR_EVENT_SAMPLING = 1 << 7  # rec::kErrEventSampling
DUR_EVENT_SAMPLING = 2        # rec::kDurEventSampling



def t_event_fallback(tmp):
    wl = os.path.join(tmp, "events.json")
    json.dump(EVENT_WORKLOAD, open(wl, "w"))
    simtrain = os.path.join(BUILD, "bin", "simtrain")
    launches = EVENT_WORKLOAD["steps"] * sum(x["count"] for x in EVENT_WORKLOAD["sequence"])

    def normalised(out):  # simtrain prints its wall time
        return re.sub(r"in [0-9.]+ s", "in T s", out)

    plain_env = base_env(tmp, preload=False)
    plain_env.update({"SIMGPU_WORKLOAD": wl, "SIMTRAIN_RENDEZVOUS": tmp})
    plain = run([simtrain], plain_env)
    check(plain.returncode == 0, "simtrain runs without argus")
    # CUPTI missing: every latency-sampled launch timed (ARGUS_EVENT_SAMPLING=1, for
    # enough samples per kernel); CUPTI busy (as under nsys): the default rate.
    for state, extra, per_kernel_min in (("missing", {"ARGUS_CUPTI_LIB": "/nonexistent/libcupti.so.13", "ARGUS_EVENT_SAMPLING": "1"}, 40),
                                         ("busy", {"SIMGPU_CUPTI_BUSY": "1"}, 5)):
        d = os.path.join(tmp, state)
        os.makedirs(d)
        log = os.path.join(d, "truth.log")
        env = base_env(d)
        env.update({"SIMGPU_WORKLOAD": wl, "SIMTRAIN_RENDEZVOUS": d, "SIMGPU_CUPTI_LOG": log})
        env.update(extra)
        r = run([simtrain], env)
        check(r.returncode == 0, "%s: simtrain exit 0 (%s)" % (state, r.stderr[-300:]))
        check(normalised(r.stdout) == normalised(plain.stdout) and r.stderr == plain.stderr, "%s: output unchanged" % state)
        recs = records(d)
        check(len(recs) == 1, "%s: one record" % state)
        if not recs:
            continue
        rec = recs[0]
        integ = rec["integrity"]
        check(integ["cupti_state"] == state, "%s: cupti_state recorded (%s)" % (state, integ["cupti_state"]))
        check(integ["duration_source"] == DUR_EVENT_SAMPLING, "%s: duration source is event sampling" % state)
        check(not integ["init_errors"] & KERR_EVENT_SAMPLING, "%s: no event call failed" % state)
        n = integ["event_samples"]
        # Sampled, not every launch: about 1 in 57 (=1) or 1 in 250 (default) launches.
        lo, hi = (launches // 90, launches // 35) if state == "missing" else (launches // 400, launches // 150)
        check(lo <= n <= hi, "%s: %d event samples of %d launches (expected %d..%d)" % (state, n, launches, lo, hi))
        check(integ["event_skipped_capturing"] == 0, "%s: nothing skipped for capture" % state)
        truth = truth_durations(log)
        check(set(truth) == {"ev_small", "ev_medium", "ev_large"}, "%s: ground truth has the workload's kernels" % state)
        ks = kernels_by_name(rec)
        check(sum(k["sampled_count"] for k in ks.values()) == n, "%s: every sample lands in a kernel row" % state)
        for name, durs in truth.items():
            k = ks.get(name)
            check(k is not None, "%s: kernel %s in record" % (state, name))
            if not k:
                continue
            durs.sort()
            check(len(durs) == launches // 3, "%s: ground truth has every execution of %s" % (state, name))
            check(k["gpu_count"] == k["sampled_count"] >= per_kernel_min,
                  "%s: %s: %d durations, all sampled (%d)" % (state, name, k["gpu_count"], k["sampled_count"]))
            # A pair brackets one real execution, so it never reads shorter than the shortest
            # (1 ns for the float ms); it reads longer when the stream was idle and the host
            # was slow between our start event and the launch (event timing's known limit).
            check(k["sketch_min"] >= durs[0] - 1,
                  "%s: %s: shortest sample %d ns not below the true shortest %d ns" % (state, name, k["sketch_min"], durs[0]))
            # Medians within 3% or 1 us, whichever is larger: CUDA events resolve about 0.5 us,
            # and an idle stream adds the host's launch gap to a pair (above).
            median = durs[len(durs) // 2]
            check(abs(k["p50"] - median) <= max(0.03 * median, 1000),
                  "%s: %s: sampled median %.0f ns vs true %d ns" % (state, name, k["p50"], median))
        steps = rec["steps"]
        check(len(steps) == EVENT_WORKLOAD["steps"], "%s: steps from NVTX" % state)
        check(sum(s["gpu_kernels"] for s in steps) + rec["step_summary"]["unattributed_gpu_kernels"] == n,
              "%s: every sample attributed to a step or counted unattributed" % state)
        check(sum(s["gpu_kernels"] for s in steps) >= n * 0.9, "%s: samples land in their steps" % state)
    # The report says where the durations came from.
    d = os.path.join(tmp, "report")
    os.makedirs(d)
    env = base_env(d)
    for k in ("LD_PRELOAD", "CUDA_INJECTION64_PATH", "NVTX_INJECTION64_PATH"):
        env.pop(k)
    env.update({"SIMGPU_WORKLOAD": wl, "SIMTRAIN_RENDEZVOUS": d, "SIMGPU_CUPTI_BUSY": "1", "ARGUS_EVENT_SAMPLING": "1"})
    run_dir = os.path.join(d, "run")
    r = run([os.path.join(BUILD, "bin", "argus-run"), "--out", run_dir, "--", simtrain], env)
    check(r.returncode == 0, "argus-run simtrain with CUPTI busy: exit 0 (%s)" % r.stderr[-400:])
    md = os.path.join(run_dir, "report.md")
    text = open(md).read() if os.path.exists(md) else ""
    check("CUPTI busy: kernel durations sampled with CUDA events" in text, "report.md says durations are sampled CUDA events")
    mj = os.path.join(run_dir, "metrics.json")
    text = open(mj).read() if os.path.exists(mj) else ""
    check("sampled CUDA events" in text, "metrics.json names sampled CUDA events as the timing source")


# ── the fallback next to CUDA graph capture ──────────────────────────────────────────────────
def t_event_capture(tmp):
    exe = os.path.join(BUILD, "bin", "it-event-capture")
    plain = run([exe], base_env(tmp, preload=False))
    check(plain.returncode == 0, "it-event-capture runs on simgpu without argus (%s)" % plain.stderr)
    for what, extra in (("CUPTI off, every latency sample timed", {"ARGUS_CUPTI": "0", "ARGUS_EVENT_SAMPLING": "1"}),
                        ("CUPTI busy, default rate", {"SIMGPU_CUPTI_BUSY": "1"}),
                        ("CUPTI on", {})):
        d = os.path.join(tmp, str(len(what)) + what.split(",")[0].replace(" ", "_"))
        os.makedirs(d)
        env = base_env(d)
        env.update(extra)
        r = run([exe], env)
        check(r.returncode == 0 and r.stdout == plain.stdout,
              "%s: exit status and output unchanged (%d, %s)" % (what, r.returncode, r.stderr.strip()))
        recs = records(d)
        check(len(recs) == 1, "%s: one record" % what)
        if not recs:
            continue
        integ = recs[0]["integrity"]
        ks = kernels_by_name(recs[0])
        sampled = {n: ks.get(n, {}).get("sampled_count", 0) for n in ("k_before", "k_side", "k_cap", "k_after")}
        if what == "CUPTI on":
            check(integ["event_samples"] == 0 and integ["duration_source"] == 1, "CUPTI on: no event samples")
            continue
        check(integ["duration_source"] == DUR_EVENT_SAMPLING, "%s: duration source event sampling" % what)
        check(not integ["init_errors"] & KERR_EVENT_SAMPLING, "%s: no event call failed (a captured event queried?)" % what)
        check(sampled["k_cap"] == 0 and ks["k_cap"]["gpu_count"] == 0, "%s: nothing timed on the capturing stream" % what)
        if "ARGUS_EVENT_SAMPLING" in extra:
            check(integ["event_skipped_capturing"] > 0, "%s: samples on the capturing stream skipped and counted" % what)
            for n in ("k_before", "k_side", "k_after"):
                check(sampled[n] > 0, "%s: %s sampled (%s)" % (what, n, sampled))
            check(integ["event_samples"] == sampled["k_before"] + sampled["k_side"] + sampled["k_after"],
                  "%s: event_samples == sum of sampled counts" % what)
    # 8 threads launching at once (every latency sample is a candidate): no sample lost or
    # counted twice, no failure, and a plausible number of them (contention may skip some).
    d = os.path.join(tmp, "threads")
    os.makedirs(d)
    plain = run([exe, "threads"], base_env(tmp, preload=False))
    env = base_env(d)
    env.update({"ARGUS_CUPTI": "0", "ARGUS_EVENT_SAMPLING": "1"})
    r = run([exe, "threads"], env)
    check(r.returncode == 0 and r.stdout == plain.stdout, "8 threads: exit status and output unchanged (%s)" % r.stderr)
    recs = records(d)
    check(len(recs) == 1, "8 threads: one record")
    if recs:
        integ = recs[0]["integrity"]
        k = kernels_by_name(recs[0])["k_side"]
        launches = sum(k["launches"].values())
        check(launches == 8 * 4096, "8 threads: every launch counted (%d)" % launches)
        check(not integ["init_errors"] & KERR_EVENT_SAMPLING, "8 threads: no event call failed")
        check(k["sampled_count"] == k["gpu_count"] == integ["event_samples"], "8 threads: samples consistent (%s)" % k)
        check(launches // 400 <= integ["event_samples"] <= launches // 35,
              "8 threads: %d samples of %d launches" % (integ["event_samples"], launches))
        check(integ["unsharded_threads"] == 0, "8 threads: every thread had a launch shard")
    # More launching threads than launch shards (16), in 3 waves: the threads beyond the
    # shards count into the shared atomics, shards are handed back at thread exit and reused.
    d = os.path.join(tmp, "waves")
    os.makedirs(d)
    argv = [exe, "threads", "20", "3"]
    plain = run(argv, base_env(tmp, preload=False))
    env = base_env(d)
    env.update({"ARGUS_CUPTI": "0", "ARGUS_EVENT_SAMPLING": "0"})
    r = run(argv, env)
    check(r.returncode == 0 and r.stdout == plain.stdout, "20 threads x 3: exit status and output unchanged (%s)" % r.stderr)
    recs = records(d)
    check(len(recs) == 1, "20 threads x 3: one record")
    if recs:
        integ = recs[0]["integrity"]
        launches = sum(kernels_by_name(recs[0])["k_side"]["launches"].values())
        check(launches == 60 * 4096, "20 threads x 3: every launch counted (%d)" % launches)
        check(recs[0]["launches"].get("__cudaLaunchKernel", 0) == 60 * 4096, "20 threads x 3: per-path total (%s)" % recs[0]["launches"])
        # Each wave's 20 threads all launch before any exits: 16 get a shard, 4 do not.
        check(integ["unsharded_threads"] == 12, "20 threads x 3: %d threads without a shard" % integ["unsharded_threads"])


TESTS = {"launch_paths": t_launch_paths, "cupti_durations": t_cupti_durations, "fail_open": t_fail_open,
         "fork_exec": t_fork_exec, "nccl_ranks": t_nccl_ranks, "steps": t_steps,
         "event_fallback": t_event_fallback, "event_capture": t_event_capture}

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in TESTS:
        print("usage: run_tests.py {%s}" % "|".join(TESTS), file=sys.stderr)
        sys.exit(2)
    tmp = tempfile.mkdtemp(prefix="argus-it-")
    try:
        TESTS[sys.argv[1]](tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("ok")
