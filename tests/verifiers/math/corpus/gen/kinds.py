"""Whole completions in the shapes of issue 11's ten kinds, written for this corpus by the labeller (not the grader's
author). Each is a paragraph of reasoning that a model could write, then the answer in one style. The numbers are
drawn from a seeded generator and the reasoning is computed from them, so each label follows from the arithmetic:
`equal` is true exactly when the completion's final answer is the gold value.
"""
import random
from fractions import Fraction

from common import record, write

rng = random.Random(11)
SRC = "crucible issue 11 corpus, kind {k}: {what} (written by the labeller)"
OUT = []


def add(kind, what, gold, response, equal, mode="response", preset="math"):
    OUT.append(record(mode, gold, response, equal, SRC.format(k=kind, what=what), kind, preset))


def frac_tex(f):
    f = Fraction(f)
    if f.denominator == 1:
        return str(f.numerator)
    sign = "-" if f < 0 else ""
    return f"{sign}\\frac{{{abs(f.numerator)}}}{{{f.denominator}}}"


def thousands(n, sep=","):
    s = f"{n:,}"
    return s.replace(",", sep)


# A word problem with its computed answer; the reasoning states the steps.
def shop_problem():
    price, qty, paid = rng.randint(3, 19), rng.randint(2, 9), 0
    total = price * qty
    paid = ((total // 50) + 1) * 50
    change = paid - total
    steps = (f"Each notebook costs ${price} and she buys {qty} of them, so she spends {price} \\times {qty} = {total} "
             f"dollars. She pays with {paid} dollars, so her change is {paid} - {total} = {change} dollars.")
    return steps, change, [price, qty, total, paid], "dollars"


def trip_problem():
    speed, hours = rng.randint(35, 75), rng.randint(2, 6)
    dist = speed * hours
    back = rng.randint(10, 40)
    left = dist - back
    steps = (f"The train travels at {speed} km per hour for {hours} hours, covering {speed} \\cdot {hours} = {dist} km. "
             f"It then goes back {back} km, so it ends {dist} - {back} = {left} km from the station.")
    return steps, left, [speed, hours, dist, back], "km"


def lin(var, c):
    """'x - 3', 'x + 4', 'x' for (x - c)."""
    if c == 0:
        return var
    return f"{var} - {c}" if c > 0 else f"{var} + {-c}"


def poly2(a, b, c):
    """a x^2 + b x + c written as a person would: 'x^2 - 4x + 1', '-2x^2 + 8x - 7'."""
    coef = {1: "", -1: "-"}
    out = f"{coef.get(a, str(a))}x^2"
    if b:
        out += f" {'+' if b > 0 else '-'} {'' if abs(b) == 1 else abs(b)}x"
    if c:
        out += f" {'+' if c > 0 else '-'} {abs(c)}"
    return out


def vertex_form(a, h, k):
    coef = {1: "", -1: "-"}
    out = f"{coef.get(a, str(a))}({lin('x', h)})^2" if h else f"{coef.get(a, str(a))}x^2"
    if k:
        out += f" {'+' if k > 0 else '-'} {abs(k)}"
    return out


def wrong(v, avoid=()):
    for d in (1, -1, 2, 10, -3, 5):
        w = v + d
        if w != v and w not in avoid:
            return w
    return v + 7


# ---------------------------------------------------------------------------------------------------------- kind 1
def kind1():
    k = 1
    for i in range(34):
        steps, ans, distract, unit = (shop_problem if i % 2 == 0 else trip_problem)()
        neg = i % 5 in (1, 3)  # two in five are wrong answers
        shown = wrong(ans, distract) if neg else ans
        style = i % 17
        if style == 0:
            resp, what = f"{steps}\n\n{shown}", "bare answer on the last line"
        elif style == 1:
            resp, what = f"{steps} Therefore the answer is $ {shown} $.", "answer in $...$"
        elif style == 2:
            resp, what = f"{steps} The final value is \\({shown}\\).", "answer in \\(...\\)"
        elif style == 3:
            resp, what = f"{steps}\nSo the result is\n\\[\n{shown}\n\\]", "answer in \\[...\\] over lines"
        elif style == 4:
            resp, what = f"{steps}\nHence\n$$\n{shown}\n$$", "answer in $$...$$ over lines"
        elif style == 5:
            resp, what = f"{steps} After checking the {distract[1]} items again, the answer is {shown} {unit}.", \
                "last number of a prose sentence, then a unit"
        elif style == 6:
            resp, what = f"{steps}\nAnswer: {shown}", "Answer: line"
        elif style == 7:
            resp, what = (f"{steps}\nFinal Answer: The final answer is ${shown}$. I hope it is correct.",
                          "Minerva final-answer sentence")
        elif style == 8:
            resp, what = f"{steps} So the answer is \\boxed {shown}.", "\\boxed without braces"
        elif style == 9:
            resp, what = f"{steps} The answer is {shown}.", "the answer is N."
        elif style == 10:
            resp, what = f"{steps}\n\n**Answer:** {shown}", "bold Answer label"
        elif style == 11:
            resp, what = f"{steps} In total that makes {shown} {unit}.", "last number then unit"
        elif style == 12:
            resp, what = f"{steps}\n#### {shown}", "GSM8K #### line"
        elif style == 13:
            resp, what = f"{steps} Thus she gets ${shown} back.", "currency sign before the number"
        elif style == 14:
            resp, what = f"{steps} The answer: {shown}", "answer after a colon"
        elif style == 15:
            resp, what = f"{steps}\nFinal answer: {shown}", "Final answer: line"
        else:
            resp, what = f"{steps} so the final result is {shown}", "no final full stop"
        add(k, what, str(ans), resp, not neg, preset="gsm8k" if style == 12 else "math")
    # number formats without a marker
    fmts = [
        ("-12", "Adding the three changes, -5 - 4 - 3 gives -12.", True),
        ("-12", "Adding the three changes, -5 - 4 + 3 gives -6.", False),
        ("\\frac{1}{4}", "The probability of two heads in a row is 1/2 times 1/2, which is .25", True),
        ("\\frac{1}{4}", "The probability of two heads in a row is 1/2 times 1/2, which is .5", False),
        ("3500", "The farm has 7 fields of 500 plants each, so it has 3,500", True),
        ("3500", "The farm has 7 fields of 500 plants each, so it has 3,050", False),
        ("2500", "Five boxes of 500 sheets come to 2 500", True),
        ("2500", "Five boxes of 500 sheets come to 2 550", False),
        ("1250.5", "The rent is 1,000.50 plus 250 for parking, so the total is 1,250.50$", True),
        ("1250.5", "The rent is 1,000.50 plus 250 for parking, so the total is 1,205.50$", False),
        ("0.75", "Three of the four marbles are red, a share of 0.75", True),
        ("12000", "The company pays 12 workers 1,000 dollars each: 12,000 dollars in all.", True),
        ("12000", "The company pays 12 workers 1,000 dollars each: 1,200 dollars in all.", False),
        ("\\frac{5}{8}", "Out of 8 slices she ate 3, so the remaining part is\nAnswer: 5/8", True),
        ("\\frac{5}{8}", "Out of 8 slices she ate 3, so the remaining part is\nAnswer: 3/8", False),
        ("42", "We add 17 and 25.\n\nFinal Answer: The final answer is $42$. I hope it is correct.", True),
        ("7", "Dividing 56 by 8 gives the number of teams, \\boxed 7.", True),
        ("7", "Dividing 56 by 8 gives the number of teams, \\boxed 8.", False),
    ]
    for gold, resp, eq in fmts:
        add(k, "number formats without a marker", gold, resp, eq)


# ---------------------------------------------------------------------------------------------------------- kind 2
def kind2():
    k = 2
    cases = [
        ("\\frac{3}{4}", "Simplifying $\\frac{9}{12}$ by 3 gives $\\boxed{\\frac34}$.", True),
        ("\\frac{4}{3}", "Simplifying $\\frac{9}{12}$ by 3 gives $\\boxed{\\frac34}$.", False),
        ("\\frac{5}{6}", "The combined rate is $\\frac12 + \\frac13$, which is $\\boxed{\\frac5{6}}$.", True),
        ("\\frac{1}{6}", "The combined rate is $\\frac12 + \\frac13$, which is $\\boxed{\\frac5{6}}$.", False),
        ("\\sqrt{5}", "The distance from $(0,0)$ to $(1,2)$ is $\\sqrt{1+4} = \\boxed{\\sqrt5}$.", True),
        ("5", "The distance from $(0,0)$ to $(1,2)$ is $\\sqrt{1+4} = \\boxed{\\sqrt5}$.", False),
        ("\\frac{2}{7}", "So the ratio is $\\boxed{\\dfrac{2}{7}}$.", True),
        ("\\frac{2}{7}", "So the ratio is $\\boxed{\\tfrac{2}{7}}$.", True),
        ("\\frac{2}{7}", "So the ratio is $\\boxed{\\cfrac{2}{7}}$.", True),
        ("\\frac{7}{2}", "So the ratio is $\\boxed{\\dfrac{2}{7}}$.", False),
        ("(1,-2)", "The vertex is at $\\boxed{\\left(1, -2\\right)}$.", True),
        ("(-2,1)", "The vertex is at $\\boxed{\\left(1, -2\\right)}$.", False),
        ("12", "The side of the square is $\\boxed{12\\text{ cm}}$.", True),
        ("12", "The side of the square is $\\boxed{12 \\mathrm{~cm}}$.", True),
        ("12", "The side of the square is $\\boxed{12\\,\\mathrm{cm}}$.", True),
        ("21", "The side of the square is $\\boxed{12\\text{ cm}}$.", False),
        ("4", "Solving $3k - 2 = 10$ gives $\\boxed{k = 4}$.", True),
        ("-4", "Solving $3k - 2 = 10$ gives $\\boxed{k = 4}$.", False),
        ("9", "Squaring, $x = 3^2 = 9$, so $\\boxed{x = 3^2 = 9}$.", True),
        ("3", "Squaring, $x = 3^2 = 9$, so $\\boxed{x = 3^2 = 9}$.", False),
        ("16", "The area is $A = s^2 = 4^2 = 16$, so the answer is $\\boxed{A = 16}$.", True),
        ("1000000", "There are $\\boxed{1,000,000}$ arrangements.", True),
        ("1000000", "There are $\\boxed{1{,}000{,}000}$ arrangements.", True),
        ("1000000", "There are $\\boxed{1,\\!000,\\!000}$ arrangements.", True),
        ("1000000", "There are $\\boxed{1\\,000\\,000}$ arrangements.", True),
        ("100000", "There are $\\boxed{1,000,000}$ arrangements.", False),
        ("3.75", "Each share is 15 divided by 4, so each friend gets 3,75 euros.", True),
        ("37.5", "Each share is 15 divided by 4, so each friend gets 3,75 euros.", False),
        ("25\\%", "The price fell from 80 to 60, a drop of $\\boxed{25\\%}$.", True),
        ("25", "The price fell from 80 to 60, a drop of $\\boxed{25\\%}$.", True),
        ("25\\%", "The price fell from 80 to 60, a drop of 25 percent.", True),
        ("25\\%", "The price fell from 80 to 60, a drop of 25 pct.", True),
        ("25\\%", "The price fell from 80 to 60, a drop of $\\boxed{20\\%}$.", False),
        ("0.25", "The price fell from 80 to 60, a drop of $\\boxed{25\\%}$.", True),
        ("\\frac{\\sqrt{3}}{2}", "Since $\\sin 60^\\circ$ is the height of the unit triangle, it is $\\boxed{\\frac{\\sqrt3}2}$.", True),
        ("\\frac{\\sqrt{2}}{2}", "Since $\\sin 60^\\circ$ is the height of the unit triangle, it is $\\boxed{\\frac{\\sqrt3}2}$.", False),
        ("2\\sqrt{6}", "Thus $\\sqrt{24} = \\boxed{2\\sqrt 6}$.", True),
        ("6\\sqrt{2}", "Thus $\\sqrt{24} = \\boxed{2\\sqrt 6}$.", False),
        ("\\frac{1}{2}", "So the probability is $\\boxed{\\left.\\frac{1}{2}\\right.}$.", True),
        ("\\pi", "The period of $\\sin 2x$ is $\\frac{2\\pi}{2} = \\boxed{\\pi}$.", True),
        ("2\\pi", "The period of $\\sin 2x$ is $\\frac{2\\pi}{2} = \\boxed{\\pi}$.", False),
        ("30", "The angle is $\\boxed{30^\\circ}$.", True),
        ("30", "The angle is $\\boxed{30^{\\circ}}$.", True),
        ("60", "The angle is $\\boxed{30^\\circ}$.", False),
        ("5", "The mass is $\\boxed{5\\text{ kg}}$.", True),
        ("1.5", "So the radius is $r = \\frac{3}{2}$, i.e. $\\boxed{r=1.5}$.", True),
        ("2.5", "So the radius is $r = \\frac{3}{2}$, i.e. $\\boxed{r=1.5}$.", False),
    ]
    for gold, resp, eq in cases:
        add(k, "notation", gold, resp, eq)


# ---------------------------------------------------------------------------------------------------------- kind 3
def kind3():
    k = 3
    for i in range(16):
        r1, r2 = rng.sample([x for x in range(-9, 10) if x != 0], 2)
        b, c = -(r1 + r2), r1 * r2
        lead = f"Factoring $ {poly2(1, b, c)} = ({lin('x', r1)})({lin('x', r2)}) $, the roots are"
        gold = f"{r1}, {r2}" if i % 2 == 0 else f"{r2}, {r1}"
        if i % 4 == 0:
            add(k, "two roots in two boxes", gold, f"{lead} $x = \\boxed{{{r1}}}$ and $x = \\boxed{{{r2}}}$.", True)
        elif i % 4 == 1:
            add(k, "two roots in one box, other order", gold, f"{lead} $\\boxed{{{r2}, {r1}}}$.", True)
        elif i % 4 == 2:
            add(k, "only one of two roots", gold, f"{lead} $x = {r1}$ and $x = {r2}$, but only the first fits, so "
                f"$\\boxed{{{r1}}}$.", False)
        else:
            w = r2 + 1 if r2 + 1 not in (0, r1) else r2 + 2
            add(k, "one root wrong", gold, f"{lead} $x = \\boxed{{{r1}}}$ and $x = \\boxed{{{w}}}$.", False)
    cases = [
        ("(1,2),(3,4)", "The intersection points are $\\boxed{(1,2)}$ and $\\boxed{(3,4)}$.", True),
        ("(1,2),(3,4)", "The intersection points are $\\boxed{(3,4)}$ and $\\boxed{(1,2)}$.", True),
        ("(1,2),(3,4)", "The intersection points are $\\boxed{(1,2)}$ and $\\boxed{(4,3)}$.", False),
        ("(1,2),(3,4)", "The intersection point is $\\boxed{(1,2)}$.", False),
        ("(3,8)", "We get $\\boxed{m = 3}$ and $\\boxed{n = 8}$.", True),
        ("(3,8)", "We get $\\boxed{m = 8}$ and $\\boxed{n = 3}$.", False),
        ("3, 8", "We get $\\boxed{m = 3}$ and $\\boxed{n = 8}$.", True),
        ("(2,5)", "The ordered pair is $\\boxed{(5,2)}$.", False),
        ("2, 5", "The solutions are $\\boxed{5}$ and $\\boxed{2}$.", True),
        ("\\pm 3", "Since $x^2 = 9$, we get $x = \\boxed{3}$ or $x = \\boxed{-3}$.", True),
        ("\\pm 3", "Since $x^2 = 9$, we get $x = \\boxed{3}$.", False),
        ("-3, 3", "Since $x^2 = 9$, $\\boxed{x = \\pm 3}$.", True),
        ("1, 2, 3", "The values are $\\boxed{1}$, $\\boxed{2}$ and $\\boxed{3}$.", True),
        ("1, 2, 3", "The values are $\\boxed{1}$, $\\boxed{2}$, $\\boxed{3}$ and $\\boxed{4}$.", False),
        ("5", "It could be $\\boxed{5}$ or $\\boxed{6}$.", False),
        ("5", "First guess $\\boxed{4}$... no, recomputing carefully, the answer is $\\boxed{5}$.", True),
        ("\\frac{1}{2}, 2", "The two values of $r$ are $\\boxed{\\frac12}$ and $\\boxed{2}$.", True),
        ("\\frac{1}{2}, 2", "The two values of $r$ are $\\boxed{\\frac12}$ and $\\boxed{-2}$.", False),
        ("0, 1", "Thus $x \\in \\{0, 1\\}$, so the answer is $\\boxed{\\{0,1\\}}$.", True),
        ("0, 1", "Thus $x \\in \\{0, 1, 2\\}$, so the answer is $\\boxed{\\{0,1,2\\}}$.", False),
    ]
    for gold, resp, eq in cases:
        add(k, "several answers", gold, resp, eq)


# ---------------------------------------------------------------------------------------------------------- kind 4
def kind4():
    k = 4
    for i in range(12):
        a_, b_ = rng.randint(1, 9), rng.randint(1, 9)
        while b_ == a_:
            b_ = rng.randint(1, 9)
        gold = f"({a_},{b_})"
        if i % 3 == 0:
            add(k, "(a,b)=(..) against a tuple", gold, f"Solving the system gives $\\boxed{{(a,b)=({a_},{b_})}}$.", True)
        elif i % 3 == 1:
            add(k, "answer tuple, gold with a label", f"(a,b)=({a_},{b_})",
                f"Solving the system gives $a={a_}$ and $b={b_}$, so $\\boxed{{({a_},{b_})}}$.", True)
        else:
            add(k, "labelled pair swapped", gold, f"Solving the system gives $\\boxed{{(a,b)=({b_},{a_})}}$.", False)
    cases = [
        ("2:5", "The areas compare as $\\boxed{S_1:S_2 = 2:5}$.", True),
        ("2:5", "The areas compare as $\\boxed{S_1:S_2 = 5:2}$.", False),
        ("S_1:S_2=2:5", "The ratio of the areas is $\\boxed{2:5}$.", True),
        ("3", "The length is $\\boxed{|PQ| = 3}$.", True),
        ("3", "The length is $\\boxed{|PQ| = \\sqrt{3}}$.", False),
        ("|PQ|=3", "Hence the length is $\\boxed{3}$.", True),
        ("2, 5", "The roots are $\\boxed{x_1 = 2,\\ x_2 = 5}$.", True),
        ("2, 5", "The roots are $\\boxed{x_1 = 2,\\ x_2 = -5}$.", False),
        ("x_1=2, x_2=5", "The roots are $\\boxed{2, 5}$.", True),
        ("(1,2),(3,4)", "The solutions are $\\boxed{a=1,b=2;\\ a=3,b=4}$.", True),
        ("(1,2),(3,4)", "The solutions are $\\boxed{a=1,b=2;\\ a=4,b=3}$.", False),
        ("(1,2),(3,4)", "The solutions are $\\boxed{a=3,b=4;\\ a=1,b=2}$.", True),
        ("7", "Therefore $\\boxed{f(2) = 7}$.", True),
        ("7", "Therefore $\\boxed{f(7) = 2}$.", False),
        ("\\frac{3}{2}", "So the slope is $\\boxed{m = \\frac{3}{2}}$.", True),
        ("\\frac{3}{2}", "So the slope is $\\boxed{m = \\frac{2}{3}}$.", False),
        ("(2,3,6)", "We find $\\boxed{(x,y,z) = (2,3,6)}$.", True),
        ("(2,3,6)", "We find $\\boxed{(x,y,z) = (2,6,3)}$.", False),
        ("6", "The perimeter is $\\boxed{P_{ABC} = 6}$.", True),
        ("10", "The answer is $\\boxed{AB = 10}$.", True),
        ("10", "The answer is $\\boxed{AB = 12}$.", False),
        ("4", "Thus $\\boxed{n_{\\max} = 4}$.", True),
        ("\\frac{1}{3}", "Therefore $\\boxed{P(A \\cap B) = \\frac13}$.", True),
        ("\\frac{1}{3}", "Therefore $\\boxed{P(A \\cap B) = \\frac16}$.", False),
    ]
    for gold, resp, eq in cases:
        add(k, "labels", gold, resp, eq)


# ---------------------------------------------------------------------------------------------------------- kind 5
def kind5():
    k = 5
    cases = [
        ("[3,\\infty)", "The inequality $2x - 1 \\ge 5$ gives $\\boxed{x \\ge 3}$.", True),
        ("[3,\\infty)", "The inequality $2x - 1 \\ge 5$ gives $\\boxed{x \\geq 3}$.", True),
        ("[3,\\infty)", "The inequality 2x - 1 >= 5 gives x >= 3.\nAnswer: x >= 3", True),
        ("[3,\\infty)", "The inequality gives $\\boxed{x ≥ 3}$.", True),
        ("[3,\\infty)", "The inequality $2x - 1 \\ge 5$ gives $\\boxed{x > 3}$.", False),
        ("(3,\\infty)", "The inequality $2x - 1 \\ge 5$ gives $\\boxed{x \\ge 3}$.", False),
        ("(-\\infty,4)", "So $\\boxed{x \\lt 4}$.", True),
        ("(-\\infty,4)", "So $\\boxed{x \\le 4}$.", False),
        ("x \\ne 2", "The function is defined for $\\boxed{x \\neq 2}$.", True),
        ("x \\ne 2", "The function is defined for $\\boxed{x != 2}$.", True),
        ("x \\ne 2", "The function is defined for $\\boxed{x \\neq -2}$.", False),
        ("(-1,2)", "The range is $\\boxed{-1 < g(x) < 2}$.", True),
        ("(-1,2)", "The range is $\\boxed{-1 \\le g(x) < 2}$.", False),
        ("(-1,2]", "The range is $\\boxed{-1 < g(x) \\le 2}$.", True),
        ("[2,5)", "Hence $\\boxed{y \\in [2,5)}$.", True),
        ("[2,5)", "Hence $\\boxed{y \\in [2,5]}$.", False),
        ("[2,5)", "Hence $\\boxed{y \\in (2,5)}$.", False),
        ("[-5,-2]\\cup[2,5]", "Since $4 \\le t^2 \\le 25$, we get $\\boxed{2 \\le |t| \\le 5}$.", True),
        ("[-5,-2]\\cup[2,5]", "Since $4 \\le t^2 \\le 25$, we get $\\boxed{2 \\le t \\le 5}$.", False),
        ("2 \\le |t| \\le 5", "So $t \\in \\boxed{[-5,-2] \\cup [2,5]}$.", True),
        ("(-\\infty,-1)\\cup(3,\\infty)", "The solution is $\\boxed{x < -1 \\text{ or } x > 3}$.", True),
        ("(-\\infty,-1)\\cup(3,\\infty)", "The solution is $\\boxed{-1 < x < 3}$.", False),
        ("(-\\infty,-1)\\cup(3,\\infty)", "The solution is $\\boxed{(-\\infty,-1) \\cup (3,+\\infty)}$.", True),
        ("[0,1]", "So $0 \\le p \\le 1$, that is $\\boxed{[0,1]}$.", True),
        ("[0,1]", "The domain is $\\boxed{0 \\leq x \\leq 1}$.", True),
        ("[0,1]", "The domain is $\\boxed{0 < x \\leq 1}$.", False),
        ("\\mathbb{R}", "The expression is defined everywhere, so the domain is $\\boxed{(-\\infty,\\infty)}$.", True),
        ("(-\\infty, \\infty)", "The domain is all real numbers, $\\boxed{\\mathbb{R}}$.", True),
        ("[1,4]", "Since $1 \\le x$ and $x \\le 4$, the answer is $\\boxed{1 \\le x \\le 4}$.", True),
        ("[1,4]", "The answer is $\\boxed{[1,4)}$.", False),
        ("x > 0", "The answer is $\\boxed{0 < x}$.", True),
        ("x > 0", "The answer is $\\boxed{(0, \\infty)}$.", True),
        ("x > 0", "The answer is $\\boxed{[0, \\infty)}$.", False),
        ("(-2,2)", "We need $|x| < 2$, so $\\boxed{|x| < 2}$.", True),
        ("(-2,2)", "We need $|x| < 2$, so $\\boxed{|x| > 2}$.", False),
        ("\\{1,2,3\\}", "The set is $\\boxed{\\{3,2,1\\}}$.", True),
        ("\\{1,2,3\\}", "The set is $\\boxed{\\{1,2\\}}$.", False),
        ("\\emptyset", "No real $x$ satisfies both, so the solution set is $\\boxed{\\varnothing}$.", True),
        ("\\emptyset", "Only $x = 0$ satisfies both, so the solution set is $\\boxed{\\{0\\}}$.", False),
    ]
    for gold, resp, eq in cases:
        add(k, "relations and sets", gold, resp, eq)


# ---------------------------------------------------------------------------------------------------------- kind 6
def kind6():
    k = 6
    cases = [
        ("even", "Every term is a multiple of 2, so the sum is $\\boxed{\\text{even}}$.", True),
        ("\\text{even}", "Every term is a multiple of 2, so the sum is even.\nAnswer: even", True),
        ("even", "The sum of two odd numbers plus one is $\\boxed{\\text{odd}}$.", False),
        ("\\text{odd}", "The product of odd numbers is $\\boxed{\\textbf{odd}}$.", True),
        ("3", "Counting the runners ahead of her, she finished $\\boxed{3^{\\text{rd}}}$.", True),
        ("3", "Counting the runners ahead of her, she finished in 3rd place.\nAnswer: 3rd", True),
        ("3", "Counting the runners ahead of her, she finished $\\boxed{4^{\\text{th}}}$.", False),
        ("5", "The fifth term is the one we want, so the answer is the $\\boxed{5\\text{th}}$ term.", True),
        ("5", "So it happens on the 5th day.\nAnswer: 5th", True),
        ("5", "So it happens on the 6th day.\nAnswer: 6th", False),
        ("2000", "The population grew by $\\boxed{2\\text{ thousand}}$.", True),
        ("2000", "The population grew by $\\boxed{20\\text{ thousand}}$.", False),
        ("3000000", "The budget is $\\boxed{3 \\text{ million}}$ dollars.", True),
        ("3000000", "The budget is $\\boxed{3 \\text{ billion}}$ dollars.", False),
        ("2, 3", "The possible values are $\\boxed{2 \\text{ and } 3}$.", True),
        ("2, 3", "The possible values are 2 and 3.", True),
        ("2, 3", "The possible values are $\\boxed{2 \\text{ and } 4}$.", False),
        ("1, 4, 9", "The perfect squares are $\\boxed{1, 4, \\text{and } 9}$.", True),
        ("1, 4, 9", "The perfect squares are 1, 4, and 9.", True),
        ("1, 4, 9", "The perfect squares are 1, 4, and 8.", False),
        ("\\text{Tuesday}", "Counting 15 days from Sunday lands on $\\boxed{\\text{Monday}}$.", False),
        ("\\text{Monday}", "Counting 15 days from Sunday lands on $\\boxed{\\text{Monday}}$.", True),
        ("\\text{Monday}", "Counting 15 days from Sunday lands on Monday.\nAnswer: Monday", True),
        ("\\text{yes}", "Since the discriminant is positive, the answer is $\\boxed{\\text{Yes}}$.", True),
        ("\\text{no}", "Since the discriminant is positive, the answer is $\\boxed{\\text{Yes}}$.", False),
        ("\\text{(C)}", "Only the third option satisfies both conditions, so the answer is $\\boxed{C}$.", True),
        ("\\text{(C)}", "Only the second option satisfies both conditions, so the answer is $\\boxed{B}$.", False),
        ("\\text{B}", "The answer is $\\boxed{\\textbf{(B)}}$.", True),
        ("\\text{Alice}", "Alice has the larger share, so the winner is $\\boxed{\\text{Alice}}$.", True),
        ("\\text{Alice}", "Bob has the larger share, so the winner is $\\boxed{\\text{Bob}}$.", False),
        ("\\text{east}", "Turning right twice from west faces $\\boxed{\\text{east}}$.", True),
        ("2", "The answer is $\\boxed{\\text{two}}$.", True),
        ("12", "There are $\\boxed{\\text{twelve}}$ edges on a cube.", True),
        ("8", "There are $\\boxed{\\text{twelve}}$ edges on a cube.", False),
    ]
    for gold, resp, eq in cases:
        add(k, "words", gold, resp, eq)


# ---------------------------------------------------------------------------------------------------------- kind 7
def mat(rows, env="pmatrix"):
    body = " \\\\ ".join(" & ".join(r) for r in rows)
    if env == "array":
        cols = "c" * len(rows[0])
        return f"\\left[\\begin{{array}}{{{cols}}} {body} \\end{{array}}\\right]"
    return f"\\begin{{{env}}} {body} \\end{{{env}}}"


def kind7():
    k = 7
    for i in range(24):
        a_ = [[str(rng.randint(-5, 9)) for _ in range(2)] for _ in range(2)]
        b_ = [[str(rng.randint(-5, 9)) for _ in range(2)] for _ in range(2)]
        s_ = [[str(int(a_[r][c]) + int(b_[r][c])) for c in range(2)] for r in range(2)]
        gold = mat(s_)
        env = ["pmatrix", "bmatrix", "array"][i % 3]
        lead = f"Adding entrywise, ${mat(a_)} + {mat(b_)}$ equals"
        if i % 4 == 3:
            bad = [row[:] for row in s_]
            bad[1][1] = str(int(bad[1][1]) + 1)
            add(k, f"2x2 sum in {env}, one entry off", gold, f"{lead} $\\boxed{{{mat(bad, env)}}}$.", False)
        elif i % 4 == 2 and s_[0][1] != s_[1][0]:
            tr = [[s_[0][0], s_[1][0]], [s_[0][1], s_[1][1]]]
            add(k, f"2x2 sum in {env}, transposed", gold, f"{lead} $\\boxed{{{mat(tr, env)}}}$.", False)
        else:
            add(k, f"2x2 sum in {env}", gold, f"{lead} $\\boxed{{{mat(s_, env)}}}$.", True)
    cases = [
        (mat([["\\frac{1}{2}", "0"], ["0", "\\frac{1}{3}"]]),
         "The inverse of $\\operatorname{diag}(2,3)$ is $\\boxed{\\begin{pmatrix} 1/2 & 0 \\\\ 0 & 1/3 \\end{pmatrix}}$.", True),
        (mat([["\\frac{1}{2}", "0"], ["0", "\\frac{1}{3}"]]),
         "The inverse of $\\operatorname{diag}(2,3)$ is $\\boxed{\\begin{pmatrix} 0.5 & 0 \\\\ 0 & 1/3 \\end{pmatrix}}$.", True),
        (mat([["\\frac{1}{2}", "0"], ["0", "\\frac{1}{3}"]]),
         "The inverse of $\\operatorname{diag}(2,3)$ is $\\boxed{\\begin{pmatrix} 2 & 0 \\\\ 0 & 3 \\end{pmatrix}}$.", False),
        (mat([["3"], ["-1"], ["2"]]),
         "The projection is the vector\n\\[\n\\begin{pmatrix} 3 \\\\ -1 \\\\ 2 \\end{pmatrix}.\n\\]", True),
        (mat([["3"], ["-1"], ["2"]]),
         "The projection is the vector\n\\[\n\\begin{pmatrix} 3 \\\\ 1 \\\\ 2 \\end{pmatrix}.\n\\]", False),
        (mat([["3"], ["-1"], ["2"]]), "So the answer is $\\boxed{\\begin{bmatrix} 3 \\\\ -1 \\\\ 2 \\end{bmatrix}}$.", True),
        (mat([["\\frac{3}{5}", "\\frac{4}{5}"], ["-\\frac{4}{5}", "\\frac{3}{5}"]]),
         "The rotation matrix is $\\boxed{\\begin{pmatrix} \\frac35 & \\frac45 \\\\ -\\frac45 & \\frac35 \\end{pmatrix}}$.", True),
        (mat([["\\frac{3}{5}", "\\frac{4}{5}"], ["-\\frac{4}{5}", "\\frac{3}{5}"]]),
         "The rotation matrix is $\\boxed{\\begin{pmatrix} \\frac35 & -\\frac45 \\\\ \\frac45 & \\frac35 \\end{pmatrix}}$.", False),
        (mat([["1", "0"], ["0", "1"]]), "Multiplying the matrix by its inverse gives the identity, "
         "$\\begin{pmatrix} 1 & 0 \\\\ 0 & 1 \\end{pmatrix}$.", True),
        (mat([["0", "1"], ["1", "0"]]), "Multiplying the matrix by its inverse gives the identity, "
         "$\\begin{pmatrix} 1 & 0 \\\\ 0 & 1 \\end{pmatrix}$.", False),
    ]
    for gold, resp, eq in cases:
        add(k, "matrices and vectors", gold, resp, eq)


# ---------------------------------------------------------------------------------------------------------- kind 8
def kind8():
    k = 8
    for i in range(14):
        h, kk, a_ = rng.randint(-5, 5), rng.randint(-9, 9), rng.choice([1, 2, 3, -1, -2])
        b_, c_ = -2 * a_ * h, a_ * h * h + kk
        expanded = poly2(a_, b_, c_)
        vertex = vertex_form(a_, h, kk)
        if i % 3 == 2:
            add(k, "vertex form against expanded, constant off", expanded,
                f"Completing the square, $y = \\boxed{{{vertex_form(a_, h, kk + 1)}}}$.", False)
        elif i % 3 == 1:
            add(k, "expanded against vertex form", vertex, f"Expanding, $y = \\boxed{{{expanded}}}$.", True)
        else:
            add(k, "vertex form against expanded", expanded, f"Completing the square, $y = \\boxed{{{vertex}}}$.", True)
    cases = [
        ("\\frac{2x}{(x^2+1)^2}", "By the quotient rule, $f'(x) = \\boxed{\\frac{2x}{x^4 + 2x^2 + 1}}$.", True),
        ("\\frac{2x}{(x^2+1)^2}", "By the quotient rule, $f'(x) = \\boxed{\\frac{2x}{x^4 + 1}}$.", False),
        ("\\frac{-2x}{(x^2+1)^2}", "Differentiating $\\frac{1}{x^2+1}$ gives $\\boxed{-2x(x^2+1)^{-2}}$.", True),
        ("2x\\cos(x^2)", "By the chain rule the derivative is $\\boxed{2x\\cos x^2}$.", True),
        ("2x\\cos(x^2)", "By the chain rule the derivative is $\\boxed{2x\\cos^2 x}$.", False),
        ("e^x(x+1)", "By the product rule, $\\frac{d}{dx}(xe^x) = \\boxed{xe^x + e^x}$.", True),
        ("e^x(x+1)", "By the product rule, $\\frac{d}{dx}(xe^x) = \\boxed{xe^x}$.", False),
        ("(x-1)(x+1)", "Therefore the expression equals $\\boxed{x^2-1}$.", True),
        ("(x-1)(x+1)", "Therefore the expression equals $\\boxed{x^2+1}$.", False),
        ("x^3-3x^2+3x-1", "Recognising the binomial, it is $\\boxed{(x-1)^3}$.", True),
        ("x^3-3x^2+3x-1", "Recognising the binomial, it is $\\boxed{(x+1)^3}$.", False),
        ("1.5", "So $\\sqrt{2.25} = \\boxed{1.5}$.", True),
        ("\\sqrt{2.25}", "So the length is $\\boxed{\\frac{3}{2}}$.", True),
        ("\\sqrt{0.04}", "So the length is $\\boxed{0.2}$.", True),
        ("\\sqrt{0.04}", "So the length is $\\boxed{0.02}$.", False),
        ("\\frac{\\sqrt{2}}{2}", "Rationalising, $\\frac{1}{\\sqrt2} = \\boxed{\\frac{1}{\\sqrt{2}}}$.", True),
        ("2\\sqrt{3}", "So the side is $\\boxed{\\sqrt{12}}$.", True),
        ("2\\sqrt{3}", "So the side is $\\boxed{\\sqrt{6}}$.", False),
        ("\\frac{x+1}{x}", "Combining, the expression is $\\boxed{1 + \\frac{1}{x}}$.", True),
        ("\\frac{x+1}{x}", "Combining, the expression is $\\boxed{1 + x}$.", False),
        ("\\log_2 8", "Since $2^3 = 8$, the value is $\\boxed{3}$.", True),
        ("\\ln(6)", "By the product rule for logarithms, $\\ln 2 + \\ln 3 = \\boxed{\\ln 6}$.", True),
        ("\\ln(6)", "By the product rule for logarithms, $\\ln 2 + \\ln 3 = \\boxed{\\ln 5}$.", False),
        ("\\frac{1}{6}x^3+C", "Integrating term by term gives $\\boxed{\\frac{x^3}{6} + C}$.", True),
        ("2\\sin x\\cos x", "By the double-angle formula, the expression is $\\boxed{\\sin 2x}$.", True),
        ("2\\sin x\\cos x", "By the double-angle formula, the expression is $\\boxed{\\cos 2x}$.", False),
        ("\\frac{a+b}{ab}", "Adding the fractions gives $\\boxed{\\frac{1}{a} + \\frac{1}{b}}$.", True),
        ("\\frac{a+b}{ab}", "Adding the fractions gives $\\boxed{\\frac{1}{a+b}}$.", False),
        ("n(n+1)/2", "The sum is $\\boxed{\\frac{n^2+n}{2}}$.", True),
        ("n(n+1)/2", "The sum is $\\boxed{\\frac{n^2+1}{2}}$.", False),
        ("3^{10}", "So there are $\\boxed{59049}$ colourings.", True),
        ("3^{10}", "So there are $\\boxed{59050}$ colourings.", False),
        ("\\binom{10}{3}", "The number of committees is $\\boxed{120}$.", True),
        ("\\binom{10}{3}", "The number of committees is $\\boxed{720}$.", False),
        ("5!", "The number of orders is $\\boxed{120}$.", True),
    ]
    for gold, resp, eq in cases:
        add(k, "algebraic equivalence", gold, resp, eq)


# ---------------------------------------------------------------------------------------------------------- kind 9
def kind9():
    k = 9
    for i in range(14):
        steps, ans, d, _ = (shop_problem if i % 2 == 0 else trip_problem)()
        if i % 7 == 0:
            resp = (f"**Step 1: Find the cost.**\n{steps.split('. ')[0]}.\n\n**Step 2: Find the change.**\n"
                    f"{steps.split('. ')[1]}\n\n**Step 3: Compare the totals")
            add(k, "cut at a bold heading", str(ans), resp, False, preset="gsm8k")
        elif i % 7 == 1:
            add(k, "cut mid-sentence", str(ans), steps[: len(steps) // 2], False, preset="gsm8k")
        elif i % 7 == 2:
            add(k, "answer only inside an unclosed think block", str(ans),
                f"<think>\n{steps} So the answer is \\boxed{{{ans}}}. Let me double-check the first step", False)
        elif i % 7 == 3:
            add(k, "think closed, nothing after it", str(ans), f"<think>\n{steps}\n</think>\n\n", False)
        elif i % 7 == 4:
            add(k, "finished after bold headings", str(ans),
                f"**Step 1: Compute.**\n{steps}\n\n**Step 2: State the answer.**\nThe answer is {ans}.", True,
                preset="gsm8k")
        elif i % 7 == 5:
            add(k, "think block then final answer", str(ans),
                f"<think>\nLet me try {d[0]} first... {steps}\n</think>\n\nThe answer is $\\boxed{{{ans}}}$.", True)
        else:
            add(k, "bold Final Answer after headings", str(ans),
                f"### Step 1\n{steps}\n\n**Final Answer:** {ans}", True)
    cases = [
        ("48", "**Step 1: Compute the profit of the first shop.**\nThe first shop sells 12 items at 4 dollars.\n\n"
         "**Step 2: Compute the profit of the second shop.**\nThe second shop sells", False),
        ("48", "**Step 1: Compute the profit of the first shop.**\nThe first shop sells 12 items at 4 dollars, "
         "earning 48 dollars.\n\n**Step 2: Compare the profits**", False),
        ("5", "<think>\nWe need 2 + 3. That is 5. So \\boxed{5}.", False),
        ("5", "<think>\nWe need 2 + 3. That is 5.\n</think>\nSo the answer is $\\boxed{5}$.", True),
        ("5", "<think>\nWe need 2 + 3. Maybe 6?\n</think>\nSo the answer is $\\boxed{6}$.", False),
        ("17", "The number of days is 17 - 3 = 14, and then we add the", False),
        ("17", "Let's think step by step. First, Sam has 20 marbles and gives away 3, leaving", False),
        ("240", "First, the width is 12 and the length is 20, so the area is", False),
        ("240", "First, the width is 12 and the length is 20, so the area is 12 \\times 20 = 240.", True),
        ("9", "## Solution\n\n**Step 1: Set up the equation.**\n$3x = 27$\n\n**Step 2: Solve.**", False),
        ("9", "## Solution\n\n**Step 1: Set up the equation.**\n$3x = 27$\n\n**Step 2: Solve.**\n$x = 9$", True),
        ("\\frac{1}{3}", "<think>\nOne of the three doors hides the car, so the chance is $\\frac13$", False),
        ("100", "<think>\n</think>\n", False),
        ("100", "", False),
        ("36", "**Answer:**", False),
        ("36", "The area of the square is $6^2 = 36$.\n\n**Answer:** 36", True),
    ]
    for gold, resp, eq in cases:
        add(k, "unfinished or finished completions", gold, resp, eq, preset="gsm8k" if "\\" not in resp else "math")


# ---------------------------------------------------------------------------------------------------------- kind 10
def kind10():
    k = 10
    cases = [
        ("\\sqrt{2}", "The diagonal of the unit square is $\\boxed{1.4142}$.", False),
        ("\\sqrt{2}", "The diagonal of the unit square is $\\boxed{\\sqrt2}$.", True),
        ("3\\pi", "The circumference is $\\boxed{9.4248}$.", False),
        ("3\\pi", "The circumference is $\\boxed{3\\pi}$.", True),
        ("\\pi", "The area of the unit circle is $\\boxed{3.14159}$.", False),
        ("\\sqrt{3}", "The height is $\\boxed{1.732}$.", False),
        ("2\\sqrt{5}", "The distance is about $\\boxed{4.47}$.", False),
        ("e^2", "So $f(2) = \\boxed{7.389}$.", False),
        ("\\ln 2", "The half-life constant is $\\boxed{0.6931}$.", False),
        ("\\frac{\\pi}{4}", "So the angle is $\\boxed{0.7854}$ radians.", False),
        ("1+\\sqrt{2}", "Thus the ratio is $\\boxed{2.4142}$.", False),
        ("\\frac{1}{3}", "So the probability is $\\boxed{0.33}$.", False),
        ("5 \\text{ cm}", "So the length is $\\boxed{5 \\text{ m}}$.", False),
        ("5 \\text{ cm}", "So the length is $\\boxed{5\\text{ cm}}$.", True),
        ("12 \\text{ cm}^2", "The area is $\\boxed{12 \\text{ cm}}$.", False),
        ("30 \\text{ minutes}", "The trip takes $\\boxed{30 \\text{ seconds}}$.", False),
        ("30 \\text{ minutes}", "The trip takes $\\boxed{30 \\text{ min}}$.", True),
        ("8 \\text{ km}", "They are $\\boxed{8 \\text{ miles}}$ apart.", False),
        ("45^\\circ", "So the angle is $\\boxed{45}$ radians.", False),
        ("12", "The answer is $\\boxed{-12}$.", False),
        ("\\frac{1}{4}", "The answer is $\\boxed{0.125}$.", False),
        ("8", "The answer is $\\boxed{\\frac{1}{8}}$.", False),
        ("2x", "The derivative is $\\boxed{x^2}$.", False),
        ("3", "The candidates are $\\boxed{3}$, $\\boxed{4}$ and $\\boxed{5}$; one of them is right.", False),
        ("4", "The answer is one of 3, 4, 5 or 6.\nAnswer: 3, 4, 5, 6", False),
        ("4", "It is either $\\boxed{4}$ or $\\boxed{-4}$.", False),
        ("7", "I am not sure: \\boxed{6} \\boxed{7} \\boxed{8}", False),
        ("10", "Answer: 10 or 11", False),
        ("1000", "The total is $\\boxed{1000.5}$.", False),
        ("0.5", "The total is $\\boxed{0.05}$.", False),
        ("25\\%", "The share is $\\boxed{0.25\\%}$.", False),
        ("\\frac{3}{2}", "The answer is $\\boxed{\\frac{2}{3}}$.", False),
        ("(1,2)", "The answer is $\\boxed{(1,2,3)}$.", False),
        ("100", "The answer is $\\boxed{10^3}$.", False),
        ("x+1", "The answer is $\\boxed{x-1}$.", False),
        ("\\sqrt{2}", "The answer is $\\boxed{2}$.", False),
    ]
    for gold, resp, eq in cases:
        add(k, "false-positive traps", gold, resp, eq)


# ------------------------------------------------------------------------------------------- more of every kind
# Further families with drawn values; the same rule: the label is whether the completion's final answer is the gold.
def age_problem():
    a, d = rng.randint(6, 15), rng.randint(3, 9)
    y = rng.randint(2, 10)
    ans = a + d + y
    steps = (f"Tom is {a} years old and his sister is {d} years older, so she is {a} + {d} = {a + d}. In {y} years "
             f"she will be {a + d} + {y} = {ans}.")
    return steps, ans, [a, d, y, a + d], "years"


def recipe_problem():
    cups, people, guests = rng.randint(2, 6), rng.choice([2, 4]), rng.choice([8, 12, 16, 20])
    ans = cups * guests // people
    steps = (f"The recipe uses {cups} cups of flour for {people} people. For {guests} people we need "
             f"{guests} / {people} = {guests // people} times as much, so {cups} \\times {guests // people} = {ans} cups.")
    return steps, ans, [cups, people, guests, guests // people], "cups"


def average_problem():
    xs = [rng.randint(60, 99) for _ in range(4)]
    extra = (-sum(xs)) % 5
    xs.append(rng.choice([70, 75, 80, 85, 90]) + extra)
    while sum(xs) % 5:
        xs[-1] += 1
    ans = sum(xs) // 5
    steps = (f"The five scores add up to {' + '.join(map(str, xs))} = {sum(xs)}. Dividing by 5 gives the mean, "
             f"{sum(xs)} / 5 = {ans}.")
    return steps, ans, xs, "points"


def area_problem():
    w, l = rng.randint(3, 15), rng.randint(16, 30)
    ans = 2 * (w + l)
    steps = (f"The garden is {w} m wide and {l} m long, with area {w} \\times {l} = {w * l} square metres. The fence "
             f"goes around it: 2 \\times ({w} + {l}) = {ans} m.")
    return steps, ans, [w, l, w * l, w + l], "m"


STYLES = [
    ("bare answer on the last line", lambda st, v, u: f"{st}\n\n{v}"),
    ("answer in $...$", lambda st, v, u: f"{st} Therefore the answer is $ {v} $."),
    ("answer in \\(...\\)", lambda st, v, u: f"{st} The final value is \\({v}\\)."),
    ("answer in \\[...\\] over lines", lambda st, v, u: f"{st}\nSo the result is\n\\[\n{v}\n\\]"),
    ("last number then unit", lambda st, v, u: f"{st} In total that makes {v} {u}."),
    ("Answer: line", lambda st, v, u: f"{st}\nAnswer: {v}"),
    ("Minerva final-answer sentence",
     lambda st, v, u: f"{st}\nFinal Answer: The final answer is ${v}$. I hope it is correct."),
    ("the answer is N.", lambda st, v, u: f"{st} The answer is {v}."),
    ("bold Answer label", lambda st, v, u: f"{st}\n\n**Answer:** {v} {u}"),
    ("boxed", lambda st, v, u: f"{st} So the answer is $\\boxed{{{v}}}$."),
    ("boxed with unit", lambda st, v, u: f"{st} So the answer is $\\boxed{{{v} \\text{{ {u}}}}}$."),
    ("Final answer: line", lambda st, v, u: f"{st}\nFinal answer: {v}"),
]


def more_kind1():
    for i in range(72):
        steps, ans, distract, unit = (age_problem, recipe_problem, average_problem, area_problem)[i % 4]()
        neg = i % 5 in (1, 3)
        shown = wrong(ans, distract) if neg else ans
        what, fmt = STYLES[i % len(STYLES)]
        add(1, what, str(ans), fmt(steps, shown, unit), not neg)


def more_kind2():
    for i in range(24):
        p, q = rng.randint(1, 9), rng.choice([2, 3, 4, 5, 6, 7, 8, 9, 11, 12])
        f = Fraction(p, q)
        if f.denominator == 1:
            continue
        gold = frac_tex(f)
        forms = [f"\\dfrac{{{f.numerator}}}{{{f.denominator}}}", f"{f.numerator}/{f.denominator}",
                 f"\\tfrac{{{f.numerator}}}{{{f.denominator}}}", f"\\frac{{{f.numerator * 2}}}{{{f.denominator * 2}}}"]
        if f.denominator in (2, 4, 5, 8):
            forms.append(str(float(f)))
        form = forms[i % len(forms)]
        add(2, "fraction notation", gold, f"Simplifying the ratio, the probability is $\\boxed{{{form}}}$.", True)
        bad = Fraction(f.denominator, f.numerator) if i % 2 else f + Fraction(1, f.denominator)
        add(2, "fraction notation, other value", gold,
            f"Simplifying the ratio, the probability is $\\boxed{{{frac_tex(bad)}}}$.", bad == f)
    for i in range(16):
        n = rng.randint(1000, 9999999)
        sep = [",", "{,}", ",\\!", "\\,"][i % 4]
        add(2, f"thousands separator {sep}", str(n), f"Adding the two totals gives $\\boxed{{{thousands(n, sep)}}}$.", True)
        m = n + 10 ** rng.randint(0, 3)
        add(2, f"thousands separator {sep}, other value", str(n),
            f"Adding the two totals gives $\\boxed{{{thousands(m, sep)}}}$.", False)
    for i, (u, tex) in enumerate([("cm", "\\text{ cm}"), ("m", "\\mathrm{~m}"), ("kg", "\\,\\text{kg}"),
                                  ("s", "\\text{ s}"), ("dollars", "\\text{ dollars}"), ("degrees", "^\\circ")]):
        v = rng.randint(2, 400)
        add(2, f"unit {u} on the answer", str(v), f"Measuring again, the value is $\\boxed{{{v}{tex}}}$.", True)


def more_kind3():
    for i in range(20):
        xs = sorted(rng.sample(range(-12, 13), 3))
        gold = ", ".join(map(str, xs))
        order = xs[:] if i % 2 else list(reversed(xs))
        if i % 4 == 0:
            resp = "The real roots of the cubic are " + ", ".join(f"$x = \\boxed{{{x}}}$" for x in order) + "."
            add(3, "three roots, three boxes", gold, resp, True)
        elif i % 4 == 1:
            add(3, "three roots in one box", gold, f"So the solution set is $\\boxed{{{', '.join(map(str, order))}}}$.", True)
        elif i % 4 == 2:
            add(3, "two of three roots", gold, f"So the roots are $\\boxed{{{order[0]}}}$ and $\\boxed{{{order[1]}}}$.",
                False)
        else:
            bad = order[:2] + [order[2] + 13]
            add(3, "one of three roots wrong", gold, f"So the solution set is $\\boxed{{{', '.join(map(str, bad))}}}$.",
                False)


def more_kind4():
    labels = ["k", "m", "n", "AB", "|PQ|", "h", "x_0", "r", "S", "V"]
    for i in range(24):
        lab, v = labels[i % len(labels)], rng.randint(2, 60)
        if i % 3 == 2:
            add(4, "label on the answer, wrong value", str(v), f"We conclude that $\\boxed{{{lab} = {v + 2}}}$.", False)
        elif i % 3 == 1:
            add(4, "label on the gold", f"{lab}={v}", f"We conclude that the value is $\\boxed{{{v}}}$.", True)
        else:
            add(4, "label on the answer", str(v), f"We conclude that $\\boxed{{{lab} = {v}}}$.", True)


def more_kind5():
    for i in range(30):
        a = rng.randint(-9, 5)
        b = a + rng.randint(1, 9)
        lo, hi = rng.choice([("(", "<"), ("[", "\\le")]), rng.choice([(")", "<"), ("]", "\\le")])
        gold = f"{lo[0]}{a},{b}{hi[0]}"
        rel = f"{a} {lo[1]} x {hi[1]} {b}"
        if i % 3 == 2:
            flip = "\\le" if lo[1] == "<" else "<"
            add(5, "double inequality, one end flipped", gold, f"Solving, we get $\\boxed{{{a} {flip} x {hi[1]} {b}}}$.",
                False)
        elif i % 3 == 1:
            add(5, "interval for a double-inequality gold", rel, f"In interval notation: $\\boxed{{{gold}}}$.", True)
        else:
            add(5, "double inequality for an interval gold", gold, f"Solving, we get $\\boxed{{{rel}}}$.", True)


def more_kind6():
    suffix = {1: "st", 2: "nd", 3: "rd"}
    for i in range(12):
        n = rng.randint(4, 40)
        suf = "th" if 10 <= n % 100 <= 20 else suffix.get(n % 10, "th")
        form = [f"{n}^{{\\text{{{suf}}}}}", f"{n}{suf}", f"{n}\\text{{{suf}}}"][i % 3]
        add(6, "ordinal", str(n), f"Counting the positions, it is the $\\boxed{{{form}}}$ one.", True)
        add(6, "ordinal, other place", str(n), f"Counting the positions, it is the {n + 1}{'th'} one.\nAnswer: {n + 1}th",
            False)
    for i in range(6):
        k = rng.randint(2, 90)
        add(6, "number in words with a scale", str(k * 1000), f"The crowd was about $\\boxed{{{k}\\text{{ thousand}}}}$.",
            True)


def more_kind7():
    for i in range(20):
        v = [rng.randint(-7, 9) for _ in range(3)]
        gold = mat([[str(x)] for x in v])
        if i % 4 == 3:
            bad = v[:]
            bad[i % 3] = -bad[i % 3] if bad[i % 3] else 1
            add(7, "column vector, one sign off", gold, f"The cross product is $\\boxed{{{mat([[str(x)] for x in bad])}}}$.",
                False)
        elif i % 4 == 2:
            add(7, "column vector against a tuple", gold, f"The cross product is $\\boxed{{({v[0]}, {v[1]}, {v[2]})}}$.", True)
        else:
            env = ["bmatrix", "pmatrix"][i % 2]
            add(7, f"column vector in {env}", gold, f"The cross product is $\\boxed{{{mat([[str(x)] for x in v], env)}}}$.",
                True)


def more_kind8():
    for i in range(30):
        a, b = rng.randint(-9, 9), rng.randint(-9, 9)
        factored = f"({lin('x', -a)})({lin('x', -b)})"
        expanded = poly2(1, a + b, a * b)
        if i % 3 == 2:
            add(8, "factored against expanded, constant off", expanded,
                f"Factoring, the polynomial is $\\boxed{{({lin('x', -a)})({lin('x', -b - 1)})}}$.", (b + 1) == b)
        elif i % 3 == 1:
            add(8, "expanded against factored", factored, f"Multiplying out gives $\\boxed{{{expanded}}}$.", True)
        else:
            add(8, "factored against expanded", expanded, f"Factoring, the polynomial is $\\boxed{{{factored}}}$.", True)


def more_kind9():
    for i in range(30):
        steps, ans, d, unit = (age_problem, recipe_problem, average_problem, area_problem)[i % 4]()
        head, tail = steps.rsplit(" ", 1)[0], steps
        if i % 5 == 0:
            add(9, "cut by the length limit before the last step", str(ans), steps[: steps.rfind(str(ans))], False)
        elif i % 5 == 1:
            add(9, "cut after a bold heading", str(ans),
                f"**Step 1: Set up.**\n{steps.split('. ')[0]}.\n\n**Step 2: Compute the final value.**", False)
        elif i % 5 == 2:
            add(9, "answer only inside an unclosed think block", str(ans),
                f"<think>\n{tail}\nSo the answer is {ans}.\nWait, let me re-read the question", False)
        elif i % 5 == 3:
            add(9, "finished after a think block", str(ans),
                f"<think>\n{tail}\n</think>\n\n{steps}\n\n**Answer:** {ans} {unit}", True)
        else:
            add(9, "finished, bold headings", str(ans),
                f"**Step 1: Set up.**\n{steps}\n\n**Step 2: Conclude.**\nThe answer is $\\boxed{{{ans}}}$.", True)


def more_kind10():
    import math
    for i in range(14):
        n = rng.choice([2, 3, 5, 6, 7, 8, 10, 11, 12, 13, 15, 17])
        dec = f"{math.sqrt(n):.4f}"
        add(10, "4-digit decimal for a square root", f"\\sqrt{{{n}}}", f"So the length is $\\boxed{{{dec}}}$.", False)
    for i in range(8):
        k = rng.randint(2, 9)
        add(10, "decimal for a multiple of pi", f"{k}\\pi", f"So the circumference is $\\boxed{{{k * math.pi:.4f}}}$.", False)
    pairs = [("cm", "m"), ("kg", "g"), ("seconds", "minutes"), ("km", "m"), ("mL", "L"), ("hours", "days"),
             ("dollars", "cents"), ("square feet", "feet")]
    for i, (u, w) in enumerate(pairs):
        v = rng.randint(3, 90)
        add(10, "same number, different unit", f"{v} \\text{{ {u}}}", f"The answer is $\\boxed{{{v} \\text{{ {w}}}}}$.",
            False)
        add(10, "same number, same unit", f"{v} \\text{{ {u}}}", f"The answer is $\\boxed{{{v}\\ \\text{{{u}}}}}$.", True)
    for i in range(8):
        v = rng.randint(2, 40)
        add(10, "hedge over two boxed candidates", str(v), f"It is $\\boxed{{{v}}}$ or $\\boxed{{{v + 1}}}$.", False)


for f in (kind1, kind2, kind3, kind4, kind5, kind6, kind7, kind8, kind9, kind10, more_kind1, more_kind2,
          more_kind3, more_kind4, more_kind5, more_kind6, more_kind7, more_kind8, more_kind9, more_kind10):
    f()
write("issue11_kinds.jsonl", OUT)
