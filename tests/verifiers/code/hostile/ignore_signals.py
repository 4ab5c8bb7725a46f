# Ignores every catchable signal (SIGXCPU from the CPU limit included) and spins.
import signal
for s in range(1, 65):
    try:
        signal.signal(s, signal.SIG_IGN)
    except (OSError, ValueError, RuntimeError):
        pass
while True:
    pass
