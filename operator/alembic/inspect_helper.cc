#include "alembic/inspect_helper.h"

#include <nlohmann/json.hpp>

#include "alembic/python_source.h"
#include "core/json_util.h"
#include "core/reasons.h"

namespace alembic_sidecar::alembic {
namespace {

constexpr char kMarker[] = "@@ALEMBIC_SIDECAR_INSPECT@@";

constexpr char kScript[] = R"PY(
import json, sys

MARK = "@@ALEMBIC_SIDECAR_INSPECT@@"


def snake(name):
    name = name[:-2] if name.endswith("Op") else name
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def describe(ops, table=""):
    """The pending operations as data: what `alembic revision --autogenerate` would write."""
    out = []
    for op in ops:
        if hasattr(op, "ops") and not hasattr(op, "column"):
            out += describe(op.ops, getattr(op, "table_name", table) or table)
            continue
        column = getattr(op, "column", None)
        out.append({
            "op": snake(type(op).__name__),
            "table": getattr(op, "table_name", None) or table or "",
            "column": getattr(op, "column_name", None)
                      or (getattr(column, "name", "") if column is not None else ""),
            "name": str(getattr(op, "index_name", None) or getattr(op, "constraint_name", None) or ""),
        })
    return out


def main():
    out = {"ok": False}
    try:
        import alembic
        import sqlalchemy as sa
        from alembic.autogenerate import produce_migrations
        from alembic.config import Config
        from alembic.runtime.environment import EnvironmentContext
        from alembic.script import ScriptDirectory

        config = Config(sys.argv[1])
        with_diff = len(sys.argv) > 2 and sys.argv[2] == "diff"
        script = ScriptDirectory.from_config(config)
        out["alembicVersion"] = alembic.__version__
        out["heads"] = list(script.get_heads())

        def inspect(rev, context):
            metadata = context.opts.get("target_metadata")
            out["compareType"] = context.opts.get("compare_type", None)
            enums = {}
            for md in metadata if isinstance(metadata, (list, tuple)) else [metadata]:
                if md is None:
                    continue
                for table in md.tables.values():
                    for column in table.columns:
                        t = column.type
                        if isinstance(t, sa.Enum) and t.native_enum and t.name:
                            enums[t.name] = list(t.enums)
            out["enums"] = [{"name": k, "labels": v} for k, v in sorted(enums.items())]
            if with_diff:
                migration = produce_migrations(context, metadata)
                out["inSync"] = migration.upgrade_ops.is_empty()
                out["ops"] = describe(migration.upgrade_ops.ops)
            return []

        with EnvironmentContext(config, script, fn=inspect):
            script.run_env()
        out["ok"] = True
    except BaseException as e:  # report env.py failures (even SystemExit) as data
        out["error"] = "%s: %s" % (type(e).__name__, e)
    sys.stdout.write("\n" + MARK + json.dumps(out) + "\n")


main()
)PY";

}  // namespace

std::string inspectScript() { return kScript; }

core::Result<InspectResult> parseInspectOutput(const std::string& out, const std::string& tail) {
  auto pos = out.rfind(kMarker);
  if (pos == std::string::npos) {
    return core::Error::terminal(core::reason::kAutogenerateFailed,
                                 "the inspect helper did not report (is alembic importable by "
                                 "this interpreter?): " + tail);
  }
  auto j = nlohmann::json::parse(out.substr(pos + sizeof(kMarker) - 1), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return core::Error::terminal(core::reason::kAutogenerateFailed,
                                 "the inspect helper printed unreadable output");
  }
  if (!core::boolField(j, "ok")) {
    return core::Error::terminal(core::reason::kAutogenerateFailed,
                                 "env.py failed under the inspect helper: " +
                                     core::stringField(j, "error", "unknown error"));
  }
  InspectResult r;
  r.alembicVersion = core::stringField(j, "alembicVersion");
  if (auto it = j.find("compareType"); it != j.end() && it->is_boolean()) {
    r.compareType = it->get<bool>();
  }
  for (const auto& h : core::arrayField(j, "heads")) {
    if (h.is_string()) {
      r.heads.push_back(h.get<std::string>());
    }
  }
  for (const auto& e : core::arrayField(j, "enums")) {
    ModelEnum me;
    me.name = core::stringField(e, "name");
    for (const auto& l : core::arrayField(e, "labels")) {
      if (l.is_string()) {
        me.labels.push_back(l.get<std::string>());
      }
    }
    r.enums.push_back(std::move(me));
  }
  for (const auto& op : core::arrayField(j, "ops")) {
    r.pendingOps.push_back(core::Operation{core::stringField(op, "op"),
                                           core::stringField(op, "table"),
                                           core::stringField(op, "column"),
                                           core::stringField(op, "name")});
  }
  r.inSync = core::boolField(j, "inSync", true);
  return r;
}

core::Result<InspectResult> runInspect(workspace::Workspace& ws,
                                       const std::vector<std::string>& python,
                                       const std::string& configFile,
                                       const std::string& urlEnvVar,
                                       const database::ConnectionInfo& db, bool withDiff,
                                       std::chrono::milliseconds timeout,
                                       const core::RedactorPtr& redactor) {
  workspace::Command cmd;
  cmd.argv = python;
  cmd.argv.push_back("-c");
  cmd.argv.push_back(inspectScript());
  cmd.argv.push_back(configFile);
  if (withDiff) {
    cmd.argv.push_back("diff");
  }
  cmd.env[urlEnvVar] = db.url();
  cmd.timeout = timeout;
  auto result = ws.run(cmd);
  if (!result) {
    return result.error();
  }
  std::string err = redactor ? redactor->scrub(result->err) : result->err;
  std::string tail = err.size() > 1500 ? err.substr(err.size() - 1500) : err;
  auto parsed = parseInspectOutput(redactor ? redactor->scrub(result->out) : result->out, tail);
  return parsed;
}

std::vector<std::string> pythonFor(workspace::Workspace& ws,
                                   const std::vector<std::string>& alembicCommand) {
  if (alembicCommand.empty()) {
    return {"python3"};
  }
  const std::string& last = alembicCommand.back();
  bool endsWithAlembic = last == "alembic" || (last.size() > 8 && last.substr(last.size() - 8) == "/alembic");
  if (alembicCommand.size() > 1 && last == "alembic") {
    std::vector<std::string> python(alembicCommand.begin(), alembicCommand.end() - 1);
    python.push_back("python");
    return python;
  }
  if (alembicCommand.size() == 1 && endsWithAlembic) {
    std::string path = last;
    if (path.find('/') == std::string::npos) {
      workspace::Command which;
      which.argv = {"which", last};
      which.timeout = std::chrono::seconds(10);
      auto found = ws.run(which);
      if (found && found->succeeded()) {
        path = trim(found->out);
      }
    }
    if (auto text = ws.readFile(path); text && text->rfind("#!", 0) == 0) {
      std::string shebang = trim(text->substr(2, text->find('\n') - 2));
      std::vector<std::string> words = splitTopLevel(shebang, ' ');
      if (!words.empty()) {
        return words;
      }
    }
  }
  return {"python3"};
}

}  // namespace alembic_sidecar::alembic
