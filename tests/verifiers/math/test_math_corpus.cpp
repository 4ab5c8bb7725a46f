// The correctness corpus: labelled (response, gold, equal) cases, one JSON object a line:
//   {"mode": "answer"|"response", "gold", "response", "equal": bool, "source", "preset"?: "math"|"gsm8k",
//    "kind"?: 1..10 (the kinds of issue 11), "author"?: "external"|"grader"}
// Two places: corpus.jsonl beside this file (cases written by the grader's authors: transcribed peer-grader tests,
// near misses, attacks on the grader as a reward) and every corpus/*.jsonl (cases written by someone who did not
// write the grader). Prints accuracy and the false-positive rate overall, per file, per kind and per author, lists
// every miss, and holds the grader to >= 99% accuracy and <= 1% false positives overall with the default preset.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>

#include "core/json_io.h"
#include "tests/support/test_support.h"
#include "verifiers/math/math_verifier.h"

using namespace crucible;
using namespace crucible::verifiers;

namespace {

struct Outcome {
  bool said_equal;
  std::string detail;
};

Outcome run_case(const Json& c) {
  std::string mode = c.value("mode", "answer");
  std::string gold = c.at("gold").get<std::string>();
  std::string response = c.at("response").get<std::string>();
  if (mode == "response") {
    MathGradeOptions o = c.value("preset", "math") == "gsm8k" ? MathGradeOptions::gsm8k() : MathGradeOptions::math();
    MathVerdict v = grade_math(response, gold, o);
    return {v.correct, std::string(outcome_name(v.outcome)) + " (" + v.reason + "), extracted " +
                           (v.extracted ? fmt::format("{:?}", *v.extracted) : "null")};
  }
  Equivalence e = compare_answers(response, gold);
  static const char* names[] = {"equal", "different", "unparsed", "timeout"};
  return {e == Equivalence::equal, names[static_cast<int>(e)]};
}

struct Tally {
  int tp = 0, tn = 0, fp = 0, fn = 0;
  void add(bool truth, bool said) {
    if (truth && said) ++tp;
    else if (!truth && !said) ++tn;
    else if (said) ++fp;
    else ++fn;
  }
  int n() const { return tp + tn + fp + fn; }
  double accuracy() const { return n() ? 100.0 * (tp + tn) / n() : 0.0; }
  double fp_rate() const { return (tn + fp) ? 100.0 * fp / (tn + fp) : 0.0; }
  std::string line() const {
    return fmt::format("{:5d} cases ({:4d} equal, {:4d} different): accuracy {:6.2f}%, false positives {:3d} "
                       "({:5.2f}%), false negatives {:3d}",
                       n(), tp + fn, tn + fp, accuracy(), fp, fp_rate(), fn);
  }
};

struct Labelled {
  Json c;
  std::string file;
};

std::vector<Labelled> load_corpus() {
  std::string dir = crucible::testing::source_dir() + "/tests/verifiers/math";
  std::vector<Labelled> out;
  for (auto& c : read_jsonl_file(dir + "/corpus.jsonl")) out.push_back({c, "corpus.jsonl"});
  std::vector<std::filesystem::path> external;
  if (std::filesystem::is_directory(dir + "/corpus"))
    for (const auto& e : std::filesystem::directory_iterator(dir + "/corpus"))
      if (e.path().extension() == ".jsonl") external.push_back(e.path());
  std::sort(external.begin(), external.end());
  for (const auto& p : external)
    for (auto& c : read_jsonl_file(p.string())) out.push_back({c, "corpus/" + p.filename().string()});
  return out;
}

std::string author_of(const Labelled& l) {
  if (l.c.contains("author") && l.c["author"].is_string()) return l.c["author"].get<std::string>();
  return l.file == "corpus.jsonl" ? "grader" : "external";
}

std::string kind_of(const Json& c) {
  if (c.contains("kind") && c["kind"].is_number_integer()) return fmt::format("{:02d}", c["kind"].get<int>());
  return "--";
}

}  // namespace

TEST(MathCorpus, AccuracyAndFalsePositives) {
  std::vector<Labelled> cases = load_corpus();
  ASSERT_GE(cases.size(), 400u);
  Tally all;
  std::map<std::string, Tally> by_file, by_kind, by_author;
  double worst_ms = 0;
  for (const auto& l : cases) {
    const Json& c = l.c;
    bool truth = c.at("equal").get<bool>();
    auto t0 = std::chrono::steady_clock::now();
    Outcome o = run_case(c);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    worst_ms = std::max(worst_ms, ms);
    all.add(truth, o.said_equal);
    by_file[l.file].add(truth, o.said_equal);
    by_kind[kind_of(c)].add(truth, o.said_equal);
    by_author[author_of(l)].add(truth, o.said_equal);
    if (truth != o.said_equal) {
      std::string resp = c.at("response").get<std::string>();
      if (resp.size() > 160) resp = resp.substr(0, 80) + " … " + resp.substr(resp.size() - 80);
      fmt::print("{} [{} | {}] gold={:?} response={:?} -> {}\n", o.said_equal ? "FALSE POSITIVE" : "FALSE NEGATIVE",
                 l.file, c.value("source", "?"), c.at("gold").get<std::string>(), resp, o.detail);
    }
  }
  fmt::print("math corpus, default preset (slowest case {:.1f} ms)\n  overall            {}\n", worst_ms, all.line());
  for (const auto& [f, t] : by_file) fmt::print("  file {:<26} {}\n", f, t.line());
  for (const auto& [k, t] : by_kind) fmt::print("  kind {:<26} {}\n", k, t.line());
  for (const auto& [a, t] : by_author)
    fmt::print("  author {:<24} {} — {:.1f}% of the cases\n", a, t.line(), 100.0 * t.n() / all.n());
  EXPECT_GE(all.accuracy(), 99.0);
  EXPECT_LE(all.fp_rate(), 1.0);
  EXPECT_LT(worst_ms, 1000.0);  // 50 ms budget per comparison; slack for a loaded shared machine
}
