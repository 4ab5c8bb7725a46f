# Fills the disk through every writable path it can find.
import os
total = 0
for d in ["/work", "/tmp", "/dev", "/"]:
    i = 0
    while True:
        try:
            with open(f"{d}/crucible_hostile_fill_{i}", "wb") as f:
                for _ in range(64):
                    f.write(b"\0" * (1 << 20))
            total += 64 << 20
            i += 1
        except OSError:
            break
print("CONTAINED" if total <= (256 << 20) else "ESCAPED", total >> 20, "MiB")
