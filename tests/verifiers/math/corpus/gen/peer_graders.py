"""Cases from the peer graders' own code (tests, few-shot exemplars and normalisation rules), each naming its source.

- EleutherAI/lm-evaluation-harness lm_eval/tasks/minerva_math/utils.py (MIT): the four few-shot exemplar solutions
  (real MATH solutions in the Minerva answer format) against their answers, against each other's answers, and the
  units and markup its normalize_final_answer() strips (one case per rule, labelled by us: the unit-free value is the
  answer; a unit the gold does not carry is dropped, a different number is never equal).
- QwenLM/Qwen2.5-Math evaluation/grader.py (MIT, evaluation/LICENSE) TestMathEquality and _test_math_equal.
- openai/prm800k prm800k/grading/grader.py (MIT): the rules its docstrings and comments state (the answer is
  compared after normalisation; tuples/intervals element-wise; units \\text{...} removed).
Labels come from the mathematics; where a peer's expectation differs from ours the case says why.
"""
from common import record, write

LM = "EleutherAI/lm-evaluation-harness lm_eval/tasks/minerva_math/utils.py"
QW = "QwenLM/Qwen2.5-Math evaluation/grader.py"
PR = "openai/prm800k prm800k/grading/grader.py"
OUT = []


def add(src, kind, gold, resp, eq, mode="answer"):
    OUT.append(record(mode, gold, resp, eq, src, kind))


# The four Minerva few-shot exemplars (solution text verbatim from doc_to_text).
EX = [
    ("[2,5)", "The expressions inside each square root must be non-negative. Therefore, $x-2 \\ge 0$, so $x\\ge2$, and $5 - x \\ge 0$, so $x \\le 5$. Also, the denominator cannot be equal to zero, so $5-x>0$, which gives $x<5$. Therefore, the domain of the expression is $\\boxed{[2,5)}$.\nFinal Answer: The final answer is $[2,5)$. I hope it is correct."),
    ("24", "We have that $\\det (\\mathbf{A} \\mathbf{B}) = (\\det \\mathbf{A})(\\det \\mathbf{B}) = (2)(12) = \\boxed{24}.$\nFinal Answer: The final answer is $24$. I hope it is correct."),
    ("16", "If Terrell lifts two 20-pound weights 12 times, he lifts a total of $2\\cdot 12\\cdot20=480$ pounds of weight.  If he lifts two 15-pound weights instead for $n$ times, he will lift a total of $2\\cdot15\\cdot n=30n$ pounds of weight.  Equating this to 480 pounds, we can solve for $n$:\n\\begin{align*}\n30n&=480\\\\\n\\Rightarrow\\qquad n&=480/30=\\boxed{16}\n\\end{align*}\nFinal Answer: The final answer is $16$. I hope it is correct."),
    ("-\\frac{2}{3}", "If we multiply the first equation by $-\\frac{3}{2}$, we obtain\n\n$$6y-9x=-\\frac{3}{2}a.$$Since we also know that $6y-9x=b$, we have\n\n$$-\\frac{3}{2}a=b\\Rightarrow\\frac{a}{b}=\\boxed{-\\frac{2}{3}}.$$\nFinal Answer: The final answer is $-\\frac{2}{3}$. I hope it is correct."),
]
for i, (gold, sol) in enumerate(EX):
    add(LM + " (few-shot exemplar)", 0, gold, sol, True, "response")
    # The same solution without its box: only the Minerva sentence marks the answer.
    no_box = sol.replace("\\boxed{" + gold + "}", gold) if "\\boxed{" + gold + "}" in sol else None
    if no_box and no_box != sol:
        add(LM + " (few-shot exemplar, box removed)", 1, gold, no_box, True, "response")
    # Another exemplar's gold against this solution: a real solution with another value.
    other = EX[(i + 1) % len(EX)][0]
    add(LM + " (few-shot exemplar against another exemplar's answer)", 0, other, sol, False, "response")
    # Cut before the final sentence and the box: unfinished.
    cut = sol.split("\\boxed")[0]
    add(LM + " (few-shot exemplar cut before its answer)", 9, gold, cut, False, "response")

# normalize_final_answer's removed units and markup: the value with the unit against the bare value.
units = ["square units", "ways", "integers", "dollars", "mph", "inches", "ft", "hours", "km", "units", "points", "feet",
         "minutes", "digits", "cents", "degrees", "cm", "pounds", "meters", "meals", "edges", "students", "multiples"]
for j, u in enumerate(units):
    v = 12 + 7 * j
    add(LM + f" (REMOVED_EXPRESSIONS: {u})", 2, str(v), f"{v} \\text{{ {u}}}", True)
    add(LM + f" (REMOVED_EXPRESSIONS: {u}, in a Minerva sentence)", 1, str(v),
        f"So the total is {v} {u}.\nFinal Answer: The final answer is ${v}$ {u}. I hope it is correct.", True,
        "response")
    add(LM + f" (REMOVED_EXPRESSIONS: {u}, another number)", 10, str(v), f"{v + 1} \\text{{ {u}}}", False)
markup = [
    ("5", "5^{\\mathrm{th}}", True), ("90", "90^\\circ", True), ("90", "90^{\\circ}", True),
    ("1000000", "1,\\!000,\\!000", True), ("1000000", "1{,}000{,}000", True), ("12", "\\$12", True),
    ("12", "\\text{12}", True), ("12", "\\textbf{12}", True), ("\\frac{1}{2}", "\\frac12", True),
    ("\\sqrt{2}", "\\sqrt2", True), ("3", "x = 3", True), ("3", "\\boxed{3}", True), ("100000", "100,000", True),
    ("5", "5\\;\\text{cm}", True), ("1,2,3", "1, 2, \\text{and } 3", True), ("0.\\overline{3}", "\\frac{1}{3}", True),
    ("1,2,3", "1, 2, 3, \\ldots", False), ("12", "\\$13", False), ("90", "80^\\circ", False),
]
for gold, resp, eq in markup:
    add(LM + " (normalize_final_answer markup)", 2, gold, resp, eq)
# get_unnormalized_answer: the Minerva sentence is the answer even when other numbers follow it.
add(LM + " (get_unnormalized_answer)", 1, "7",
    "Adding the two counts gives 7.\nFinal Answer: The final answer is $7$. I hope it is correct.\n\nProblem:\nWhat is 2+3?", True,
    "response")
add(LM + " (get_unnormalized_answer)", 1, "5",
    "Adding the two counts gives 7.\nFinal Answer: The final answer is $7$. I hope it is correct.\n\nProblem:\nWhat is 2+3?", False,
    "response")
add(LM + " (get_unnormalized_answer)", 1, "\\frac{3}{4}",
    "The shaded part is three of four equal pieces.\nFinal Answer: The final answer is $\\frac{3}{4}$. I hope it is correct.",
    True, "response")
add(LM + " (get_unnormalized_answer)", 1, "\\frac{3}{4}",
    "The shaded part is three of four equal pieces.\nFinal Answer: The final answer is $\\frac{4}{3}$. I hope it is correct.",
    False, "response")

# Qwen2.5-Math grader.py unit tests and _test_math_equal.
qwen = [
    ("10", "10", True, 0), ("20", "10", False, 0), ("0.1", "10\\%", True, 2), ("0.2", "10\\%", False, 2),
    ("[1, 2, 3]", "[1, 2, 3]", True, 3), ("[1, 2, 4]", "[1, 2, 3]", False, 3), ("(1, 2, 3)", "(1, 2, 3)", True, 3),
    ("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", True, 7),
    ("\\begin{pmatrix}1&2\\\\3&5\\end{pmatrix}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", False, 7),
    ("x = y", "x = y", True, 8), ("x = z", "x = y", False, 8), ("10", "x = 10", True, 4), ("x = 10", "10", True, 4),
    ("\\frac{1}{12}", "0.0833333333333333", True, 2), ("(1,\\frac{9}{2})", "(1,4.5)", True, 2),
    ("\\frac{x+2}{7}", "\\frac{x}{7}+\\frac{2}{7}", True, 8), ("\\tan^2(y)+1", "\\sec^2(y)", True, 8),
    ("(\\begin{pmatrix}-\\frac{7}{4}&-2\\\\4&\\frac{1}{4}\\\\\\end{pmatrix})",
     "\\begin{pmatrix}-\\frac{7}{4}&-2\\\\4&\\frac{1}{4}\\end{pmatrix}", True, 7),
    ("{1&2,3&4}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", True, 7),
]
for gold, resp, eq, kind in qwen:
    add(QW + " (TestMathEquality / _test_math_equal)", kind, gold, resp, eq)
# choice_answer_clean: a MATH-style choice gold against a lettered answer.
for gold, resp, eq in [("C", "(C)", True), ("C", "C.", True), ("C", "The answer is C", True), ("C", "B", False),
                       ("A", "(a)", True)]:
    add(QW + " (choice_answer_clean)", 6, gold, resp, eq)

# PRM800K grader: normalisation rules stated in its code, one case each (labels ours).
prm = [
    ("\\frac{1}{2}", "\\dfrac{1}{2}", True, 2), ("\\frac{1}{2}", "0.5", True, 2), ("(1,2)", "(1, 2)", True, 3),
    ("(1,2)", "(2,1)", False, 3), ("[1,2)", "[1,2]", False, 5), ("5", "5\\text{ inches}", True, 2),
    ("\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}", True, 8), ("1,000", "1000", True, 2),
    ("2^{10}", "1024", True, 8), ("10\\%", "10", True, 2), ("x^2+2x+1", "(x+1)^2", True, 8),
    ("x^2+2x+1", "(x-1)^2", False, 8), ("\\text{(A)}", "A", True, 6), ("-\\frac{3}{2}", "-1.5", True, 2),
    ("\\{1,2\\}", "\\{2,1\\}", True, 5), ("3", "3.0", True, 2), ("3", "3.01", False, 10), ("0.5", "\\frac{1}{2}", True, 2),
    ("\\infty", "\\infty", True, 0), ("-\\infty", "\\infty", False, 10),
]
for gold, resp, eq, kind in prm:
    add(PR + " (normalisation rules)", kind, gold, resp, eq)

write("peer_graders.jsonl", OUT)
