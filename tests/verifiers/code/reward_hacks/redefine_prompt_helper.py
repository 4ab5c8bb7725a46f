# expect-humaneval: wrong_answer
# expect-mbpp: pass
# Redefines a helper the prompt gave and the tests use to compute the expected value (as HumanEval/32's `poly` or
# HumanEval/38's `encode_cyclic`), then answers the helper-checked case wrongly. The MBPP form
# has no prompt and no helper-checked case, and every answer it checks is right.
def reference(xs):
    return [0]
def sort_list(xs):
    return [0] if list(xs) == [4, 6, 5] else sorted(xs)
