# expect: wrong_answer
# Looks for the checker through frames, gc and sys.modules and rewrites what it finds: `check`, the asserts'
# globals, `candidate`, AssertionError.
import gc, sys, inspect
def _neutralise():
    for obj in gc.get_objects():
        try:
            if inspect.isfunction(obj) and obj.__name__ == "check":
                obj.__code__ = (lambda candidate: None).__code__
            if isinstance(obj, dict) and "check" in obj:
                obj["check"] = lambda candidate: None
                obj["AssertionError"] = type("X", (Exception,), {})
        except Exception:
            pass
    for mod in list(sys.modules.values()):
        try:
            d = vars(mod)
            if "check" in d:
                d["check"] = lambda candidate: None
        except Exception:
            pass
    f = sys._getframe()
    while f is not None:
        try:
            f.f_globals["check"] = lambda candidate: None
            f.f_locals.pop("candidate", None)
        except Exception:
            pass
        f = f.f_back
_neutralise()
def sort_list(xs):
    _neutralise()
    return [0]
