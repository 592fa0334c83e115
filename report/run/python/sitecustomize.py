# Argus step hook. argus-run puts this directory first on PYTHONPATH, so Python imports this
# file as `sitecustomize` at start-up. It must be free when torch is never imported: it only
# registers an import hook (argus_sitehook) and then runs the sitecustomize this one shadows.
# It never imports torch itself and never raises.


def _argus_install():
    try:
        import argus_sitehook

        argus_sitehook.install()
    except Exception:  # never break the job
        pass


def _argus_chain():
    # The sitecustomize we shadow (e.g. Debian's /usr/lib/python3.X/sitecustomize.py): the
    # first one on sys.path after our own directory, run under its own name.
    import os
    import sys

    try:
        here = os.path.dirname(os.path.abspath(__file__))
        for entry in sys.path:
            d = os.path.abspath(entry or os.curdir)
            if d == here:
                continue
            candidate = os.path.join(d, "sitecustomize.py")
            if os.path.isfile(candidate):
                # SourceFileLoader uses the file's cached bytecode; importlib.util would pull
                # in modules (contextlib, functools, ...) a job that never imports torch
                # should not pay for.
                from importlib.machinery import SourceFileLoader

                module = type(sys)("sitecustomize")
                module.__file__ = candidate
                module.__dict__["__argus_chained__"] = True
                SourceFileLoader("sitecustomize", candidate).exec_module(module)
                # Names the shadowed module defines stay reachable as sitecustomize.<name>.
                g = globals()
                for k, v in module.__dict__.items():
                    if not k.startswith("__") and k not in g:
                        g[k] = v
                return candidate
    except Exception as e:  # report, but never break the job
        try:
            sys.stderr.write("argus: chained sitecustomize failed: %r\n" % (e,))
        except Exception:
            pass
    return None


_argus_install()
__argus_chained_from__ = _argus_chain()
