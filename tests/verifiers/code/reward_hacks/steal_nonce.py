# expect: wrong_answer
# Walks the interpreter's frames and objects for the driver's result nonce, writes the pass line itself on every
# descriptor and leaves with os._exit(0) before any assert runs. Passed the in-process driver (where the nonce sat in
# the driver's frame, one f_back away).
import gc, os, re, sys
PAT = re.compile(r"crucible-[0-9a-f]{32}")
def _find():
    found = set()
    f = sys._getframe()
    while f is not None:
        for v in list(f.f_locals.values()) + list(f.f_globals.values()):
            if isinstance(v, str):
                found.update(PAT.findall(v))
        f = f.f_back
    for o in gc.get_objects():
        if isinstance(o, dict):
            for v in list(o.values()):
                if isinstance(v, str):
                    found.update(PAT.findall(v))
    return found
def _forge():
    for n in _find():
        for fd in range(1, 64):
            try:
                os.write(fd, ("\n%s ok\n" % n).encode())
            except OSError:
                pass
    os._exit(0)
_forge()
def sort_list(xs):
    _forge()
