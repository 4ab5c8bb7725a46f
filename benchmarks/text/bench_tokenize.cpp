// Encodes every text of a JSONL corpus ({"text": …} per line) `repeat` times on one thread and prints one JSON line:
// texts, bytes, tokens, seconds (best of the repeats), tokens/s, MB/s. bench_tokenize.py compares it with HF.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/json_io.h"
#include "model/text/tokenizer.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_tokenize TOKENIZER CORPUS.jsonl [REPEAT]\n");
    return 2;
  }
  try {
    int repeat = argc > 3 ? std::atoi(argv[3]) : 3;
    auto t0 = std::chrono::steady_clock::now();
    auto tok = crucible::text::load_tokenizer(argv[1]);
    double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::vector<std::string> texts;
    size_t bytes = 0;
    for (const auto& r : crucible::read_jsonl_file(argv[2])) {
      texts.push_back(r["text"].get<std::string>());
      bytes += texts.back().size();
    }
    double best = 1e300;
    size_t tokens = 0;
    for (int k = 0; k < repeat; ++k) {
      tokens = 0;
      auto t = std::chrono::steady_clock::now();
      for (const auto& s : texts) tokens += tok->encode(s, false).size();
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count());
    }
    std::printf("{\"texts\": %zu, \"bytes\": %zu, \"tokens\": %zu, \"seconds\": %.6f, \"load_seconds\": %.3f, "
                "\"tokens_per_s\": %.1f, \"mb_per_s\": %.3f}\n",
                texts.size(), bytes, tokens, best, load_s, tokens / best, bytes / best / 1e6);
    return 0;
  } catch (const crucible::Error& e) {
    std::fprintf(stderr, "bench_tokenize: %s\n", e.what());
    return static_cast<int>(e.code());
  }
}
