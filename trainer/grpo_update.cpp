// The update half of a GRPO step: grpo_update.h.
#include "trainer/grpo_update.h"

#include <algorithm>
#include <functional>
#include <map>

#include "kernels/torch/token_logprobs.h"

namespace crucible::trainer {

CompletionBatch make_completion_batch(const Sequences& rs, size_t begin, size_t end, torch::Device device) {
  CompletionBatch b;
  b.B = static_cast<int64_t>(end - begin);
  std::map<std::vector<int64_t>, int64_t> prompt_row;  // distinct prompt -> its row
  std::vector<const std::vector<int64_t>*> prompts;
  std::vector<int64_t> prompt_of;
  int64_t S = 0;
  for (size_t i = begin; i < end; ++i) {
    auto [it, added] = prompt_row.emplace(rs[i]->prompt_ids, static_cast<int64_t>(prompts.size()));
    if (added) prompts.push_back(&it->first);
    prompt_of.push_back(it->second);
    S = std::max<int64_t>(S, static_cast<int64_t>(rs[i]->prompt_ids.size()));
    b.T = std::max<int64_t>(b.T, static_cast<int64_t>(rs[i]->completion_ids.size()));
  }
  b.T = std::max<int64_t>(b.T, 1);
  const int64_t P = static_cast<int64_t>(prompts.size()), PS = P * S;
  std::vector<int64_t> prompt_tokens(static_cast<size_t>(PS), 0), prompt_len, tokens(static_cast<size_t>(b.B * b.T), 0);
  for (int64_t p = 0; p < P; ++p) {
    std::copy(prompts[p]->begin(), prompts[p]->end(), prompt_tokens.begin() + p * S);
    prompt_len.push_back(static_cast<int64_t>(prompts[p]->size()));
  }
  std::vector<int64_t> positions, targets;
  std::vector<uint8_t> has(static_cast<size_t>(b.B * b.T), 0);
  for (int64_t row = 0; row < b.B; ++row) {
    const auto& r = *rs[begin + static_cast<size_t>(row)];
    const int64_t p = prompt_of[static_cast<size_t>(row)];
    std::copy(r.completion_ids.begin(), r.completion_ids.end(), tokens.begin() + row * b.T);
    for (size_t j = 0; j < r.completion_ids.size(); ++j) {
      // Completion token j is predicted by the hidden state of the position before it: the prompt's last for j = 0.
      positions.push_back(j == 0 ? p * S + prompt_len[static_cast<size_t>(p)] - 1
                                 : PS + row * b.T + static_cast<int64_t>(j) - 1);
      targets.push_back(r.completion_ids[j]);
      has[static_cast<size_t>(row * b.T) + j] = 1;
    }
  }
  auto i64 = [&](const std::vector<int64_t>& v) { return torch::tensor(v, torch::kInt64).to(device); };
  b.in.prompt_tokens_PS = i64(prompt_tokens).view({P, S});
  b.in.prompt_len_P = i64(prompt_len);
  b.in.tokens_BT = i64(tokens).view({b.B, b.T});
  b.in.prompt_of_B = i64(prompt_of);
  b.positions_N = i64(positions);
  b.targets_N = i64(targets);
  b.has_token_BT = torch::tensor(has, torch::kUInt8).view({b.B, b.T}).to(torch::kBool).to(device);
  return b;
}

namespace {

// Per-token logprobs and entropies [B, T] (zero at padding) at `temperature` (TRL divides the logits by the rollout
// temperature too) from the hidden states that predict b's completion tokens, never a [B, S, V] tensor: the chunked
// op over those positions only.
std::pair<torch::Tensor, torch::Tensor> logprobs_from_hidden(model::Transformer& m, const CompletionBatch& b,
                                                             const torch::Tensor& hidden_ND, double temperature,
                                                             int64_t chunk) {
  auto out = kernels::token_logprobs(hidden_ND, m->lm_head_weight(), b.targets_N, temperature, chunk);
  auto zeros = torch::zeros({b.B, b.T}, out.logp_N.options());
  return {zeros.index_put({b.has_token_BT}, out.logp_N), zeros.index_put({b.has_token_BT}, out.entropy_N.detach())};
}

// The same through the plain prefixed forward of b.
std::pair<torch::Tensor, torch::Tensor> token_logprobs_BT(model::Transformer& m, const CompletionBatch& b,
                                                          double temperature, int64_t chunk) {
  return logprobs_from_hidden(m, b, m->forward_hidden_prefixed(b.in).index_select(0, b.positions_N), temperature,
                              chunk);
}

torch::Tensor padded(const Sequences& rs, size_t begin, size_t end, int64_t T,
                     const std::function<double(const TrainSequence&, size_t)>& value, torch::Device device) {
  auto t = torch::zeros({static_cast<int64_t>(end - begin), T}, torch::kFloat32);
  auto a = t.accessor<float, 2>();
  for (size_t i = begin; i < end; ++i)
    for (size_t j = 0; j < rs[i]->completion_ids.size(); ++j)
      a[static_cast<int64_t>(i - begin)][static_cast<int64_t>(j)] = static_cast<float>(value(*rs[i], j));
  return t.to(device);
}

}  // namespace

// Detached logprobs of every rollout under `m` (old logprobs for mu > 1 / IS; the reference's for beta).
void score_logprobs(model::Transformer& m, const Sequences& rs, const GrpoConfig& c, torch::Device device,
                    std::vector<float> TrainSequence::*field) {
  torch::NoGradGuard ng;
  for (size_t begin = 0; begin < rs.size(); begin += static_cast<size_t>(c.micro_batch)) {
    const size_t end = std::min(rs.size(), begin + static_cast<size_t>(c.micro_batch));
    auto b = make_completion_batch(rs, begin, end, device);
    auto logp_BT = token_logprobs_BT(m, b, c.temperature, c.logprob_chunk).first.to(torch::kCPU).contiguous();
    for (size_t i = begin; i < end; ++i) {
      const float* row = logp_BT.data_ptr<float>() + static_cast<int64_t>(i - begin) * b.T;
      rs[i]->*field = std::vector<float>(row, row + rs[i]->completion_ids.size());
    }
  }
}


bool zero_gradient(const GrpoConfig& c, const TrainSequence& s) {
  return s.advantage == 0.0 && c.loss.beta == 0.0 && c.loss.loss_type != LossType::bnpo &&
         c.loss.top_entropy_quantile >= 1.0;
}

namespace {
bool trains(const GrpoConfig& c, const TrainSequence& r) { return !(c.mask_truncated && r.finish == "length"); }
}  // namespace

StepCounts step_counts(const GrpoConfig& c, const Sequences& rs) {
  StepCounts counts;
  counts.sequences = static_cast<int64_t>(rs.size());
  counts.micro_batches = (counts.sequences + c.micro_batch - 1) / c.micro_batch;
  for (const auto* r : rs) counts.tokens += trains(c, *r) ? static_cast<double>(r->completion_ids.size()) : 0.0;
  return counts;
}

UpdateStats accumulate_update(const GrpoConfig& c, model::Transformer& m, const Sequences& rs,
                              const StepCounts& counts, torch::Device device, bool measure_mismatch,
                              const BackwardHooks& hooks) {
  UpdateStats u;
  auto trains = [&](const TrainSequence& r) { return trainer::trains(c, r); };
  GrpoLossConfig lc = c.loss;
  lc.max_completion_length = c.max_tokens;
  const bool have_old = !rs.empty() && !rs[0]->old_logp.empty();

  Sequences backward, skipped;  // order kept: a group's samples stay together, so they share a prompt row
  for (auto* r : rs) (c.skip_zero_advantage && zero_gradient(c, *r) ? skipped : backward).push_back(r);
  u.sequences_backward = static_cast<int64_t>(backward.size());
  u.sequences_skipped = static_cast<int64_t>(skipped.size());

  // Masks of a micro-batch: tokens present, and not of a length-cut sample under --mask-truncated.
  auto mask_of = [&](const Sequences& part, size_t begin, size_t end, const CompletionBatch& b) {
    auto train_row = torch::zeros({b.B, 1}, torch::kBool);
    for (size_t i = begin; i < end; ++i) train_row[static_cast<int64_t>(i - begin)][0] = trains(*part[i]);
    return b.has_token_BT.logical_and(train_row.to(device)).to(torch::kFloat32);
  };
  // Sampler vs trainer on the same weights: what the engine drew from vs what the trainer scores.
  auto mismatch = [&](const Sequences& part, size_t begin, size_t end, const CompletionBatch& b,
                      const torch::Tensor& logp_BT) {
    if (!measure_mismatch) return;
    torch::NoGradGuard ng;
    auto sampler_BT = padded(part, begin, end, b.T, [](auto& r, size_t j) { return r.sampler_logp[j]; }, device);
    auto has = b.has_token_BT.to(torch::kFloat32);
    auto d = (logp_BT.detach() - sampler_BT) * has;
    u.mismatch_abs_sum += d.abs().sum().item<double>();
    u.mismatch_max = std::max(u.mismatch_max, d.abs().max().item<double>());
    u.mismatch_k3_sum += ((torch::exp(d) - d - 1) * has).sum().item<double>();
    u.mismatch_tokens += has.sum().item<double>();
  };

  // The step's backward passes, counted before the first (hooks.plan) and bracketed by the hooks.
  int64_t passes = 0, passes_done = 0;
  auto backward_pass = [&](const std::function<void()>& run) {
    if (hooks) hooks.before(++passes_done == passes);
    run();
    if (hooks) hooks.after();
  };

  // One micro-batch's loss and backward, given the hidden states that predict its completion tokens.
  auto train_micro = [&](size_t begin, size_t end, const CompletionBatch& b, const torch::Tensor& hidden_ND) {
    auto [logp_BT, entropy_BT] = logprobs_from_hidden(m, b, hidden_ND, c.temperature, c.logprob_chunk);
    MicroBatch mb;
    mb.logp_BT = logp_BT;
    mb.entropy_BT = entropy_BT;
    mb.mask_BT = mask_of(backward, begin, end, b);
    std::vector<double> adv;
    for (size_t i = begin; i < end; ++i) adv.push_back(backward[i]->advantage);
    mb.advantages_B = torch::tensor(adv, torch::kFloat64).to(torch::kFloat32).to(device);
    if (have_old)
      mb.old_logp_BT = padded(backward, begin, end, b.T, [](auto& r, size_t j) { return r.old_logp[j]; }, device);
    if (c.loss.beta != 0.0)
      mb.ref_logp_BT = padded(backward, begin, end, b.T, [](auto& r, size_t j) { return r.ref_logp[j]; }, device);
    if (c.is_mode) {
      auto sampler_BT =
          padded(backward, begin, end, b.T, [](auto& r, size_t j) { return r.sampler_logp[j]; }, device);
      auto old = have_old ? mb.old_logp_BT : logp_BT.detach();
      mb.is_ratio_BT = importance_sampling_ratio(old, sampler_BT, b.has_token_BT, *c.is_mode, c.is_min, c.is_max);
    }
    mismatch(backward, begin, end, b, logp_BT);
    auto out = grpo_loss(lc, mb, counts);
    backward_pass([&] { out.loss.backward(); });
    u.loss += out.loss.item<double>();
    u.sums += out.metrics;
  };

  // Micro-batches, joined into segments where a boundary splits a prompt's group (G > micro-batch): a segment's
  // prompts run forward once (forward_prompts), each micro-batch's backward stops at detached copies of their keys,
  // values and last hidden states, and one backward through the prompts at the end carries the summed gradients.
  // A segment of one micro-batch is the plain prefixed forward.
  std::vector<std::pair<size_t, size_t>> micro;
  for (size_t begin = 0; begin < backward.size(); begin += static_cast<size_t>(c.micro_batch))
    micro.emplace_back(begin, std::min(backward.size(), begin + static_cast<size_t>(c.micro_batch)));
  // Segment k: micro-batches [segment[k].first, segment[k].second]; one backward each, plus the prompts' when several.
  std::vector<std::pair<size_t, size_t>> segments;
  for (size_t i = 0; i < micro.size();) {
    size_t j = i;
    while (j + 1 < micro.size() && backward[micro[j].second - 1]->prompt_ids == backward[micro[j + 1].first]->prompt_ids)
      ++j;
    segments.emplace_back(i, j);
    passes += static_cast<int64_t>(j - i + 1) + (j > i ? 1 : 0);
    i = j + 1;
  }
  if (hooks.plan) hooks.plan(passes);
  for (const auto& [i, j] : segments) {
    if (j == i) {
      const auto [begin, end] = micro[i];
      auto b = make_completion_batch(backward, begin, end, device);
      train_micro(begin, end, b, m->forward_hidden_prefixed(b.in).index_select(0, b.positions_N));
      continue;
    }
    const size_t seg_begin = micro[i].first, seg_end = micro[j].second;
    auto seg = make_completion_batch(backward, seg_begin, seg_end, device);
    const int64_t P = seg.in.prompt_tokens_PS.size(0);
    auto states = m->forward_prompts(seg.in.prompt_tokens_PS, seg.in.prompt_len_P);
    model::TransformerImpl::PromptStates leaves;
    auto leaf = [](const torch::Tensor& t) { return t.detach().requires_grad_(true); };
    for (size_t l = 0; l < states.k_PKSE.size(); ++l) {
      leaves.k_PKSE.push_back(leaf(states.k_PKSE[l]));
      leaves.v_PKSE.push_back(leaf(states.v_PKSE[l]));
    }
    leaves.last_hidden_PD = leaf(states.last_hidden_PD);
    auto seg_prompt_of = seg.in.prompt_of_B.to(torch::kCPU);
    for (size_t k = i; k <= j; ++k) {
      const auto [begin, end] = micro[k];
      auto b = make_completion_batch(backward, begin, end, device);
      // The micro-batch's rows against the segment's prompt rows: prompt_of and the rows of [last_hidden; hidden].
      auto in = b.in;
      in.prompt_tokens_PS = seg.in.prompt_tokens_PS;
      in.prompt_len_P = seg.in.prompt_len_P;
      auto of_B = seg_prompt_of.narrow(0, static_cast<int64_t>(begin - seg_begin), b.B).contiguous();
      in.prompt_of_B = of_B.to(device);
      std::vector<int64_t> rows;
      const auto* of = of_B.data_ptr<int64_t>();
      for (int64_t r = 0; r < b.B; ++r) {
        const auto n = static_cast<int64_t>(backward[begin + static_cast<size_t>(r)]->completion_ids.size());
        for (int64_t t = 0; t < n; ++t) rows.push_back(t == 0 ? of[r] : P + r * b.T + t - 1);
      }
      auto hidden_RD = torch::cat({leaves.last_hidden_PD, m->forward_completions(leaves, in)});
      auto hidden_ND = hidden_RD.index_select(0, torch::tensor(rows, torch::kInt64).to(device));
      train_micro(begin, end, b, hidden_ND);
    }
    std::vector<torch::Tensor> roots, grads;
    auto add = [&](const torch::Tensor& root, const torch::Tensor& l) {
      if (l.grad().defined()) {
        roots.push_back(root);
        grads.push_back(l.grad());
      }
    };
    for (size_t l = 0; l < states.k_PKSE.size(); ++l) {
      add(states.k_PKSE[l], leaves.k_PKSE[l]);
      add(states.v_PKSE[l], leaves.v_PKSE[l]);
    }
    add(states.last_hidden_PD, leaves.last_hidden_PD);
    backward_pass([&] {
      if (!roots.empty()) torch::autograd::backward(roots, grads);
    });
  }

  // Zero-gradient sequences: forward only, for the metrics that cover every token (their loss terms are 0).
  for (size_t begin = 0; begin < skipped.size(); begin += static_cast<size_t>(c.micro_batch)) {
    torch::NoGradGuard ng;
    const size_t end = std::min(skipped.size(), begin + static_cast<size_t>(c.micro_batch));
    auto b = make_completion_batch(skipped, begin, end, device);
    auto [logp_BT, entropy_BT] = token_logprobs_BT(m, b, c.temperature, c.logprob_chunk);
    const auto mask = mask_of(skipped, begin, end, b);
    const double tokens = mask.sum().item<double>();
    u.sums.tokens += tokens;
    u.sums.entropy_sum += (entropy_BT * mask).sum().item<double>();
    u.sums.clip_count += c.loss.importance_level == ImportanceLevel::token ? tokens : static_cast<double>(b.B);
    mismatch(skipped, begin, end, b, logp_BT);
  }

  // One process: a parameter no backward reached gets zeros (AdamW skips a missing gradient). Data parallel (a
  // reducer's hooks) the reducer owns the gradients: views of its zeroed buckets, or with
  // --shard released as they are reduce-scattered (a whole-size zero gradient here would undo ZeRO-2's saving).
  if (!hooks)
    for (auto& p : m->parameters())
      if (p.requires_grad() && !p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
  return u;
}

}  // namespace crucible::trainer
