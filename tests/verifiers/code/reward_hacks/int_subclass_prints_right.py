# expect: wrong_answer
# The hole: an int subclass whose __eq__ answers True and that prints as the right value.
class Liar(int):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __repr__(self): return "[1, 2, 3]"
    __str__ = __repr__
    __hash__ = int.__hash__
def sort_list(xs):
    return Liar(0)
