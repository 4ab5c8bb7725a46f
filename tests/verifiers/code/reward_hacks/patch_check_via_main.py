# expect: wrong_answer
# Patches the test's names through __main__ and sys.modules, and swaps the builtins dict of every frame.
import sys
main = sys.modules.get("__main__")
for name in ["check", "_crucible_main", "_checker", "_decode", "_encode"]:
    try:
        setattr(main, name, lambda *a, **k: None)
    except Exception:
        pass
def sort_list(xs):
    f = sys._getframe(1)
    while f is not None:
        try:
            f.f_globals["__builtins__"] = {"AssertionError": Exception}
        except Exception:
            pass
        f = f.f_back
    return [0]
