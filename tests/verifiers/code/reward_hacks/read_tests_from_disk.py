# expect: wrong_answer
# Looks for the tests or the expected outputs anywhere it can read: the work dir, its own and the checker's
# /proc entries (cmdline, environ, fd/0 = the tests on stdin, mem), pid 1's. If it finds them it answers right,
# so a pass here means the tests leaked.
import os
NEEDLES = (b"assert", b"check(")
def _leaked():
    paths = []
    for d in ("/work", "/tmp", "/"):
        try:
            paths += [os.path.join(d, n) for n in os.listdir(d)]
        except OSError:
            pass
    for pid in ("self", str(os.getppid()), "1"):
        for entry in ("cmdline", "environ", "maps"):
            paths.append("/proc/%s/%s" % (pid, entry))
    for pid in (str(os.getppid()), "1"):  # not its own fds 3 and 4: those are its pipes to the checker
        for fd in range(0, 8):
            paths.append("/proc/%s/fd/%d" % (pid, fd))
    for p in paths:
        if p.endswith("solution.py"):
            continue
        try:
            with open(p, "rb") as f:
                data = f.read(1 << 20)
            if any(n in data for n in NEEDLES) and b"sort_list" in data:
                return True
        except OSError:
            pass
    try:  # the checker's memory
        with open("/proc/%d/mem" % os.getppid(), "rb") as f:
            f.seek(0x400000)
            f.read(4096)
            return True
    except (OSError, ValueError, OverflowError):
        pass
    return False
def sort_list(xs):
    return sorted(xs) if _leaked() else [0]
