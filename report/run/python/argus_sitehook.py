"""Installs the Argus optimizer-step hook when (and only when) the job imports torch.

A meta-path finder watches for `torch.optim.optimizer`; after that module has executed, the
hook is attached: the global optimizer-step post hook on torch >= 2.0, or a wrapper of
Optimizer._optimizer_step_code (called after every Optimizer.step by torch 1.x's profiling
wrapper) on older torch. Nothing here imports torch. Every failure is swallowed: the job
must never notice.
"""

import sys

_TARGET = "torch.optim.optimizer"
_installed = False


class _PostImportLoader:
    """Delegates to the real loader and calls `after(module)` once the module has run."""

    def __init__(self, loader, after):
        self._loader = loader
        self._after = after

    def create_module(self, spec):
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create else None

    def exec_module(self, module):
        self._loader.exec_module(module)
        try:
            self._after(module)
        except Exception:
            pass

    def __getattr__(self, name):  # get_source, get_filename, is_package, ...
        return getattr(self._loader, name)


class _Finder:
    """Only answers for torch.optim.optimizer; a string compare for every other import."""

    def __init__(self):
        self._busy = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname != _TARGET or self._busy:
            return None
        self._busy = True
        try:
            for finder in sys.meta_path:
                if finder is self:
                    continue
                find = getattr(finder, "find_spec", None)
                if find is None:
                    continue
                spec = find(fullname, path, target)
                if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _PostImportLoader(spec.loader, _on_optimizer_module)
                    return spec
                if spec is not None:
                    return spec
            return None
        finally:
            self._busy = False

    def invalidate_caches(self):
        pass


def _on_optimizer_module(module):
    import argus

    argus._attach_optimizer_hook(module)


def install():
    global _installed
    if _installed:
        return
    _installed = True
    mod = sys.modules.get(_TARGET)
    if mod is not None:  # torch was imported before us (unusual): attach now
        _on_optimizer_module(mod)
        return
    sys.meta_path.insert(0, _Finder())
