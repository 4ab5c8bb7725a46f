// llama2.c's tokenizer.bin as a text::Tokenizer, mirroring run.c's encode (dummy-prefix space, code points with
// byte fallback, greedy highest-score merges) and decode. A stand-in for model/text's load_llama2c_tokenizer until
// that lands in main; the engine only sees the Tokenizer interface.
#pragma once
#include <memory>
#include <string>

#include "model/text/tokenizer.h"

namespace crucible::model {

std::unique_ptr<text::Tokenizer> load_llama2c_vocab(const std::string& path, text::TokenId vocab_size);

}  // namespace crucible::model
