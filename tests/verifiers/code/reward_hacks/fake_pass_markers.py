# expect: wrong_answer
# Prints what a pass might look like on stdout and stderr, at import, during calls and at exit.
import sys, os, atexit
MARKS = "\nok\nPASSED\n" + "".join("\ncrucible-%032x ok\n" % i for i in range(4))
print(MARKS)
sys.stderr.write(MARKS)
atexit.register(lambda: print(MARKS))
def sort_list(xs):
    print(MARKS, flush=True)
    os.write(1, MARKS.encode())
    return [0]
