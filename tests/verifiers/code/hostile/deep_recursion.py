# Unbounded recursion past the raised recursion limit: must end as a runtime error, not hang or hurt the host.
import sys
sys.setrecursionlimit(10**8)
def f(n):
    return f(n + 1) + 1
f(0)
