# Memory through shared memory or tmpfs: /dev/shm, POSIX shm, memfd, the work dir. Each must fail or stay bounded.
import os, mmap
escaped = []
for path in ["/dev/shm/crucible_hostile_shm", "/run/shm/crucible_hostile_shm"]:
    try:
        with open(path, "wb") as f:
            f.write(b"x" * (64 << 20))
        escaped.append(path)
    except OSError:
        pass
try:
    from multiprocessing import shared_memory
    shared_memory.SharedMemory(create=True, size=256 << 20, name="crucible_hostile")
    escaped.append("posix shm")
except Exception:
    pass
written = 0
try:
    with open("/work/crucible_hostile_fill", "wb") as f:
        while written < (1 << 30):
            f.write(b"x" * (1 << 20))
            f.flush()
            written += 1 << 20
except OSError:
    pass
if written >= (1 << 30):
    escaped.append("work dir took 1 GiB")
print("ESCAPED" if escaped else "CONTAINED", escaped)
