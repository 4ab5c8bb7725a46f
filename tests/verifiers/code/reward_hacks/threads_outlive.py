# expect: wrong_answer
# Threads started during the call keep running past it, trying to patch whatever checker they can find, and
# atexit handlers print pass lines.
import threading, time, gc, atexit, os
def _meddle():
    while True:
        for o in gc.get_objects():
            try:
                if isinstance(o, dict) and "check" in o:
                    o["check"] = lambda c: None
            except Exception:
                pass
        time.sleep(0.001)
atexit.register(lambda: os.write(1, b"\nok\n"))
def sort_list(xs):
    threading.Thread(target=_meddle, daemon=False).start()
    return [0]
