#include "core/json_io.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace crucible {

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", std::string("cannot open file: ") + std::strerror(errno));
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw RunError(path + ": read failed");
  return buf.str();
}

void write_text_file_atomic(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw RunError(tmp + ": cannot open for writing: " + std::strerror(errno));
    out << text;
    out.flush();
    if (!out) throw RunError(tmp + ": write failed: " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw RunError(fmt::format("{}: cannot rename to {}: {}", tmp, path, std::strerror(errno)));
}

Json read_json_file(const std::string& path) {
  std::string text = read_text_file(path);
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    throw InputError(path, "", std::string("not valid JSON: ") + e.what());
  }
}

void for_each_jsonl(std::istream& in, const std::string& source_name,
                    const std::function<void(const Json&, const std::string&)>& on_record) {
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::string where = fmt::format("{}:{}", source_name, line_no);
    Json record;
    try {
      record = Json::parse(line);
    } catch (const Json::parse_error& e) {
      throw InputError(where, "", std::string("not valid JSON: ") + e.what());
    }
    if (!record.is_object()) throw InputError(where, "", "expected a JSON object per line");
    on_record(record, where);
  }
  if (in.bad()) throw RunError(source_name + ": read failed");
}

void for_each_jsonl_file(const std::string& path,
                         const std::function<void(const Json&, const std::string&)>& on_record) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", std::string("cannot open file: ") + std::strerror(errno));
  for_each_jsonl(in, path, on_record);
}

std::vector<Json> read_jsonl_file(const std::string& path) {
  std::vector<Json> out;
  for_each_jsonl_file(path, [&](const Json& j, const std::string&) { out.push_back(j); });
  return out;
}

const Json& require_field(const Json& obj, const std::string& field, const std::string& where) {
  if (!obj.is_object()) throw InputError(where, field, "record is not a JSON object");
  auto it = obj.find(field);
  if (it == obj.end()) throw InputError(where, field, "missing");
  return *it;
}

std::string require_string(const Json& obj, const std::string& field, const std::string& where) {
  const Json& v = require_field(obj, field, where);
  if (!v.is_string()) throw InputError(where, field, std::string("expected a string, got ") + v.type_name());
  return v.get<std::string>();
}

int64_t require_int(const Json& obj, const std::string& field, const std::string& where) {
  const Json& v = require_field(obj, field, where);
  if (!v.is_number_integer()) throw InputError(where, field, std::string("expected an integer, got ") + v.type_name());
  return v.get<int64_t>();
}

double require_number(const Json& obj, const std::string& field, const std::string& where) {
  const Json& v = require_field(obj, field, where);
  if (!v.is_number()) throw InputError(where, field, std::string("expected a number, got ") + v.type_name());
  return v.get<double>();
}

std::optional<std::string> optional_string(const Json& obj, const std::string& field, const std::string& where) {
  if (!obj.is_object()) throw InputError(where, field, "record is not a JSON object");
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) throw InputError(where, field, std::string("expected a string, got ") + it->type_name());
  return it->get<std::string>();
}

}  // namespace crucible
