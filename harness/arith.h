// `arith`: a task family generated from a seed, small enough for models trained from scratch on a CPU (`crucible
// demo`), graded like every math suite. A problem is a chain of integer additions and subtractions evaluated left to
// right, "Compute 7+5-3."; its gold answer is the integer ("9"). The programmatic solver writes R1's format, the
// reasoning one step per line inside the think block the r1 prompt opens and the answer boxed after it:
//   "7+5=12\n12-3=9\n</think>\n\\boxed{9}"
//
// The problem space (every chain of `ops` operations over operands 1..`max_operand`) is enumerated, shuffled with
// the seed and cut: the first `test_size` problems are the test split, the rest the train split, so the splits are
// disjoint by construction (as expressions, not just by id) and the same seed gives the same files byte for byte.
// `write_arith` writes DIR/arith/test.jsonl and DIR/arith/train.jsonl, which the suites `arith` and `arith_train`
// read (suite.h) — the file is the run's data identity, hashed like any suite's.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace crucible::harness {

struct ArithSpec {
  uint64_t seed = 0;
  int ops = 2;           // operations per problem (operands = ops + 1)
  int max_operand = 9;   // operands are 1..max_operand
  int64_t test_size = 200;
};

struct ArithProblem {
  std::string id;          // "arith-<expression>": the same expression has the same id under every seed
  std::string question;    // "Compute 7+5-3."
  std::string answer;      // "9"
  std::string reasoning;   // "7+5=12\n12-3=9\n": the solver's worked steps
  std::string solution;    // the reasoning, "</think>\n", the boxed answer: a completion after the r1 prefix
};

struct ArithSplits {
  std::vector<ArithProblem> train, test;
};

// InputError naming the setting when the spec is out of range or the space has no room for a train split.
ArithSplits generate_arith(const ArithSpec& spec);
// The solver: evaluates `expression` ("7+5-3") left to right and writes its steps and answer. InputError naming the
// expression when it is not a chain of non-negative integers joined by + and -.
ArithProblem solve_arith(const std::string& expression);
// Writes DIR/arith/{train,test}.jsonl (one record a line: id, question, answer, reasoning, solution, split, seed) and
// two SFT files of the train split in `crucible train sft`'s {prompt, completion} form, the prompt being the user
// turn `eval --preset r1` builds (prompt style "bare": the question alone) and the completion the assistant
// turn from R1's "<think>\n" on:
//   DIR/arith/sft_reasoning.jsonl  the solver's worked steps, then the boxed answer (a teacher's data);
//   DIR/arith/sft_answer.jsonl     the expression restated in place of reasoning, then the boxed answer: R1's format
//                                  with no steps (a base student that must answer in one go).
// Each file is written atomically.
void write_arith(const ArithSplits& splits, const ArithSpec& spec, const std::string& data_dir);

}  // namespace crucible::harness
