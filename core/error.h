// Errors that cross a layer boundary. Expected failures of untrusted work (a sandboxed program, a wrong answer) are
// values, not exceptions; these are for input we cannot use and for runs that cannot go on.
//
//   InputError  — bad input from the user: a file, a field, a flag. Exit code 2. The message names the file and
//                 the field so the user can fix it without reading our code.
//   RunError    — the run could not complete (I/O failure, a dependency failed). Exit code 1.
#pragma once
#include <stdexcept>
#include <string>

namespace crucible {

enum class ExitCode : int { ok = 0, run_failed = 1, bad_input = 2 };

class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& what) : std::runtime_error(what), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

class InputError : public Error {
 public:
  // InputError("data/x.jsonl:12", "answer", "expected a string, got null")
  //   -> "data/x.jsonl:12: field 'answer': expected a string, got null"
  InputError(const std::string& where, const std::string& field, const std::string& problem);
  explicit InputError(const std::string& message) : Error(ExitCode::bad_input, message) {}
};

class RunError : public Error {
 public:
  explicit RunError(const std::string& message) : Error(ExitCode::run_failed, message) {}
};

}  // namespace crucible
