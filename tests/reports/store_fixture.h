// A small populated store for the store tests: one model, one dataset of 3 problems, one eval run.
#pragma once
#include "reports/store.h"

namespace crucible::testing {

struct PopulatedRun {
  int64_t model_id, dataset_id, run_id;
  std::vector<int64_t> problem_ids;
};

inline SampleRecord make_sample(int64_t run_id, int64_t problem_id, int64_t index, bool correct) {
  SampleRecord s;
  s.run_id = run_id;
  s.problem_id = problem_id;
  s.sample_index = index;
  s.prompt_hash = "ph";
  s.completion = "<think>\nwork</think> The answer is \\boxed{" + std::to_string(index) + "}";
  s.prompt_tokens = 12;
  s.completion_tokens = 34;
  s.finish_reason = "stop";
  s.extracted_answer = std::to_string(index);
  s.verdict = correct ? "correct" : "wrong";
  s.correct = correct;
  s.grader_version = "math-1";
  s.latency_ms = 1.5;
  return s;
}

inline PopulatedRun populate(Store& store, const std::string& name = "demo", const std::string& identity = "id-1") {
  PopulatedRun p;
  p.model_id = store.upsert_model({0, "/models/m", "hf", "abc123", {{"arch", "llama"}}});
  p.dataset_id = store.upsert_dataset({0, "gsm8k", "1", "../shared/data/gsm8k/test.jsonl", "sha-gsm", 3});
  for (int i = 0; i < 3; ++i)
    p.problem_ids.push_back(store.upsert_problem({0, p.dataset_id, "q" + std::to_string(i), i, std::to_string(i), {}}));
  RunRecord r;
  r.name = name;
  r.kind = "eval";
  r.model_id = p.model_id;
  r.protocol = "r1";
  r.identity = identity;
  r.seed = 7;
  r.config = {{"temperature", 0.6}, {"top_p", 0.95}};
  p.run_id = store.create_run(r);
  store.link_run_dataset(p.run_id, p.dataset_id);
  return p;
}

}  // namespace crucible::testing
