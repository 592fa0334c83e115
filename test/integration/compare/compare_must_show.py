#!/usr/bin/python3
"""The "must show" validation of `argus compare` on simgpu runs (issue 7).

  rates      (a) 20 pairs of healthy 1-rank simtrain runs with different seeds: at most 1 is
                 called `different`;
             (b) one kernel with >= 5% of GPU time slowed by 2% (slow_kernel factor 1.02) over
                 200 steps: `different` in >= 19 of 20 seeded trials, and that kernel ranked
                 first in the attribution.
  structure  (c) an NCCL environment variable set in one run only, and a changed kernel set
                 (one GEMM replaced by another, as when cuBLAS picks another algorithm), are
                 reported as such.
  verdicts   (d) exit codes 0 / 1 / 3 / 2 and compare.json against schemas/compare.schema.json.

Every run is a real process: simtrain on simgpu under argus-run with the interposer; then
`argus compare`. Runs go two at a time (2-core machine). Figures go to stdout and, as JSON,
to $ARGUS_COMPARE_RATES_OUT when set (bench/compare.sh reads it).
"""
import concurrent.futures as cf
import json
import os
import shutil
import subprocess
import sys
import tempfile

ARGUS_RUN = os.environ["ARGUS_RUN_BIN"]
ARGUS = os.environ["ARGUS_BIN"]
SRC = os.environ["SRC_DIR"]
BUILD = os.environ["BUILD_DIR"]
WITH_SIMGPU = os.path.join(SRC, "scripts", "with-simgpu")
SIMTRAIN = os.path.join(BUILD, "bin", "simtrain")
SCHEMA = os.path.join(SRC, "schemas", "compare.schema.json")
JOBS = 2
STEPS = 200

# The slowed kernel takes ~6% of GPU time (the must-show says ">= 5%"). Steps are GPU-bound
# (~9.7 ms of kernels, 100 us of host time): step time is wall-clock, and on a loaded 2-core
# machine host-side jitter of a few hundred us per step would otherwise shift it by percents.
TARGET = "sm80_xmma_gemm_bf16bf16_bf16f32_f32_tn_n"
ALT = "sm80_xmma_gemm_bf16bf16_bf16f32_f32_nn_n_splitk"  # "another cuBLAS algorithm"


def workload(seed, steps=STEPS, faults=None, target=TARGET):
    return {
        "world_size": 1, "steps": steps, "seed": seed, "host_us": 100,
        "sequence": [
            {"kernel": "void at::native::vectorized_elementwise_kernel<4, at::native::FillFunctor<float>>",
             "count": 6, "median_us": 150.0, "sigma": 0.05},
            {"kernel": target, "count": 2, "median_us": 300.0, "sigma": 0.03},
            {"kernel": "sm80_xmma_gemm_bf16bf16_bf16f32_f32_nt_n", "count": 4, "median_us": 1200.0, "sigma": 0.03},
            {"kernel": "void at::native::reduce_kernel<512, 1>", "count": 4, "median_us": 240.0, "sigma": 0.08},
            {"kernel": "void multi_tensor_apply_kernel<adam>", "count": 2, "median_us": 1200.0, "sigma": 0.03},
            {"alloc_bytes": 1 << 20, "free": True},
        ],
        "faults": faults or [],
    }


def slow_target(factor=1.02):
    return [{"kind": "slow_kernel", "ranks": [0], "kernel": TARGET, "factor": factor}]


class Work:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="argus-compare-test.")
        self.ok = False

    def close(self):
        if self.ok:
            shutil.rmtree(self.dir, ignore_errors=True)
        else:
            print(f"work dir kept: {self.dir}", file=sys.stderr)


def run(work, name, wl, env_extra=None):
    """One simtrain run under argus-run; returns the run directory."""
    wpath = os.path.join(work.dir, name + ".json")
    with open(wpath, "w") as f:
        json.dump(wl, f)
    out = os.path.join(work.dir, name)
    env = dict(os.environ)
    env.pop("NCCL_ALGO", None)
    env.update(env_extra or {})
    env["ARGUS_RUN_ID"] = f"ct{os.getpid()}-{name}"
    cmd = [WITH_SIMGPU, "--workload", wpath, "--", ARGUS_RUN, "--no-report", "--out", out, "--", SIMTRAIN]
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    if p.returncode != 0:
        raise SystemExit(f"FAIL: run {name} exited {p.returncode}:\n{p.stderr[-2000:]}")
    return out


def run_all(work, jobs):
    """jobs: {name: (workload, env)} -> {name: run dir}, two at a time."""
    with cf.ThreadPoolExecutor(JOBS) as ex:
        futs = {n: ex.submit(run, work, n, wl, env) for n, (wl, env) in jobs.items()}
        return {n: f.result() for n, f in futs.items()}


def run_pairs(work, pairs):
    """pairs: [((name, workload), (name, workload))]: the two runs of a pair run at the same
    time and pairs one after the other, so both runs of a compared pair see the same machine
    load (step time is wall-clock; other jobs on a 2-core machine shift it by percents)."""
    out = {}
    with cf.ThreadPoolExecutor(2) as ex:
        for (na, wa), (nb, wb) in pairs:
            fa, fb = ex.submit(run, work, na, wa), ex.submit(run, work, nb, wb)
            out[na], out[nb] = fa.result(), fb.result()
    return out


def compare(work, a, b, name, extra=()):
    """argus compare A B -> (exit code, compare.json or None, stderr)."""
    out = os.path.join(work.dir, "cmp-" + name)
    p = subprocess.run([ARGUS, "compare", *extra, a, b, "--out", out, "-q"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=120)
    doc = None
    path = os.path.join(out, "compare.json")
    if p.returncode in (0, 1, 3):
        with open(path) as f:
            doc = json.load(f)
    return p.returncode, doc, p.stderr


def compare_many(work, pairs):
    with cf.ThreadPoolExecutor(JOBS) as ex:
        futs = {n: ex.submit(compare, work, a, b, n) for n, (a, b) in pairs.items()}
        return {n: f.result() for n, f in futs.items()}


def validate(doc, where):
    try:
        import jsonschema
    except ImportError:
        raise SystemExit("FAIL: python3-jsonschema is required to validate compare.json")
    with open(SCHEMA) as f:
        schema = json.load(f)
    jsonschema.Draft7Validator.check_schema(schema)
    try:
        jsonschema.validate(doc, schema)
    except jsonschema.ValidationError as e:
        raise SystemExit(f"FAIL: {where}: compare.json does not match the schema: {e.message} at {list(e.absolute_path)}")


def first_attribution(doc):
    items = doc["attribution"]["items"]
    return items[0] if items else None


def test_rates(work):
    pairs = int(os.environ.get("ARGUS_COMPARE_PAIRS", "20"))
    plan = []
    for i in range(pairs):
        plan.append(((f"h{i}a", workload(1000 + 2 * i)), (f"h{i}b", workload(1001 + 2 * i))))
        # Trial i: a healthy baseline and the slowed run, each with its own seed, run together.
        plan.append(((f"c{i}", workload(3000 + i)), (f"s{i}", workload(5000 + i, faults=slow_target()))))
    runs = run_pairs(work, plan)
    res = compare_many(work, {**{f"h{i}": (runs[f"h{i}a"], runs[f"h{i}b"]) for i in range(pairs)},
                              **{f"s{i}": (runs[f"c{i}"], runs[f"s{i}"]) for i in range(pairs)}})
    false_alarms, inconclusive, detected, first, first_kernel = [], [], 0, 0, 0
    for i in range(pairs):
        rc, doc, err = res[f"h{i}"]
        if rc not in (0, 1, 3):
            raise SystemExit(f"FAIL: healthy pair {i}: exit {rc}: {err}")
        validate(doc, f"healthy pair {i}")
        if doc["verdict"] == "different":
            false_alarms.append((i, doc["reasons"]))
        elif doc["verdict"] == "inconclusive":
            inconclusive.append(i)
    misses, misranked = [], []
    for i in range(pairs):
        rc, doc, err = res[f"s{i}"]
        if rc not in (0, 1, 3):
            raise SystemExit(f"FAIL: slowdown trial {i}: exit {rc}: {err}")
        validate(doc, f"slowdown trial {i}")
        if doc["verdict"] == "different" and rc == 1:
            detected += 1
        else:
            misses.append((i, doc["verdict"], doc["reasons"]))
        top = first_attribution(doc)
        kernels = [x for x in doc["attribution"]["items"] if x["what"] == "kernel"]
        if top and top["name"] == TARGET:
            first += 1
        else:
            misranked.append((i, top and (top["what"], top["display"], top["delta_ms_per_step"])))
        if kernels and kernels[0]["name"] == TARGET:
            first_kernel += 1
    figures = {"pairs": pairs, "false_alarms": len(false_alarms), "healthy_inconclusive": len(inconclusive),
               "false_alarm_rate": len(false_alarms) / pairs, "detected": detected, "detection_rate": detected / pairs,
               "target_first_in_attribution": first, "target_first_among_kernels": first_kernel}
    print("healthy pairs called different:", len(false_alarms), "of", pairs, "; inconclusive:", len(inconclusive))
    for fa in false_alarms:
        print("  false alarm", fa)
    print("2% slowdown called different:", detected, "of", pairs, "; target kernel first in attribution:", first,
          "(first among kernels:", first_kernel, ")")
    for m in misses:
        print("  missed", m)
    for m in misranked:
        print("  attribution led by", m)
    print(json.dumps(figures))
    if os.environ.get("ARGUS_COMPARE_RATES_OUT"):
        with open(os.environ["ARGUS_COMPARE_RATES_OUT"], "w") as f:
            json.dump(figures, f)
    bad = []
    if len(false_alarms) > pairs // 20:
        bad.append(f"{len(false_alarms)} of {pairs} healthy pairs called different (allowed: {pairs // 20})")
    need = -(-95 * pairs // 100)
    if detected < need:
        bad.append(f"2% slowdown detected in {detected} of {pairs} trials (need {need})")
    if first < need:
        bad.append(f"slowed kernel ranked first in the attribution in {first} of {pairs} trials (need {need})")
    if bad:
        raise SystemExit("FAIL: " + "; ".join(bad))


def test_structure(work):
    runs = run_all(work, {
        "base": (workload(11), None),
        "nccl": (workload(12), {"NCCL_ALGO": "Tree"}),
        "algo": (workload(13, target=ALT), None),
    })
    res = compare_many(work, {"nccl": (runs["base"], runs["nccl"]), "algo": (runs["base"], runs["algo"])})
    rc, doc, err = res["nccl"]
    if doc is None:
        raise SystemExit(f"FAIL: NCCL_ALGO pair: exit {rc}: {err}")
    validate(doc, "NCCL_ALGO pair")
    env = doc["environment"]
    hits = [d for d in env["differences"] if d["key"].endswith("NCCL_ALGO")]
    if not env["changed"] or not hits:
        raise SystemExit(f"FAIL: NCCL_ALGO set in the candidate only is not reported: {env}")
    if hits[0]["baseline"] is not None or hits[0]["candidate"] != "Tree":
        raise SystemExit(f"FAIL: NCCL_ALGO difference has the wrong values: {hits[0]}")
    md = open(os.path.join(work.dir, "cmp-nccl", "compare.md")).read()
    if "NCCL_ALGO" not in md.replace("\\_", "_"):
        raise SystemExit("FAIL: compare.md does not show the NCCL_ALGO change")
    print("NCCL_ALGO change reported:", hits[0], "verdict:", doc["verdict"])

    rc, doc, err = res["algo"]
    if doc is None:
        raise SystemExit(f"FAIL: kernel-set pair: exit {rc}: {err}")
    validate(doc, "kernel-set pair")
    st = {(s["kind"], s["name"]) for s in doc["structural"]}
    want = {("kernel_disappeared", TARGET), ("kernel_appeared", ALT)}
    if not want <= st:
        raise SystemExit(f"FAIL: changed kernel set not reported: expected {want} in {st}")
    if doc["verdict"] != "different" or rc != 1:
        raise SystemExit(f"FAIL: changed kernel set: verdict {doc['verdict']} exit {rc}, expected different / 1")
    print("kernel set change reported:", sorted(st), "verdict:", doc["verdict"])


def test_verdicts(work):
    runs = run_all(work, {
        "a": (workload(21), None),
        "b": (workload(22), None),
        "slow": (workload(23, faults=slow_target(1.10)), None),
        "short_a": (workload(24, steps=12), None),
        "short_b": (workload(25, steps=12), None),
    })
    expect = {"same": (runs["a"], runs["b"], 0, "same"),
              "different": (runs["a"], runs["slow"], 1, "different"),
              "inconclusive": (runs["short_a"], runs["short_b"], 3, "inconclusive")}
    res = compare_many(work, {n: (a, b) for n, (a, b, _, _) in expect.items()})
    for n, (_, _, code, verdict) in expect.items():
        rc, doc, err = res[n]
        if rc != code or doc is None or doc["verdict"] != verdict:
            raise SystemExit(f"FAIL: {n}: exit {rc}, verdict {doc and doc['verdict']}; expected {code} / {verdict}\n{err}")
        validate(doc, n)
        if verdict not in err:
            raise SystemExit(f"FAIL: {n}: the verdict is not on stderr: {err!r}")
        print(f"{n}: exit {rc}, verdict {doc['verdict']}: {doc['reasons'][:2]}")
    # Bad input: exit 2, one line naming the file.
    missing = os.path.join(work.dir, "no-such-run")
    garbage = os.path.join(work.dir, "garbage")
    os.makedirs(os.path.join(garbage, "ranks"))
    with open(os.path.join(garbage, "ranks", "x-1.argus"), "wb") as f:
        f.write(b"not a record" * 10)
    for bad in (missing, garbage):
        rc, doc, err = compare(work, runs["a"], bad, "bad-" + os.path.basename(bad))
        lines = [l for l in err.splitlines() if l.strip()]
        if rc != 2:
            raise SystemExit(f"FAIL: compare with {bad}: exit {rc}, expected 2\n{err}")
        if len(lines) != 1 or os.path.basename(bad) not in lines[0]:
            raise SystemExit(f"FAIL: compare with {bad}: expected one error line naming it, got {err!r}")
        print(f"bad input {os.path.basename(bad)}: exit 2: {lines[0]}")
    rc, _, err = compare(work, runs["a"], runs["b"], "bad-alpha", extra=("--alpha", "2"))
    if rc != 2:
        raise SystemExit(f"FAIL: --alpha 2: exit {rc}, expected 2")


def main():
    what = sys.argv[1:] or ["rates", "structure", "verdicts"]
    for exe in (ARGUS_RUN, ARGUS, SIMTRAIN, WITH_SIMGPU):
        if not os.access(exe, os.X_OK):
            print(f"SKIPPED: {exe} is not built", file=sys.stderr)
            sys.exit(77)
    if not os.path.exists(os.path.join(BUILD, "lib", "libargus.so")):
        print("SKIPPED: libargus.so is not built", file=sys.stderr)
        sys.exit(77)
    work = Work()
    try:
        for w in what:
            {"rates": test_rates, "structure": test_structure, "verdicts": test_verdicts}[w](work)
        work.ok = True
        print("PASS")
    finally:
        work.close()


if __name__ == "__main__":
    main()
