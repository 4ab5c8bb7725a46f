// Wall-clock timestamps as crucible stores and prints them.
#pragma once
#include <string>

namespace crucible {

// "2026-12-06T04:37:14.123Z": UTC, milliseconds, sortable as text (the store's started_at, created_at, manifests).
std::string utc_now_iso8601();

}  // namespace crucible
