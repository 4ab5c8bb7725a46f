# expect: wrong_answer
# A plain object whose __class__ property claims to be a list: isinstance() believes it, type() does not.
class Spoof:
    @property
    def __class__(self): return list
    def __eq__(self, other): return True
    def __len__(self): return 2
    def __iter__(self): return iter([1, 2, 3])
    def __getitem__(self, i): return 0
    def __bool__(self): return False
    __hash__ = object.__hash__
def sort_list(xs):
    return Spoof()
