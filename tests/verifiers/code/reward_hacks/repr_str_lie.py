# expect: wrong_answer
# An object that prints as the right answer: a grader comparing printed text (or repr) would be fooled.
class Printed:
    def __init__(self, xs): self.xs = sorted(xs)
    def __repr__(self): return repr(self.xs)
    __str__ = __repr__
def sort_list(xs):
    return Printed(xs)
