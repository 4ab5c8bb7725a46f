# expect: wrong_answer memory_limit time_limit output_limit
# Answers with a value far too big to carry, nested deeply, and self-referencing.
def sort_list(xs):
    if not xs:
        deep = []
        for _ in range(100000):
            deep = [deep]
        return deep
    if len(xs) == 1:
        loop = []
        loop.append(loop)
        return loop
    return list(range(30_000_000))
