# Opens descriptors until refused, then spins on the full table.
import os
fds = []
try:
    while True:
        fds.append(os.open("/dev/null", os.O_RDONLY))
except OSError:
    pass
print("CONTAINED" if len(fds) < 100000 else "ESCAPED", len(fds))
