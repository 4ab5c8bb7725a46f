# Sleeps past any limit without using CPU: only the wall clock can stop it.
import time
time.sleep(3600)
