// A synthetic store for the report tests, built through reports/store.h as the eval loop builds one:
//   gsm8k (5 problems q0..q4) and gpqa_diamond (3 problems, ids only — but the sentinel question text below is
//   planted everywhere a careless report could pick it up: completions, reasoning, extracted answers, gold, meta);
//   run "base"  k = 1, gsm8k [1 1 0 0 1], gpqa [1 0 0], answer classes stored;
//   run "cand"  k = 1, gsm8k [1 0 1 1 1], gpqa [1 1 0];
//   run "multi" k = 4 on gsm8k only, with answer classes and three training steps;
//   run "other" on math500 only: no problem in common with the others.
#pragma once
#include <string>
#include <vector>

#include "reports/store.h"

namespace crucible::testing {

inline const std::string kGpqaSentinel = "Which SENTINEL-QUESTION-TEXT isotope decays fastest";

struct ReportStore {
  int64_t base = 0, cand = 0, multi = 0, other = 0;
};

inline ReportStore populate_report_store(Store& store) {
  ReportStore ids;
  int64_t model = store.upsert_model({0, "/models/SmolLM2.gguf", "gguf", "hash-m", {}});
  int64_t gsm = store.upsert_dataset({0, "gsm8k", "1", "gsm8k/test.jsonl", "sha-gsm", 5});
  int64_t gpqa = store.upsert_dataset({0, "gpqa_diamond", "1", "gpqa/diamond.csv", "sha-gpqa", 3});
  int64_t math = store.upsert_dataset({0, "math500", "1", "math500/test.jsonl", "sha-math", 2});
  std::vector<int64_t> gsm_p, gpqa_p, math_p;
  for (int i = 0; i < 5; ++i) gsm_p.push_back(store.upsert_problem({0, gsm, "q" + std::to_string(i), i, "42", {}}));
  for (int i = 0; i < 3; ++i)
    gpqa_p.push_back(store.upsert_problem(
        {0, gpqa, "rec" + std::to_string(i), i, kGpqaSentinel, {{"question", kGpqaSentinel}}}));
  for (int i = 0; i < 2; ++i) math_p.push_back(store.upsert_problem({0, math, "m" + std::to_string(i), i, "1", {}}));

  auto make_run = [&](const std::string& name, int64_t samples, double temperature) {
    RunRecord r;
    r.name = name;
    r.kind = "eval";
    r.model_id = model;
    r.protocol = "r1";
    r.identity = "identity-" + name;
    r.started_at = "2026-11-23T10:00:00.000Z";
    r.ended_at = "2026-11-23T10:01:40.000Z";  // 100 s
    r.status = "completed";
    nlohmann::json suites = nlohmann::json::array();
    for (const char* s : {"gsm8k", "gpqa_diamond", "math500"})
      suites.push_back({{"suite", s},
                        {"sampling", {{"temperature", temperature}, {"top_p", 0.95}, {"max_new_tokens", 512},
                                      {"samples", samples}}},
                        {"prompt", {{"assistant_prefix", "<think>\n"}}}});
    r.config = {{"preset", "r1"}, {"suites", suites}};
    return store.create_run(r);
  };
  auto add = [&](int64_t run, int64_t problem, int64_t index, bool correct, const std::string& answer,
                 std::optional<int64_t> cls, bool gpqa_sample) {
    SampleRecord s;
    s.run_id = run;
    s.problem_id = problem;
    s.sample_index = index;
    s.prompt_hash = "ph";
    // 30 characters of reasoning, then 10 of answer (gsm8k answers are 2 characters): the estimated split is 3:1 by characters.
    s.completion = gpqa_sample ? "Restating: " + kGpqaSentinel + "?</think>Answer: " + answer
                               : std::string(30, 'r') + "</think>" + std::string(8, 'a') + answer;
    if (gpqa_sample) s.reasoning = "Restating: " + kGpqaSentinel;
    s.prompt_tokens = 50;
    s.completion_tokens = 100 + 10 * index;
    s.finish_reason = index == 3 ? "length" : "stop";
    s.extracted_answer = gpqa_sample ? answer + " " + kGpqaSentinel : answer;
    s.verdict = correct ? "correct" : "wrong";
    s.correct = correct;
    s.grader_version = "math-1";
    s.latency_ms = 10;
    if (gpqa_sample) s.detail = {{"gold", "B"}, {"option_order", {2, 0, 1, 3}}, {"option_text", kGpqaSentinel}};
    int64_t id = store.insert_sample(s);
    store.set_answer_classes({{id, cls}});
  };

  ids.base = make_run("base", 1, 0.6);
  ids.cand = make_run("cand", 1, 0.6);
  ids.multi = make_run("multi", 4, 0.6);
  ids.other = make_run("other", 1, 0.0);
  for (int64_t run : {ids.base, ids.cand}) {
    store.link_run_dataset(run, gsm);
    store.link_run_dataset(run, gpqa);
  }
  store.link_run_dataset(ids.multi, gsm);
  store.link_run_dataset(ids.other, math);
  const bool base_gsm[] = {1, 1, 0, 0, 1}, cand_gsm[] = {1, 0, 1, 1, 1};
  const bool base_gpqa[] = {1, 0, 0}, cand_gpqa[] = {1, 1, 0};
  for (int i = 0; i < 5; ++i) {
    add(ids.base, gsm_p[i], 0, base_gsm[i], base_gsm[i] ? "42" : "41", 0, false);
    add(ids.cand, gsm_p[i], 0, cand_gsm[i], cand_gsm[i] ? "42" : "41", 0, false);
  }
  for (int i = 0; i < 3; ++i) {
    add(ids.base, gpqa_p[i], 0, base_gpqa[i], base_gpqa[i] ? "B" : "C", 0, true);
    add(ids.cand, gpqa_p[i], 0, cand_gpqa[i], cand_gpqa[i] ? "B" : "C", 0, true);
  }
  // multi: per problem 4 samples; classes: right answers share class 0 when sample 0 is right, else class 1.
  //   q0 [1 0 0 1] classes [0 1 1 0]: 2–2 tie, first class (0, right) wins  → cons hit
  //   q1 [0 0 0 0] classes [0 0 - -]                                         → miss
  //   q2 [0 1 1 1] classes [0 1 1 1]: class 1 (right) wins                   → hit
  //   q3 [1 1 1 1] classes [0 0 0 0]                                         → hit
  //   q4 [0 0 1 0] classes [0 0 2 -]: class 0 (wrong) wins                   → miss
  const bool mc[5][4] = {{1, 0, 0, 1}, {0, 0, 0, 0}, {0, 1, 1, 1}, {1, 1, 1, 1}, {0, 0, 1, 0}};
  const std::optional<int64_t> cl[5][4] = {{0, 1, 1, 0}, {0, 0, std::nullopt, std::nullopt}, {0, 1, 1, 1},
                                           {0, 0, 0, 0}, {0, 0, 2, std::nullopt}};
  for (int i = 0; i < 5; ++i)
    for (int k = 0; k < 4; ++k) add(ids.multi, gsm_p[i], k, mc[i][k], mc[i][k] ? "42" : "41", cl[i][k], false);
  for (int step = 1; step <= 3; ++step)
    store.add_train_step({ids.multi, step * 10, {{"loss", 2.0 / step}, {"reward", 0.1 * step}, {"note", "text"}}});
  add(ids.other, math_p[0], 0, true, "1", 0, false);
  add(ids.other, math_p[1], 0, false, "2", 0, false);
  return ids;
}

}  // namespace crucible::testing
