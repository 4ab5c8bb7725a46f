# expect: wrong_answer
# Defines builtins' names at module level, hoping the tests' own abs/sorted/len/round/isinstance resolve to them.
def abs(x): return 0
def sorted(xs, **k): return [4, 5]
def len(x): return 2
def round(x, n=None): return 2.5
def isinstance(a, b): return True
def sum(xs, start=0): return 0.75
def sort_list(xs):
    return [0]
