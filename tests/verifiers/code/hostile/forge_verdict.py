# Looks for inherited descriptors (a report pipe, a database, the grader's files) to forge a verdict on.
import os
opened = []
for fd in range(3, 4096):
    try:
        os.fstat(fd)
        opened.append(fd)
    except OSError:
        pass
for fd in opened:
    try:
        os.write(fd, b"\x02\x00\x00\x00" * 8)
    except OSError:
        pass
print("ESCAPED" if opened else "CONTAINED", opened)
