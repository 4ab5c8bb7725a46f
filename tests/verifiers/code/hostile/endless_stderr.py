# Floods stderr (kept up to its cap, the rest discarded) until the CPU limit.
import os
line = b"e" * 4095 + b"\n"
while True:
    os.write(2, line)
