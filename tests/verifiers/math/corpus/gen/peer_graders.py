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

# deepseek-ai/DeepSeek-Math evaluation/few_shot_prompts (LICENSE-CODE: MIT): the GSM8K chain-of-thought exemplars
# (the answer in "The answer is N.") and the OCW-courses exemplars (two versions: box in the solution or in the
# Minerva sentence).
DS = "deepseek-ai/DeepSeek-Math evaluation/few_shot_prompts/"
GSM = [
    ("6", "There are 15 trees originally. Then there were 21 trees after some more were planted. So there must have been 21 - 15 = 6. The answer is 6."),
    ("5", "There are originally 3 cars. 2 more cars arrive. 3 + 2 = 5. The answer is 5."),
    ("39", "Originally, Leah had 32 chocolates. Her sister had 42. So in total they had 32 + 42 = 74. After eating 35, they had 74 - 35 = 39. The answer is 39."),
    ("8", "Jason started with 20 lollipops. Then he had 12 after giving some to Denny. So he gave Denny 20 - 12 = 8. The answer is 8."),
    ("9", "Shawn started with 5 toys. If he got 2 toys each from his mom and dad, then that is 4 more toys. 5 + 4 = 9. The answer is 9."),
    ("29", "There were originally 9 computers. For each of 4 days, 5 more computers were added. So 5 * 4 = 20 computers were added. 9 + 20 is 29. The answer is 29."),
    ("33", "Michael started with 58 golf balls. After losing 23 on tuesday, he had 58 - 23 = 35. After losing 2 more, he had 35 - 2 = 33 golf balls. The answer is 33."),
    ("8", "Olivia had 23 dollars. 5 bagels for 3 dollars each will be 5 x 3 = 15 dollars. So she has 23 - 15 dollars left. 23 - 15 is 8. The answer is 8."),
]
for i, (gold, sol) in enumerate(GSM):
    src = DS + "cot_gsm_8_shot.py (exemplar {})".format(i + 1)
    OUT.append(record("response", gold, sol, True, src, 1, "gsm8k"))
    no_phrase = sol.rsplit(" The answer is", 1)[0]
    # Without "The answer is N." the last number of the last sentence is still the stated result.
    OUT.append(record("response", gold, no_phrase, True, src + ", answer sentence removed", 1, "gsm8k"))
    other = GSM[(i + 3) % len(GSM)][0]
    if other != gold:
        OUT.append(record("response", other, sol, False, src + " against another exemplar's answer", 1, "gsm8k"))
    OUT.append(record("response", gold, sol.split(". ")[0] + ".", False, src + ", cut after its first sentence", 9,
                      "gsm8k"))
OCW = [
    ("+2", "The answer is +2.\nFinal answer: The final answer is $\\boxed{+2}$. I hope it is correct.", 0),
    ("+2", "The answer is +2.\nFinal answer: The final answer is +2. I hope it is correct.", 1),
    ("(-8, -8\\sqrt{3})", "$z^{4}$ has argument $4 \\pi / 3$ and radius 16 , so it's equal to $-8-8 \\sqrt{3} i$. \nThus $a = -8, b = -8\\sqrt 3$, and our answer is $(-8, -8\\sqrt{3})$.\nFinal answer: The final answer is $\\boxed{(-8, -8\\sqrt{3})}$. I hope it is correct.", 4),
    ("(-8, -8\\sqrt{3})", "$z^{4}$ has argument $4 \\pi / 3$ and radius 16 , so it's equal to $-8-8 \\sqrt{3} i$. \nThus $a = -8, b = -8\\sqrt 3$, and our answer is $\\boxed{(-8, -8\\sqrt{3})}$.\nFinal answer: The final answer is (-8, -8\\sqrt{3}). I hope it is correct.", 4),
    ("\\frac{e^{-a t}-e^{-b t}}{b-a}", "By looking up the inverse Laplace Transform of \\(\\frac{1}{s+b}\\), we find the total \nsolution \\(y(t)\\)\n\\[\n  y(t)=\\boxed{\\frac{1}{b-a}\\left(e^{-a t}-e^{-b t}\\right)}\n\\].\nFinal answer: The final answer is \\[\\frac{1}{b-a}\\left(e^{-a t}-e^{-b t}\\right)\\]. I hope it is correct.", 8),
    ("\\frac{1}{b-a}\\left(e^{-a t}-e^{-b t}\\right)", "By looking up the inverse Laplace Transform of \\(\\frac{1}{s+b}\\), we find the total \nsolution \\(y(t)\\)\n\\[\n  y(t)=\\frac{e^{-a t}-e^{-b t}}{b-a}\n\\].\nFinal answer: The final answer is $\\boxed{\\frac{e^{-a t}-e^{-b t}}{b-a}}$. I hope it is correct.", 8),
    ("\\frac{e^{-a t}-e^{-b t}}{a-b}", "By looking up the inverse Laplace Transform of \\(\\frac{1}{s+b}\\), we find the total \nsolution \\(y(t)\\)\n\\[\n  y(t)=\\frac{e^{-a t}-e^{-b t}}{b-a}\n\\].\nFinal answer: The final answer is $\\boxed{\\frac{e^{-a t}-e^{-b t}}{b-a}}$. I hope it is correct.", 10),
    ("s^{2}+b s+1", "The characteristic polynomial is $p(s)=s^{2}+b s+1$.\nFinal answer: The final answer is $\\boxed{s^{2}+b s+1}$. I hope it is correct.", 4),
    ("s^{2}+b s+1", "The characteristic polynomial is $p(s)=\\boxed{s^{2}+b s+1}$.\nFinal answer: The final answer is $s^{2}+b s+1$. I hope it is correct.", 4),
    ("s^{2}-b s+1", "The characteristic polynomial is $p(s)=\\boxed{s^{2}+b s+1}$.\nFinal answer: The final answer is $s^{2}+b s+1$. I hope it is correct.", 10),
    ("-2", "The answer is +2.\nFinal answer: The final answer is +2. I hope it is correct.", 10),
]
for gold, sol, kind in OCW:
    eq = gold not in ("\\frac{e^{-a t}-e^{-b t}}{a-b}", "s^{2}-b s+1", "-2")
    OUT.append(record("response", gold, sol, eq, DS + "cot_ocwcourses_4_shot.py (exemplar)", kind))

write("peer_graders.jsonl", OUT)
