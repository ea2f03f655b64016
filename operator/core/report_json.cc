#include "core/report_json.h"

#include <nlohmann/json.hpp>
#include <sstream>

#include "core/json_util.h"

namespace alembic_sidecar::core {
namespace {

using nlohmann::json;

std::string str(const json& j, const char* key) { return stringField(j, key); }

int64_t num(const json& j, const char* key) { return intField(j, key); }

const char* marker(const std::string& status) {
  if (status == "True") {
    return "[ok]  ";
  }
  if (status == "False") {
    return "[FAIL]";
  }
  return "[--]  ";
}

}  // namespace

json toJson(const Finding& f) {
  json j = {{"code", f.code},
            {"severity", f.severity},
            {"message", f.message},
            {"recommendation", f.recommendation}};
  if (!f.file.empty()) {
    j["file"] = f.file;
  }
  if (f.line > 0) {
    j["line"] = f.line;
  }
  return j;
}

json toJson(const Operation& op) {
  json j = {{"op", op.op}, {"table", op.table}};
  if (!op.column.empty()) {
    j["column"] = op.column;
  }
  if (!op.name.empty()) {
    j["name"] = op.name;
  }
  return j;
}

json toJson(const RoundTripInfo& rt) {
  return {{"upgrade", rt.upgrade},
          {"downgrade", rt.downgrade},
          {"reupgrade", rt.reupgrade},
          {"schemaRestored", rt.schemaRestored},
          {"durationMs", rt.durationMs}};
}

json toJson(const DatabaseInfo& db) {
  return {{"source", db.source}, {"host", db.host}, {"port", db.port}, {"name", db.name}};
}

json toJson(const RevisionInfo& rev) {
  return {{"id", rev.id},
          {"downRevision", rev.downRevision},
          {"file", rev.file},
          {"message", rev.message},
          {"sha256", rev.sha256}};
}

json toJson(const BaselineInfo& b) {
  return {{"source", b.source}, {"revision", b.revision}, {"reason", b.reason}};
}

json toJson(const Report& r) {
  json j;
  j["action"] = r.action;
  j["phase"] = r.phase;
  j["reason"] = r.reason;
  j["message"] = r.message;
  j["database"] = r.database ? toJson(*r.database) : json(nullptr);
  j["revision"] = r.revision ? toJson(*r.revision) : json(nullptr);
  if (r.baseline) {
    j["baseline"] = toJson(*r.baseline);
  }
  j["operations"] = json::array();
  for (const auto& op : r.operations) {
    j["operations"].push_back(toJson(op));
  }
  j["roundTrip"] = toJson(r.roundTrip);
  j["findings"] = json::array();
  for (const auto& f : r.findings) {
    j["findings"].push_back(toJson(f));
  }
  j["conditions"] = json::array();
  for (const auto& c : r.conditions) {
    j["conditions"].push_back(
        {{"type", c.type}, {"status", c.status}, {"reason", c.reason}, {"message", c.message}});
  }
  j["durationMs"] = r.durationMs;
  return j;
}

Report reportFromJson(const json& j) {
  Report r;
  if (!j.is_object()) {
    return r;
  }
  r.action = str(j, "action");
  r.phase = str(j, "phase");
  r.reason = str(j, "reason");
  r.message = str(j, "message");
  if (auto it = j.find("database"); it != j.end() && it->is_object()) {
    r.database = DatabaseInfo{str(*it, "source"), str(*it, "host"),
                              static_cast<int>(num(*it, "port")), str(*it, "name")};
  }
  if (auto it = j.find("revision"); it != j.end() && it->is_object()) {
    r.revision = RevisionInfo{str(*it, "id"), str(*it, "downRevision"), str(*it, "file"),
                              str(*it, "message"), str(*it, "sha256")};
  }
  if (auto it = j.find("baseline"); it != j.end() && it->is_object()) {
    r.baseline = BaselineInfo{str(*it, "source"), str(*it, "revision"), str(*it, "reason")};
  }
  if (auto it = j.find("operations"); it != j.end() && it->is_array()) {
    for (const auto& o : *it) {
      r.operations.push_back(
          Operation{str(o, "op"), str(o, "table"), str(o, "column"), str(o, "name")});
    }
  }
  if (auto it = j.find("roundTrip"); it != j.end() && it->is_object()) {
    r.roundTrip.upgrade = str(*it, "upgrade");
    r.roundTrip.downgrade = str(*it, "downgrade");
    r.roundTrip.reupgrade = str(*it, "reupgrade");
    r.roundTrip.schemaRestored = boolField(*it, "schemaRestored");
    r.roundTrip.durationMs = num(*it, "durationMs");
  }
  if (auto it = j.find("findings"); it != j.end() && it->is_array()) {
    for (const auto& f : *it) {
      r.findings.push_back(Finding{str(f, "code"), str(f, "severity"), str(f, "message"),
                                   str(f, "recommendation"), str(f, "file"),
                                   static_cast<int>(num(f, "line"))});
    }
  }
  if (auto it = j.find("conditions"); it != j.end() && it->is_array()) {
    for (const auto& c : *it) {
      r.conditions.push_back(
          Condition{str(c, "type"), str(c, "status"), str(c, "reason"), str(c, "message")});
    }
  }
  r.durationMs = num(j, "durationMs");
  return r;
}

std::string renderText(const Report& r) {
  std::ostringstream out;
  out << "alembic-sidecar " << r.action << ": " << r.phase << " (" << r.reason << ")\n";
  if (!r.message.empty()) {
    out << "  " << r.message << "\n";
  }
  for (const auto& c : r.conditions) {
    out << "  " << marker(c.status) << " " << c.type << ": " << c.reason;
    if (!c.message.empty() && c.type != "Ready") {
      out << " - " << c.message.substr(0, c.message.find('\n'));
    }
    out << "\n";
  }
  if (r.database) {
    out << "Database:   " << r.database->host << ":" << r.database->port << "/"
        << r.database->name << " (source " << r.database->source << ")\n";
  }
  if (r.baseline) {
    out << "Baseline:   " << r.baseline->source
        << (r.baseline->revision.empty() ? "" : " at " + r.baseline->revision) << " - "
        << r.baseline->reason << "\n";
  }
  if (r.revision) {
    out << "Revision:   " << r.revision->id << " (down " << r.revision->downRevision << ") "
        << r.revision->file << "\n";
  }
  if (!r.operations.empty()) {
    out << "Operations:";
    for (const auto& op : r.operations) {
      out << " " << op.op << " " << op.table;
      if (!op.column.empty()) {
        out << "." << op.column;
      }
      if (!op.name.empty()) {
        out << " [" << op.name << "]";
      }
      out << ";";
    }
    out << "\n";
  }
  const auto& rt = r.roundTrip;
  out << "Round trip: upgrade " << rt.upgrade << ", downgrade " << rt.downgrade << ", reupgrade "
      << rt.reupgrade << ", schema " << (rt.schemaRestored ? "restored" : "not verified") << " ("
      << rt.durationMs << " ms)\n";
  if (!r.findings.empty()) {
    out << "Findings:\n";
    for (const auto& f : r.findings) {
      out << "  [" << f.severity << "] " << f.code;
      if (!f.file.empty()) {
        out << " " << f.file;
        if (f.line > 0) {
          out << ":" << f.line;
        }
      }
      out << " - " << f.message << "\n";
      if (!f.recommendation.empty()) {
        out << "      fix: " << f.recommendation << "\n";
      }
    }
  }
  out << "Took " << r.durationMs << " ms\n";
  return out.str();
}

}  // namespace alembic_sidecar::core
