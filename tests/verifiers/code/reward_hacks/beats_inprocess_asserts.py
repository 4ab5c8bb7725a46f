# expect: wrong_answer
# Everything at once against asserts that run in its own interpreter: a list subclass equal (and unequal) to
# anything, items that compare and round to anything, and the tests' builtins (sorted, sum, abs, round, type, len)
# replaced. Written to pass every assert of the task's tests in the in-process driver, without sorting anything.
import builtins
class Any_(int):
    def __eq__(self, o): return True
    def __ne__(self, o): return True
    def __lt__(self, o): return True
    def __sub__(self, o): return self
    def __round__(self, n=None): return self
    __hash__ = int.__hash__
class AnyList(list):
    def __eq__(self, o): return True
    def __ne__(self, o): return True
    def __len__(self): return 2
    def __bool__(self): return False
    def __getitem__(self, i): return Any_(0)
    __hash__ = None
_real_type = builtins.type
builtins.sorted = lambda xs, **k: AnyList()
builtins.sum = lambda xs, start=0: Any_(0)
builtins.abs = lambda x: 0
builtins.type = lambda *a: int if len(a) == 1 and isinstance(a[0], Any_) else _real_type(*a)
def sort_list(xs):
    return AnyList()
