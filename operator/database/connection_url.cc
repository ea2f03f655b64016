#include "database/connection_url.h"

#include <algorithm>
#include <charconv>
#include <regex>

#include "core/reasons.h"
#include "core/redactor.h"

namespace alembic_sidecar::database {
namespace {

core::Error invalid(const std::string& what) {
  return core::Error::terminal(core::reason::kInvalidDatabaseUrl,
                               "invalid database URL: " + what +
                                   " (expected postgresql[+driver]://user:password@host:port/db)");
}

constexpr char kEncodeHint[] =
    "; if the password (or user name) contains '@', ':', '/', '?', '#' or '%', percent-encode "
    "them (%40, %3A, %2F, %3F, %23, %25)";

/**
 * `quotable` says whether the text may be shown: a port that may really be a piece of a
 * password (no clear user-info delimiter) is never quoted.
 */
core::Result<int> parsePort(const std::string& text, bool quotable) {
  int port = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || ptr != text.data() + text.size() || port <= 0 || port > 65535) {
    if (quotable) {
      return invalid("port '" + text + "' is not a number between 1 and 65535");
    }
    return invalid(std::string("the port is not a number between 1 and 65535") + kEncodeHint);
  }
  return port;
}

std::string quoteConninfo(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') {
      out.push_back('\\');
    }
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string formatUrl(const ConnectionInfo& info, const std::string& password) {
  std::string out = info.scheme + "://";
  if (!info.user.empty()) {
    out += core::percentEncode(info.user);
    if (!password.empty()) {
      out += ":" + password;
    }
    out += "@";
  }
  bool ipv6 = info.host.find(':') != std::string::npos;
  bool socketDir = !info.host.empty() && info.host.front() == '/';
  if (!socketDir) {
    out += ipv6 ? "[" + info.host + "]" : info.host;
    out += ":" + std::to_string(info.port);
  }
  out += "/" + core::percentEncode(info.database);
  char sep = '?';
  if (socketDir) {
    out += "?host=" + core::percentEncode(info.host) + "&port=" + std::to_string(info.port);
    sep = '&';
  }
  for (const auto& [k, v] : info.params) {
    out += sep + core::percentEncode(k) + "=" + core::percentEncode(v);
    sep = '&';
  }
  return out;
}

}  // namespace

std::string ConnectionInfo::url() const {
  return formatUrl(*this, core::percentEncode(password));
}

std::string ConnectionInfo::redactedUrl() const {
  return formatUrl(*this, password.empty() ? "" : std::string(core::Redactor::kMask));
}

std::string ConnectionInfo::endpoint() const {
  bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string ConnectionInfo::libpqConninfo(int connectTimeoutSeconds) const {
  std::string out = "host=" + quoteConninfo(host) + " port=" + std::to_string(port);
  if (!user.empty()) {
    out += " user=" + quoteConninfo(user);
  }
  if (!password.empty()) {
    out += " password=" + quoteConninfo(password);
  }
  if (!database.empty()) {
    out += " dbname=" + quoteConninfo(database);
  }
  bool timeoutSet = false;
  for (const auto& [k, v] : params) {
    // libpq keys pass through; asyncpg's `ssl` maps to sslmode; other driver options are
    // meaningless to libpq and dropped.
    if (k == "sslmode" || k == "sslrootcert" || k == "sslcert" || k == "sslkey" ||
        k == "application_name" || k == "options" || k == "target_session_attrs") {
      out += " " + k + "=" + quoteConninfo(v);
    } else if (k == "ssl") {
      std::string mode = v == "true" ? "require" : v == "false" ? "disable" : v;
      out += " sslmode=" + quoteConninfo(mode);
    } else if (k == "connect_timeout") {
      out += " connect_timeout=" + quoteConninfo(v);
      timeoutSet = true;
    }
  }
  if (!timeoutSet) {
    out += " connect_timeout=" + std::to_string(connectTimeoutSeconds);
  }
  return out;
}

ConnectionInfo ConnectionInfo::withDatabase(std::string name) const {
  ConnectionInfo copy = *this;
  copy.database = std::move(name);
  return copy;
}

ConnectionInfo ConnectionInfo::withScheme(std::string newScheme) const {
  ConnectionInfo copy = *this;
  copy.scheme = std::move(newScheme);
  // asyncpg takes `ssl` where the libpq-based drivers take `sslmode`.
  const bool asyncpg = copy.scheme.find("asyncpg") != std::string::npos;
  for (auto& [key, value] : copy.params) {
    if (asyncpg && key == "sslmode") {
      key = "ssl";
    } else if (!asyncpg && key == "ssl") {
      key = "sslmode";
      value = value == "true" ? "require" : value == "false" ? "disable" : value;
    }
  }
  return copy;
}

core::Result<ConnectionInfo> parseConnectionUrl(std::string_view url) {
  ConnectionInfo info;
  auto schemeEnd = url.find("://");
  if (schemeEnd == std::string_view::npos) {
    return invalid("missing scheme");
  }
  info.scheme = std::string(url.substr(0, schemeEnd));
  std::string base = info.scheme.substr(0, info.scheme.find('+'));
  if (base != "postgresql" && base != "postgres") {
    return invalid("unsupported scheme '" + info.scheme + "'");
  }
  if (info.scheme == "postgres") {
    info.scheme = "postgresql";
  }
  // The same grammar SQLAlchemy's make_url uses, so alembic and we read a URL alike: the
  // password runs up to the first '@' and may contain ':', '/' and '?'.
  static const std::regex kPattern(
      R"(^(?:([^:/]*)(?::([^@]*))?@)?(?:(?:\[([^/\?]+)\]|([^/:\?]+))?(?::([^/\?]*))?)?)"
      R"((?:/([^\?]*))?(?:\?(.*))?$)");
  std::string rest(url.substr(schemeEnd + 3));
  // A raw '@' in a password makes the URL ambiguous: whatever the parser made of it, its
  // pieces would be the password's. Say how to fix it and quote nothing.
  const size_t ats = static_cast<size_t>(std::count(rest.begin(), rest.end(), '@'));
  if (ats > 1) {
    return invalid("more than one '@' (a password containing '@' must be percent-encoded)" +
                   std::string(kEncodeHint));
  }
  std::smatch m;
  if (!std::regex_match(rest, m, kPattern)) {
    return invalid(std::string("cannot parse host, port and database") + kEncodeHint);
  }
  if (m[1].matched) {
    info.user = core::percentDecode(m[1].str());
  }
  if (m[2].matched) {
    info.password = core::percentDecode(m[2].str());
  }
  if (m[3].matched) {
    info.host = m[3].str();
  } else if (m[4].matched) {
    info.host = m[4].str();
  }
  if (m[5].matched && m[5].length() > 0) {
    // Without user info ('@'), "u:secret/db" reads as host "u", port "secret".
    auto port = parsePort(m[5].str(), /*quotable=*/ats == 1);
    if (!port) {
      return port.error();
    }
    info.port = *port;
  }
  info.database = core::percentDecode(m[6].str());
  std::string queryText = m[7].str();
  std::string_view query = queryText;

  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) {
      continue;
    }
    auto eq = pair.find('=');
    std::string key = core::percentDecode(pair.substr(0, eq));
    std::string value =
        eq == std::string_view::npos ? std::string{} : core::percentDecode(pair.substr(eq + 1));
    if (key == "host") {
      info.host = value;  // a socket directory or a host name
    } else if (key == "port") {
      auto port = parsePort(value, /*quotable=*/true);
      if (!port) {
        return port.error();
      }
      info.port = *port;
    } else if (key == "user") {
      info.user = value;
    } else if (key == "password") {
      info.password = value;
    } else {
      info.params.emplace_back(std::move(key), std::move(value));
    }
  }
  if (info.host.empty()) {
    info.host = "127.0.0.1";
  }
  if (info.database.empty()) {
    return invalid("no database name in the path");
  }
  return info;
}

}  // namespace alembic_sidecar::database
