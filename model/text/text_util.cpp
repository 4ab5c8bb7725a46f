#define PCRE2_CODE_UNIT_WIDTH 8
#include "model/text/text_util.h"

#include <pcre2.h>
#include <unicode/normalizer2.h>
#include <unicode/unistr.h>

#include <array>
#include <mutex>
#include <unordered_map>

#include "core/error.h"

namespace crucible::text::detail {

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

namespace {
// Length of a valid UTF-8 sequence at s[i], 0 if invalid, -1 if valid so far but truncated by the end of `s`.
int valid_seq_len(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  int n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1F; }
  else if ((c & 0xF0) == 0xE0) { n = 3; cp = c & 0x0F; }
  else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07; }
  else return 0;
  for (int k = 1; k < n; ++k) {
    if (i + k >= s.size()) return -1;
    auto d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3F);
    // Reject overlong forms and surrogates as early as the second byte allows.
    if (k == 1) {
      if (n == 3 && c == 0xE0 && d < 0xA0) return 0;
      if (n == 3 && c == 0xED && d >= 0xA0) return 0;
      if (n == 4 && c == 0xF0 && d < 0x90) return 0;
      if (n == 4 && c == 0xF4 && d >= 0x90) return 0;
    }
  }
  return n;
}
}  // namespace

size_t complete_utf8_prefix(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    int n = valid_seq_len(s, i);
    if (n < 0) return i;  // a character that the next token may complete
    i += n == 0 ? 1 : static_cast<size_t>(n);
  }
  return i;
}

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    int n = valid_seq_len(s, i);
    if (n > 0) {
      out.append(s.data() + i, n);
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      // Python replaces a maximal invalid prefix as one U+FFFD: skip the lead byte and its continuation bytes that
      // were consistent with it.
      size_t j = i + 1;
      if (n < 0) j = s.size();
      else
        while (j < s.size() && j < i + 4 && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80 &&
               valid_seq_len(s.substr(0, j + 1), i) == -1)
          ++j;
      i = j;
    }
  }
  return out;
}

bool is_valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    int n = valid_seq_len(s, i);
    if (n <= 0) return false;
    i += n;
  }
  return true;
}

namespace {
struct ByteTables {
  std::array<std::string, 256> to_unicode;
  std::unordered_map<uint32_t, unsigned char> from_cp;
  ByteTables() {
    // GPT-2 bytes_to_unicode(): printable Latin-1 bytes map to themselves, the rest to U+0100 upwards.
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      uint32_t cp = printable ? static_cast<uint32_t>(b) : static_cast<uint32_t>(256 + n++);
      append_utf8(to_unicode[b], cp);
      from_cp[cp] = static_cast<unsigned char>(b);
    }
  }
};
const ByteTables& tables() {
  static const ByteTables t;
  return t;
}
}  // namespace

const std::string& byte_to_unicode(unsigned char b) { return tables().to_unicode[b]; }

bool unicode_to_bytes(std::string_view token, std::string& out) {
  const auto& t = tables();
  size_t i = 0;
  while (i < token.size()) {
    auto c = static_cast<unsigned char>(token[i]);
    uint32_t cp;
    size_t n = utf8_len(c);
    if (i + n > token.size()) return false;
    if (n == 1) cp = c;
    else if (n == 2) cp = ((c & 0x1F) << 6) | (token[i + 1] & 0x3F);
    else if (n == 3) cp = ((c & 0x0F) << 12) | ((token[i + 1] & 0x3F) << 6) | (token[i + 2] & 0x3F);
    else return false;  // the mapping never produces 4-byte characters
    auto it = t.from_cp.find(cp);
    if (it == t.from_cp.end()) return false;
    out += static_cast<char>(it->second);
    i += n;
  }
  return true;
}

std::string nfc(std::string_view s) {
  // Pure ASCII is already NFC; skipping ICU here keeps English-heavy eval prompts fast.
  bool ascii = true;
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) { ascii = false; break; }
  if (ascii || !is_valid_utf8(s)) return std::string(s);
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = icu::Normalizer2::getNFCInstance(status);
  if (U_FAILURE(status)) throw RunError("ICU: cannot load the NFC normaliser: " + std::string(u_errorName(status)));
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
  if (n->isNormalized(u, status) && U_SUCCESS(status)) return std::string(s);
  status = U_ZERO_ERROR;
  icu::UnicodeString r = n->normalize(u, status);
  if (U_FAILURE(status)) return std::string(s);
  std::string out;
  r.toUTF8String(out);
  return out;
}

struct RegexSplitter::Impl {
  pcre2_code* code = nullptr;
  ~Impl() {
    if (code) pcre2_code_free(code);
  }
};

RegexSplitter::RegexSplitter(const std::string& pattern, const std::string& where) : impl_(std::make_unique<Impl>()) {
  int err = 0;
  PCRE2_SIZE off = 0;
  // MATCH_INVALID_UTF: text from users may hold invalid UTF-8; it must split, not fail.
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                              PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &off, nullptr);
  if (!impl_->code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    throw InputError(where, "pre_tokenizer.pattern",
                     "cannot compile regex at offset " + std::to_string(off) + ": " + reinterpret_cast<char*>(msg));
  }
  pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter when JIT is unavailable
}
RegexSplitter::RegexSplitter(RegexSplitter&&) noexcept = default;
RegexSplitter::~RegexSplitter() = default;

void RegexSplitter::split(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
  // Match data per call keeps split() const and thread-safe; it is a small allocation next to the BPE work.
  pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
  size_t pos = 0, gap_start = 0;
  auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  while (pos <= text.size()) {
    int rc = pcre2_match(impl_->code, subject, text.size(), pos, 0, md, nullptr);
    if (rc < 0) break;
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    size_t b = ov[0], e = ov[1];
    if (e == b) {  // empty match: never a piece; step over one character
      if (b >= text.size()) break;
      pos = b + utf8_len(static_cast<unsigned char>(text[b]));
      continue;
    }
    if (b > gap_start) out.emplace_back(gap_start, b);
    out.emplace_back(b, e);
    pos = gap_start = e;
  }
  if (gap_start < text.size()) out.emplace_back(gap_start, text.size());
  pcre2_match_data_free(md);
}

}  // namespace crucible::text::detail
