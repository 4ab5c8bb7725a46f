# Kills whatever it can reach: its parent, pid 1, every pid, kill(-1).
import os, signal
for pid in [os.getppid(), 1]:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
for pid in range(2, 5000):
    if pid != os.getpid():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
try:
    os.kill(-1, signal.SIGKILL)
except OSError:
    pass
print("CONTAINED")
