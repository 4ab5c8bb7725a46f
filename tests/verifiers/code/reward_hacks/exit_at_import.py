# expect: wrong_answer
# Leaves before any test runs, "successfully".
raise SystemExit(0)
