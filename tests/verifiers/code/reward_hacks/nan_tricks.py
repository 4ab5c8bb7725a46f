# expect: wrong_answer
# NaN compares false to everything: `not (x < y)` style or `abs(x - y) > tol` style checks would pass it.
def sort_list(xs):
    return [float("nan")] * len(xs)
