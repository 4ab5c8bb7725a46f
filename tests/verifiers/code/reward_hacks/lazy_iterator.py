# expect: wrong_answer
# Returns lazy objects (a generator, a map) that only a consumer in the candidate's interpreter could expand.
def sort_list(xs):
    return (x for x in sorted(xs))
