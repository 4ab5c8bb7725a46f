// The one bindings file: every kernel op, its CPU reference and its CUDA version, picked by the tensors' device.
//
//   op                      CPU (kernels/cpu/)        CUDA (kernels/cuda/)
//   logprob_rows_forward    logprob_forward_cpu       logprob_forward_cuda
//   logprob_rows_backward   logprob_backward_cpu      logprob_backward_cuda
//   sample_rows             sample_rows_cpu           sample_rows_cuda
//
// Checks here are TORCH_CHECKs: a wrong dtype or shape is a caller's bug, said in the caller's terms.
#include <torch/torch.h>

#include <cstring>
#include <type_traits>

#include "kernels/logprob.h"
#include "kernels/sampling.h"
#include "kernels/torch/token_logprobs.h"

#ifdef CRUCIBLE_HAS_CUDA_KERNELS
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace crucible::kernels {
namespace {

void* current_stream(const torch::Tensor& t) {
#ifdef CRUCIBLE_HAS_CUDA_KERNELS
  return c10::cuda::getCurrentCUDAStream(t.device().index()).stream();
#else
  (void)t;
  TORCH_CHECK(false, "crucible was built without CUDA kernels (CRUCIBLE_CUDA=OFF); tensors on ", t.device());
  return nullptr;
#endif
}

LogprobRows rows_of(const torch::Tensor& logits_NV, const torch::Tensor& targets_N, double temperature) {
  TORCH_CHECK(logits_NV.dim() == 2, "logits must be [N, V], got ", logits_NV.sizes());
  TORCH_CHECK(logits_NV.scalar_type() == torch::kFloat32, "logits must be float32, got ", logits_NV.scalar_type());
  TORCH_CHECK(logits_NV.stride(1) == 1, "logits must be contiguous along V");
  TORCH_CHECK(targets_N.scalar_type() == torch::kInt64 && targets_N.dim() == 1 && targets_N.is_contiguous() &&
                  targets_N.size(0) == logits_NV.size(0),
              "targets must be contiguous int64 [N] with N = ", logits_NV.size(0), ", got ", targets_N.sizes(), " ",
              targets_N.scalar_type());
  TORCH_CHECK(targets_N.device() == logits_NV.device(), "targets on ", targets_N.device(), ", logits on ",
              logits_NV.device());
  TORCH_CHECK(temperature > 0, "temperature must be > 0, got ", temperature);
  LogprobRows r;
  r.logits = logits_NV.data_ptr<float>();
  r.n_rows = logits_NV.size(0);
  r.vocab = logits_NV.size(1);
  r.row_stride = logits_NV.size(0) > 1 ? logits_NV.stride(0) : logits_NV.size(1);
  r.targets = targets_N.data_ptr<int64_t>();
  r.temperature = static_cast<float>(temperature);
  return r;
}

const float* optional_rows(const torch::Tensor& t, int64_t n, const torch::Tensor& like, const char* name) {
  if (!t.defined()) return nullptr;
  TORCH_CHECK(t.scalar_type() == torch::kFloat32 && t.dim() == 1 && t.size(0) == n && t.is_contiguous() &&
                  t.device() == like.device(),
              name, " must be contiguous float32 [", n, "] on ", like.device(), ", got ", t.sizes(), " ",
              t.scalar_type(), " on ", t.device());
  return t.data_ptr<float>();
}

}  // namespace

LogprobRowsOut logprob_rows_forward(const torch::Tensor& logits_NV, const torch::Tensor& targets_N, double temperature) {
  const LogprobRows r = rows_of(logits_NV, targets_N, temperature);
  auto opts = logits_NV.options().dtype(torch::kFloat32);
  LogprobRowsOut out{torch::empty({r.n_rows}, opts), torch::empty({r.n_rows}, opts), torch::empty({r.n_rows}, opts)};
  if (logits_NV.is_cuda()) {
#ifdef CRUCIBLE_HAS_CUDA_KERNELS
    const c10::cuda::CUDAGuard guard(logits_NV.device());
#endif
    logprob_forward_cuda(r, out.logp_N.data_ptr<float>(), out.entropy_N.data_ptr<float>(), out.lse_N.data_ptr<float>(),
                         current_stream(logits_NV));
  } else {
    TORCH_CHECK(logits_NV.is_cpu(), "logprob_rows_forward: logits on ", logits_NV.device(), " (CPU or CUDA only)");
    logprob_forward_cpu(r, out.logp_N.data_ptr<float>(), out.entropy_N.data_ptr<float>(), out.lse_N.data_ptr<float>());
  }
  return out;
}

torch::Tensor logprob_rows_backward(const torch::Tensor& logits_NV, const torch::Tensor& targets_N, double temperature,
                                    const torch::Tensor& lse_N, const torch::Tensor& entropy_N,
                                    const torch::Tensor& dlogp_N, const torch::Tensor& dentropy_N,
                                    torch::Tensor dlogits_NV) {
  const LogprobRows r = rows_of(logits_NV, targets_N, temperature);
  const float* lse = optional_rows(lse_N, r.n_rows, logits_NV, "lse");
  const float* entropy = optional_rows(entropy_N, r.n_rows, logits_NV, "entropy");
  TORCH_CHECK(lse && entropy, "logprob_rows_backward needs the forward's lse and entropy");
  const float* dlogp = optional_rows(dlogp_N, r.n_rows, logits_NV, "dlogp");
  const float* dentropy = optional_rows(dentropy_N, r.n_rows, logits_NV, "dentropy");
  TORCH_CHECK(dlogits_NV.sizes() == logits_NV.sizes() && dlogits_NV.scalar_type() == torch::kFloat32 &&
                  dlogits_NV.stride(1) == 1 && dlogits_NV.device() == logits_NV.device(),
              "dlogits must be float32 ", logits_NV.sizes(), " on ", logits_NV.device(), ", contiguous along V");
  const bool in_place = dlogits_NV.data_ptr() == logits_NV.data_ptr();
  const int64_t dstride = r.n_rows > 1 ? dlogits_NV.stride(0) : r.vocab;
  TORCH_CHECK(!in_place || dstride == r.row_stride, "in-place backward needs equal row strides");
  if (logits_NV.is_cuda()) {
#ifdef CRUCIBLE_HAS_CUDA_KERNELS
    const c10::cuda::CUDAGuard guard(logits_NV.device());
#endif
    logprob_backward_cuda(r, lse, entropy, dlogp, dentropy, dlogits_NV.data_ptr<float>(), dstride,
                          current_stream(logits_NV));
  } else {
    logprob_backward_cpu(r, lse, entropy, dlogp, dentropy, dlogits_NV.data_ptr<float>(), dstride);
  }
  return dlogits_NV;
}

SampleOut sample_rows(const torch::Tensor& logits_NV, const std::vector<SampleParams>& params,
                      const torch::Tensor& uniforms_N) {
  TORCH_CHECK(logits_NV.dim() == 2 && logits_NV.scalar_type() == torch::kFloat32 && logits_NV.stride(1) == 1,
              "logits must be float32 [N, V], contiguous along V; got ", logits_NV.sizes(), " ",
              logits_NV.scalar_type());
  const int64_t n = logits_NV.size(0);
  TORCH_CHECK(static_cast<int64_t>(params.size()) == n, "one SampleParams per row: ", params.size(), " for ", n,
              " rows");
  TORCH_CHECK(uniforms_N.scalar_type() == torch::kFloat64 && uniforms_N.dim() == 1 && uniforms_N.size(0) == n &&
                  uniforms_N.is_contiguous() && uniforms_N.device() == logits_NV.device(),
              "uniforms must be contiguous float64 [", n, "] on ", logits_NV.device());
  SampleOut out{torch::empty({n}, logits_NV.options().dtype(torch::kInt64)),
                torch::empty({n}, logits_NV.options().dtype(torch::kFloat64))};
  SampleRows r;
  r.logits = logits_NV.data_ptr<float>();
  r.n_rows = n;
  r.vocab = logits_NV.size(1);
  r.row_stride = n > 1 ? logits_NV.stride(0) : r.vocab;
  r.uniforms = uniforms_N.data_ptr<double>();
  if (logits_NV.is_cuda()) {
#ifdef CRUCIBLE_HAS_CUDA_KERNELS
    const c10::cuda::CUDAGuard guard(logits_NV.device());
#endif
    // The settings travel as raw bytes: SampleParams is trivially copyable, and torch has no dtype for a struct.
    static_assert(std::is_trivially_copyable_v<SampleParams>);
    auto bytes = torch::empty({static_cast<int64_t>(params.size() * sizeof(SampleParams))}, torch::kUInt8);
    std::memcpy(bytes.data_ptr(), params.data(), params.size() * sizeof(SampleParams));
    auto dev_bytes = bytes.to(logits_NV.device());
    r.params = reinterpret_cast<const SampleParams*>(dev_bytes.data_ptr());
    sample_rows_cuda(r, out.tokens_N.data_ptr<int64_t>(), out.sampling_logprob_N.data_ptr<double>(),
                     current_stream(logits_NV));
    // dev_bytes is freed here; the caching allocator keeps the block until work queued on this stream is done.
  } else {
    r.params = params.data();
    sample_rows_cpu(r, out.tokens_N.data_ptr<int64_t>(), out.sampling_logprob_N.data_ptr<double>());
  }
  return out;
}

}  // namespace crucible::kernels
