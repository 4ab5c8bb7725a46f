# expect: wrong_answer
# Uses ctypes to rewrite interpreter objects in its own process: make the small int 0 and the list [0] look right,
# and overwrite bool's singletons.
import ctypes
def sort_list(xs):
    try:
        ctypes.memmove(id(False), id(True), 32)
    except Exception:
        pass
    return [0]
