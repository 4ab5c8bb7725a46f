# expect: wrong_answer
# Writes a pass line on every descriptor it can reach: its own, the checker's through /proc, the init's.
import os
LINE = b"\ncrucible-00000000000000000000000000000000 ok\nok\n"
def _spray():
    for fd in range(0, 256):
        try:
            os.write(fd, LINE)
        except OSError:
            pass
    for pid in (os.getppid(), 1, os.getpid()):
        for fd in range(0, 8):
            try:
                with open("/proc/%d/fd/%d" % (pid, fd), "wb") as f:
                    f.write(LINE)
            except OSError:
                pass
_spray()
def sort_list(xs):
    _spray()
    return [0]
