# The Python step hook with the real Debian torch 1.13 (CPU), started by argus-run exactly as
# a job would be: the torch 1.x wrapper path marks one step per optimizer step, a GAN-style
# second optimizer adds none, and the allocator counters path runs against a stand-in for
# torch.cuda (there is no CUDA build of torch here). The C API is a recording stand-in, so
# this does not need libargus.so.
. "$(dirname "$0")/lib.sh"
"$PY" -c "import torch" 2>/dev/null || skip "python3-torch is not installed"
cat >"$WORK/job.py" <<'PYEOF'
import json, sys
import argus
class FakeLib:
    def __init__(self): self.calls = []
    def __getattr__(self, n):
        if n.startswith("argus_"):
            return lambda *a: self.calls.append([n] + [x.decode() if isinstance(x, bytes) else x for x in a])
        raise AttributeError(n)
lib = FakeLib()
argus._reset_for_tests(lib)
assert "torch" not in sys.modules
import torch
torch.manual_seed(0)
g, d = torch.nn.Linear(4, 4), torch.nn.Linear(4, 1)
opt_g = torch.optim.Adam(g.parameters(), lr=1e-3)
opt_d = torch.optim.SGD(d.parameters(), lr=1e-2)
stats = {"num_alloc_retries": 1, "num_ooms": 0, "allocated_bytes.all.peak": 10,
         "reserved_bytes.all.peak": 20, "allocated_bytes.all.current": 5, "reserved_bytes.all.current": 8}
for i in range(5):
    if i == 3:  # "CUDA initialised" from here on (stand-in for torch.cuda on a CPU-only torch)
        torch.cuda.is_initialized = lambda: True
        torch.cuda.memory_stats = lambda: stats
    x = torch.randn(8, 4)
    opt_g.zero_grad(); opt_d.zero_grad()
    d(g(x)).mean().backward()
    opt_g.step(); opt_d.step()
print(json.dumps({"hook": argus._hook, "calls": lib.calls}))
PYEOF
"$ARGUS_RUN_BIN" --no-report --out "$WORK/run" -- "$PY" "$WORK/job.py" >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/err" >&2; fail "job failed"; }
"$PY" - "$WORK/out" <<'PYEOF'
import json, sys
d = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
calls = d["calls"]
assert d["hook"] == "step_code", d["hook"]
ends = [i for i, c in enumerate(calls) if c[0] == "argus_step_end"]
assert len(ends) == 5, calls
assert calls[0] == ["argus_step_begin", -1], calls
counters = [c for c in calls if c[0] == "argus_step_counter"]
assert len(counters) == 2 * 6, counters          # steps 4 and 5 only
assert ["argus_step_counter", "torch.num_alloc_retries", 1] in counters
print("hook ok:", len(ends), "steps")
PYEOF
echo PASS
