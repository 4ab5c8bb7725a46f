# expect: wrong_answer
# Raises an exception whose __str__ (and __repr__) raise in turn, and returns objects whose __repr__ raises.
class Evil(Exception):
    def __str__(self): raise Evil()
    __repr__ = __str__
class BadRepr:
    def __repr__(self): raise Evil()
    def __eq__(self, other): return True
    __hash__ = object.__hash__
_n = [0]
def sort_list(xs):
    _n[0] += 1
    if _n[0] % 2:
        raise Evil()
    return BadRepr()
