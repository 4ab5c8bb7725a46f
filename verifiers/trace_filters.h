// Text checks for distillation traces (trainer/distill/ runs them as a funnel): script mixing, n-gram repetition,
// MinHash near-duplicates and n-gram overlap with benchmark text. Torch-free, pure functions on UTF-8 text.
//
// All of them look at text as a sequence of *units*: a run of Latin/Cyrillic/Greek/Arabic/… letters or digits is one
// unit (a word), and every CJK character (Han, kana, Hangul syllable) is one unit on its own, since those scripts do
// not separate words by spaces and one character is closer to a word than a letter is. Punctuation and whitespace
// separate units and are not units. Units are lower-cased (ASCII only: enough for matching, and stable).
//
// What these checks do not do: detect the *language* (only the script: English and French are both Latin), or tell
// LaTeX commands and code identifiers from prose (they are Latin words; a Chinese reasoning full of formulas reads as
// partly Latin — `language_mix` thresholds should allow for it).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace crucible::verifiers {

enum class Script { latin, cyrillic, greek, arabic, hebrew, devanagari, thai, cjk, other };
std::string_view script_name(Script s);

struct TextUnit {
  std::string text;  // lower-cased ASCII letters; other bytes as written
  Script script = Script::other;
  bool numeric = false;  // only digits: belongs to no script
};

// The units of `text` (see above). Invalid UTF-8 bytes are treated as separators.
std::vector<TextUnit> text_units(std::string_view text);

// The script most units of `text` are written in (numbers and Greek, common in formulas, do not vote); `other` when
// no unit has a script.
Script dominant_script(std::string_view text);

// Share (0..1) of the lettered units of `text` that are not in `expected` (Greek counts as in every script: formulas
// use it). 0 when `text` has no lettered unit.
double script_mix_share(std::string_view text, Script expected);

// 1 - distinct / total over the unit n-grams of `text`: 0 for text that never repeats an n-gram, close to 1 for a loop.
// 0 when `text` has fewer than n units.
double ngram_repeat_ratio(std::string_view text, int n);

// MinHash signature of the set of `shingle`-unit shingles of `text` (`size` hash functions, 64-bit, seeded
// deterministically). Two signatures estimate the Jaccard similarity of the shingle sets by their share of equal slots.
// Text shorter than one shingle is one shingle of all its units.
std::vector<uint64_t> minhash_signature(std::string_view text, int shingle = 5, int size = 64);
double minhash_similarity(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b);

// The 64-bit hashes of every n-unit window of `text` (in order, repeats kept), for overlap checks against benchmark
// text (decontamination). Empty when `text` has fewer than n units.
std::vector<uint64_t> ngram_hashes(std::string_view text, int n);

// The normalised form exact-duplicate detection compares: the units joined by single spaces.
std::string normalized_units(std::string_view text);

}  // namespace crucible::verifiers
