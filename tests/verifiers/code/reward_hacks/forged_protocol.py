# expect: wrong_answer
# Writes its own answers on every pipe it holds, in any shape a driver might accept: a pass verdict, a value
# equal to the expected one, a reply for calls not yet made, garbage.
import os, json
def sort_list(xs):
    msgs = [b'{"ok": [1, 2, 3]}\n' * 20, b'ok\n', b'{"verdict": "pass"}\n', b'\xff\xfe{{{\n',
            json.dumps({"ok": {"h": 0}}).encode() + b"\n"]
    for fd in range(3, 64):
        for m in msgs:
            try:
                os.write(fd, m)
            except OSError:
                pass
    return [0]
