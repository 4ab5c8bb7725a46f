#include "trainer/dist/env.h"

#include <charconv>
#include <cstdlib>

#include "core/error.h"

namespace crucible::trainer::dist {
namespace {

int parse_int(const std::string& var, const std::string& value, int lo, int hi) {
  int v = 0;
  const char* end = value.data() + value.size();
  auto [p, ec] = std::from_chars(value.data(), end, v);
  if (value.empty() || ec != std::errc() || p != end || v < lo || v > hi)
    throw InputError("environment", var,
                     "'" + value + "' is not an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return v;
}

std::string require(const GetEnv& get, const std::string& var, const std::string& because) {
  auto v = get(var);
  if (!v || v->empty()) throw InputError("environment", var, "not set (" + because + ")");
  return *v;
}

}  // namespace

std::string first_slurm_host(const std::string& list) {
  const std::string var = "SLURM_JOB_NODELIST";
  auto bad = [&](const std::string& why) { throw InputError("environment", var, "'" + list + "': " + why); };
  std::string host;
  size_t i = 0;
  while (i < list.size() && list[i] != ',') {
    if (list[i] == ']') bad("']' without '['");
    if (list[i] != '[') {
      host += list[i++];
      continue;
    }
    const size_t close = list.find(']', i);
    if (close == std::string::npos) bad("'[' without ']'");
    const std::string inner = list.substr(i + 1, close - i - 1);  // "01-04,07"
    const std::string first = inner.substr(0, inner.find(','));   // "01-04"
    const std::string lo = first.substr(0, first.find('-'));       // "01"
    if (lo.empty() || lo.find_first_not_of("0123456789") != std::string::npos) bad("bracket range '" + inner + "'");
    host += lo;
    i = close + 1;
  }
  if (host.empty()) bad("no host");
  return host;
}

DistEnv dist_env(const GetEnv& get) {
  DistEnv e;
  const bool torchrun = get("RANK").has_value() || get("WORLD_SIZE").has_value();
  const bool slurm = !torchrun && get("SLURM_PROCID").has_value() && get("SLURM_NTASKS").has_value();
  if (!torchrun && !slurm) return e;
  constexpr int kMaxRanks = 1 << 20;
  if (torchrun) {
    e.source = "torchrun";
    e.world_size = parse_int("WORLD_SIZE", require(get, "WORLD_SIZE", "RANK is set"), 1, kMaxRanks);
    e.rank = parse_int("RANK", require(get, "RANK", "WORLD_SIZE is set"), 0, e.world_size - 1);
    auto lr = get("LOCAL_RANK");
    e.local_rank = lr ? parse_int("LOCAL_RANK", *lr, 0, e.world_size - 1) : 0;
    if (e.world_size > 1) e.master_addr = require(get, "MASTER_ADDR", "WORLD_SIZE > 1");
    else if (auto a = get("MASTER_ADDR")) e.master_addr = *a;
  } else {
    e.source = "slurm";
    e.world_size = parse_int("SLURM_NTASKS", *get("SLURM_NTASKS"), 1, kMaxRanks);
    e.rank = parse_int("SLURM_PROCID", *get("SLURM_PROCID"), 0, e.world_size - 1);
    auto lr = get("SLURM_LOCALID");
    e.local_rank = lr ? parse_int("SLURM_LOCALID", *lr, 0, e.world_size - 1) : 0;
    if (auto a = get("MASTER_ADDR"); a && !a->empty()) e.master_addr = *a;
    else if (e.world_size > 1)
      e.master_addr = first_slurm_host(require(get, "SLURM_JOB_NODELIST", "SLURM_NTASKS > 1 and no MASTER_ADDR"));
  }
  if (auto p = get("MASTER_PORT")) e.master_port = parse_int("MASTER_PORT", *p, 1, 65535);
  return e;
}

DistEnv dist_env() {
  return dist_env([](const std::string& k) -> std::optional<std::string> {
    const char* v = std::getenv(k.c_str());
    return v ? std::optional<std::string>(v) : std::nullopt;
  });
}

}  // namespace crucible::trainer::dist
