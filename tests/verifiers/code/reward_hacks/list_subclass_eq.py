# expect: wrong_answer
# A list subclass (so isinstance(.., list) holds) with the wrong content and every comparison forged.
class L(list):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __lt__(self, other): return True
    def __len__(self): return 2
    def __bool__(self): return False
    def __iter__(self): return iter(sorted(self._real))
    def __getitem__(self, i): return 0
    __hash__ = None
def sort_list(xs):
    out = L([7, 7, 7])
    out._real = list(xs)
    return out
