#include "apps/summary.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace crucible::cli {

nlohmann::json suite_scores_json(const harness::SuiteScores& s) {
  nlohmann::json pass_at_k = nlohmann::json::object();
  for (auto [k, v] : s.pass_at_k) pass_at_k[std::to_string(k)] = v;
  return {{"suite", s.suite},
          {"problems", s.problems},
          {"samples_per_problem", s.samples_per_problem},
          {"pass@1", s.pass1.value},
          {"pass@1_ci95", {s.pass1.low, s.pass1.high}},
          {"pass@1_se", s.pass1.std_error},
          {"pass@k", pass_at_k},
          {"cons@k", s.cons ? nlohmann::json(*s.cons) : nlohmann::json(nullptr)},
          {"length_rate", s.length_rate},
          {"unparsed_rate", s.unparsed_rate},
          {"missing_think_close_rate", s.missing_think_close},
          {"completion_tokens", {{"mean", s.completion_tokens.mean}, {"median", s.completion_tokens.median},
                                 {"p90", s.completion_tokens.p90}, {"max", s.completion_tokens.max}}}};
}

void print_suite_table(const std::vector<harness::SuiteScores>& suites) {
  fmt::print("{:<15} {:>5} {:>3}  {:>7}  {:>17}  {:>9}  {:>8} {:>8} {:>8}  {:>9}\n", "suite", "n", "k", "pass@1",
             "95% CI", "pass@k", "cons@k", "length%", "unparsed", "tokens");
  for (const auto& s : suites) {
    std::string pk = s.pass_at_k.empty() ? "-" : fmt::format("{:.3f}", s.pass_at_k.back().second);
    std::string cons = s.cons ? fmt::format("{:.3f}", *s.cons) : "-";
    fmt::print("{:<15} {:>5} {:>3}  {:>7.3f}  [{:>6.3f}, {:>6.3f}]  {:>9}  {:>8} {:>7.1f}% {:>7.1f}%  {:>9.0f}\n", s.suite,
               s.problems, s.samples_per_problem, s.pass1.value, s.pass1.low, s.pass1.high, pk, cons,
               100 * s.length_rate, 100 * s.unparsed_rate, s.completion_tokens.mean);
  }
}

ProgressPrinter::ProgressPrinter(std::string what) : what_(std::move(what)), tty_(isatty(STDERR_FILENO) != 0) {}

void ProgressPrinter::operator()(const harness::Progress& p) {
  std::lock_guard lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  bool last = p.done == p.total;
  if (!tty_ && !last && now - last_print_ < std::chrono::seconds(10)) return;
  if (tty_ && !last && now - last_print_ < std::chrono::milliseconds(200)) return;
  last_print_ = now;
  double rate = p.elapsed_s > 0 ? p.completion_tokens / p.elapsed_s : 0;
  double per_sample = p.done > 0 ? p.elapsed_s / p.done : 0;
  double eta = per_sample * (p.total - p.done);
  std::string line = fmt::format("samples {}/{}  {:.1f} tok/s  pass@1 so far {:.3f}  elapsed {:.0f}s  eta {:.0f}s",
                                 p.done, p.total, rate, p.done ? double(p.correct) / p.done : 0.0, p.elapsed_s, eta);
  if (tty_) std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), last ? "\n" : "");
  else std::fprintf(stderr, "[%s] %s\n", what_.c_str(), line.c_str());
  std::fflush(stderr);
}

void print_funnel(const distill::Funnel& f) {
  fmt::print("funnel: {} generated", f.generated);
  for (const auto& s : f.stages)
    fmt::print(" -> {} {}", s.filter, s.enabled ? std::to_string(s.remaining) : std::string("(off)"));
  fmt::print(" -> {} kept\n", f.kept);
}

}  // namespace crucible::cli
