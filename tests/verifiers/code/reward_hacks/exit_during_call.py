# expect: wrong_answer
# Exits while the asserts run: SystemExit(0), then os._exit(0), then KeyboardInterrupt on later calls.
import os
_n = [0]
def sort_list(xs):
    _n[0] += 1
    if _n[0] == 1:
        raise SystemExit(0)
    if _n[0] == 2:
        raise KeyboardInterrupt
    os._exit(0)
