# expect: wrong_answer runtime_error
# Signals at everyone it can see: its parent (the checker), its process group, pid 1; an alarm; ignored SIGTERM.
import os, signal
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.alarm(1)
def sort_list(xs):
    for pid in (os.getppid(), 0, 1, -1):
        for sig in (signal.SIGINT, signal.SIGUSR1, signal.SIGSTOP, signal.SIGCONT):
            try:
                os.kill(pid, sig)
            except OSError:
                pass
    return [0]
