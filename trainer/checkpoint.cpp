#include "trainer/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "core/error.h"
#include "core/fs.h"
#include "core/log.h"
#include "model/checkpoint.h"
#include "trainer/dist/comm.h"

namespace crucible::trainer {
namespace fs = std::filesystem;

std::string step_dir(const std::string& out_dir, int64_t step) {
  return (fs::path(out_dir) / ("step-" + std::to_string(step))).string();
}

std::string save_checkpoint(model::Transformer& model, const std::string& dir, const CheckpointConfig& config) {
  torch::Dtype dtype;
  if (config.dtype == "float32" || config.dtype == "fp32") dtype = torch::kFloat32;
  else if (config.dtype == "bfloat16" || config.dtype == "bf16") dtype = torch::kBFloat16;
  else throw InputError("checkpoint", "dtype", "expected float32 or bfloat16, got '" + config.dtype + "'");
  std::string tokenizer = config.tokenizer_source;
  const bool hf_source = !tokenizer.empty() && fs::is_directory(tokenizer);
  const bool gguf_source = !tokenizer.empty() && fs::path(tokenizer).extension() == ".gguf";
  if (!tokenizer.empty() && !hf_source && !gguf_source) {
    log::warn("{}: no HF tokenizer to copy from {} (llama2.c); {} holds the weights only", dir, tokenizer, dir);
    tokenizer.clear();
  }
  // The final folder may be the --out folder that also holds step-N/ folders: write the files in a sibling temporary
  // folder, then move them in one by one (each rename is atomic), leaving the step folders alone.
  fs::path final_dir(dir);
  fs::path tmp = final_dir;
  tmp += ".tmp";
  std::error_code ec;
  remove_tree(tmp.string());  // a leftover of an interrupted save
  model::save_hf_folder(model, tmp.string(), dtype, tokenizer);
  fs::create_directories(final_dir);
  for (const auto& e : fs::directory_iterator(tmp)) {
    fs::rename(e.path(), final_dir / e.path().filename(), ec);
    if (ec) throw RunError("cannot move " + e.path().string() + " into " + final_dir.string() + ": " + ec.message());
  }
  remove_tree(tmp.string());
  return final_dir.string();
}

namespace {

// fsync(2) of a file or a folder: the rename that publishes a step folder must not reach the disk before its content.
void sync_path(const fs::path& p) {
  const int fd = ::open(p.c_str(), O_RDONLY);
  if (fd < 0) throw RunError("cannot open " + p.string() + " to sync it");
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw RunError("fsync failed for " + p.string());
}

// directory_iterator only: recursive_directory_iterator is unsafe in torch-linked binaries (core/fs.h says why).
void sync_tree(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_directory()) sync_tree(e.path());
    else sync_path(e.path());
  }
  sync_path(dir);
}

// Torch serialises into memory and the bytes are written here, every write checked: torch's own file writer throws
// from its destructor when a write fails (a full disk), which ends the process before any cleanup.
void write_file(const fs::path& p, const std::string& bytes) {
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw RunError("cannot create " + p.string() + ": " + std::strerror(errno));
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      throw RunError("cannot write " + p.string() + ": " + std::strerror(e));
    }
    off += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) throw RunError("cannot write " + p.string() + ": " + std::strerror(errno));
}

template <typename T>
std::string torch_bytes(const T& value) {
  std::ostringstream out;
  torch::save(value, out);
  return out.str();
}

std::string archive_bytes(torch::optim::Optimizer& optimizer) {
  torch::serialize::OutputArchive ar;
  optimizer.save(ar);
  std::ostringstream out;
  ar.save_to(out);
  return out.str();
}

std::string rng_file(int rank) { return "rng-rank-" + std::to_string(rank) + ".pt"; }
std::string optimizer_file(int rank, bool per_rank) {
  return per_rank ? "optimizer-rank-" + std::to_string(rank) + ".pt" : "optimizer.pt";
}

// The newest complete step folders first: (step, path). Complete: resumable (trainer_state/state.json), or with
// model_only an HF folder (model.safetensors; save_checkpoint publishes it by a rename, so it is whole).
std::vector<std::pair<int64_t, fs::path>> step_folders(const std::string& out_dir, bool model_only = false) {
  std::vector<std::pair<int64_t, fs::path>> out;
  std::error_code ec;
  if (!fs::is_directory(out_dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(out_dir)) {
    const auto name = e.path().filename().string();
    if (name.rfind("step-", 0) != 0 || name.find('.') != std::string::npos) continue;
    if (!fs::exists(e.path() / (model_only ? fs::path("model.safetensors") : fs::path("trainer_state") / "state.json")))
      continue;
    try {
      out.emplace_back(std::stoll(name.substr(5)), e.path());
    } catch (const std::exception&) {
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  return out;
}

}  // namespace

void save_resume_folder(model::Transformer& model, torch::optim::Optimizer& optimizer, const std::string& dir,
                        const CheckpointConfig& config, const nlohmann::json& state, dist::Comm* comm,
                        bool optimizer_per_rank) {
  const int rank = comm ? comm->rank() : 0;
  const fs::path final_dir(dir);
  fs::path tmp = final_dir;
  tmp += ".tmp";
  const fs::path ts = tmp / "trainer_state";
  // A write that fails (a full disk, a file size limit, an I/O error) leaves the previous step folders as they were:
  // nothing is renamed or pruned before every file of this one is written and synced. The half-written .tmp folder
  // is removed and the error names the folder.
  auto guarded = [&](const std::function<void()>& write) {
    try {
      write();
    } catch (const std::exception& e) {
      try {
        remove_tree(tmp.string());  // not fs::remove_all: core/fs.h says why
      } catch (const std::exception&) {
      }
      throw RunError("rank " + std::to_string(rank) + ": writing the checkpoint " + final_dir.string() +
                     " failed: " + e.what() +
                     " (the previous step folders are intact; --resume auto restarts from the newest)");
    }
  };
  if (rank == 0) {
    guarded([&] {
      remove_tree(tmp.string());
      save_checkpoint(model, tmp.string(), config);  // the HF folder (its own .tmp, then moved into tmp)
      fs::create_directories(ts);
    });
  }
  if (comm) comm->barrier();
  guarded([&] {
    // Each rank's generators: SFT draws nothing after the data plan, GRPO samples on the engine's own seeded
    // generators, but a rank that drew from torch's would resume from the same point.
    std::vector<torch::Tensor> rng{at::globalContext().defaultGenerator(torch::kCPU).get_state()};
    if (model->device().is_cuda()) rng.push_back(at::globalContext().defaultGenerator(model->device()).get_state());
    write_file(ts / rng_file(rank), torch_bytes(rng));
    if (optimizer_per_rank) write_file(ts / optimizer_file(rank, true), archive_bytes(optimizer));
  });
  if (comm) comm->barrier();
  if (rank == 0) {
    guarded([&] {
      std::vector<torch::Tensor> params;
      for (auto& p : model->parameters())
        if (p.requires_grad()) params.push_back(p.detach().to(torch::kCPU));
      write_file(ts / "params.pt", torch_bytes(params));
      if (!optimizer_per_rank) write_file(ts / optimizer_file(0, false), archive_bytes(optimizer));
      nlohmann::json st = state;
      st["world_size"] = comm ? comm->world_size() : 1;
      write_file(ts / "state.json", st.dump(2) + "\n");
      sync_tree(tmp);
    });
    remove_tree(final_dir.string());  // only a folder of the same step (a run resumed from before it) can be there
    std::error_code ec;
    fs::rename(tmp, final_dir, ec);
    if (ec) throw RunError("cannot rename " + tmp.string() + " to " + final_dir.string() + ": " + ec.message());
    sync_path(final_dir.parent_path().empty() ? fs::path(".") : final_dir.parent_path());
  }
  if (comm) comm->barrier();
}

nlohmann::json load_resume_folder(model::Transformer& model, torch::optim::Optimizer& optimizer, const std::string& dir,
                                  int rank, int world_size, bool optimizer_per_rank) {
  const fs::path ts = fs::path(dir) / "trainer_state";
  const auto state_file = (ts / "state.json").string();
  std::ifstream f(state_file);
  if (!f) throw InputError(state_file, "state.json", "missing: not a complete resumable step folder");
  nlohmann::json st;
  try {
    st = nlohmann::json::parse(f);
  } catch (const std::exception& e) {
    throw InputError(state_file, "state.json", e.what());
  }
  if (st.value("world_size", -1) != world_size)
    throw InputError(state_file, "world_size",
                     "written by " + std::to_string(st.value("world_size", -1)) + " ranks, resuming with " +
                         std::to_string(world_size) + " (the optimizer state and data cursor are per world size)");
  std::vector<torch::Tensor> saved;
  torch::load(saved, (ts / "params.pt").string());
  std::vector<torch::Tensor> params;
  for (auto& p : model->parameters())
    if (p.requires_grad()) params.push_back(p);
  if (saved.size() != params.size())
    throw InputError((ts / "params.pt").string(), "parameters",
                     std::to_string(saved.size()) + " tensors for a model with " + std::to_string(params.size()));
  {
    torch::NoGradGuard ng;
    for (size_t i = 0; i < params.size(); ++i) {
      if (saved[i].sizes() != params[i].sizes())
        throw InputError((ts / "params.pt").string(), "parameter " + std::to_string(i), "shape differs from the model");
      params[i].copy_(saved[i]);
    }
  }
  torch::serialize::InputArchive ar;
  const auto opt_file = ts / optimizer_file(rank, optimizer_per_rank);
  if (!fs::exists(opt_file))
    throw InputError(opt_file.string(), "optimizer state",
                     optimizer_per_rank ? "missing: this run has --shard; was the folder saved without it?"
                                        : "missing: was the folder saved with --shard? (resume with the same flags)");
  ar.load_from(opt_file.string(), model->device());
  optimizer.load(ar);
  std::vector<torch::Tensor> rng;
  torch::load(rng, (ts / rng_file(rank)).string());
  // Generator is a handle: the copy sets the default generator's own state.
  at::Generator cpu = at::globalContext().defaultGenerator(torch::kCPU);
  cpu.set_state(rng.at(0));
  if (model->device().is_cuda() && rng.size() > 1) {
    at::Generator cuda = at::globalContext().defaultGenerator(model->device());
    cuda.set_state(rng[1]);
  }
  return st;
}

std::optional<std::string> find_resume_folder(const std::string& out_dir, const std::string& resume) {
  if (resume.empty()) return std::nullopt;
  if (resume == "auto") {
    auto all = step_folders(out_dir);
    if (all.empty()) return std::nullopt;
    return all.front().second.string();
  }
  if (!fs::exists(fs::path(resume) / "trainer_state" / "state.json"))
    throw InputError("train", "--resume", resume + " is not a complete step folder (no trainer_state/state.json)");
  return resume;
}

void prune_step_folders(const std::string& out_dir, int64_t keep_last, bool model_only) {
  if (keep_last <= 0) return;
  auto all = step_folders(out_dir, model_only);
  for (size_t i = static_cast<size_t>(keep_last); i < all.size(); ++i) remove_tree(all[i].second.string());
}

}  // namespace crucible::trainer
