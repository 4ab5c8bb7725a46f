// The distillation losses against their references on identical logits:
//   top-K KD  vs a direct float64 formula written here with loops (teacher top-K + rest bucket, forward KL, CE mix);
//   JSD       vs TRL 1.16 DistillationTrainer's own loss code (oracles/trl_jsd_loss.py) for beta 0, 0.5, 1: the loss,
//             and (distill onpolicy's reduction: masked positions, a step-wide token count) the gradient;
//   top-K JSD vs a direct float64 formula (loops; its gradient by central differences) for beta 0, 0.5, 1, vs the
//             full JSD with K = the whole vocabulary (loss and gradient), and below the full JSD with K < V.
#include "trainer/distill/losses.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tests/support/oracle.h"

namespace crucible::distill {
namespace {

constexpr double kTol = 1e-6;

// The formula of losses.h, with loops in double: no torch on this side.
double direct_kd(const std::vector<std::vector<double>>& logits, const std::vector<int64_t>& targets,
                 const std::vector<std::vector<int64_t>>& ids, const std::vector<std::vector<double>>& t_logp,
                 double alpha) {
  double ce = 0, kl = 0;
  const size_t T = logits.size();
  for (size_t t = 0; t < T; ++t) {
    double mx = -INFINITY;
    for (double x : logits[t]) mx = std::max(mx, x);
    double z = 0;
    for (double x : logits[t]) z += std::exp(x - mx);
    const double log_z = mx + std::log(z);
    ce += -(logits[t][static_cast<size_t>(targets[t])] - log_z);
    double t_mass = 0, s_mass_topk = 0, term = 0;
    std::vector<bool> in(logits[t].size(), false);
    for (size_t k = 0; k < ids[t].size(); ++k) {
      if (ids[t][k] < 0) continue;
      const double s_lp = logits[t][static_cast<size_t>(ids[t][k])] - log_z;
      const double p = std::exp(t_logp[t][k]);
      t_mass += p;
      s_mass_topk += std::exp(s_lp);
      in[static_cast<size_t>(ids[t][k])] = true;
      term += p * (t_logp[t][k] - s_lp);
    }
    double s_rest = 0;  // summed over the other ids, not 1 - s_mass_topk: the same quantity, computed another way
    for (size_t v = 0; v < logits[t].size(); ++v)
      if (!in[v]) s_rest += std::exp(logits[t][v] - log_z);
    EXPECT_NEAR(s_rest, 1.0 - s_mass_topk, 1e-12);
    const double t_rest = std::max(0.0, 1.0 - t_mass);
    if (t_rest > 0) term += t_rest * (std::log(t_rest) - std::log(s_rest));
    kl += term;
  }
  return (1 - alpha) * ce / T + alpha * kl / T;
}

torch::Tensor to_tensor(const std::vector<std::vector<double>>& rows) {
  std::vector<double> flat;
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  return torch::tensor(flat, torch::kFloat64).view({static_cast<int64_t>(rows.size()), -1});
}

std::vector<std::vector<double>> to_rows(const torch::Tensor& x) {
  auto c = x.to(torch::kFloat64).contiguous();
  std::vector<std::vector<double>> out(static_cast<size_t>(c.size(0)));
  for (int64_t i = 0; i < c.size(0); ++i)
    for (int64_t j = 0; j < c.size(1); ++j) out[static_cast<size_t>(i)].push_back(c[i][j].item<double>());
  return out;
}

TEST(TopKKd, EqualsTheDirectFloat64Formula) {
  torch::manual_seed(3);
  const int64_t T = 7, V = 19, K = 4;
  auto student = to_rows(torch::randn({T, V}, torch::kFloat64) * 2.0);
  auto teacher_logits = torch::randn({T, V}, torch::kFloat64) * 3.0;
  auto teacher_lp = torch::log_softmax(teacher_logits, -1);
  auto top = teacher_lp.topk(K, -1);
  std::vector<std::vector<int64_t>> ids(T);
  std::vector<std::vector<double>> lps(T);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t k = 0; k < K; ++k) {
      ids[t].push_back(std::get<1>(top)[t][k].item<int64_t>());
      lps[t].push_back(std::get<0>(top)[t][k].item<double>());
    }
  // Position 2 has only 2 alternatives (padding), position 5 a teacher that puts all its mass on its top-K.
  ids[2][2] = ids[2][3] = -1;
  lps[2][2] = lps[2][3] = 0.0;
  lps[5] = {std::log(0.5), std::log(0.25), std::log(0.125), std::log(0.125)};
  std::vector<int64_t> targets;
  for (int64_t t = 0; t < T; ++t) targets.push_back((t * 5) % V);

  auto ids_t = torch::zeros({T, K}, torch::kInt64);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t k = 0; k < K; ++k) ids_t[t][k] = ids[t][k];
  for (double alpha : {0.0, 0.3, 1.0}) {
    auto r = topk_kd_loss(to_tensor(student), torch::tensor(targets, torch::kInt64), ids_t, to_tensor(lps), alpha);
    const double expected = direct_kd(student, targets, ids, lps, alpha);
    EXPECT_NEAR(r.loss.item<double>(), expected, kTol) << "alpha " << alpha;
    std::printf("alpha %.1f: float64 |diff| %.2e\n", alpha, std::abs(r.loss.item<double>() - expected));
    // float32 logits (the trainer's) stay close too.
    auto r32 = topk_kd_loss(to_tensor(student).to(torch::kFloat32), torch::tensor(targets, torch::kInt64), ids_t,
                            to_tensor(lps).to(torch::kFloat32), alpha);
    EXPECT_NEAR(r32.loss.item<double>(), expected, 1e-4) << "alpha " << alpha;
  }
  // alpha 0 is plain cross-entropy.
  auto r0 = topk_kd_loss(to_tensor(student), torch::tensor(targets, torch::kInt64), ids_t, to_tensor(lps), 0.0);
  auto ce = torch::nn::functional::cross_entropy(to_tensor(student), torch::tensor(targets, torch::kInt64));
  EXPECT_NEAR(r0.loss.item<double>(), ce.item<double>(), 1e-12);
}

TEST(TopKKd, WholeVocabularyIsTheFullForwardKl) {
  torch::manual_seed(5);
  const int64_t T = 3, V = 6;
  auto s = torch::randn({T, V}, torch::kFloat64), t = torch::randn({T, V}, torch::kFloat64);
  auto t_lp = torch::log_softmax(t, -1);
  auto ids = torch::arange(V, torch::kInt64).repeat({T, 1});
  auto r = topk_kd_loss(s, torch::zeros({T}, torch::kInt64), ids, t_lp, 1.0);
  auto full = (t_lp.exp() * (t_lp - torch::log_softmax(s, -1))).sum(-1).mean();
  EXPECT_NEAR(r.loss.item<double>(), full.item<double>(), 1e-9);
  EXPECT_NEAR(generalized_jsd_loss(s, t, 0.0).item<double>(), full.item<double>(), 1e-12);
  EXPECT_THROW(topk_kd_loss(s, torch::zeros({T}, torch::kInt64), ids, t_lp, 1.5), std::exception);
  // The teacher's K probabilities summing a hair under 1 (float rounding) leave a "rest" with nothing in it on the
  // student's side: the loss and its gradient stay finite and equal the full KL's.
  auto t_short = t_lp - 1e-12;
  auto s_grad = s.clone().requires_grad_(true);
  auto r2 = topk_kd_loss(s_grad, torch::zeros({T}, torch::kInt64), ids, t_short, 1.0);
  EXPECT_NEAR(r2.loss.item<double>(), full.item<double>(), 1e-9);
  r2.loss.backward();
  EXPECT_TRUE(torch::isfinite(s_grad.grad()).all().item<bool>()) << s_grad.grad();
  auto s_ref = s.clone().requires_grad_(true);
  (t_lp.exp() * (t_lp - torch::log_softmax(s_ref, -1))).sum(-1).mean().backward();
  EXPECT_TRUE(torch::allclose(s_grad.grad(), s_ref.grad(), 1e-9, 1e-9));
}

TEST(TopKKd, TokenZeroListedBesidePaddingStaysInTheTopK) {
  // Padding (-1) is clamped to id 0 for the gathers: it must not take a listed id 0 out of the top-K set.
  torch::manual_seed(4);
  const int64_t T = 2, V = 7;
  auto student = to_rows(torch::randn({T, V}, torch::kFloat64));
  const std::vector<std::vector<int64_t>> ids = {{0, 3, -1, -1}, {5, 0, 2, -1}};
  const std::vector<std::vector<double>> lps = {{std::log(0.4), std::log(0.3), 0.0, 0.0},
                                                {std::log(0.5), std::log(0.2), std::log(0.1), 0.0}};
  auto ids_t = torch::tensor({0, 3, -1, -1, 5, 0, 2, -1}, torch::kInt64).view({T, 4});
  const std::vector<int64_t> targets = {1, 4};
  auto r = topk_kd_loss(to_tensor(student), torch::tensor(targets, torch::kInt64), ids_t, to_tensor(lps), 1.0);
  EXPECT_NEAR(r.loss.item<double>(), direct_kd(student, targets, ids, lps, 1.0), kTol);
}

TEST(TopKKd, GradientFlowsToTheStudentOnly) {
  auto s = torch::randn({2, 5}, torch::kFloat64).requires_grad_(true);
  auto ids = torch::tensor({0, 1, 2, 3}, torch::kInt64).view({2, 2});
  auto lps = torch::tensor({-0.5, -1.5, -0.2, -3.0}, torch::kFloat64).view({2, 2});
  auto r = topk_kd_loss(s, torch::tensor({1, 2}, torch::kInt64), ids, lps, 0.5);
  r.loss.backward();
  ASSERT_TRUE(s.grad().defined());
  // Each row of a softmax-based loss's gradient sums to zero.
  EXPECT_NEAR(s.grad().sum(-1).abs().max().item<double>(), 0.0, 1e-12);
}

TEST(GeneralizedJsd, EqualsTrlDistillationTrainer) {
  CRUCIBLE_REQUIRE_ORACLE();
  torch::manual_seed(11);
  const int64_t T = 6, V = 23;
  auto s = torch::randn({T, V}, torch::kFloat64) * 2.0, t = torch::randn({T, V}, torch::kFloat64) * 2.0;
  const std::vector<double> betas = {0.0, 0.5, 1.0, 0.1};
  testing::TempDir dir;
  for (double temperature : {1.0, 0.7}) {
    {
      std::ofstream in(dir.file("in.json"));
      in << nlohmann::json{{"student", to_rows(s)}, {"teacher", to_rows(t)}, {"betas", betas},
                           {"temperature", temperature}}.dump();
    }
    auto r = testing::run_oracle("tests/trainer/distill/oracles/trl_jsd_loss.py",
                                 {dir.file("in.json"), dir.file("out.json")});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    std::ifstream out(dir.file("out.json"));
    auto trl = nlohmann::json::parse(out)["losses"];
    for (size_t i = 0; i < betas.size(); ++i) {
      const double ours = generalized_jsd_loss(s, t, betas[i], temperature).item<double>();
      EXPECT_NEAR(ours, trl[i].get<double>(), kTol) << "beta " << betas[i] << " temperature " << temperature;
      std::printf("beta %.1f temperature %.1f: ours %.12f trl %.12f |diff| %.2e\n", betas[i], temperature, ours,
                  trl[i].get<double>(), std::abs(ours - trl[i].get<double>()));
    }
  }
}

// distill onpolicy's reduction (onpolicy.cpp, accumulate): each micro-batch's mean over its completion tokens times
// their count over the step's token count, i.e. TRL's sum / num_items_in_batch with a completion mask. The loss and
// its gradient wrt the student's logits (zero at masked positions) vs TRL's code run with that mask and count.
TEST(GeneralizedJsd, StepReductionAndGradientEqualTrl) {
  CRUCIBLE_REQUIRE_ORACLE();
  torch::manual_seed(13);
  const int64_t T = 6, V = 23;
  const double num_items = 9;  // the step's tokens: this micro-batch holds 4 of them
  auto s = torch::randn({T, V}, torch::kFloat64) * 2.0, t = torch::randn({T, V}, torch::kFloat64) * 2.0;
  const std::vector<int> mask = {1, 0, 1, 1, 0, 1};
  const auto rows = torch::tensor({0, 2, 3, 5}, torch::kInt64);
  const std::vector<double> betas = {0.0, 0.5, 1.0};
  const double temperature = 0.8;
  testing::TempDir dir;
  {
    std::ofstream in(dir.file("in.json"));
    in << nlohmann::json{{"student", to_rows(s)}, {"teacher", to_rows(t)}, {"betas", betas},
                         {"temperature", temperature}, {"mask", mask}, {"num_items", num_items}}.dump();
  }
  auto r = testing::run_oracle("tests/trainer/distill/oracles/trl_jsd_loss.py",
                               {dir.file("in.json"), dir.file("out.json")});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::ifstream out(dir.file("out.json"));
  auto trl = nlohmann::json::parse(out);
  for (size_t i = 0; i < betas.size(); ++i) {
    auto leaf = s.clone().requires_grad_(true);
    auto loss = generalized_jsd_loss(leaf.index_select(0, rows), t.index_select(0, rows), betas[i], temperature) *
                (static_cast<double>(rows.size(0)) / num_items);
    loss.backward();
    const double trl_loss = trl["losses"][i].get<double>();
    EXPECT_NEAR(loss.item<double>(), trl_loss, kTol) << "beta " << betas[i];
    std::vector<double> flat;
    for (const auto& row : trl["grads"][i])
      for (double x : row) flat.push_back(x);
    auto trl_grad = torch::tensor(flat, torch::kFloat64).view({T, V});
    const double grad_diff = (leaf.grad() - trl_grad).abs().max().item<double>();
    EXPECT_LT(grad_diff, kTol) << "beta " << betas[i];
    EXPECT_GT(trl_grad.abs().max().item<double>(), 1e-3);  // a gradient worth comparing
    std::printf("beta %.1f (masked, / %.0f): loss |diff| %.2e, max |grad diff| %.2e\n", betas[i], num_items,
                std::abs(loss.item<double>() - trl_loss), grad_diff);
  }
}

// The partitioned divergence of losses.h (topk_generalized_jsd_loss) with loops in double: the teacher's listed ids
// and the sampled token when it is not listed, then one rest bucket when the partition leaves any id out.
double direct_topk_jsd(const std::vector<std::vector<double>>& logits, const std::vector<int64_t>& targets,
                       const std::vector<double>& target_lp, const std::vector<std::vector<int64_t>>& ids,
                       const std::vector<std::vector<double>>& t_logp, double beta) {
  auto f = [beta](double ps, double pt) {  // one bucket's term, 0 log 0 = 0
    auto xlogy = [](double x, double y) { return x == 0 ? 0.0 : x * std::log(y); };
    if (beta == 0) return xlogy(pt, pt) - xlogy(pt, ps);
    if (beta == 1) return xlogy(ps, ps) - xlogy(ps, pt);
    const double m = (1 - beta) * ps + beta * pt;
    return beta * (xlogy(pt, pt) - xlogy(pt, m)) + (1 - beta) * (xlogy(ps, ps) - xlogy(ps, m));
  };
  double total = 0;
  for (size_t t = 0; t < logits.size(); ++t) {
    double mx = -INFINITY;
    for (double x : logits[t]) mx = std::max(mx, x);
    double z = 0;
    for (double x : logits[t]) z += std::exp(x - mx);
    const double log_z = mx + std::log(z);
    std::vector<std::pair<int64_t, double>> part;
    for (size_t k = 0; k < ids[t].size(); ++k)
      if (ids[t][k] >= 0) part.emplace_back(ids[t][k], t_logp[t][k]);
    bool listed = false;
    for (const auto& [id, lp] : part) listed = listed || id == targets[t];
    if (!listed) part.emplace_back(targets[t], target_lp[t]);
    std::vector<bool> in(logits[t].size(), false);
    double t_mass = 0, term = 0;
    for (const auto& [id, lp] : part) {
      in[static_cast<size_t>(id)] = true;
      t_mass += std::exp(lp);
      term += f(std::exp(logits[t][static_cast<size_t>(id)] - log_z), std::exp(lp));
    }
    double s_rest = 0;
    bool has_rest = false;
    for (size_t v = 0; v < logits[t].size(); ++v)
      if (!in[v]) {
        has_rest = true;
        s_rest += std::exp(logits[t][v] - log_z);
      }
    if (has_rest) term += f(s_rest, std::max(1.0 - t_mass, kTeacherRestFloor));
    total += term;
  }
  return total / static_cast<double>(logits.size());
}

struct TopKCase {
  std::vector<std::vector<double>> student, lps;
  std::vector<std::vector<int64_t>> ids;
  std::vector<int64_t> targets;
  std::vector<double> target_lp;
  torch::Tensor ids_t() const {
    auto out = torch::zeros({static_cast<int64_t>(ids.size()), static_cast<int64_t>(ids[0].size())}, torch::kInt64);
    for (size_t t = 0; t < ids.size(); ++t)
      for (size_t k = 0; k < ids[t].size(); ++k) out[static_cast<int64_t>(t)][static_cast<int64_t>(k)] = ids[t][k];
    return out;
  }
};

// A teacher's top-K of random logits, the sampled tokens some listed and some not, one row padded (2 of K listed)
// and one whose listed mass is 1 (the rest floored).
TopKCase topk_case(int64_t T, int64_t V, int64_t K, uint64_t seed) {
  torch::manual_seed(seed);
  TopKCase c;
  c.student = to_rows(torch::randn({T, V}, torch::kFloat64) * 2.0);
  auto teacher_lp = torch::log_softmax(torch::randn({T, V}, torch::kFloat64) * 2.5, -1);
  auto top = teacher_lp.topk(K, -1);
  c.ids.resize(T);
  c.lps.resize(T);
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t k = 0; k < K; ++k) {
      c.ids[t].push_back(std::get<1>(top)[t][k].item<int64_t>());
      c.lps[t].push_back(std::get<0>(top)[t][k].item<double>());
    }
    // Even rows sample a listed token (the second most likely), odd rows an unlisted one (the least likely).
    c.targets.push_back(t % 2 == 0 ? c.ids[t][1] : teacher_lp[t].argmin().item<int64_t>());
    c.target_lp.push_back(teacher_lp[t][c.targets.back()].item<double>());
  }
  c.ids[1][2] = c.ids[1][3] = -1;
  c.lps[1][2] = c.lps[1][3] = 0.0;
  c.lps[2] = {std::log(0.5), std::log(0.25), std::log(0.125), std::log(0.125)};  // row 2's target is ids[2][1]
  c.target_lp[2] = std::log(0.25);
  return c;
}

TEST(TopKJsd, EqualsTheDirectFloat64FormulaLossAndGradient) {
  const int64_t T = 6, V = 13, K = 4;
  auto c = topk_case(T, V, K, 21);
  const auto targets = torch::tensor(c.targets, torch::kInt64), target_lp = torch::tensor(c.target_lp, torch::kFloat64);
  for (double beta : {0.0, 0.5, 1.0}) {
    auto leaf = to_tensor(c.student).requires_grad_(true);
    auto loss = topk_generalized_jsd_loss(leaf, targets, target_lp, c.ids_t(), to_tensor(c.lps), beta);
    loss.backward();
    const double expected = direct_topk_jsd(c.student, c.targets, c.target_lp, c.ids, c.lps, beta);
    EXPECT_NEAR(loss.item<double>(), expected, kTol) << "beta " << beta;
    EXPECT_GT(expected, 1e-2);
    // The gradient by central differences of the direct formula, logit by logit.
    double max_diff = 0, max_grad = 0;
    const double h = 1e-5;
    for (int64_t t = 0; t < T; ++t)
      for (int64_t v = 0; v < V; ++v) {
        auto up = c.student, down = c.student;
        up[t][v] += h;
        down[t][v] -= h;
        const double fd = (direct_topk_jsd(up, c.targets, c.target_lp, c.ids, c.lps, beta) -
                           direct_topk_jsd(down, c.targets, c.target_lp, c.ids, c.lps, beta)) /
                          (2 * h);
        max_diff = std::max(max_diff, std::abs(leaf.grad()[t][v].item<double>() - fd));
        max_grad = std::max(max_grad, std::abs(fd));
      }
    EXPECT_LT(max_diff, kTol) << "beta " << beta;
    EXPECT_GT(max_grad, 1e-2);
    std::printf("top-K JSD beta %.1f: loss |diff| %.2e, max |grad diff| %.2e (max |grad| %.3f)\n", beta,
                std::abs(loss.item<double>() - expected), max_diff, max_grad);
    // float32 logits (the trainer's) stay close and finite.
    auto leaf32 = to_tensor(c.student).to(torch::kFloat32).requires_grad_(true);
    auto l32 = topk_generalized_jsd_loss(leaf32, targets, target_lp.to(torch::kFloat32), c.ids_t(),
                                         to_tensor(c.lps).to(torch::kFloat32), beta);
    l32.backward();
    EXPECT_NEAR(l32.item<double>(), expected, 1e-4) << "beta " << beta;
    EXPECT_TRUE(torch::isfinite(leaf32.grad()).all().item<bool>());
  }
  EXPECT_THROW(topk_generalized_jsd_loss(to_tensor(c.student), targets, target_lp, c.ids_t(), to_tensor(c.lps), 1.5),
               InputError);
}

TEST(TopKJsd, WholeVocabularyIsTheFullJsdLossAndGradient) {
  // K = V (in a shuffled order per row): no rest bucket, so the loss is generalized_jsd_loss at temperature 1,
  // without inf or NaN from an empty rest; the teacher's listed logprobs a hair short of summing to 1 change nothing.
  torch::manual_seed(8);
  const int64_t T = 5, V = 11;
  auto s = torch::randn({T, V}, torch::kFloat64) * 2.0, t = torch::randn({T, V}, torch::kFloat64) * 2.0;
  auto t_lp = torch::log_softmax(t, -1);
  std::vector<torch::Tensor> perms;
  for (int64_t i = 0; i < T; ++i) perms.push_back(torch::randperm(V, torch::kInt64));
  auto ids = torch::stack(perms);
  auto lps = t_lp.gather(1, ids) - 1e-13;
  auto targets = torch::tensor({0, 3, 10, 7, 3}, torch::kInt64);
  auto target_lp = t_lp.gather(1, targets.unsqueeze(1)).squeeze(1);
  for (double beta : {0.0, 0.5, 1.0}) {
    auto a = s.clone().requires_grad_(true), b = s.clone().requires_grad_(true);
    auto topk = topk_generalized_jsd_loss(a, targets, target_lp, ids, lps, beta);
    auto full = generalized_jsd_loss(b, t, beta);
    topk.backward();
    full.backward();
    EXPECT_NEAR(topk.item<double>(), full.item<double>(), 1e-9) << "beta " << beta;
    EXPECT_TRUE(torch::isfinite(a.grad()).all().item<bool>()) << a.grad();
    EXPECT_LT((a.grad() - b.grad()).abs().max().item<double>(), 1e-9) << "beta " << beta;
    EXPECT_GT(full.item<double>(), 1e-2);
    // float32, as the trainer runs it.
    auto a32 = s.to(torch::kFloat32).requires_grad_(true);
    auto l32 = topk_generalized_jsd_loss(a32, targets, target_lp.to(torch::kFloat32), ids, lps.to(torch::kFloat32),
                                         beta);
    l32.backward();
    EXPECT_NEAR(l32.item<double>(), full.item<double>(), 1e-5) << "beta " << beta;
    EXPECT_TRUE(torch::isfinite(a32.grad()).all().item<bool>()) << a32.grad();
  }
}

TEST(TopKJsd, IsALowerBoundOfTheFullJsd) {
  // Merging outcomes cannot increase an f-divergence (data-processing inequality): top-K <= full, per row.
  torch::manual_seed(9);
  const int64_t T = 8, V = 17;
  auto s = torch::randn({T, V}, torch::kFloat64) * 2.0, t = torch::randn({T, V}, torch::kFloat64) * 2.0;
  auto t_lp = torch::log_softmax(t, -1);
  auto targets = torch::randint(V, {T}, torch::kInt64);
  auto target_lp = t_lp.gather(1, targets.unsqueeze(1)).squeeze(1);
  for (int64_t K : {1, 3, 8, 16}) {
    auto top = t_lp.topk(K, -1);
    for (double beta : {0.0, 0.5, 1.0})
      for (int64_t row = 0; row < T; ++row) {
        auto r = torch::tensor({row}, torch::kInt64);
        const double topk = topk_generalized_jsd_loss(s.index_select(0, r), targets.index_select(0, r),
                                                      target_lp.index_select(0, r),
                                                      std::get<1>(top).index_select(0, r),
                                                      std::get<0>(top).index_select(0, r), beta)
                                .item<double>();
        const double full = generalized_jsd_loss(s.index_select(0, r), t.index_select(0, r), beta).item<double>();
        EXPECT_LE(topk, full + 1e-12) << "K " << K << " beta " << beta << " row " << row;
        EXPECT_GE(topk, -1e-12);
      }
  }
}

}  // namespace
}  // namespace crucible::distill
