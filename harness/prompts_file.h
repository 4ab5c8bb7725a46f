// A JSONL of {"prompt", "answer"[, "id"]} as a suite named "prompts": prompted as a math suite (r1-math style) and
// graded by the math grader (gsm8k's registry entry, renamed). `distill traces --prompts` and `train grpo --prompts`
// read it.
#pragma once
#include <string>

#include "harness/suite.h"

namespace crucible::harness {

// Every record needs "prompt" (string) and "answer" (string or number); "id" (string or number) is the problem key,
// else "prompt-<line index>". InputError naming the file, the line and the field; an empty file is an error too.
// LoadedSuite::sha256 hashes the file's bytes, so an edited file is a different run.
LoadedSuite load_prompts_file(const std::string& path);

}  // namespace crucible::harness
