# expect: wrong_answer
def sort_list(xs):
    return list(xs)
