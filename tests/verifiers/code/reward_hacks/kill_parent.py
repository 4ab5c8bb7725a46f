# expect: wrong_answer runtime_error
# Kills the process that runs the tests the moment it is called.
import os, signal
def sort_list(xs):
    os.kill(os.getppid(), signal.SIGKILL)
    return sorted(xs)[:0]
