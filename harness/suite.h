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

struct SuiteInfo {
  std::string name;         // "aime24"
  std::string description;
  std::string default_file; // relative to the data dir
  std::string version;      // of the loader: bump when what a problem means changes
  GraderKind grader;
  int r1_samples;           // k under the r1 preset
  bool confidential = false;  // GPQA: question/option text must never leave the process
  // Math answer extraction order (rule names understood by the math verifier).
  std::vector<std::string> extraction_order;
};

const std::vector<SuiteInfo>& all_suites();
// InputError naming the flag and listing the known suites.
const SuiteInfo& find_suite(const std::string& name);

struct LoadedSuite {
  SuiteInfo info;
  std::string path;    // the file read
  std::string sha256;  // of its bytes
  std::vector<Problem> problems;
};

// Reads the suite's file from `data_dir` (or `file_override`). Every malformed record is an InputError naming the
// file, the line and the field.
LoadedSuite load_suite(const SuiteInfo& suite, const std::string& data_dir,
                       const std::optional<std::string>& file_override = std::nullopt);

// --data-dir, else $CRUCIBLE_DATA, else ~/.cache/crucible/data (where `crucible data pull` writes).
std::string resolve_data_dir(const std::optional<std::string>& flag);

// The boxed answer at the end of a reference solution (MATH/Minerva style), nullopt if none: the last \boxed{…} or
// \fbox{…} with balanced braces.
std::optional<std::string> last_boxed(const std::string& text);

}  // namespace crucible::harness
