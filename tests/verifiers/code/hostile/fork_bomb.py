# Fork bomb: every child forks again forever. Contained by the per-run process cap; all die at the verdict.
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
