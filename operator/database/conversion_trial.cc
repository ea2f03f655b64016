#include "database/conversion_trial.h"

#include <cctype>
#include <nlohmann/json.hpp>
#include <set>

#include "database/sql_guard.h"
#include "database/sql_lexer.h"

namespace alembic_sidecar::database {
namespace {

using Kind = SqlToken::Kind;

constexpr char kMarker[] = "alembic-sidecar conversion failed ";

std::string joined(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (const auto& i : items) {
    out += (out.empty() ? "" : sep) + i;
  }
  return out;
}

/** One statement's tokens, parsed as ALTER TABLE t ALTER [COLUMN] c [SET DATA] TYPE ... */
std::optional<AlterType> alterType(std::string_view sql, const std::vector<SqlToken>& t) {
  size_t i = 0;
  auto word = [&](std::string_view w) {
    if (i < t.size() && t[i].isWord(w)) {
      ++i;
      return true;
    }
    return false;
  };
  if (!word("alter") || !word("table")) {
    return std::nullopt;
  }
  if (word("if") && !word("exists")) {
    return std::nullopt;
  }
  word("only");
  AlterType out;
  if (i >= t.size() || !t[i].isName()) {
    return std::nullopt;
  }
  out.table = t[i++].name;
  if (i + 1 < t.size() && t[i].isPunct(".") && t[i + 1].isName()) {
    out.schema = out.table;
    out.table = t[i + 1].name;
    i += 2;
  }
  if (!word("alter")) {
    return std::nullopt;
  }
  word("column");
  if (i >= t.size() || !t[i].isName()) {
    return std::nullopt;
  }
  out.column = t[i++].name;
  if (word("set") && !word("data")) {
    return std::nullopt;
  }
  if (!word("type") || i >= t.size()) {
    return std::nullopt;
  }
  const size_t typeBegin = i;
  while (i < t.size() && !t[i].isWord("using") && !t[i].isWord("collate") && !t[i].isPunct(",")) {
    ++i;
  }
  if (i == typeBegin || (i < t.size() && t[i].isPunct(","))) {
    return std::nullopt;  // several subcommands in one statement: not alembic's shape
  }
  out.type = std::string(sql.substr(t[typeBegin].begin, t[i - 1].end - t[typeBegin].begin));
  if (word("collate")) {
    while (i < t.size() && !t[i].isWord("using")) {
      ++i;
    }
  }
  if (word("using")) {
    if (i >= t.size()) {
      return std::nullopt;
    }
    out.usingSql = std::string(sql.substr(t[i].begin, t.back().end - t[i].begin));
  }
  return out;
}

/** Words before a quoted name PostgreSQL's messages keep: `constraint "ck_x"`. */
bool keepsName(std::string_view message, size_t quote) {
  static const std::set<std::string> kNames = {
      "constraint", "type",   "column",   "relation", "domain", "function", "table",
      "index",      "schema", "sequence", "operator", "enum",   "role",     "database"};
  size_t end = quote;
  while (end > 0 && message[end - 1] == ' ') {
    --end;
  }
  size_t begin = end;
  while (begin > 0 && std::isalpha(static_cast<unsigned char>(message[begin - 1]))) {
    --begin;
  }
  std::string word(message.substr(begin, end - begin));
  for (char& c : word) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return kNames.count(word) > 0;
}

}  // namespace

std::vector<AlterType> alterTypeStatements(std::string_view sql) {
  std::vector<AlterType> out;
  auto lexed = lexSql(sql, false);
  std::vector<SqlToken> statement;
  auto flush = [&] {
    if (auto a = alterType(sql, statement)) {
      out.push_back(std::move(*a));
    }
    statement.clear();
  };
  for (auto& token : lexed.tokens) {
    if (token.isPunct(";")) {
      flush();
    } else {
      statement.push_back(std::move(token));
    }
  }
  if (!lexed.error) {
    flush();
  }
  return out;
}

std::string conversionTrialSql(const ConversionTrialSpec& s) {
  std::vector<std::string> order;
  std::vector<std::string> key;
  for (const auto& c : s.keyColumns) {
    order.push_back("s." + quoteIdent(c));
    key.push_back("s." + quoteIdent(c));
  }
  if (order.empty()) {
    order.push_back("s.ctid");
  }
  const std::string keyText =
      key.size() == 1 ? key[0] + "::text" : "ROW(" + joined(key, ", ") + ")::text";
  const std::string expr =
      s.usingSql.empty() ? quoteIdent(s.alias) + "." + quoteIdent(s.column) : s.usingSql;
  auto rows = [&](const std::string& offset) {
    return "SELECT (" + expr + ") AS x FROM (SELECT * FROM " + s.qualifiedTable +
           " AS s ORDER BY " + joined(order, ", ") + " OFFSET " + offset + ") AS " +
           quoteIdent(s.alias);
  };
  const bool back = !s.backType.empty();
  // Variable names no column is likely to have; #variable_conflict makes columns win anyway.
  std::string sql =
      "DO $alembic_sidecar$\n"
      "#variable_conflict use_column\n"
      "DECLARE\n"
      "  asc_row record;\n"
      "  asc_new " +
      s.newType + ";\n" + (back ? "  asc_back " + s.backType + ";\n" : "") +
      "  asc_n bigint := 0;\n"
      "  asc_stage text := 'start';\n"
      "  asc_key text;\n"
      "  asc_cur refcursor;\n"
      "  asc_state text;\n"
      "  asc_msg text;\n"
      "BEGIN\n"
      "  asc_stage := 'convert';\n"
      "  FOR asc_row IN " +
      rows("0") +
      " LOOP\n"
      "    asc_stage := 'assign';\n"
      "    asc_new := asc_row.x;\n" +
      (back ? "    asc_stage := 'back';\n    asc_back := asc_new;\n" : "") +
      "    asc_n := asc_n + 1;\n"
      "    asc_stage := 'convert';\n"
      "  END LOOP;\n"
      "EXCEPTION WHEN data_exception OR integrity_constraint_violation THEN\n"
      "  IF asc_stage = 'start' THEN\n"
      "    RAISE;\n"
      "  END IF;\n"
      "  GET STACKED DIAGNOSTICS asc_state = RETURNED_SQLSTATE, asc_msg = MESSAGE_TEXT;\n"
      "  IF asc_stage = 'convert' THEN\n"
      // The loop fetches rows in batches: find the failing one among the next, one by one.
      "    BEGIN\n"
      "      OPEN asc_cur NO SCROLL FOR " +
      rows("asc_n") +
      ";\n"
      "      LOOP\n"
      "        FETCH asc_cur INTO asc_row;\n"
      "        EXIT WHEN NOT FOUND;\n"
      "        asc_n := asc_n + 1;\n"
      "      END LOOP;\n"
      "    EXCEPTION WHEN data_exception OR integrity_constraint_violation THEN\n"
      "      NULL;\n"
      "    END;\n"
      "  END IF;\n" +
      (s.showKey && !key.empty()
           ? "  SELECT " + keyText + " INTO asc_key FROM " + s.qualifiedTable + " AS s ORDER BY " +
                 joined(order, ", ") + " OFFSET asc_n LIMIT 1;\n"
           : std::string()) +
      "  RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = '" + kMarker +
      "' || json_build_object('stage', asc_stage, 'row', asc_n + 1, 'key', asc_key, "
      "'state', asc_state, 'error', asc_msg)::text;\n"
      "END\n"
      "$alembic_sidecar$";
  return sql;
}

std::optional<ConversionFailure> parseConversionFailure(std::string_view message) {
  size_t at = message.find(kMarker);
  if (at == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view rest = message.substr(at + sizeof(kMarker) - 1);
  size_t end = rest.find('\n');
  auto j = nlohmann::json::parse(rest.substr(0, end), nullptr, false);
  if (!j.is_object()) {
    return std::nullopt;
  }
  ConversionFailure f;
  f.stage = j.value("stage", "");
  f.row = j.contains("row") && j["row"].is_number_integer() ? j["row"].get<int64_t>() : 0;
  if (j.contains("key") && j["key"].is_string()) {
    f.key = j["key"].get<std::string>();
  }
  f.sqlstate = j.contains("state") && j["state"].is_string() ? j["state"].get<std::string>() : "";
  f.error =
      withoutValues(j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>()
                                                                  : std::string());
  return f;
}

std::string withoutValues(std::string_view message) {
  std::string out;
  size_t i = 0;
  while (i < message.size()) {
    size_t quote = message.find('"', i);
    if (quote == std::string_view::npos) {
      out += message.substr(i);
      break;
    }
    out += message.substr(i, quote - i);
    size_t close = message.find('"', quote + 1);
    if (close != std::string_view::npos && keepsName(message, quote)) {
      out += message.substr(quote, close - quote + 1);
      i = close + 1;
      continue;
    }
    // A value: mask through the last quote, whatever quotes the value itself holds.
    size_t last = message.rfind('"');
    out += "\"...\"";
    i = last > quote ? last + 1 : message.size();
  }
  return out;
}

}  // namespace alembic_sidecar::database
