#include "core/error.h"

namespace crucible {

static std::string format_input_error(const std::string& where, const std::string& field,
                                      const std::string& problem) {
  std::string out = where;
  if (!field.empty()) out += (out.empty() ? "" : ": ") + std::string("field '") + field + "'";
  if (!problem.empty()) out += (out.empty() ? "" : ": ") + problem;
  return out;
}

InputError::InputError(const std::string& where, const std::string& field, const std::string& problem)
    : Error(ExitCode::bad_input, format_input_error(where, field, problem)) {}

}  // namespace crucible
