// The SQL of the store's released schema migrations (reports/store.cpp applies them in order; a released one is never
// edited). Exposed for tests that rebuild an older schema from the migrations themselves rather than a copy of them.
#pragma once

namespace crucible {

// Migration `version` (1 .. Store::kSchemaVersion): the SQL that takes the schema from version-1 to version.
const char* store_migration_sql(int version);

}  // namespace crucible
