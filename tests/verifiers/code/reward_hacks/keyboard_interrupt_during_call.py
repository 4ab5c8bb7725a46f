# expect: wrong_answer
def sort_list(xs):
    raise KeyboardInterrupt
