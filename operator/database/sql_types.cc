#include "database/sql_types.h"

#include <cctype>
#include <map>
#include <regex>

#include "alembic/python_source.h"

namespace alembic_sidecar::database {
namespace {

using Kind = SqlType::Kind;

std::string upper(std::string s) {
  for (char& c : s) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return s;
}

std::optional<int> number(const std::string& text) {
  std::string t = alembic::trim(text);
  if (t.empty() || t.size() > 9 || t.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return std::stoi(t);
}

/** Valid number literals as the numeric and float input functions read them. */
constexpr char kNumberPattern[] = R"('^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$')";
constexpr char kSpecialNumbers[] =
    "('nan', 'infinity', '+infinity', '-infinity', 'inf', '+inf', '-inf')";

struct IntRange {
  const char* lo;
  const char* hi;
  int width;   // bytes
  int digits;  // decimal digits of the largest value
};

IntRange rangeOf(Kind kind) {
  switch (kind) {
    case Kind::kSmallint:
      return {"-32768", "32767", 2, 5};
    case Kind::kInteger:
      return {"-2147483648", "2147483647", 4, 10};
    default:
      return {"-9223372036854775808", "9223372036854775807", 8, 19};
  }
}

/** 10^(p - s) as a numeric literal: the smallest magnitude numeric(p, s) cannot hold. */
std::string numericLimit(int precision, int scale) {
  int digits = std::max(0, precision - scale);
  return "1" + std::string(static_cast<size_t>(digits), '0');
}

FitConditions toInteger(const SqlType& from, Kind to, const std::string& c) {
  IntRange range = rangeOf(to);
  std::string between = " NOT BETWEEN " + std::string(range.lo) + " AND " + range.hi;
  if (from.isInteger()) {
    return rangeOf(from.kind).width <= range.width ? FitConditions{}
                                                   : FitConditions{c + between, "", false};
  }
  if (from.kind == Kind::kNumeric || from.isApproximate()) {
    std::string n = c + "::numeric";
    return {"round(" + n + ")" + between, n + " <> round(" + n + ")", false};
  }
  if (from.isString()) {
    std::string t = c + "::text";
    return {"CASE WHEN " + t + R"( ~ '^\s*[+-]?[0-9]+\s*$' THEN substring()" + t +
                " from '[+-]?[0-9]+')::numeric" + between + " ELSE true END",
            "", false};
  }
  return {"", "", from.kind != Kind::kBoolean};
}

FitConditions toNumeric(const SqlType& from, const SqlType& to, const std::string& c) {
  std::string special = "lower(btrim(" + c + "::text)) IN " + kSpecialNumbers;
  if (!to.precision) {
    if (from.isString()) {
      return {"NOT (" + c + "::text ~ " + kNumberPattern + " OR " + special + ")", "", false};
    }
    bool numberish = from.isInteger() || from.kind == Kind::kNumeric || from.isApproximate();
    return {"", "", !numberish};
  }
  int p = *to.precision;
  int s = to.scale;
  std::string limit = numericLimit(p, s);
  auto overflow = [&](const std::string& n) {
    return "abs(round(" + n + ", " + std::to_string(s) + ")) >= " + limit;
  };
  auto rounded = [&](const std::string& n) {
    return n + " <> round(" + n + ", " + std::to_string(s) + ")";
  };
  if (from.isInteger()) {
    return p - s >= rangeOf(from.kind).digits
               ? FitConditions{}
               : FitConditions{"abs(" + c + "::numeric) >= " + limit, "", false};
  }
  if (from.kind == Kind::kNumeric && from.precision) {
    int fromInt = *from.precision - from.scale;
    if (fromInt <= p - s && from.scale <= s) {
      return {};
    }
    std::string n = c + "::numeric";
    std::string notNan = n + " <> 'NaN' AND ";
    return {notNan + overflow(n), from.scale > s ? notNan + rounded(n) : "", false};
  }
  if (from.kind == Kind::kNumeric || from.isApproximate()) {
    std::string n = c + "::numeric";
    std::string notNan = n + " <> 'NaN' AND ";
    return {notNan + overflow(n), notNan + rounded(n), false};
  }
  if (from.isString()) {
    std::string t = c + "::text";
    std::string n = t + "::numeric";
    std::string valid = t + " ~ " + kNumberPattern;
    return {"CASE WHEN " + valid + " THEN " + overflow(n) + " ELSE lower(btrim(" + t +
                ")) <> 'nan' END",
            "CASE WHEN " + valid + " THEN " + rounded(n) + " ELSE false END", false};
  }
  return {"", "", true};
}

FitConditions toApproximate(const SqlType& from, Kind to, const std::string& c) {
  if (from.isString()) {
    return {"NOT (" + c + "::text ~ " + kNumberPattern + " OR lower(btrim(" + c + "::text)) IN " +
                kSpecialNumbers + ")",
            "", false};
  }
  if (to == Kind::kReal && (from.kind == Kind::kDouble || from.kind == Kind::kNumeric)) {
    std::string f = c + "::float8";
    return {f + " <> 'NaN' AND " + f + " <> 'Infinity' AND " + f + " <> '-Infinity' AND abs(" + f +
                ") > 3.4028234663852886e38",
            "", false};
  }
  bool numberish = from.isInteger() || from.kind == Kind::kNumeric || from.isApproximate();
  return {"", "", !numberish};
}

}  // namespace

SqlType fromSqlAlchemy(const std::string& rendered) {
  SqlType type;
  type.text = alembic::trim(rendered);
  std::string callee = type.text;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> kwargs;
  if (auto call = alembic::parseCall(type.text)) {
    callee = call->callee;
    args = call->args;
    kwargs = call->kwargs;
  }
  std::string name =
      upper(callee.substr(callee.rfind('.') == std::string::npos ? 0 : callee.rfind('.') + 1));
  auto param = [&](size_t index, const std::string& keyword) -> std::optional<int> {
    for (const auto& [k, v] : kwargs) {
      if (k == keyword) {
        return number(v);
      }
    }
    return index < args.size() ? number(args[index]) : std::nullopt;
  };
  static const std::map<std::string, Kind> kNames = {
      {"STRING", Kind::kVarchar},
      {"AUTOSTRING", Kind::kVarchar},
      {"VARCHAR", Kind::kVarchar},
      {"NVARCHAR", Kind::kVarchar},
      {"UNICODE", Kind::kVarchar},
      {"TEXT", Kind::kText},
      {"UNICODETEXT", Kind::kText},
      {"CITEXT", Kind::kText},
      {"CHAR", Kind::kChar},
      {"NCHAR", Kind::kChar},
      {"INTEGER", Kind::kInteger},
      {"INT", Kind::kInteger},
      {"SMALLINTEGER", Kind::kSmallint},
      {"SMALLINT", Kind::kSmallint},
      {"BIGINTEGER", Kind::kBigint},
      {"BIGINT", Kind::kBigint},
      {"NUMERIC", Kind::kNumeric},
      {"DECIMAL", Kind::kNumeric},
      {"FLOAT", Kind::kDouble},
      {"REAL", Kind::kReal},
      {"DOUBLE_PRECISION", Kind::kDouble},
      {"DOUBLE", Kind::kDouble},
      {"BOOLEAN", Kind::kBoolean},
      {"UUID", Kind::kUuid},
      {"GUID", Kind::kUuid},
      {"DATE", Kind::kDate},
      {"DATETIME", Kind::kTimestamp},
      {"TIMESTAMP", Kind::kTimestamp},
      {"TIME", Kind::kTime},
      {"INTERVAL", Kind::kInterval},
      {"JSON", Kind::kJson},
      {"JSONB", Kind::kJsonb},
      {"ENUM", Kind::kEnum},
      {"ARRAY", Kind::kArray},
      {"LARGEBINARY", Kind::kBinary},
      {"BYTEA", Kind::kBinary},
      {"BLOB", Kind::kBinary},
      {"BINARY", Kind::kBinary},
      {"VARBINARY", Kind::kBinary},
      {"PICKLETYPE", Kind::kBinary},
  };
  auto known = kNames.find(name);
  if (known == kNames.end()) {
    static const std::regex kOther(
        "INET|CIDR|MACADDR|MACADDR8|TSVECTOR|HSTORE|MONEY|BIT|OID|.*RANGE");
    type.kind = std::regex_match(name, kOther) ? Kind::kOther : Kind::kUnknown;
    return type;
  }
  type.kind = known->second;
  auto flag = [&](const std::string& keyword) {
    for (const auto& [k, v] : kwargs) {
      if (k == keyword) {
        return alembic::trim(v) == "True";
      }
    }
    return false;
  };
  if (type.kind == Kind::kTimestamp && flag("timezone")) {
    type.kind = Kind::kTimestampTz;
  }
  switch (type.kind) {
    case Kind::kVarchar:
      type.length = param(0, "length");
      if (!type.length) {
        type.kind = Kind::kText;
      }
      break;
    case Kind::kChar:
      type.length = param(0, "length").value_or(1);
      break;
    case Kind::kNumeric:
      type.precision = param(0, "precision");
      type.scale = param(1, "scale").value_or(0);
      break;
    case Kind::kDouble:
      if (name == "FLOAT") {
        auto precision = param(0, "precision");
        if (precision && *precision <= 24) {
          type.kind = Kind::kReal;
        }
      }
      break;
    default:
      break;
  }
  return type;
}

SqlType fromPostgres(const std::string& formatType) {
  SqlType type;
  type.text = formatType;
  static const std::regex kShape(R"(^([a-z ]+?)\s*(?:\((\d+)(?:,(\d+))?\))?$)");
  std::smatch m;
  if (formatType.size() > 2 && formatType.substr(formatType.size() - 2) == "[]") {
    type.kind = Kind::kArray;
    return type;
  }
  // Date and time types carry their precision inside: timestamp(3) with time zone.
  static const std::regex kDateTime(R"(^(timestamp|time)(?:\(\d+\))?( with(?:out)? time zone)?$)");
  if (std::regex_match(formatType, m, kDateTime)) {
    bool zone = m[2].str() == " with time zone";
    type.kind = m[1].str() == "time" ? Kind::kTime : zone ? Kind::kTimestampTz : Kind::kTimestamp;
    return type;
  }
  if (formatType.rfind("interval", 0) == 0) {
    type.kind = Kind::kInterval;
    return type;
  }
  if (!std::regex_match(formatType, m, kShape)) {
    type.kind = Kind::kOther;
    return type;
  }
  std::string base = m[1].str();
  std::optional<int> first = m[2].matched ? number(m[2].str()) : std::nullopt;
  std::optional<int> second = m[3].matched ? number(m[3].str()) : std::nullopt;
  if (base == "character varying") {
    type.kind = first ? Kind::kVarchar : Kind::kText;
    type.length = first;
  } else if (base == "text" || base == "citext") {
    type.kind = Kind::kText;
  } else if (base == "character") {
    type.kind = Kind::kChar;
    type.length = first.value_or(1);
  } else if (base == "smallint") {
    type.kind = Kind::kSmallint;
  } else if (base == "integer") {
    type.kind = Kind::kInteger;
  } else if (base == "bigint") {
    type.kind = Kind::kBigint;
  } else if (base == "numeric") {
    type.kind = Kind::kNumeric;
    type.precision = first;
    type.scale = second.value_or(0);
  } else if (base == "real") {
    type.kind = Kind::kReal;
  } else if (base == "double precision") {
    type.kind = Kind::kDouble;
  } else if (base == "boolean") {
    type.kind = Kind::kBoolean;
  } else if (base == "uuid") {
    type.kind = Kind::kUuid;
  } else if (base == "date") {
    type.kind = Kind::kDate;
  } else if (base == "json") {
    type.kind = Kind::kJson;
  } else if (base == "jsonb") {
    type.kind = Kind::kJsonb;
  } else if (base == "bytea") {
    type.kind = Kind::kBinary;
  } else {
    type.kind = Kind::kOther;
  }
  return type;
}

FitConditions fitConditions(const SqlType& from, const SqlType& to, const std::string& c) {
  switch (to.kind) {
    case Kind::kText:
      return {};
    case Kind::kVarchar:
    case Kind::kChar: {
      int n = to.length.value_or(1);
      if (from.kind != Kind::kText && from.isString() && from.length && *from.length <= n) {
        return {};
      }
      // Assignment to varchar(n) / char(n) fails unless the excess characters are spaces.
      return {"char_length(rtrim(" + c + "::text)) > " + std::to_string(n), "", false};
    }
    case Kind::kSmallint:
    case Kind::kInteger:
    case Kind::kBigint:
      return toInteger(from, to.kind, c);
    case Kind::kNumeric:
      return toNumeric(from, to, c);
    case Kind::kReal:
    case Kind::kDouble:
      return toApproximate(from, to.kind, c);
    case Kind::kBoolean:
      if (from.isString()) {
        return {"lower(regexp_replace(" + c +
                    "::text, '^\\s+|\\s+$', '', 'g')) NOT IN ('t', "
                    "'tr', 'tru', 'true', 'y', 'ye', 'yes', 'on', '1', 'f', 'fa', 'fal', 'fals', "
                    "'false', 'n', 'no', 'of', 'off', '0')",
                "", false};
      }
      return {"", "", from.kind != Kind::kBoolean && !from.isInteger()};
    case Kind::kUuid:
      if (from.isString()) {
        return {c + "::text !~ '^\\{?[0-9a-fA-F]{4}(-?[0-9a-fA-F]{4}){7}\\}?$'", "", false};
      }
      return {"", "", from.kind != Kind::kUuid};
    case Kind::kDate:
      if (from.isTimestamp()) {
        // The time of day is dropped; timestamp's range fits inside date's.
        std::string back =
            from.kind == Kind::kTimestamp ? "::date::timestamp" : "::date::timestamptz";
        return {"", c + back + " <> " + c, false};
      }
      return {"", "", from.kind != Kind::kDate};
    case Kind::kTimestamp:
    case Kind::kTimestampTz:
      return {"", "", from.kind != Kind::kDate && !from.isTimestamp()};
    default:
      return {"", "", !conversionIsLossless(from, to)};
  }
  return {"", "", true};
}

std::string SqlType::family() const {
  switch (kind) {
    case Kind::kText:
    case Kind::kVarchar:
    case Kind::kChar:
      return "string";
    case Kind::kSmallint:
    case Kind::kInteger:
    case Kind::kBigint:
      return "integer";
    case Kind::kNumeric:
    case Kind::kReal:
    case Kind::kDouble:
      return "numeric";
    case Kind::kBoolean:
      return "boolean";
    case Kind::kUuid:
      return "uuid";
    case Kind::kDate:
    case Kind::kTimestamp:
    case Kind::kTimestampTz:
    case Kind::kTime:
      return "datetime";
    case Kind::kInterval:
      return "interval";
    case Kind::kJson:
    case Kind::kJsonb:
      return "json";
    case Kind::kEnum:
      return "enum";
    case Kind::kArray:
      return "array";
    case Kind::kBinary:
      return "binary";
    case Kind::kOther:
      return "other";
    case Kind::kUnknown:
      break;
  }
  return {};
}

std::optional<std::string> SqlType::sql() const {
  auto n = [](int v) { return std::to_string(v); };
  switch (kind) {
    case Kind::kText:
      return "text";
    case Kind::kVarchar:
      return "varchar(" + n(length.value_or(1)) + ")";
    case Kind::kChar:
      return "char(" + n(length.value_or(1)) + ")";
    case Kind::kSmallint:
      return "smallint";
    case Kind::kInteger:
      return "integer";
    case Kind::kBigint:
      return "bigint";
    case Kind::kNumeric:
      return precision ? "numeric(" + n(*precision) + "," + n(scale) + ")" : "numeric";
    case Kind::kReal:
      return "real";
    case Kind::kDouble:
      return "double precision";
    case Kind::kBoolean:
      return "boolean";
    case Kind::kUuid:
      return "uuid";
    case Kind::kDate:
      return "date";
    case Kind::kTimestamp:
      return "timestamp";
    case Kind::kTimestampTz:
      return "timestamptz";
    case Kind::kTime:
      return "time";
    case Kind::kInterval:
      return "interval";
    case Kind::kJson:
      return "json";
    case Kind::kJsonb:
      return "jsonb";
    case Kind::kBinary:
      return "bytea";
    default:
      return std::nullopt;
  }
}

bool castNeedsUsing(const SqlType& fromType, const SqlType& toType) {
  const std::string from = fromType.family();
  const std::string to = toType.family();
  if (from.empty() || to.empty() || from == "other" || to == "other" || from == to) {
    return false;
  }
  if (to == "string") {
    return false;  // every type has an assignment cast to text types
  }
  bool numbers = (from == "integer" || from == "numeric") && (to == "integer" || to == "numeric");
  return !numbers;
}

bool conversionIsLossless(const SqlType& from, const SqlType& to) {
  if (from.kind == Kind::kUnknown || to.kind == Kind::kUnknown) {
    return false;
  }
  if (to.kind == Kind::kText) {
    return true;  // every value has a text form
  }
  if (from.kind == to.kind && from.length == to.length && from.precision == to.precision &&
      from.scale == to.scale && from.kind != Kind::kOther && from.kind != Kind::kArray &&
      from.kind != Kind::kEnum) {
    return true;
  }
  switch (to.kind) {
    case Kind::kVarchar:
    case Kind::kChar:
      return from.isString() && from.kind != Kind::kText && from.length &&
             *from.length <= to.length.value_or(1);
    case Kind::kSmallint:
    case Kind::kInteger:
    case Kind::kBigint:
      return from.isInteger() && rangeOf(from.kind).width <= rangeOf(to.kind).width;
    case Kind::kNumeric: {
      if (!to.precision) {
        return from.isInteger() || from.kind == Kind::kNumeric;
      }
      int digits = *to.precision - to.scale;
      if (from.isInteger()) {
        return digits >= rangeOf(from.kind).digits;
      }
      return from.kind == Kind::kNumeric && from.precision &&
             *from.precision - from.scale <= digits && from.scale <= to.scale;
    }
    case Kind::kDouble:
      return from.kind == Kind::kReal || from.kind == Kind::kSmallint ||
             from.kind == Kind::kInteger;
    case Kind::kReal:
      return from.kind == Kind::kSmallint;
    case Kind::kTimestamp:
    case Kind::kTimestampTz:
      return from.kind == Kind::kDate;
    case Kind::kJson:
      return from.kind == Kind::kJsonb;
    default:
      return false;
  }
}

}  // namespace alembic_sidecar::database
