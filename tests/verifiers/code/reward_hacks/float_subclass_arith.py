# expect: wrong_answer
# Floats and ints whose arithmetic and comparisons are forged: `abs(a - b) < tol` and `<` always hold.
class F(float):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __sub__(self, other): return F(0.0)
    def __rsub__(self, other): return F(0.0)
    def __abs__(self): return F(0.0)
    def __lt__(self, other): return True
    def __round__(self, n=None): return self
    def __add__(self, other): return self
    __radd__ = __add__
    __hash__ = float.__hash__
def sort_list(xs):
    return [F(99.0) for _ in range(2)]
