// The crucible store: every model, dataset, run, sample, score, training step and artifact, in one SQLite file.
//
// Durability: WAL mode, synchronous=NORMAL (a commit survives a process crash — SIGKILL included — and only an OS
// crash can lose the last few commits), foreign keys on, a 60 s busy timeout and BEGIN IMMEDIATE for every write, so
// several processes (an eval, a regrade, a report) can share one file. A sample is committed in its own transaction
// the moment it is generated (its grade follows in another): a killed run loses nothing it had committed.
//
// The schema is public (reports/README.md documents it for sqlite3 and pandas users) and versioned: `schema_version`
// lists every migration applied; opening an older file migrates it forward, opening a newer one is refused.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "core/time.h"  // utc_now_iso8601, for the store's timestamps

namespace crucible::sql {
class Connection;
}

namespace crucible {

struct ModelRecord {
  int64_t id = 0;
  std::string path;
  std::string format;        // "hf", "gguf", "llama2c", "endpoint"
  std::string content_hash;  // sha256 over the weights (and tokenizer), or the endpoint + model name
  nlohmann::json config = nlohmann::json::object();
};

struct DatasetRecord {
  int64_t id = 0;
  std::string suite;    // "math500"
  std::string version;  // loader version, e.g. "1"
  std::string path;
  std::string sha256;   // content hash of the file(s) read
  int64_t n_problems = 0;
};

struct RunRecord {
  int64_t id = 0;
  std::string name;
  std::string kind;  // "eval" | "grpo" | "distill-traces" | "train-sft" | "train-grpo" | "distill-onpolicy"
  std::optional<int64_t> model_id;
  nlohmann::json config = nlohmann::json::object();  // the resolved config, every default filled in
  std::string protocol;                               // "r1", "greedy", …
  std::string identity;                               // hash of what makes two runs the same run (resume key)
  int64_t seed = 0;
  std::string crucible_version;
  std::string git_sha;
  std::string host;
  std::string started_at;  // ISO 8601 UTC
  std::optional<std::string> ended_at;
  std::string status = "running";  // running | completed | failed | interrupted
};

struct ProblemRecord {
  int64_t id = 0;
  int64_t dataset_id = 0;
  std::string problem_key;  // the suite's own id ("test/precalculus/807.json", "HumanEval/0", GPQA record id)
  int64_t idx = 0;          // position in the dataset file
  std::optional<std::string> gold;  // the reference answer as graded (never GPQA option text)
  nlohmann::json meta = nlohmann::json::object();
};

struct SampleRecord {
  int64_t id = 0;
  int64_t run_id = 0;
  int64_t problem_id = 0;
  int64_t sample_index = 0;
  std::string prompt_hash;
  std::string completion;
  std::optional<std::string> reasoning;  // the part before </think>, or an API's reasoning_content
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  std::optional<int64_t> reasoning_tokens;
  std::string finish_reason;  // "stop" | "length" | "error"
  std::optional<std::string> extracted_answer;
  std::optional<std::string> verdict;  // grader outcome: "correct", "wrong", "unparsed", "unfinished", "timeout", …
  std::optional<bool> correct;
  std::optional<std::string> grader_version;
  std::optional<double> latency_ms;
  nlohmann::json detail = nlohmann::json::object();  // grader detail (rule fired, per-test statuses)
  // The verifier's answer class among the problem's samples: the sample_index of the first sample whose answer the
  // verifier judged equivalent (cons@k votes by class). Set when the run is scored; nullopt: no answer, not scored
  // yet, or a code suite (no vote).
  std::optional<int64_t> answer_class;
  // Per-token logprobs packed by harness/logprob_pack.h (eval --store-logprobs); empty: none. Written with the
  // sample (table sample_logprobs), read back with Store::sample_logprobs, not by the sample queries.
  std::string logprobs;
};

// What resuming needs to know of a stored sample: that it exists. No text, no grading detail.
struct SampleKey {
  int64_t problem_id = 0;
  int64_t sample_index = 0;
  bool operator<(const SampleKey& o) const {
    return problem_id != o.problem_id ? problem_id < o.problem_id : sample_index < o.sample_index;
  }
};

struct ScoreRecord {
  int64_t run_id = 0;
  std::string suite;
  std::string metric;  // "pass@1", "pass@k", "cons@k", "length_rate", …
  int64_t k = 1;
  double value = 0;
  std::optional<double> ci_low, ci_high;
  int64_t n = 0;  // problems the value is over
};

struct TrainStepRecord {
  int64_t run_id = 0;
  int64_t step = 0;
  nlohmann::json metrics = nlohmann::json::object();
};

struct ArtifactRecord {
  int64_t id = 0;
  int64_t run_id = 0;
  std::string kind;  // "checkpoint" | "report" | …
  std::string path;
  std::optional<std::string> sha256;
  nlohmann::json meta = nlohmann::json::object();
};

struct RunSummary {
  RunRecord run;
  std::optional<std::string> model_path;
  int64_t n_samples = 0;
  int64_t n_graded = 0;
  int64_t n_correct = 0;
};

class Store {
 public:
  static constexpr int kSchemaVersion = 6;

  // Opens (creating if allowed) and migrates. A file that is not a SQLite database, or whose schema is newer than
  // this binary, raises InputError naming the file; nothing in it is touched.
  static Store open(const std::string& path, bool create = true);
  // For readers (`crucible report`): never creates, migrates or writes; an older schema is read as it is (columns it
  // lacks read as empty). A missing file, a file that is not a crucible database or a newer schema: InputError.
  static Store open_read_only(const std::string& path);

  Store(Store&&) noexcept;
  Store& operator=(Store&&) noexcept;
  ~Store();

  const std::string& path() const;
  int schema_version();

  int64_t upsert_model(const ModelRecord& m);      // same path + content hash -> same id
  int64_t upsert_dataset(const DatasetRecord& d);  // same suite + version + sha256 -> same id
  int64_t upsert_problem(const ProblemRecord& p);  // same dataset + key -> same id (gold/meta updated)
  int64_t create_run(RunRecord r);                 // fills version, sha, host, started_at when empty
  void link_run_dataset(int64_t run_id, int64_t dataset_id);
  void finish_run(int64_t run_id, const std::string& status);
  void update_run_config(int64_t run_id, const nlohmann::json& config);

  // Each call is one transaction. A sample with the same (run, problem, sample_index) as a stored one is rejected
  // with RunError: a sample is generated once.
  int64_t insert_sample(const SampleRecord& s);
  void insert_samples(const std::vector<SampleRecord>& batch);
  // The packed logprobs stored with a sample (SampleRecord::logprobs); nullopt when none were stored.
  std::optional<std::string> sample_logprobs(int64_t sample_id);
  // Regrading: replaces the grading columns of stored samples, keeps the generation.
  void update_grading(const std::vector<SampleRecord>& graded);
  // Scoring: (sample id, answer class) for every sample of a run, in one transaction.
  void set_answer_classes(const std::vector<std::pair<int64_t, std::optional<int64_t>>>& classes);

  void put_scores(const std::vector<ScoreRecord>& scores);  // replaces (run, suite, metric, k)
  void add_train_step(const TrainStepRecord& s);
  int64_t add_artifact(const ArtifactRecord& a);

  std::vector<RunSummary> list_runs();
  // Finds a run by numeric id or by name (the newest of that name). nullopt if none.
  std::optional<RunRecord> find_run(const std::string& id_or_name);
  std::optional<RunRecord> get_run(int64_t run_id);
  std::optional<RunRecord> find_run_by_identity(const std::string& identity);
  std::optional<ModelRecord> get_model(int64_t model_id);
  std::vector<DatasetRecord> run_datasets(int64_t run_id);
  std::vector<ProblemRecord> dataset_problems(int64_t dataset_id);
  std::vector<SampleRecord> run_samples(int64_t run_id);
  // The (problem, sample_index) of every stored sample of the run, ordered, read from the UNIQUE index alone: the
  // eval loop's resume check, which must not pull every completion (megabytes per problem at 32k tokens) into memory.
  std::vector<SampleKey> run_sample_keys(int64_t run_id);
  // The samples of the run stored without a grade (the process died between the two commits), full records.
  std::vector<SampleRecord> run_ungraded_samples(int64_t run_id);
  std::vector<ScoreRecord> run_scores(int64_t run_id);
  std::vector<TrainStepRecord> run_train_steps(int64_t run_id);
  std::vector<ArtifactRecord> run_artifacts(int64_t run_id);
  int64_t count_samples(int64_t run_id);

  // Deletes the run and everything that hangs off it (samples, scores, steps, artifacts rows) in one transaction.
  // Models, datasets and problems stay: other runs share them. Returns false if no such run.
  bool delete_run(int64_t run_id);

  // Export/import one run as JSONL, one record per line tagged by "type" (model, dataset, problem, run, sample,
  // score, train_step, artifact), so runs move between machines and databases. Import gives the run a new id and
  // refuses a run whose identity already exists in this database.
  void export_run(int64_t run_id, std::ostream& out);
  int64_t import_run(std::istream& in, const std::string& source_name);

  sql::Connection& connection();

 private:
  explicit Store(std::unique_ptr<sql::Connection> conn);
  void migrate();
  std::unique_ptr<sql::Connection> conn_;
  int schema_ = kSchemaVersion;  // the version this handle reads (older only when opened read-only)
};

}  // namespace crucible
