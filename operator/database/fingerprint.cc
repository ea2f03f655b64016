#include "database/fingerprint.h"

#include "core/hash.h"

namespace alembic_sidecar::database {
namespace {

std::string collapseWhitespace(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool pendingSpace = false;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      pendingSpace = !out.empty();
      continue;
    }
    if (pendingSpace) {
      out.push_back(' ');
      pendingSpace = false;
    }
    out.push_back(c);
  }
  return out;
}

/** True when the object is the version table or hangs off it. */
bool belongsToVersionTable(const CatalogObject& o, const std::string& versionTable) {
  if (versionTable.empty()) {
    return false;
  }
  // Keys are schema.table[.member] (columns, indexes, constraints, triggers).
  auto dot = o.key.find('.');
  std::string rest = dot == std::string::npos ? o.key : o.key.substr(dot + 1);
  return rest == versionTable || rest.rfind(versionTable + ".", 0) == 0;
}

}  // namespace

SchemaFingerprint SchemaFingerprint::fromCatalog(const std::vector<CatalogObject>& objects,
                                                 const std::string& versionTable) {
  SchemaFingerprint fp;
  for (const auto& o : objects) {
    if (belongsToVersionTable(o, versionTable)) {
      continue;
    }
    fp.objects_[o.kind + " " + o.key] = collapseWhitespace(o.definition);
  }
  return fp;
}

SchemaFingerprint SchemaFingerprint::withoutTable(const std::string& table) const {
  SchemaFingerprint fp;
  for (const auto& [object, definition] : objects_) {
    auto space = object.find(' ');
    CatalogObject o{object.substr(0, space), object.substr(space + 1), definition};
    if (!belongsToVersionTable(o, table)) {
      fp.objects_.emplace(object, definition);
    }
  }
  return fp;
}

std::string SchemaFingerprint::canonicalText() const {
  std::string out;
  for (const auto& [object, definition] : objects_) {
    out += object;
    out += ": ";
    out += definition;
    out += '\n';
  }
  return out;
}

std::string SchemaFingerprint::sha256() const { return core::sha256Hex(canonicalText()); }

std::vector<FingerprintDifference> diffFingerprints(const SchemaFingerprint& before,
                                                    const SchemaFingerprint& after) {
  std::vector<FingerprintDifference> out;
  const auto& a = before.objects();
  const auto& b = after.objects();
  auto ia = a.begin();
  auto ib = b.begin();
  while (ia != a.end() || ib != b.end()) {
    if (ib == b.end() || (ia != a.end() && ia->first < ib->first)) {
      out.push_back({ia->first, ia->second, std::nullopt});
      ++ia;
    } else if (ia == a.end() || ib->first < ia->first) {
      out.push_back({ib->first, std::nullopt, ib->second});
      ++ib;
    } else {
      if (ia->second != ib->second) {
        out.push_back({ia->first, ia->second, ib->second});
      }
      ++ia;
      ++ib;
    }
  }
  return out;
}

std::string describeDifference(const FingerprintDifference& d, const std::string& beforeLabel,
                               const std::string& afterLabel) {
  if (!d.before) {
    return d.object + " exists " + afterLabel + " but not " + beforeLabel;
  }
  if (!d.after) {
    return d.object + " exists " + beforeLabel + " but not " + afterLabel;
  }
  return d.object + " differs: " + beforeLabel + " '" + *d.before + "', " + afterLabel + " '" +
         *d.after + "'";
}

}  // namespace alembic_sidecar::database
