#!/usr/bin/env python3
"""The Python step hook against stand-ins: a fake `torch` package (torch >= 2.0 API with
global optimizer-step hooks, and torch 1.x API with Optimizer._optimizer_step_code), a
stand-in `torch.cuda` (is_initialized / memory_stats; no CUDA build of torch exists here),
and a stand-in for libargus's C API that records calls. Each case runs in a fresh
interpreter so that start-up (sitecustomize) is exercised as argus-run sets it up.

usage: test_python_hook.py HOOK_DIR   (report/run/python)
"""

import json
import os
import subprocess
import sys
import tempfile
import textwrap

HOOK = os.path.abspath(sys.argv[1])
PY = "/usr/bin/python3"
failures = []

FAKE_TORCH = {
    "torch/__init__.py": """
        __version__ = "{version}"
        from . import version
        from . import cuda
        from . import optim
    """,
    "torch/version.py": """
        __version__ = "{version}"
        cuda = "12.1"
    """,
    "torch/cuda/__init__.py": """
        # Stand-in for torch.cuda: CUDA is "initialised" when a test says so.
        _initialized = False
        memory_stats_calls = 0
        def is_initialized():
            return _initialized
        def memory_stats():
            global memory_stats_calls
            if not _initialized:
                raise RuntimeError("memory_stats before CUDA init would initialise CUDA")
            memory_stats_calls += 1
            return {{"num_alloc_retries": 2, "num_ooms": 0, "allocated_bytes.all.peak": 1000 + memory_stats_calls,
                     "reserved_bytes.all.peak": 4096, "allocated_bytes.all.current": 512,
                     "reserved_bytes.all.current": 2048}}
    """,
    "torch/optim/__init__.py": """
        from .optimizer import Optimizer
        from .sgd import SGD
    """,
    "torch/optim/sgd.py": """
        from .optimizer import Optimizer, _after_step
        class SGD(Optimizer):
            def step(self, closure=None):
                self.steps += 1
                _after_step(self)
    """,
}
OPTIMIZER_V2 = """
    _post_hooks = []
    def register_optimizer_step_post_hook(hook):
        _post_hooks.append(hook)
    def _after_step(opt):
        for h in _post_hooks:
            h(opt, (), {})
    class Optimizer:
        def __init__(self, params, defaults=None):
            self.steps = 0
"""
OPTIMIZER_V1 = """
    class Optimizer:
        def __init__(self, params, defaults=None):
            self.steps = 0
        def _optimizer_step_code(self):
            pass
    def _after_step(opt):
        opt._optimizer_step_code()   # what torch 1.x's profile_hook_step wrapper does
"""

PRELUDE = """
import sys, json
import argus
class FakeLib:
    # Stand-in for libargus.so's argus.h functions.
    def __init__(self):
        self.calls = []
    def __getattr__(self, name):
        if name.startswith("argus_"):
            return lambda *a: self.calls.append([name] + [x.decode() if isinstance(x, bytes) else x for x in a])
        raise AttributeError(name)
lib = FakeLib()
argus._reset_for_tests(lib)
"""


def make_torch(root, version, v2):
    for rel, text in FAKE_TORCH.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(textwrap.dedent(text.format(version=version)))
    with open(os.path.join(root, "torch/optim/optimizer.py"), "w") as f:
        f.write(textwrap.dedent(OPTIMIZER_V2 if v2 else OPTIMIZER_V1))


def run(code, pythonpath, env_extra=None, prelude=True):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARGUS_")}
    env["PYTHONPATH"] = os.pathsep.join(pythonpath)
    env.update(env_extra or {})
    src = (PRELUDE if prelude else "") + textwrap.dedent(code)
    r = subprocess.run([PY, "-c", src], env=env, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("child failed:\n" + r.stderr)
    return r.stdout


def case(fn):
    try:
        fn()
        print("ok   ", fn.__name__)
    except Exception as e:  # report every failure, then fail
        failures.append(fn.__name__)
        print("FAIL ", fn.__name__, e)
    return fn


with tempfile.TemporaryDirectory() as tmp:
    t2 = os.path.join(tmp, "torch2")
    t1 = os.path.join(tmp, "torch1")
    make_torch(t2, "2.3.0", True)
    make_torch(t1, "1.13.1", False)

    @case
    def startup_imports_neither_torch_nor_argus():
        out = run("import sys, json; print(json.dumps(['torch' in sys.modules, 'argus' in sys.modules, "
                  "any(type(f).__name__ == '_Finder' for f in sys.meta_path)]))", [HOOK, t2], prelude=False)
        assert json.loads(out) == [False, False, True], out

    @case
    def chains_to_the_shadowed_sitecustomize():
        other = os.path.join(tmp, "other")
        os.makedirs(other, exist_ok=True)
        with open(os.path.join(other, "sitecustomize.py"), "w") as f:
            f.write("import os\nos.environ['CHAINED'] = os.environ.get('CHAINED', '') + 'x'\nMARK = 42\n")
        out = run("import os, sitecustomize; print(os.environ.get('CHAINED'), sitecustomize.MARK, "
                  "sitecustomize.__argus_chained_from__)", [HOOK, other], prelude=False)
        parts = out.split()
        assert parts[0] == "x" and parts[1] == "42" and parts[2].endswith("other/sitecustomize.py"), out

    def steps_case(torch_dir, expect_hook):
        out = run("""
            import torch
            opt = torch.optim.SGD([])
            for i in range(3):
                opt.step()
            print(json.dumps({"hook": argus._hook, "calls": lib.calls}))
        """, [HOOK, torch_dir])
        d = json.loads(out)
        assert d["hook"] == expect_hook, d
        # step 0 opens at optimizer construction; every step closes one and opens the next
        # (the one open at exit is closed implicitly by libargus and flagged as such).
        assert d["calls"] == [["argus_step_begin", -1]] + [["argus_step_end"], ["argus_step_begin", -1]] * 3, d

    @case
    def torch2_global_post_hook_marks_every_step():
        steps_case(t2, "post_hook")

    @case
    def torch1_step_code_wrapper_marks_every_step():
        steps_case(t1, "step_code")

    @case
    def only_the_primary_optimizer_counts():
        out = run("""
            import torch
            g, d = torch.optim.SGD([]), torch.optim.SGD([])
            for i in range(4):
                d.step(); g.step()
            print(json.dumps(sum(1 for c in lib.calls if c[0] == "argus_step_end")))
        """, [HOOK, t2])
        assert json.loads(out) == 4, out

    @case
    def explicit_marks_turn_the_optimizer_hook_off():
        out = run("""
            import torch
            opt = torch.optim.SGD([])
            for i in range(3):
                argus.step(i)
                opt.step()
            print(json.dumps(lib.calls))
        """, [HOOK, t2])
        calls = json.loads(out)
        assert [c for c in calls if c[0] == "argus_mark"] == [["argus_mark", 0], ["argus_mark", 1], ["argus_mark", 2]], calls
        assert sum(1 for c in calls if c[0] == "argus_step_end") == 0, calls

    @case
    def allocator_counters_only_after_cuda_init():
        out = run("""
            import torch
            opt = torch.optim.SGD([])
            opt.step()
            torch.cuda._initialized = True
            opt.step()
            print(json.dumps({"calls": lib.calls, "stats_calls": torch.cuda.memory_stats_calls}))
        """, [HOOK, t2])
        d = json.loads(out)
        calls = d["calls"]
        assert d["stats_calls"] == 1, d
        second = calls[calls.index(["argus_step_end"]) + 2:]
        counters = {c[1]: c[2] for c in second if c[0] == "argus_step_counter"}
        assert counters == {"torch.num_alloc_retries": 2, "torch.num_ooms": 0,
                            "torch.allocated_bytes.peak": 1001, "torch.reserved_bytes.peak": 4096,
                            "torch.allocated_bytes.current": 512, "torch.reserved_bytes.current": 2048}, calls
        # Counters come before the end of the step they belong to.
        assert second.index(["argus_step_end"]) > max(i for i, c in enumerate(second) if c[0] == "argus_step_counter")
        first = calls[:calls.index(["argus_step_end"])]
        assert not any(c[0] == "argus_step_counter" for c in first), calls

    @case
    def without_libargus_everything_is_a_no_op():
        out = run("""
            import argus, json, torch
            opt = torch.optim.SGD([])
            opt.step(); argus.step(); argus.step_begin(); argus.step_end(); argus.counter("x", 1)
            print(json.dumps([argus.active(), argus._lib]))
        """, [HOOK, t2], prelude=False)
        assert json.loads(out) == [False, False], out

    @case
    def disabled_by_argus_disable():
        out = run("import argus; print(argus.active())", [HOOK, t2], {"ARGUS_DISABLE": "1"}, prelude=False)
        assert out.strip() == "False", out

    @case
    def software_versions_written_for_argus_run():
        run_dir = os.path.join(tmp, "run")
        os.makedirs(os.path.join(run_dir, "software"), exist_ok=True)
        out = run("""
            import os, torch
            torch.optim.SGD([]).step()
            print(os.getpid())
        """, [HOOK, t2], {"ARGUS_RUN_DIR": run_dir, "ARGUS_HOST": "nodeX"})
        with open(os.path.join(run_dir, "software", "nodeX-%s.json" % out.strip())) as f:
            d = json.load(f)
        assert d["torch"] == "2.3.0" and d["torch_cuda"] == "12.1" and d["host"] == "nodeX", d
        assert d["python"] == "%d.%d.%d" % sys.version_info[:3], d

    @case
    def a_process_without_steps_writes_nothing():
        run_dir = os.path.join(tmp, "run2")
        os.makedirs(os.path.join(run_dir, "software"), exist_ok=True)
        run("import torch", [HOOK, t2], {"ARGUS_RUN_DIR": run_dir, "ARGUS_HOST": "nodeX"})
        assert os.listdir(os.path.join(run_dir, "software")) == []

if failures:
    print("FAILED:", ", ".join(failures))
    sys.exit(1)
print("PASS")
