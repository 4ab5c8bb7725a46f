#include "harness/prompts_file.h"

#include "core/error.h"
#include "core/json_io.h"
#include "core/sha256.h"

namespace crucible::harness {

LoadedSuite load_prompts_file(const std::string& path) {
  LoadedSuite out;
  out.info = find_suite("gsm8k");
  out.info.name = "prompts";
  out.info.description = "prompts file " + path;
  out.info.default_file = path;
  out.info.version = "1";
  out.info.layouts = {{path}};
  out.info.hub.reset();
  out.path = path;
  out.sha256 = sha256_hex(read_text_file(path));
  for_each_jsonl_file(path, [&](const Json& record, const std::string& where) {
    Problem p;
    p.idx = static_cast<int64_t>(out.problems.size());
    p.question = require_string(record, "prompt", where);
    const Json& answer = require_field(record, "answer", where);
    if (!answer.is_string() && !answer.is_number())
      throw InputError(where, "answer", std::string("expected a string or a number, got ") + answer.type_name());
    p.gold = answer.is_string() ? answer.get<std::string>() : answer.dump();
    if (auto id = record.find("id"); id != record.end())
      p.key = id->is_string() ? id->get<std::string>() : id->dump();
    else
      p.key = "prompt-" + std::to_string(p.idx);
    out.problems.push_back(std::move(p));
  });
  if (out.problems.empty()) throw InputError(path, "", "no prompts in the file");
  return out;
}

}  // namespace crucible::harness
