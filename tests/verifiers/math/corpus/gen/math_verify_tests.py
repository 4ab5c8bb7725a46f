"""Transcribed from huggingface/Math-Verify tests/test_all.py (MIT, commit cf14bc47e798). Each case names its test.

The inputs are the test's; the label is ours, from the mathematics (it agrees with the test's expectation except
where a comment says why not). Cases whose expectation depends on a math-verify option (precision, strict,
allow_set_relation_comp) or whose input is nonsense kept only to exercise a parser path are left out.
"""
from common import record, write

SRC = "huggingface/Math-Verify tests/test_all.py::"

A = []  # (mode, gold, response, equal, kind, test)


def a(gold, resp, eq, kind, test):
    A.append(("answer", gold, resp, eq, kind, test))


def r(gold, resp, eq, kind, test):
    A.append(("response", gold, resp, eq, kind, test))


t = "test_number_extraction"
a("1000.99", "1000,99", True, 2, t)
a("1.22", "1,22", True, 2, t)
r("2.74", "Soucis : 2,74 $ a..", True, 1, t)
a("0.4", ".4", True, 2, t)
a("1000.99", "1,000.99", True, 2, t)
a("1000.99", "$1,000.99", True, 2, t)
a("1000.99", "1,000.99$", True, 2, t)
r("1000.99", "the number is not 10 which is 1,000.99€", True, 1, t)
r("1000.99", "so the number is 10 which is 1,000.99m²", True, 1, t)
r("1000.99", "not it's not 10 it's 1,000.99m²", True, 1, t)
a("0.111", "0,111", True, 2, t)
r("2", "AZYUK2A", False, 1, t)

t = "test_simple_fraction_notation"
a("10/9", r"\frac{10}{9}", True, 2, t)
a("-10/9", r"-\frac{10}{9}", True, 2, t)

t = "test_sets_handling"
a("[0,1)", "[0,1)", True, 5, t)
a("[0,9)", "[0,1)", False, 5, t)
a("(0,9)", "[0,9)", False, 5, t)
a("1", "-[0,1)", False, 5, t)

t = "test_latex_notation"
r("9", r"Answer \[ 9 \]", True, 1, t)
r("9", "Answer $ 9 $", True, 1, t)
r("9", "Answer $$ 9 $$", True, 1, t)
r("9", r"Answer \( 9 \)", True, 1, t)
r("10", r"Answer \( (9+1) \)", True, 1, t)
r("9", "Answer \\[ \n 9 \n \\]", True, 1, t)
r("9", "Answer $$ \n 9 \n $$", True, 1, t)
r("10/9", r"Answer $ \frac{1}{2} \$ = \frac{10}{9} $", True, 1, t)
a("1/3", r"\frac13", True, 2, t)
a("1", r"\frac3{3}", True, 2, t)
a(r"\sqrt{3}", r"\sqrt3", True, 2, t)
a("1/3", r"\cfrac{1}{3}", True, 2, t)
a("1/3", r"\dfrac{1}{3}", True, 2, t)
a("1/3", r"\tfrac{1}{3}", True, 2, t)
a("1/3", " 1/3 ", True, 2, t)
a("1/3", r"\left( \frac{1}{3} \right)", True, 2, t)
r("1/3", r"$\boxed{\frac{1}{3}}$", True, 2, t)
a("1/3", r"\frac{1}{3} \text{meters}", True, 2, t)
a("1/3", r"\frac{1}{3} \textbf{meters}", True, 2, t)
a("1/3", r"k = \frac{1}{3}", True, 2, t)

t = "test_percent_notation"
r(r"28\%", "28 percent", True, 2, t)
r(r"28\%", "28 pct", True, 2, t)
r(r"28\%", "28 %", True, 2, t)
r(r"28\%", "$28$ %", True, 2, t)
r(r"28\%", "$28$ percent", True, 2, t)
r(r"28\%", r"$\boxed{28}$ pct", True, 2, t)
r(r"28\%", r"$\boxed{28 pct}", True, 2, t)
r(r"28\%", r"$\boxed{28 percent}", True, 2, t)
r(r"28\%", r"$\boxed{28 percentage}", True, 2, t)
a(r"28\%", "28", True, 2, t)
a("0.28", "28", False, 10, t)
a("28/100", "28", False, 10, t)
a("28", "28/100", False, 10, t)
a(r"\frac{28}{100}", "28", False, 10, t)
a(r"28*\frac{1}{100}", "28", False, 10, t)

t = "test_latex_notation_math"
r("2-2p", r"Since $x<2$, it follows that $|x-2|=2-x$. If $2-x=p$, then $x=2-p$. Thus $x-p=\boxed{2-2p}$.", True, 0, t)
r(r"\begin{pmatrix} 0 & 3 \\ 0 & -1 \end{pmatrix}",
  "\\boxed{\n\\begin{pmatrix} 0 & 3 \\\\ 0 & -1 \\end{pmatrix}\n}.\n\\end{align*}", True, 7, t)
r("28\\%", r"If its initial value was $x$, after Monday, its value is $.9x$, and after a further $20\%$ loss, its value becomes $.8\cdot .9x = .72x$, making for a total loss of $\boxed{28\%}$.", True, 2, t)
r("14{,}916", r"In order for $N$ to be divisible by 12, $N$ must be divisible by $4$ and $3$. That means the last two digits $AB$ must form a multiple of $4.$ Since $A$ and $B$ are nonzero digits, the smallest possible $14{,}9AB$ that is divisible by 4 is $14{,}912.$ Unfortunately, this number is not a multiple of $3$, since $1 + 4 + 9 + 1 + 2 = 17.$ However, our next possibility, $14{,}916,$ is a multiple of $3,$ since $1 + 4 + 9 + 1 + 6 = 21.$ Therefore, $\boxed{14{,}916}$ is our answer.", True, 2, t)
r(r"12\text{ and }13", r"We have that \begin{align*} \sqrt{30 } + \sqrt{50 }&=\sqrt{30 } + \sqrt{25 \cdot2 } \ &=\sqrt{30 } + 5 \sqrt{2 } \ &\approx5.477 + 5 \cdot1.414 \ &\approx5.477 + 7.07 \ &\approx12.547. \end{align*}Therefore, the graph of the sum $\sqrt{30 } + \sqrt{50 }$ is located between $\boxed{12 $ and $13 }. $ Final Answer: The final answer is \"$12 $ and $13 $\". I hope it is correct.", True, 6, t)
r(r"(3, \frac{\pi}{2})", "We have that $r = \\sqrt{0^2 + 3^2} = 3.$  Also, if we draw the line connecting the origin and $(0,3),$ this line makes an angle of $\\frac{\\pi}{2}$ with the positive $x$-axis.\n\n[asy]\nunitsize(0.8 cm);\n\ndraw((-0.5,0)--(3.5,0));\ndraw((0,-0.5)--(0,3.5));\ndraw(arc((0,0),3,0,90),red,Arrow(6));\n\ndot((0,3), red);\nlabel(\"$(0,3)$\", (0,3), W);\ndot((3,0), red);\n[/asy]\n\nTherefore, the polar coordinates are $\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}.$", True, 2, t)
r(r"\frac{14}{3}", r"$f(-2)+f(-1)+f(0)=\frac{3(-2)-2}{-2-2}+\frac{3(-1)-2}{-1-2}+\frac{3(0)-2}{0-2}=\frac{-8}{-4}+\frac{-5}{-3}+\frac{-2}{-2}=2+\frac{5}{3}+1=\boxed{\frac{14}{3}}$", True, 0, t)
r(r"\text{Evelyn}", r"Evelyn covered more distance in less time than Briana, Debra and Angela, so her average speed is greater than any of their average speeds. Evelyn went almost as far as Carla in less than half the time that it took Carla, so Evelyn's average speed is also greater than Carla's. Therefore, $\boxed{\text{Evelyn}}$ is our answer.", True, 6, t)
r(r"3\sqrt{13}", r"We use the distance formula:  \begin{align*} \sqrt{(2 - (-4))^2 + ((-6) - 3)^2} &= \sqrt{6^2 + (-9)^2}\\ & = \sqrt{36 + 81}\\ & = \sqrt{117} = \boxed{3\sqrt{13}}. \end{align*}", True, 0, t)
r(r"\frac{3}{56}", r"We also know that $q(-1) = ((-1)^2 - 1)p(-1) + 1 = 1.$  Setting $x = -1$ in the equation above, we get \[q(-1) = 20160(-a + b),\]so $-a + b = \frac{1}{20160}.$  Solving for $a$ and $b,$ we find $a = -\frac{29}{40320}$ and $b = -\frac{3}{4480}.$  Hence, \begin{align*} q(x) &= \left( -\frac{29}{40320} x - \frac{3}{4480} \right) (x - 2)(x - 3) \dotsm (x - 7) \\ &= -\frac{(29x + 27)(x - 2)(x - 3) \dotsm (x - 7)}{40320}. \end{align*}In particular, \[q(8) = -\frac{(29 \cdot 8 + 27)(6)(5) \dotsm (1)}{40320} = -\frac{37}{8},\]so \[p(8) = \frac{q(8) + 8}{8^2 - 1} = \boxed{\frac{3}{56}}.\]", True, 0, t)
r("2", r"Of the two-digit perfect squares, only $4^2=16$ and $6^2=36$ end in $6$. Thus, there are $\boxed{2}$ distinct possible values for $B$.", True, 0, t)
r(r"15\mbox{ cm}^2", r"The shaded triangle has a base of length $10\text{ cm}.$ Since the triangle is enclosed in a rectangle of height $3\text{ cm},$ then the height of the triangle is $3\text{ cm}.$ (We know that the enclosing shape is a rectangle, because any figure with four sides, including two pairs of equal opposite sides, and two right angles must be a rectangle.) Therefore, the area of the triangle is $$\frac{1}{2}\times 3 \times 10 = \boxed{15\mbox{ cm}^2}.$$", True, 2, t)
r("-2,1", r"By the Integer Root Theorem, the possible integer roots are all the divisors of 14 (including negative divisors), which are $-14,$ $-7,$ $-2,$ $-1,$ $1,$ $2,$ $7,$ and $14.$  Checking, we find that the only integer roots are $\boxed{-2,1}.$", True, 3, t)
r("9", r"We use the property that $a \equiv b \pmod{m}$ implies $a^c \equiv b^c \pmod{m}$. Since $129 \equiv -3 \pmod{11}$ and $96 \equiv -3 \pmod{11}$, we have  $$129^{34}+96^{38} \equiv (-3)^{34}+(-3)^{38} \equiv 3^{34}+3^{38} \pmod{11}.$$ Since $3^5 \equiv 1 \pmod{11},$ we can see that $3^{34} = (3^5)^{6} \cdot 3^4$ and $3^{38} = (3^5)^{7} \cdot 3^3.$ Then, $129^{34}+96^{38} \equiv \boxed{9} \pmod{11}.$", True, 0, t)
r(r"90^\circ", r"Therefore, \begin{align*} \angle BAC &= \angle BAD + \angle DAC \\ &= 50^\circ+40^\circ \\ &= \boxed{90^\circ}. \end{align*}", True, 2, t)
r("0", r"Note that $p(x)$ has degree at most 2.  Also, $p(a) = p(b) = p(c) = 1.$  Thus, the polynomials $p(x)$ and 1 agree at three different values, so by the Identity Theorem, they are the same polynomial.  Hence, the degree of $p(x)$ (which is the constant polynomial 1) is $\boxed{0}.$", True, 0, t)
r("204_5", r"We may carry out long division in base 5 just as in base 10. We have  \[ \begin{array}{c|ccc} \multicolumn{2}{r}{2} & 0 & 4 \\ \cline{2-4} 2 & 4 & 1 & 3 \\ \multicolumn{2}{r}{4} & \downarrow & \\ \cline{2-2} \multicolumn{2}{r}{0} & 1 & \\ \multicolumn{2}{r}{} & 0 & \downarrow \\ \cline{3-3} \multicolumn{2}{r}{} & 1 & 3 \\ \multicolumn{2}{r}{} & 1 & 3 \\ \cline{3-4} \multicolumn{2}{r}{} & & 0 \end{array} \]for a quotient of $\boxed{204_5}$. Note that in the above calculation we have used that $13_5$ divided by $2_5$ is $4_5$, which follows from $4_5\times2_5=8_{10}=13_5$.", True, 2, t)
r("(6,31,-1)", r"Let $\alpha$ be a root of $x^3 - 3x^2 + 4x - 1 = 0,$ so $\alpha^3 = 3 \alpha^2 - 4 \alpha + 1.$ Then solving the system of equations, we find $(p,q,r) = \boxed{(6,31,-1)}.$", True, 4, t)
r(r"1 \pm \sqrt{19}", r"This simplifies to $64y + 1920 = 0,$ so $y = -30.$ Then $x^2 - 2x - 48 = -30,$ or $x^2 - 2x - 18 = 0.$ By the quadratic formula, $x = \boxed{1 \pm \sqrt{19}}.$", True, 3, t)
r(r"3 \pm 2 \sqrt{2}", r"This gives us $x^2 + 1 = 6x,$ or $x^2 - 6x + 1 = 0.$ By the quadratic formula, the roots are $x = \boxed{3 \pm 2 \sqrt{2}}.$", True, 3, t)
r(r"\{1\pm\sqrt{5},-2\}", r"The roots of $P(x)$ are $-2$ and $1 \pm \sqrt{5}$, so the answer is $\boxed{\{1\pm\sqrt{5},-2\}}.$", True, 3, t)
r(r"2 \sin b \cos a", "By sum-to-product,\n\\[\\sin (a + b) - \\sin (a - b) = \\boxed{2 \\sin b \\cos a}.\\]", True, 8, t)
r(r"125 \text{ miles}", r"The distance is $\boxed{125\textnormal{ miles}}.$", True, 2, t)
r(r"[-1, -\frac{1}{2}) \cup (-\frac{1}{2}, 0) \cup (0, 1) \cup (1, \infty)", r"The solution set is $\boxed{[-1, -\tfrac12) \cup (-\tfrac12, 0) \cup (0, 1) \cup (1, \infty)}.$", True, 5, t)
r(r"\sqrt{2}+\sqrt{5}", r"The answer is $\boxed{\sqrt 2+\sqrt 5}$", True, 2, t)
r(r"\frac{9}{4}\pi", r"Therefore $\boxed{\frac94\pi}$.", True, 2, t)
r(r"\{-1\} \cup [0,7)", r"x \in \boxed{\{-1\} \cup [0,7)}.$", True, 5, t)

t = "test_relations_math"
r(r"x \ge 5", r"Therefore $x \geq 5$ is the solution.", True, 5, t)
r("x < 3", r"We find that $x \lt 3$.", True, 5, t)
r(r"x \leq 2", "Thus $x <= 2$ is our answer.", True, 5, t)
r("x > 5", r"Therefore $x \gt 5$ is the solution.", True, 5, t)
r("x != 3", r"We find that $x \neq 3$.", True, 5, t)
r("x > 5", "Therefore $x < 5$ is the solution.", False, 5, t)
r(r"x \geq 5", r"The solution is $x \leq 5$", False, 5, t)
r(r"x \neq 5", "The solution is $x != 5$", True, 5, t)
a(r"x \leq 5", r"5 \geq x", True, 5, t)
a(r"x \geq 5", r"5 \leq x", True, 5, t)
a("x = 11", "x = 5+5+1 = 7 =11", True, 4, t)  # the last side of a chain is the answer
a("7 = 11a+c", "11a+c", False, 4, t)
a("11", "x=11", True, 4, t)
a("11", r"x\approx11", True, 4, t)
a("x < 1", "-x > -1", True, 5, t)
a("x < 1", "x > -1", False, 5, t)
a("x <= 1", "-x >= -1", True, 5, t)
a("a +3z = 0", "0", False, 4, t)
a("2x + z = 1", "1", False, 4, t)
a("a^2 + b = 0", "0", False, 4, t)
a("k=1", "1", True, 4, t)
a("1", "k=1", True, 4, t)
a("2x+4y-3=0", r"y=-\frac{1}{2}x+\frac{3}{4}", True, 8, t)
a("x^2/4 + y^2/3 = 1", "x^2/16 + y^2/12 = 1/4", True, 8, t)

t = "test_math_extraction_additional_cases"
r("189", "9=189.\n\nTherefore, answer is 189.\n\nAnother thought: The asy code draws a trapezoid, but it might not be a right trapezoid? Wait, no, two right angles are drawn at (0,0) and (0,9). So sides AD and DC are perpendicular. So it's a right trapezoid.\n\nWait, in this case, AD is vertical, length 9 cm, and DC is top base, length 15 cm, and AB is bottom base, length 27 cm. So area is (15 +27)/2 *9=189.\n\nSo regardless of what the labels say, the coordinates give us the necessary bases and height.\n\nAlternatively, thinking that maybe the 5 cm is a different component. Let me think, if the height is 3 cm, but the coordinate says 9. No, that's conflicting.\n\nAlternatively, it's a different way of measuring, but given that Asymptote is accurate with coordinates, I think safe to go with 189.\n\n**Final Answer**\n\\boxed{189}\n</think>\n\nTo find the area of the trapezoid, we can use the coordinates of the vertices provided in the Asymptote code. The vertices are A(0,0), B(27,0), C(15,9), and D(0,9).\n\nUsing the shoelace formula:\n\\[\n\\text{Area} = \\frac{1}{2} \\left| (x_1y_2 + x_2y_3 + x_3y_4 + x_4y_1) - (y_1x_2 + y_2x_3 + y_3x_4 + y_4x_1) \\right|\n\\]\nSubstituting the coordinates:\n\\[\n\\text{Sum1} = (0 \\cdot 0) + (27 \\cdot 9) + (15 \\cdot 9) + (0 \\cdot 0) = 0 + 243 + 135 + 0 = 378\n\\]\n\\[\n\\text{Sum2} = (0 \\cdot 27) + (0 \\cdot 15) + (9 \\cdot 0) + (9 \\cdot 0) = 0 + 0 + 0 + 0 = 0\n\\]\n\\[\n\\text{Area} = \\frac{1}{2} |378 - 0| = \\frac{1}{2} \\times 378 = 189\n\\]\n\nThus, the area of the trapezoid is \\(\\boxed{189}\\) square centimeters.", True, 0, t)
t = "test_matrix_extraction"
r(r"\begin{pmatrix}1 & 0 \\ 0 & 1\end{pmatrix}", r"The identity matrix is $ \begin{pmatrix}1 & 0 \\ 0 & 1\end{pmatrix} $.", True, 7, t)
r(r"\begin{bmatrix}0 & 0 \\0 & 0\end{bmatrix}", r"Here is a zero matrix: $ \begin{pmatrix}0 & 0 \\0 & 0\end{pmatrix} $", True, 7, t)
r(r"\begin{pmatrix}1 & 2 \\3 & 4\end{pmatrix}", r"Special matrix: $ \left[\begin{array}{cc}1 & 2 \\3 & 4\end{array}\right] $", True, 7, t)
r(r"\begin{pmatrix}\frac{1}{2} & \frac{3}{4} \\ \frac{5}{6} & \frac{7}{8}\end{pmatrix}", r"Matrix with fractions: $ \begin{pmatrix}\frac{1}{2} & \frac{3}{4} \\ \frac{5}{6} & \frac{7}{8}\end{pmatrix} $", True, 7, t)
r(r"\begin{pmatrix}1 & 2 \\ 3 & 4\end{pmatrix}", r"The matrix is $\begin{pmatrix}1 & 2 \\ 3 & 5\end{pmatrix}$", False, 7, t)

t = "test_complex_math_expressions"
a(r"\frac{1}{12}", "0.0833333333333333", True, 2, t)
a(r"(1,\frac{9}{2})", "(1,4.5)", True, 2, t)
a(r"\frac{x+2}{7}", r"\frac{x}{7}+\frac{2}{7}", True, 8, t)
a(r"\tan^2(y)+1", r"\sec^2(y)", True, 8, t)
a(r"\begin{pmatrix}\frac{1}{3\sqrt[3]{x}^2}&0&0\\0&1&0\\-\sin(x)&0&0\\\end{pmatrix}",
  r"\begin{pmatrix}\frac{1}{3x^{2/3}}&0&0\\0&1&0\\-\sin(x)&0&0\end{pmatrix}", True, 7, t)
a("34x+45y-20z+100=0", "-34x-45y+20z-100=0", True, 8, t)
a(r"\frac{\sqrt{\sqrt{11}+\sqrt{194}}}{15+2\sqrt{33}}", r"\frac{\sqrt{\sqrt{11}+\sqrt{194}}}{2\sqrt{33}+15}", True, 8, t)
a("(a+5)(b+2)", "(+5)(b+2)", False, 8, t)
a("2", r"\frac{1+\sqrt{5}}{2}", False, 10, t)
a("4", r"\frac{34}{16}+\frac{\sqrt{1358}}{16}", False, 10, t)
a(r"1\sqrt{19}", "1", False, 10, t)
a("x+2n+1", "x+1", False, 8, t)

t = "test_math_extraction_edge_cases"
r("2/3", r"and then Alice wins the game from that point on. The probability of this sequence of events is (1/2) * (1/2) * P(A), since each flip has a 1/2 chance of happening. So, we can rewrite the equation as: P(A) = 1/2 + (1/2) * (1/2) * P(A) Now, we can solve for P(A): P(A) - (1/4) * P(A) = 1/2 (3/4) * P(A) = 1/2 P(A) = (1/2) / (3/4) P(A) = (1/2) * (4/3) P(A) = 2/3 Therefore, the probability that Alice wins the game is 2/3. <|im_start|>user", True, 1, t)
r("12", r"Let's denote the common difference of the arithmetic sequence as $d$. Since the first term is 1, the sequence can be written as $1, 1+d, 1+2d, 1+3d, \dots$. We are given that another term of the sequence is 91. So, there exists an integer $n$ such that $1+nd = 91$. Solving for $d$, we get $d = \frac{90}{n}$. Since $d$ must be an integer, $n$ must be a divisor of 90. The divisors of 90 are 1, 2, 3, 5, 6, 9, 10, 15, 18, 30, 45, and 90. For each divisor $n$, there corresponds a unique common difference $d = \frac{90}{n}$ that generates an arithmetic sequence with the given conditions. Therefore, there are 12 distinct arithmetic sequences that meet the three given conditions. I hope it is correct. <|im_start|>user", True, 1, t)
r("[0,1)", r"For the function $q(x)$ to be defined, both the numerator and the denominator must be real numbers, and the denominator must not be zero. 1. The square root in the numerator is defined only for non-negative values of $x$, so $x \geq 0$. 2. The square root in the denominator is defined only for values of $1 - x^2 > 0$, which implies $x^2 < 1$. This gives $-1 < x < 1$. 3. The denominator cannot be zero, so $1 - x^2 \neq 0$, which implies $x \neq \pm 1$. Combining these conditions, we find that the domain of $q(x)$ is the interval $(0, 1)$, since $x$ must be greater than or equal to 0 and less than 1, but not equal to 1. Final Answer: The final answer is $(0, 1)$. I hope it is correct. <|im_start|>user", False, 5, t)
r("16386.20", r"To find the value of her investment after 5 years, we can use the formula for compound interest: \[A = P \left(1 + \frac{r}{n}\right)^{nt}\] where $A$ is the final amount, $P$ is the principal (initial investment), $r$ is the annual interest rate (as a decimal), $n$ is the number of times the interest is compounded per year, and $t$ is the number of years. In this case, Paula invested $\$10,\!000$, so $P = \$10,\!000$. The interest rate is $10\%$, which as a decimal is $r = 0.10$. The interest is compounded quarterly, so $n = 4$. The investment period is 5 years, so $t = 5$. Plugging these values into the formula, we get: \[A = 10000 \left(1 + \frac{0.10}{4}\right)^{4 \cdot 5}\] \[A = 10000 \left(1 + 0.025\right)^{20}\] \[A = 10000 \left(1.025\right)^{20}\] \[A \approx 10000 \cdot 1.63862\] \[A \approx 16386.20\] Rounded to the nearest cent, Paula's investment is worth $\boxed{\$16,\!386.20}$ at the end of the 5-year period. The answer is $16,\!386.20$.", True, 2, t)
r("120", r"We can find the volume of pyramid $ABCH$ by using the formula for the volume of a pyramid: $\frac{1}{3} \times \text{base area} \times \text{height}$. The base of pyramid $ABCH$ is triangle $ABC$, which is a right triangle with legs of length 5 and 6. Therefore, the base area is $\frac{1}{2} \times 5 \times 6 = 15$. The height of pyramid $ABCH$ is the length of segment $AH$, which is the same as the height of the rectangular prism $ABCDEFGH$. Let's call this height $h$. We are given that the volume of pyramid $ABCH$ is 20, so we have $\frac{1}{3} \times 15 \times h = 20$. Simplifying, we get $5h = 20$, so $h = 4$. Now, to find the volume of rectangular prism $ABCDEFGH$, we can use the formula for the volume of a rectangular prism: $\text{length} \times \text{width} \times \text{height}$. The length is 5, the width is 6, and the height is 4. Therefore, the volume of rectangular prism $ABCDEFGH$ is $5 \times 6 \times 4 = 120$. Final Answer: The volume of $ABCDEFGH$ is 120. I hope it is correct.", True, 1, t)
r("12000023", r"To find the integers congruent to 3 (mod 7), we can find the remainder when each integer is divided by 7. For 85, the remainder is $85 \mod 7 = 1$. For 49,479, the remainder is $49,\!479 \mod 7 = 3$. For -67, the remainder is $-67 \mod 7 = 4$. For 12,000,003, the remainder is $12,\!000,\!003 \mod 7 = 5$. For -3, the remainder is $-3 \mod 7 = 4$. The only integer congruent to 3 (mod 7) is 49,479. Therefore, we remove this integer from the list and sum the remaining integers: $85 + (-67) + 12,\!000,\!003 + (-3) = 12,\!000,\!023$. Final Answer: The final answer is 12,000,023. I hope it is correct. <|im_start|>user", True, 1, t)
r("14916", r"Now, we need to find the smallest possible value for $N$ given that $A + B = 4$ and $AB = 12$. The smallest possible values for $A$ and $B$ that satisfy these conditions are $A = 2$ and $B = 2$. Therefore, the smallest possible value for $N$ is $14{,}922$. Final Answer: The smallest possible value of $N$ is $\boxed{14{,}916}$. I hope it is correct. <|im_start|>user", True, 2, t + " (the last part of the completion)")
r(r"\left(\frac{4}{5},\frac{1}{5}\right)", r"Since $AP:PB = 1:4,$ we can write \[\frac{\overrightarrow{P} - \overrightarrow{A}}{1} = \frac{\overrightarrow{B} - \overrightarrow{P}}{4}.\]Isolating $\overrightarrow{P},$ we find \[\overrightarrow{P} = \frac{4}{5} \overrightarrow{A} + \frac{1}{5} \overrightarrow{B}.\]Thus, $(t,u) = \boxed{\left( \frac{4}{5}, \frac{1}{5} \right)}.$ Final Answer: The final answer is $\left( \frac{4}{5}, \frac{1}{5} \right)$. I hope it is correct. <|im_start|>user", True, 4, t)
r(r"\frac{5\sqrt{42}}{27}", r"Substituting this back into the expression, we get: \begin{align*} \frac{28\sqrt{1050}}{756} &= \frac{28 \cdot 10\sqrt{10.5}}{756} \\ &= \frac{280\sqrt{10.5}}{756} \\ &= \frac{10\sqrt{10.5}}{27}. \end{align*} Final Answer: The final answer is $\frac{10\sqrt{10.5}}{27}$. I hope it is correct.", True, 8, t + " (the last part of the completion); 10*sqrt(10.5)/27 = 5*sqrt(42)/27 exactly")
r("16386.17", r"Calculating this gives: \[A \approx 10000(1.025)^{20} \approx 16386.169.\] Rounded to the nearest cent, Paula's investment is worth $\boxed{\$16386.17}$ after 5 years. I hope it is correct. <|im_start|>user", True, 2, t + " (the last part of the completion)")
r("3", r"Since the bases are the same, we can equate the exponents: \[s + 6 = 3 + 2s\] Solve for $s$: \[6 - 3 = 2s - s\] \[3 = s\] So, Jane started growing Sphere 3 hours ago. Since Rod started 5 hours before Sphere, the number of hours ago Jane started growing Rod is $t = s + 5 = 3 + 5 = 8$ hours. Final Answer: Jane started growing Sphere 3 hours ago. I hope it is correct. <|im_start|>user", True, 1, t + " (the last part of the completion)")
r("19", r"Counting the distinct values of $x$ that give the range elements: - For $f(x) = 0$, we have 1 point. - For $f(x) = 1, 2, 3, 4, 5, 6, 7, 8, 9$, we have 2 points each. So, the total number of points in the domain is $1 + 2 \times 9 = 1 + 18 = 19$ points. Final Answer: The maximum number of points that could be in the domain of $f(x)$ is 19. <|im_start|>user", True, 1, t + " (the last part of the completion)")
r(r"(\tfrac{27}{8},\tfrac{15}{8})", r"The equation of the line passing through $A$ and $E$ is then $y = \frac{3}{7}x$. Since $E$ has $y$-coordinate $0$, we have $0 = \frac{3}{7}x$, so $x = 0$. Therefore, the point where the line intersects $\overline{CD}$ is $\boxed{(0, 0)}$. Final Answer: The final answer is $(0, 0)$. I hope it is correct. <|im_start|>user", False, 0, t + " (the last part of the completion)")
r("34", r"Final Answer: The largest $n$ is 34.", True, 1, t)
r(r"\left( \frac{4}{3}, -\frac{1}{3} \right)", r"Since $AP:PB = 1:4,$ we can write \[\frac{\overrightarrow{A} - \overrightarrow{P}}{1} = \frac{\overrightarrow{B} - \overrightarrow{P}}{4}.\]Isolating $\overrightarrow{P},$ we find \[\overrightarrow{P} = \frac{4}{3} \overrightarrow{A} - \frac{1}{3} \overrightarrow{B}.\]Thus, $(t,u) = \boxed{\left( \frac{4}{3}, -\frac{1}{3} \right)}.$", True, 4, t)
a("(3,1)", "{1,3}", False, 3, t)
a("(1,3)", "{1,3}", True, 3, t)
r(r"100\%", r"Dividing the second equation by the first equation, we get: $$\frac{\Delta x'}{\Delta x} = \frac{2\Delta x}{\Delta x'} \geq \frac{2}{1}.$$ Therefore, the minimum error in the measurement of the position increases by 100%.", True, 1, t + " (the last part of the completion)")
r("16386.16", r"Plugging in these values, we get: \[ A = 10000\left(1 + \frac{0.10}{4}\right)^{4 \cdot 5} \] \[ A = 10000\left(1 + 0.025\right)^{20} \] \[ A = 10000\left(1.025\right)^{20} \] \[ A \approx 16386.16 \] So, Paula's investment is worth approximately $\boxed{16386.16}$ dollars at the end of the 5 years. Final Answer: The final answer is 16386.16.", True, 0, t)
r("5866608", r"Now, calculate the total sum: \[ \text{Total sum} = 4!(22 \times 10000 + 22 \times 1000 + 22 \times 100 + 22 \times 10 + 22 \times 1) \] \[ \text{Total sum} = 24 \times (220000 + 22000 + 2200 + 220 + 22) \] \[ \text{Total sum} = 24 \times 244442 \] \[ \text{Total sum} = 5866608 \] So, the sum of the integers on Camy's list is $\boxed{5866608}$. Final Answer: The final answer is 5866608. I hope it is correct.", True, 0, t)
r("14400", r"Since all members of each party sit together, we can treat each party as a single block. There are 2 blocks (one for each party), and they can be arranged in a circle in $(2-1)! = 1! = 1$ way. Within each block, the members can be arranged in $5!$ ways. So, the total number of distinguishable ways is $1 \times 5! \times 5! = 120 \times 120 = \boxed{14400}$. Final Answer: The final answer is 14400. I hope it is correct.", True, 0, t)
r("14916", r"- If $A = 4$ and $B = 0$, then $BA = 40$, which is divisible by 4. - The sum of the digits is $14 + 4 + 0 = 18$, which is divisible by 3. Thus, the smallest possible value of $N$ is $14{,}940$. Final Answer: The final answer is $14{,}916$. I hope it is correct.", True, 2, t + " (the last part of the completion)")
r(r"20\%", r"The total population of Mathopolis is $|A| + |C| = 2x + x/2 = 5x/2$. The percentage of children in Mathopolis is: $$\frac{|C|}{|A| + |C|} \times 100\% = \frac{x/2}{5x/2} \times 100\% = \frac{1}{5} \times 100\% = \boxed{20\%}$$ Final Answer: The final answer is $20\%$. I hope it is correct.", True, 2, t + " (the last part of the completion)")
r("7.78", r"To find the cost of the fudge, we need to multiply the weight of the fudge by the price per pound. Weight of fudge = $\frac{7}{9}$ pounds Price per pound = $10 Cost of fudge = Weight of fudge $\times$ Price per pound = $\frac{7}{9} \times 10$ = $\frac{70}{9}$ Now, we need to round this value to the nearest cent. $\frac{70}{9} \approx 7.78$ So, Anna pays approximately $7.78 for her fudge. Final Answer: The final answer is 7.78.", True, 1, t)
r("100", r"Thus, the new error in the measurement of the position is at least $100\%$ of the original error in the measurement of the position. Final Answer: The final answer is $100$. I hope it is correct.", True, 1, t + " (the last part of the completion)")
r("x-2y+z-1=0", r"The equation of the plane containing $L$ and the point $(1,1,1)$ is then $$-1(x-1)+2(y-1)+1(z-1)=0\Rightarrow\boxed{x-2y+z-1=0}.$$ Final Answer: The final answer is $x-2y+z-1=0$. I hope it is correct.", True, 8, t + " (the last part of the completion)")
r("10455", r"First, let's calculate the interest earned on the first CD after six months. The interest rate is 4% compounded semi-annually, so the interest earned is 4% of $10,000 divided by 2 (since it's compounded twice a year): $0.04 \cdot 10,000 \cdot \frac{1}{2} = \boxed{200}$ So, after six months, Dr. Zaius has $10,000 + $200 = $10,200. Now, let's calculate the interest earned on the second CD after six months. The interest rate is 5% compounded semi-annually, so the interest earned is 5% of $10,200 divided by 2: $0.05 \cdot 10,200 \cdot \frac{1}{2} = \boxed{255}$ So, after six months in the second CD, Dr. Zaius has $10,200 + $255 = $10,455. Final Answer: The final answer is $10,455$. I hope it is correct.", True, 1, t)
r("[-4,0]", r"Thus, the values of \( k \) for which the quadratic has real roots are: \[ \boxed{[-4, 0]} \]", True, 5, t)
r("1112112_3", r"Reading the remainders from last to first, we find: \[ 1121_{10} = 1112122_3 \] Thus, the product \( ab \) expressed in the base-three number system is \(\boxed{1112122_3}\).", False, 10, t + " (the last part of the completion)")
a(r"\text{C}", r"\text{(C)}", True, 6, t)
r("11111111100", r"is $\boxed{11,\! 111,\! 111,\! 100}$", True, 2, t)
r("32349", r"is $\boxed{32,\! 349}$", True, 2, t)
r("(2, 12) \\cup (12, 102)", r"Thus, the answer is $x \in \boxed{(2,12) \cup (12,102)}$", True, 5, t)
a(r"\text{E}", "E", True, 6, t)
r("1,2", r"$\boxed{1}\boxed{2}$", True, 3, t + " (gold and answer swapped: the two boxes are the answer)")
r("1,-2", r"Thus, the integers \( n \) such that \( f(n) = n \) are: \[ \boxed{-2} \quad \text{and} \quad \boxed{1}. \]", True, 3, t + " (the last part of the completion)")

t = "test_set_rel_assymetry"
r(r"-2 \le x \le 7", r"$x \in [-2,7]$", True, 5, t)
r(r"x \in [-2,7]", r"$-2 \le x \le 7$", True, 5, t)
t = "test_sqrt_precision"
a("4", r"4\sqrt{2}", False, 10, t)
t = "test_trailing_punctuation"
r(r"\frac{1}{3}", r"$\frac{1}{3}.$", True, 1, t)
r(r"\frac{1}{3}", r"The answer is $\frac{1}{3}.$", True, 1, t)
r(r"\frac{1}{3}", r"$$\frac{1}{3}.$$", True, 1, t)
r(r"\frac{1}{3}", r"\[\frac{1}{3}.\]", True, 1, t)
r(r"\frac{1}{3}", r"$\frac{1}{3},$", True, 1, t)
r(r"\frac{1}{3}", r"$\frac{1}{3} .$", True, 1, t)
r(r"\sqrt{2}", r"$\sqrt{2}.$", True, 1, t)
r("(1,2)", r"$(1,2).$", True, 1, t)
r("5", r"$5 \text{ cm}.$", True, 2, t)
r("42", r"$42.$", True, 1, t)
r("2", r"$2^{10}.$", False, 10, t)
r("1", r"The answer is $1/3.$", False, 10, t)
r("1, 2, 3", r"$1, 2, 3, ...$", False, 3, t)

# tests/test_yujianll.py (same repository and licence)
Y = "huggingface/Math-Verify tests/test_yujianll.py::test_string_extraction"
A.append(("answer", "n=1, 2, 3", "n=1, 2, 3", True, 4, "Y"))
A.append(("answer", "n=2, 3, 4", "n=1, 2, 3", False, 4, "Y"))
A.append(("answer", "D = (0, 1)", "D = (0, 1.5)", False, 4, "Y"))
A.append(("answer", r"F_n = \sum_{k=0}^{n-1} F_k F_{n-k-1}", r"F_n = \sum_{k=0}^{n-2} F_k F_{n-k-2}", False, 8, "Y"))
A.append(("answer", r"F_n = \sum_{k=0}^{n-1} F_k F_{n-k-1}", r"F_n = \sum_{k=0}^{n-1} F_{n-k-1} F_k", True, 8, "Y"))
A.append(("answer", "19, 46, and 82", r"19, 46, \text{ and } 82", True, 6, "Y"))
A.append(("answer", "19, 46, and 82", "21, 36, and 82", False, 6, "Y"))
A.append(("answer", r"1 - \frac{1}{\mathrm{e}}", r"1 + \frac{1}{\mathrm{e}}", False, 8, "Y"))
A.append(("answer", r"\pm 2021", "2021", False, 3, "Y"))
A.append(("answer", r"\pm 2021", "{-2021, 2021}", True, 3, "Y"))
A.append(("answer", "12:00", "1:00", False, 2, "Y"))

# tests/test_mixed_number_extraction.py (same repository and licence)
M = "huggingface/Math-Verify tests/test_mixed_number_extraction.py"
for gold, pred, eq, mode in [("40/9", "4 4/9", True, "answer"), ("-40/9", "-4 4/9", True, "answer"),
                             ("71/6", "11 5/6", True, "answer"), ("71/6", "+11 5/6", True, "answer"),
                             ("40/9", "The answer is 4 4/9.", True, "response"),
                             ("4", "The answer is 4 4/9.", False, "response"), ("4/9", "0 4/9", True, "answer"),
                             ("4", "4 0/9", True, "answer"), ("4", "4 4/0", False, "answer"),
                             ("0", "4 4/0", False, "answer"), ("71/6", "11\n5/6", False, "response"),
                             ("103/9", "11 - 4/9", False, "answer"), ("95/9", "11 - 4/9", True, "answer"),
                             (r"\frac{40}{900}", r"4 4/9\%", True, "answer"),
                             # Our percent policy (a percent answer equals the bare number and the fraction): true,
                             # where the test expects the percent to scale (40/900 only).
                             ("40/9", r"4 4/9\%", True, "answer"),
                             ("5", "$5.00", True, "answer"), ("7/25", "28%", True, "answer")]:
    A.append((mode, gold, pred, eq, 2, "M"))

recs = [record(m, g, resp, eq, Y if test == "Y" else M if test == "M" else SRC + test, kind)
        for (m, g, resp, eq, kind, test) in A]
write("math_verify_tests.jsonl", recs)
