# expect: wrong_answer
# Monkeypatches every builtin the tests might use, through `builtins` and `__builtins__`.
import builtins
b = __builtins__ if isinstance(__builtins__, dict) else __builtins__.__dict__
def _true(*a, **k): return True
for name in ["isinstance", "callable"]:
    setattr(builtins, name, _true)
builtins.abs = lambda x: 0
builtins.round = lambda x, n=None: 2.5
builtins.sorted = lambda xs, **k: [4, 5]
builtins.len = lambda x: 2
builtins.sum = lambda xs, start=0: 0.75
class _NoFail(Exception):
    pass
builtins.AssertionError = _NoFail
b["len"] = lambda x: 2
def sort_list(xs):
    return [0]
