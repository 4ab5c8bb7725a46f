// The suite registry: one small definition per benchmark (where its file lives, how to read a problem and its gold
// answer, which grader, how many samples R1 draws). Loading reads the file once, checks every record, and hashes the
// bytes read so the run stores exactly which data it saw.
#pragma once
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace crucible::harness {

enum class GraderKind { math, choice, code };
const char* grader_name(GraderKind g);

struct Problem {
  std::string key;   // the suite's own id: "test/precalculus/807.json", "HumanEval/0", "aime24-60", GPQA record id
  int64_t idx = 0;   // position in the file
  std::string question;  // the text prompts are built from. GPQA: confidential, never logged or stored
  std::optional<std::string> gold;  // math: the reference answer; choice: the correct option's text; code: none
  nlohmann::json meta = nlohmann::json::object();  // suite-specific: options, tests, entry point, starter code, …
};

// One file of a suite's public copy on the Hugging Face hub (`crucible data pull`).
struct HubFile {
  std::string remote;  // path inside the dataset repo: "test.jsonl"
  std::string local;   // where the loaders read it, relative to the data dir: "math500/test.jsonl"
  std::string sha256;  // pinned content hash (checked); empty: not pinned, recorded in the data dir's manifest
};

struct HubSource {
  std::string repo;      // "HuggingFaceH4/MATH-500"
  std::string revision;  // a commit id where one is known, so the bytes cannot move under a pinned hash
  std::vector<HubFile> files;
};

struct SuiteInfo {
  std::string name;         // "aime24"
  std::string description;
  std::string default_file; // relative to the data dir: the first file of `layouts`, named in messages
  std::string version;      // of the loader: bump when what a problem means changes
  GraderKind grader;
  int r1_samples;           // k under the r1 preset
  bool confidential = false;  // GPQA: question/option text must never leave the process
  // Math answer extraction order (rule names understood by the math verifier).
  std::vector<std::string> extraction_order;
  // A training split (arith_train, mbpp_train): problems to learn from, never an evaluation target, so
  // decontamination does not check traces against it.
  bool train_split = false;
  // The file sets the loader understands, in order of preference; the first whose files all exist in the data dir is
  // read, its files one after another as one dataset. Most suites have one set of one file.
  std::vector<std::vector<std::string>> layouts;
  std::optional<HubSource> hub;  // where `crucible data pull` fetches it; none: `hub_note` says why
  std::string hub_note;
};

const std::vector<SuiteInfo>& all_suites();
// InputError naming the flag and listing the known suites.
const SuiteInfo& find_suite(const std::string& name);

struct LoadedSuite {
  SuiteInfo info;
  std::string path;    // the file read; several files are joined by kPathSeparator
  std::string sha256;  // of its bytes (several files: of their bytes in order, as if concatenated)
  std::vector<Problem> problems;
};

inline constexpr char kPathSeparator = ';';

// Reads the suite's files from `data_dir` (the first complete layout), or `file_override` (one path, or several
// joined by kPathSeparator, as LoadedSuite::path stores them). Every malformed record is an InputError naming the
// file, the line and the field.
LoadedSuite load_suite(const SuiteInfo& suite, const std::string& data_dir,
                       const std::optional<std::string>& file_override = std::nullopt);

// --data-dir, else $CRUCIBLE_DATA, else ~/.cache/crucible/data (where `crucible data pull` writes).
std::string resolve_data_dir(const std::optional<std::string>& flag);

// The boxed answer at the end of a reference solution (MATH/Minerva style), nullopt if none: the last \boxed{…} or
// \fbox{…} with balanced braces.
std::optional<std::string> last_boxed(const std::string& text);

}  // namespace crucible::harness
