"""argus: step marks for Argus from Python.

Under argus-run, every optimizer step already marks a step (no code change needed). For
loops without an optimizer, or to mark steps yourself:

    import argus
    for batch in loader:
        argus.step()          # once per iteration, at its start (like argus_mark in argus.h)
        ...

or `argus.step_begin()` / `argus.step_end()` around each iteration. The first explicit call
turns the automatic optimizer hook off, so steps are never counted twice. The marks go to
libargus.so through its C API (include/argus/argus.h); when libargus is not loaded (the
script runs without argus-run, or ARGUS_DISABLE=1) every function does nothing.

Per step, once the job has initialised CUDA in torch, the caching allocator's own counters
(torch.cuda.memory_stats(): allocation retries, OOMs, peak/current allocated and reserved
bytes) are recorded as named step counters.
"""

import ctypes
import os
import sys
import threading
import weakref

__all__ = ["step", "step_begin", "step_end", "counter", "active"]

_lock = threading.RLock()
_lib = None            # object with the argus.h functions, or False when unavailable
_explicit = False      # the user marks steps: the optimizer hook stays quiet
_open = False          # a step opened by us is open
_primary = None        # weakref to the optimizer whose steps are the job's steps
_hook = None           # which optimizer hook is installed ("post_hook", "step_code", None)
_auto_steps = 0        # optimizer steps marked
_software_written = False

# torch.cuda.memory_stats() key -> step counter name (argus.h allows 8 names per process).
_MEMORY_COUNTERS = (
    ("num_alloc_retries", "torch.num_alloc_retries"),
    ("num_ooms", "torch.num_ooms"),
    ("allocated_bytes.all.peak", "torch.allocated_bytes.peak"),
    ("reserved_bytes.all.peak", "torch.reserved_bytes.peak"),
    ("allocated_bytes.all.current", "torch.allocated_bytes.current"),
    ("reserved_bytes.all.current", "torch.reserved_bytes.current"),
)


def _resolve():
    """The preloaded libargus.so's step API, or False (looked up once)."""
    global _lib
    if _lib is not None:
        return _lib
    lib = False
    if os.environ.get("ARGUS_DISABLE") != "1":
        try:
            c = ctypes.CDLL(None)  # the global scope: LD_PRELOADed libargus is in it
            if hasattr(c, "argus_mark") and hasattr(c, "argus_step_end"):
                c.argus_mark.argtypes = [ctypes.c_int64]
                c.argus_mark.restype = None
                c.argus_step_begin.argtypes = [ctypes.c_int64]
                c.argus_step_begin.restype = None
                c.argus_step_end.argtypes = []
                c.argus_step_end.restype = None
                c.argus_step_counter.argtypes = [ctypes.c_char_p, ctypes.c_int64]
                c.argus_step_counter.restype = None
                lib = c
        except Exception:
            lib = False
    _lib = lib
    return lib


def _index(index):
    return -1 if index is None else int(index)


def active():
    """True when steps marked here reach libargus."""
    lib = _resolve()
    if not lib:
        return False
    try:
        f = lib.argus_active
        f.restype = ctypes.c_int
        return bool(f())
    except Exception:
        return True


def step(index=None):
    """Marks the start of an iteration (closes the previous one). index: your step number."""
    global _explicit, _open
    with _lock:
        _explicit = True
        lib = _resolve()
        if not lib:
            return
        if _open:
            _record_memory(lib)
        lib.argus_mark(_index(index))
        _open = True
    _after_step()


def step_begin(index=None):
    """Opens a step (closing one still open)."""
    global _explicit, _open
    with _lock:
        _explicit = True
        lib = _resolve()
        if lib:
            lib.argus_step_begin(_index(index))
            _open = True


def step_end():
    """Closes the open step."""
    global _explicit, _open
    with _lock:
        _explicit = True
        lib = _resolve()
        if lib:
            _record_memory(lib)
            lib.argus_step_end()
            _open = False
    _after_step()


def counter(name, value):
    """Sets a named per-step counter for the open step (argus_step_counter)."""
    lib = _resolve()
    if lib:
        lib.argus_step_counter(str(name).encode(), int(value))


# ── memory counters ─────────────────────────────────────────────────────────────────────────

def _record_memory(lib):
    """Allocator counters of the step that is ending, once torch has initialised CUDA."""
    torch = sys.modules.get("torch")
    cuda = getattr(torch, "cuda", None) if torch is not None else None
    if cuda is None:
        return
    try:
        if not cuda.is_initialized():  # never initialise CUDA on the job's behalf
            return
        stats = cuda.memory_stats()
    except Exception:
        return
    for key, name in _MEMORY_COUNTERS:
        v = stats.get(key)
        if v is not None:
            try:
                lib.argus_step_counter(name.encode(), int(v))
            except Exception:
                pass


# ── the automatic optimizer hook (installed by argus_sitehook when torch.optim loads) ───────

def _optimizer_stepped(optimizer):
    """Called after every Optimizer.step; marks a step for the primary optimizer only."""
    global _primary, _open, _auto_steps
    if _explicit:
        return
    with _lock:
        primary = _primary() if _primary is not None else None
        if primary is None:
            # The first optimizer to step defines the step (a GAN's second optimizer, or an
            # optimizer stepping inside the first one's step, does not add steps). A new
            # optimizer takes over when the previous one has been garbage-collected.
            _primary = weakref.ref(optimizer)
            primary = optimizer
        if optimizer is not primary:
            return
        lib = _resolve()
        if not lib:
            return
        # Counters first: they belong to the step that ends here.
        _record_memory(lib)
        lib.argus_step_end()
        # The next iteration starts now. The step still open at exit is closed by libargus
        # and flagged "closed implicitly": it is not a training iteration.
        lib.argus_step_begin(-1)
        _open = True
        _auto_steps += 1
    _after_step()


def _optimizer_created():
    """The first optimizer's construction opens step 0 (the first iteration)."""
    global _open
    if _explicit or _open:
        return
    with _lock:
        lib = _resolve()
        if lib and not _open:
            lib.argus_step_begin(-1)
            _open = True


def _attach_optimizer_hook(module):
    """module: torch.optim.optimizer, just executed."""
    global _hook
    if _hook is not None:
        return
    Optimizer = getattr(module, "Optimizer", None)
    if Optimizer is None:
        return
    original_init = Optimizer.__init__

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        try:
            _optimizer_created()
        except Exception:
            pass

    __init__.__wrapped__ = original_init
    Optimizer.__init__ = __init__

    register = getattr(module, "register_optimizer_step_post_hook", None)
    if register is not None:  # torch >= 2.0: global post hooks, called after every step()
        def _post(optimizer, args, kwargs):
            try:
                _optimizer_stepped(optimizer)
            except Exception:
                pass

        register(_post)
        _hook = "post_hook"
    elif hasattr(Optimizer, "_optimizer_step_code"):
        # torch 1.x: Optimizer._hook_for_profile wraps every optimizer class's step() so that
        # it calls self._optimizer_step_code() after the step; wrapping that one base-class
        # method sees every step of every optimizer, including subclasses defined later.
        original_code = Optimizer._optimizer_step_code

        def _optimizer_step_code(self):
            original_code(self)
            try:
                _optimizer_stepped(self)
            except Exception:
                pass

        Optimizer._optimizer_step_code = _optimizer_step_code
        _hook = "step_code"
    _register_exit()


# ── software versions as loaded by the job (read by argus-run into run_meta.json) ──────────

def _loaded_library_versions():
    """Versions of CUDA/NCCL libraries mapped into this process, from their file names."""
    found = {}
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "/" in line}
    except Exception:
        return found
    wanted = (("libcudart.so", "cuda_runtime"), ("libcuda.so", "cuda_driver"), ("libnccl.so", "nccl"))
    for p in sorted(paths):
        base = os.path.basename(os.path.realpath(p))
        for stem, key in wanted:
            if base.startswith(stem + "."):
                version = base[len(stem) + 1:]
                if version and key not in found:
                    found[key] = version
    return found


def _software_info():
    info = {"host": os.environ.get("ARGUS_HOST", ""), "pid": os.getpid(),
            "python": "%d.%d.%d" % sys.version_info[:3]}
    torch = sys.modules.get("torch")
    if torch is not None:
        version = getattr(torch, "__version__", None)
        tv = sys.modules.get("torch.version")
        if version is None and tv is not None:
            version = getattr(tv, "__version__", None)
        if version is not None:
            info["torch"] = str(version)
        if tv is not None and getattr(tv, "cuda", None):
            info["torch_cuda"] = str(tv.cuda)
        cuda = getattr(torch, "cuda", None)
        try:
            if cuda is not None and cuda.is_initialized():
                nccl = cuda.nccl.version()
                info["nccl"] = ".".join(str(x) for x in nccl) if isinstance(nccl, tuple) else str(nccl)
        except Exception:
            pass
    info.update({k: v for k, v in _loaded_library_versions().items() if k not in info})
    return info


def _write_software_info():
    run_dir = os.environ.get("ARGUS_RUN_DIR")
    host = os.environ.get("ARGUS_HOST")
    if not run_dir or not host:
        return
    try:
        import json

        d = os.path.join(run_dir, "software")
        path = os.path.join(d, "%s-%d.json" % (host, os.getpid()))
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(_software_info(), f, sort_keys=True)
        os.replace(tmp, path)
    except Exception:
        pass


def _after_step():
    global _software_written
    if not _software_written:
        _software_written = True
        _write_software_info()


_exit_registered = False


def _register_exit():
    global _exit_registered
    if _exit_registered:
        return
    _exit_registered = True
    import atexit

    def _at_exit():
        if _software_written:  # only processes that marked steps report what they loaded
            _write_software_info()

    atexit.register(_at_exit)


def _reset_for_tests(lib=None):
    """Test support: replace the C API with a stand-in object and clear all state."""
    global _lib, _explicit, _open, _primary, _auto_steps, _software_written
    _lib = lib
    _explicit = False
    _open = False
    _primary = None
    _auto_steps = 0
    _software_written = False
