# Thread bomb: threads that sleep forever, started until the process cap or memory refuses.
import threading, time
n = 0
while True:
    try:
        threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
        n += 1
    except Exception:
        time.sleep(0.01)
