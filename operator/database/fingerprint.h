#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace alembic_sidecar::database {

/** One schema object as read from pg_catalog: kind ("table", "column", ...), a key, its text. */
struct CatalogObject {
  std::string kind;
  std::string key;  // e.g. public.user.email
  std::string definition;
};

/**
 * A canonical description of a schema: every object keyed by "kind key", compared as text.
 * Two fingerprints with the same sha256() describe the same schema.
 */
class SchemaFingerprint {
 public:
  SchemaFingerprint() = default;
  /**
   * Canonicalises catalog rows: whitespace runs collapse to one space, objects of the
   * alembic version table are left out (its contents differ by design), order is irrelevant.
   */
  static SchemaFingerprint fromCatalog(const std::vector<CatalogObject>& objects,
                                       const std::string& versionTable = "alembic_version");

  /** One "kind key: definition" line per object, sorted. */
  std::string canonicalText() const;
  /** Hex SHA-256 of canonicalText(). */
  std::string sha256() const;
  const std::map<std::string, std::string>& objects() const { return objects_; }
  bool operator==(const SchemaFingerprint& other) const { return objects_ == other.objects_; }
  /** The same fingerprint without a table and what hangs off it (a custom version table). */
  SchemaFingerprint withoutTable(const std::string& table) const;

 private:
  std::map<std::string, std::string> objects_;  // "kind key" -> definition
};

struct FingerprintDifference {
  std::string object;  // "index public.ix_item_title"
  std::optional<std::string> before;  // nullopt when absent
  std::optional<std::string> after;   // nullopt when absent
};

/**
 * The one pg_catalog statement behind Database::fingerprint(), rows (kind, key, definition):
 * to fingerprint a database through a read-only, timeout-bounded connection instead.
 */
const std::string& fingerprintStatement();

/** Objects that differ between two fingerprints, sorted by object. */
std::vector<FingerprintDifference> diffFingerprints(const SchemaFingerprint& before,
                                                    const SchemaFingerprint& after);

/** "index public.ix_item_title (only after downgrade)" and the like, for messages. */
std::string describeDifference(const FingerprintDifference& d, const std::string& beforeLabel,
                               const std::string& afterLabel);

}  // namespace alembic_sidecar::database
