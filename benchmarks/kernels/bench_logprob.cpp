// Peak memory and time of per-token log-probs + entropy, forward + backward, for hidden [N, D] and an lm_head
// weight [V, D]: crucible's chunked token_logprobs (kernels/torch) against the naive torch path
//   logits = hidden @ Wᵀ / T;  logp_all = log_softmax(logits);  logp = logp_all.gather(targets);
//   entropy = -(exp(logp_all) · logp_all).sum(-1);  (Σ a·logp + b·entropy).backward()
// One mode per process, so the process's peak RSS is that mode's: run it once per mode and size.
//
//   bench_logprob --mode chunked|naive|check --n N [--d 1536] [--v 151936] [--chunk 1024] [--t 0.7]
//
// Prints one JSON line: rss_before_mb (inputs allocated and touched), peak_rss_mb (ru_maxrss after fwd+bwd),
// extra_mb = peak - before (what the log-prob computation itself needed, including grad_hidden / grad_weight, the
// same on both sides), seconds (fwd+bwd, wall). --mode check runs both at the given size and prints their largest
// differences (values and both gradients) instead: run it before trusting a timing.
#include <sys/resource.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "kernels/torch/token_logprobs.h"

namespace {

double rss_mb() {
  std::ifstream f("/proc/self/statm");
  long pages = 0, resident = 0;
  f >> pages >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1048576.0);
}
double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

struct Inputs {
  torch::Tensor hidden, weight, targets, a, b;
};

struct Result {
  torch::Tensor logp, entropy, grad_hidden, grad_weight;
};

Result run(const std::string& mode, Inputs& in, double T, int64_t chunk) {
  auto hidden = in.hidden.detach().requires_grad_(true), weight = in.weight.detach().requires_grad_(true);
  torch::Tensor logp, entropy;
  if (mode == "chunked") {
    auto out = crucible::kernels::token_logprobs(hidden, weight, in.targets, T, chunk);
    logp = out.logp_N;
    entropy = out.entropy_N;
  } else {
    auto logits = torch::matmul(hidden, weight.t()) / T;
    auto logp_all = torch::log_softmax(logits, -1);
    logp = logp_all.gather(-1, in.targets.unsqueeze(-1)).squeeze(-1);
    entropy = -(logp_all.exp() * logp_all).sum(-1);
  }
  (logp * in.a + entropy * in.b).sum().backward();
  return {logp.detach(), entropy.detach(), hidden.grad(), weight.grad()};
}

double max_diff(const torch::Tensor& x, const torch::Tensor& y) { return (x - y).abs().max().item<double>(); }

}  // namespace

int main(int argc, char** argv) {
  std::string mode = "chunked";
  int64_t n = 1024, d = 1536, v = 151936, chunk = 1024;
  double T = 0.7;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], val = argv[i + 1];
    if (k == "--mode") mode = val;
    else if (k == "--n") n = std::stoll(val);
    else if (k == "--d") d = std::stoll(val);
    else if (k == "--v") v = std::stoll(val);
    else if (k == "--chunk") chunk = std::stoll(val);
    else if (k == "--t") T = std::stod(val);
    else {
      std::fprintf(stderr, "bench_logprob: unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  if (mode != "chunked" && mode != "naive" && mode != "check") {
    std::fprintf(stderr, "bench_logprob: --mode must be chunked, naive or check (got %s)\n", mode.c_str());
    return 2;
  }
  torch::manual_seed(0);
  Inputs in;
  {
    torch::NoGradGuard no_grad;
    in = {torch::randn({n, d}), torch::randn({v, d}) * 0.02, torch::randint(0, v, {n}, torch::kInt64),
          torch::randn({n}), torch::randn({n})};
  }
  if (mode == "check") {
    auto c = run("chunked", in, T, chunk);
    auto r = run("naive", in, T, chunk);
    std::printf("{\"mode\":\"check\",\"n\":%ld,\"d\":%ld,\"v\":%ld,\"chunk\":%ld,\"logp\":%.3g,\"entropy\":%.3g,"
                "\"grad_hidden\":%.3g,\"grad_weight\":%.3g}\n",
                static_cast<long>(n), static_cast<long>(d), static_cast<long>(v), static_cast<long>(chunk),
                max_diff(c.logp, r.logp), max_diff(c.entropy, r.entropy), max_diff(c.grad_hidden, r.grad_hidden),
                max_diff(c.grad_weight, r.grad_weight));
    return 0;
  }
  const double before = rss_mb();
  const auto t0 = std::chrono::steady_clock::now();
  auto res = run(mode, in, T, chunk);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double peak = peak_rss_mb();
  std::printf("{\"mode\":\"%s\",\"n\":%ld,\"d\":%ld,\"v\":%ld,\"chunk\":%ld,\"threads\":%d,\"rss_before_mb\":%.0f,"
              "\"peak_rss_mb\":%.0f,\"extra_mb\":%.0f,\"seconds\":%.2f,\"logp_sum\":%.6g}\n",
              mode.c_str(), static_cast<long>(n), static_cast<long>(d), static_cast<long>(v),
              static_cast<long>(chunk), torch::get_num_threads(), before, peak, peak - before, seconds,
              res.logp.sum().item<double>());
  return 0;
}
