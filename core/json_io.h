// JSON and JSONL input/output with errors that name the file, the line and the field.
#pragma once
#include <nlohmann/json.hpp>

#include <functional>
#include <istream>
#include <optional>
#include <string>
#include <vector>

namespace crucible {

using Json = nlohmann::json;

// Reads a whole file; InputError naming the path when it cannot be opened.
std::string read_text_file(const std::string& path);
// Writes through a temporary file and rename(), so a crash never leaves a half-written file.
void write_text_file_atomic(const std::string& path, const std::string& text);

Json read_json_file(const std::string& path);

// Calls `on_record(record, where)` for every non-blank line; `where` is "path:line". A line that is not a JSON object
// raises InputError with that location. `source_name` is used for messages when reading a stream ("<stdin>").
void for_each_jsonl(std::istream& in, const std::string& source_name,
                    const std::function<void(const Json&, const std::string&)>& on_record);
void for_each_jsonl_file(const std::string& path,
                         const std::function<void(const Json&, const std::string&)>& on_record);
std::vector<Json> read_jsonl_file(const std::string& path);

// Field access that fails with InputError(where, field, ...) instead of nlohmann's type_error.
const Json& require_field(const Json& obj, const std::string& field, const std::string& where);
std::string require_string(const Json& obj, const std::string& field, const std::string& where);
int64_t require_int(const Json& obj, const std::string& field, const std::string& where);
double require_number(const Json& obj, const std::string& field, const std::string& where);
std::optional<std::string> optional_string(const Json& obj, const std::string& field, const std::string& where);

}  // namespace crucible
