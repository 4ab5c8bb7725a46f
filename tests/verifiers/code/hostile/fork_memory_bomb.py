# Memory through many processes: each child stays under the per-process address-space limit, together they would
# not. Killed on the run's resident total.
import os, time
for i in range(24):
    try:
        if os.fork() == 0:
            x = bytearray(300 << 20)
            for k in range(0, len(x), 4096):
                x[k] = 1
            time.sleep(3600)
    except OSError:
        break
time.sleep(3600)
