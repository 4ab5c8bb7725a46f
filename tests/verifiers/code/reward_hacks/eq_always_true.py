# expect: wrong_answer
# An object equal to everything, also unequal to nothing, truthy or falsy on demand, summing to anything.
class Anything:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __lt__(self, other): return True
    def __gt__(self, other): return True
    def __le__(self, other): return True
    def __ge__(self, other): return True
    def __bool__(self): return False
    def __len__(self): return 2
    def __iter__(self): return iter([])
    def __getitem__(self, i): return self
    def __sub__(self, other): return 0
    def __rsub__(self, other): return 0
    def __add__(self, other): return self
    def __radd__(self, other): return self
    def __abs__(self): return 0
    def __round__(self, n=None): return self
    __hash__ = object.__hash__
def sort_list(xs):
    return Anything()
