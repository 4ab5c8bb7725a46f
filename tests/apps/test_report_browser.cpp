// The HTML report in a real browser: headless Chromium (Debian's /usr/bin/chromium) renders `crucible report`'s page
// to a PNG; the test checks the PNG shows something (not one flat colour) and that the page logged nothing to the
// console (a blocked resource under the page's Content-Security-Policy, a script, a parse problem would). A page
// with a planted violation shows the console check can fail. Skips, loudly, where Chromium is not installed.
// CRUCIBLE_KEEP_REPORT_PNG=/path/x.png keeps the picture (and x.png.html, the page) for a human to look at.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <sys/stat.h>

#include "reports/store.h"
#include "tests/reports/report_fixture.h"
#include "tests/support/test_support.h"

using crucible::testing::crucible_binary;
using crucible::testing::run_command;
using crucible::testing::TempDir;

namespace {

const char* const kChromium = "/usr/bin/chromium";

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Shot {
  int exit_code = -1;
  std::string png;
  std::vector<std::string> console;  // the page's console lines
};

Shot screenshot(const std::string& html, const std::string& png) {
  auto r = run_command({kChromium, "--headless", "--disable-gpu", "--no-sandbox", "--screenshot=" + png,
                        "--window-size=1280,2000", "--enable-logging=stderr", "--v=0", "file://" + html});
  Shot s;
  s.exit_code = r.exit_code;
  s.png = slurp(png);
  std::istringstream lines(r.err);
  for (std::string line; std::getline(lines, line);)
    if (line.find(":CONSOLE") != std::string::npos) s.console.push_back(line);
  return s;
}

uint32_t be32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) | (uint32_t(uint8_t(s[at + 2])) << 8) |
         uint32_t(uint8_t(s[at + 3]));
}

// Decodes an 8-bit RGB or RGBA PNG (what Chromium writes) and counts its distinct colours and the pixels that differ
// from the top-left one. Enough to tell a rendered page from a blank one.
struct PngStats {
  uint32_t width = 0, height = 0;
  size_t colours = 0;
  double non_background = 0;  // fraction of pixels unlike the top-left one
};
PngStats png_stats(const std::string& png) {
  PngStats st;
  if (png.size() < 8 || png.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0) throw std::runtime_error("not a PNG");
  std::string idat;
  int depth = 0, type = 0;
  for (size_t at = 8; at + 8 <= png.size();) {
    uint32_t len = be32(png, at);
    std::string kind = png.substr(at + 4, 4);
    if (kind == "IHDR") {
      st.width = be32(png, at + 8);
      st.height = be32(png, at + 12);
      depth = uint8_t(png[at + 16]);
      type = uint8_t(png[at + 17]);
    } else if (kind == "IDAT") {
      idat += png.substr(at + 8, len);
    }
    at += 12 + len;
  }
  if (depth != 8 || (type != 2 && type != 6)) throw std::runtime_error("PNG is not 8-bit RGB(A)");
  const size_t bpp = type == 6 ? 4 : 3, stride = st.width * bpp;
  std::string raw(st.height * (stride + 1), '\0');
  uLongf raw_len = raw.size();
  if (uncompress(reinterpret_cast<Bytef*>(raw.data()), &raw_len, reinterpret_cast<const Bytef*>(idat.data()),
                 idat.size()) != Z_OK)
    throw std::runtime_error("PNG data does not inflate");
  std::vector<uint8_t> img(st.height * stride), prev(stride, 0);
  for (size_t y = 0; y < st.height; ++y) {
    const uint8_t filter = uint8_t(raw[y * (stride + 1)]);
    const uint8_t* in = reinterpret_cast<const uint8_t*>(raw.data()) + y * (stride + 1) + 1;
    uint8_t* out = img.data() + y * stride;
    for (size_t x = 0; x < stride; ++x) {
      int a = x >= bpp ? out[x - bpp] : 0, b = prev[x], c = x >= bpp ? prev[x - bpp] : 0;
      int p = a + b - c, pa = std::abs(p - a), pb = std::abs(p - b), pc = std::abs(p - c);
      int pred = filter == 1 ? a : filter == 2 ? b : filter == 3 ? (a + b) / 2
                 : filter == 4 ? (pa <= pb && pa <= pc ? a : pb <= pc ? b : c) : 0;
      out[x] = uint8_t(in[x] + pred);
    }
    std::copy(out, out + stride, prev.begin());
  }
  std::set<uint32_t> colours;
  size_t differ = 0;
  auto pixel = [&](size_t i) { return (uint32_t(img[i]) << 16) | (uint32_t(img[i + 1]) << 8) | img[i + 2]; };
  const uint32_t background = pixel(0);
  for (size_t i = 0; i < img.size(); i += bpp) {
    uint32_t p = pixel(i);
    if (colours.size() < 100000) colours.insert(p);
    if (p != background) ++differ;
  }
  st.colours = colours.size();
  st.non_background = static_cast<double>(differ) / (static_cast<double>(img.size()) / bpp);
  return st;
}

}  // namespace

TEST(ReportBrowser, ChromiumRendersTheReportWithoutConsoleErrors) {
  struct stat sb{};
  if (::stat(kChromium, &sb) != 0) GTEST_SKIP() << "*** " << kChromium << " not installed: the browser check did NOT run";
  TempDir dir;
  std::string db = dir.file("r.db"), html = dir.file("report.html");
  {
    crucible::Store store = crucible::Store::open(db);
    crucible::testing::populate_report_store(store);
  }
  auto r = run_command({crucible_binary(), "report", "base", "cand", "multi", "--db", db, "--format", "html", "-o", html});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // The control: a page that breaks its own policy must show up on the console, or the check below proves nothing.
  std::string bad = dir.file("bad.html");
  std::ofstream(bad) << "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" "
                        "content=\"default-src 'none'\"></head><body><img src=\"http://example.invalid/x.png\"></body></html>";
  Shot control = screenshot(bad, dir.file("bad.png"));
  ASSERT_FALSE(control.console.empty()) << "Chromium logged no console line for a CSP violation; the check is blind";

  Shot shot = screenshot(html, dir.file("report.png"));
  EXPECT_EQ(shot.exit_code, 0);
  for (const auto& line : shot.console) ADD_FAILURE() << "console: " << line;
  ASSERT_FALSE(shot.png.empty()) << "no screenshot written";
  if (const char* keep = std::getenv("CRUCIBLE_KEEP_REPORT_PNG"); keep && *keep) {
    std::ofstream(keep, std::ios::binary) << shot.png;
    std::ofstream(std::string(keep) + ".html", std::ios::binary) << slurp(html);
  }
  PngStats st = png_stats(shot.png);
  EXPECT_EQ(st.width, 1280u);
  EXPECT_GT(st.colours, 20u) << "the page rendered as (nearly) one colour";
  EXPECT_GT(st.non_background, 0.01) << "almost every pixel is background";
}
