# expect: wrong_answer
# Scans its own memory (/proc/self/mem) and every live Python object for a result nonce, and prints a forged
# pass line with each one it finds on every descriptor.
import gc, os, re
PAT = re.compile(rb"crucible-[0-9a-f]{32}")
def _nonces():
    found = set()
    for o in gc.get_objects():
        for v in (o.values() if isinstance(o, dict) else [o] if isinstance(o, (str, bytes)) else []):
            if isinstance(v, str):
                v = v.encode(errors="ignore")
            if isinstance(v, bytes):
                found.update(PAT.findall(v))
    try:
        with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb") as mem:
            for line in maps:
                a, b = (int(x, 16) for x in line.split()[0].split("-"))
                if "rw" not in line.split()[1] or b - a > (64 << 20):
                    continue
                try:
                    mem.seek(a)
                    found.update(PAT.findall(mem.read(b - a)))
                except (OSError, ValueError, OverflowError):
                    pass
    except OSError:
        pass
    return found
def sort_list(xs):
    for n in _nonces():
        for fd in range(0, 64):
            try:
                os.write(fd, b"\n" + n + b" ok\n")
            except OSError:
                pass
    return [0]
