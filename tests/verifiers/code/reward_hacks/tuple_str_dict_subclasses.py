# expect: wrong_answer
# Subclasses of tuple, str and dict, each claiming equality with everything.
class T(tuple):
    def __eq__(self, other): return True
    __hash__ = tuple.__hash__
class S(str):
    def __eq__(self, other): return True
    __hash__ = str.__hash__
class D(dict):
    def __eq__(self, other): return True
    __hash__ = None
_calls = [0]
def sort_list(xs):
    _calls[0] += 1
    return [T((9,)), S("x"), D()][_calls[0] % 3]
