# Exits with status 0 before any test runs: a clean exit must not read as a pass.
import os
os._exit(0)
