# expect: pass
def sort_list(xs):
    return sorted(xs)
