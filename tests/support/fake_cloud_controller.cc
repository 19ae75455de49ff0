#include "tests/support/fake_cloud_controller.h"

#include <curl/curl.h>
#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>
#include <pistache/router.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <map>
#include <mutex>
#include <ostream>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <variant>

#include "broker/base/encoding.h"

namespace broker::testing {
namespace {

using SysClock = std::chrono::system_clock;
using Steady = std::chrono::steady_clock;
using Lifecycle = FakeCloudController::Lifecycle;

// ================================================================================================
// JSON output: a small ordered value type, so resources read like the CC docs' examples.
// (Request bodies are parsed with RapidJSON.)
// ================================================================================================

class Json {
 public:
  using Object = std::vector<std::pair<std::string, Json>>;
  using Array = std::vector<Json>;
  struct Raw {  // already-serialised JSON (client-supplied parameters, credentials)
    std::string text;
  };

  Json() : v_(nullptr) {}
  Json(std::nullptr_t) : v_(nullptr) {}
  Json(bool b) : v_(b) {}
  Json(int i) : v_(static_cast<std::int64_t>(i)) {}
  Json(long i) : v_(static_cast<std::int64_t>(i)) {}
  Json(long long i) : v_(static_cast<std::int64_t>(i)) {}
  Json(unsigned long i) : v_(static_cast<std::int64_t>(i)) {}
  Json(double d) : v_(d) {}
  Json(const char* s) : v_(std::string(s)) {}
  Json(std::string s) : v_(std::move(s)) {}
  Json(Object o) : v_(std::move(o)) {}
  Json(Array a) : v_(std::move(a)) {}
  Json(Raw r) : v_(std::move(r)) {}

  template <typename T>
  static Json Opt(const std::optional<T>& v) {
    return v.has_value() ? Json(*v) : Json();
  }

  // Appends a member to an object (no-op on other values).
  void Add(std::string key, Json value) {
    if (Object* o = std::get_if<Object>(&v_)) o->emplace_back(std::move(key), std::move(value));
  }

  std::string Dump() const {
    std::string out;
    Write(&out);
    return out;
  }

  void Write(std::string* out) const {
    if (std::holds_alternative<std::nullptr_t>(v_)) {
      *out += "null";
    } else if (const bool* b = std::get_if<bool>(&v_)) {
      *out += *b ? "true" : "false";
    } else if (const std::int64_t* i = std::get_if<std::int64_t>(&v_)) {
      *out += std::to_string(*i);
    } else if (const double* d = std::get_if<double>(&v_)) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.6g", *d);
      *out += buf;
    } else if (const std::string* s = std::get_if<std::string>(&v_)) {
      WriteString(*s, out);
    } else if (const Raw* r = std::get_if<Raw>(&v_)) {
      *out += r->text;
    } else if (const Object* o = std::get_if<Object>(&v_)) {
      *out += '{';
      for (std::size_t k = 0; k < o->size(); ++k) {
        if (k > 0) *out += ',';
        WriteString((*o)[k].first, out);
        *out += ':';
        (*o)[k].second.Write(out);
      }
      *out += '}';
    } else if (const Array* a = std::get_if<Array>(&v_)) {
      *out += '[';
      for (std::size_t k = 0; k < a->size(); ++k) {
        if (k > 0) *out += ',';
        (*a)[k].Write(out);
      }
      *out += ']';
    }
  }

 private:
  static void WriteString(std::string_view s, std::string* out) {
    *out += '"';
    for (const unsigned char c : s) {
      switch (c) {
        case '"': *out += "\\\""; break;
        case '\\': *out += "\\\\"; break;
        case '\n': *out += "\\n"; break;
        case '\r': *out += "\\r"; break;
        case '\t': *out += "\\t"; break;
        case '\b': *out += "\\b"; break;
        case '\f': *out += "\\f"; break;
        default:
          if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            *out += buf;
          } else {
            *out += static_cast<char>(c);
          }
      }
    }
    *out += '"';
  }

  std::variant<std::nullptr_t, bool, std::int64_t, double, std::string, Raw, Object, Array> v_;
};

Json StringArray(const std::vector<std::string>& v) {
  Json::Array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

Json StringMap(const std::map<std::string, std::string>& m) {
  Json::Object o;
  for (const auto& [k, v] : m) o.emplace_back(k, v);
  return o;
}

Json Href(const std::string& url) { return Json::Object{{"href", url}}; }

Json ToOne(const std::string& guid) {
  return Json::Object{{"data", Json::Object{{"guid", guid.empty() ? Json() : Json(guid)}}}};
}

// ================================================================================================
// Text helpers.
// ================================================================================================

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Pistache hands query values and path parameters over still percent-encoded.
std::string PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexDigit(s[i + 1]) >= 0 && HexDigit(s[i + 2]) >= 0) {
      out += static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2]));
      i += 2;
    } else if (s[i] == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

constexpr char kBase64Chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Base64Encode(std::string_view in) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (const unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kBase64Chars[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kBase64Chars[(acc << (6 - bits)) & 63];
  while (out.size() % 4 != 0) out += '=';
  return out;
}

std::optional<std::string> Base64Decode(std::string_view in) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : in) {
    if (c == '=') break;
    const char* p = std::strchr(kBase64Chars, c);
    if (p == nullptr || c == '\0') return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(p - kBase64Chars);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

// `*` matches any run of characters (including '/'); everything else is literal.
bool GlobMatch(std::string_view pattern, std::string_view text) {
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::string Iso8601(SysClock::time_point tp) {
  const std::time_t t = SysClock::to_time_t(tp);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SysClock::now().time_since_epoch()).count();
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string Trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::vector<std::string> SplitList(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t pos = s.find(sep, start);
    out.emplace_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += sep;
    out += parts[i];
  }
  return out;
}

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

const char* LifecycleName(Lifecycle l) {
  switch (l) {
    case Lifecycle::kBuildpack: return "buildpack";
    case Lifecycle::kDocker: return "docker";
    case Lifecycle::kCnb: return "cnb";
  }
  return "buildpack";
}

std::optional<Lifecycle> ParseLifecycle(std::string_view s) {
  if (s == "buildpack") return Lifecycle::kBuildpack;
  if (s == "docker") return Lifecycle::kDocker;
  if (s == "cnb") return Lifecycle::kCnb;
  return std::nullopt;
}

// ================================================================================================
// Label selectors: `key=value`, `key==value`, `key!=value`, `key`, `!key`, `key in (a,b)`,
// `key notin (a,b)`, joined by commas.
// ================================================================================================

struct LabelRequirement {
  enum class Op { kEquals, kNotEquals, kExists, kNotExists, kIn, kNotIn };
  Op op = Op::kExists;
  std::string key;
  std::vector<std::string> values;
};

bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }

// Characters of a UTF-8 string, as Ruby's String#size counts them.
std::size_t Utf8Length(std::string_view s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// The first `n` characters of a UTF-8 string (Ruby's s[0...n]).
std::string Utf8Prefix(std::string_view s, std::size_t n) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && chars++ == n) return std::string(s.substr(0, i));
  }
  return std::string(s);
}

// Rails' String#blank?: empty or whitespace only.
bool Blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; });
}

// ---- Metadata keys and values: app/messages/metadata_validator_helper.rb (key_error, value_error) ----

// lib/cloud_controller/domain_decorator.rb DOMAIN_REGEX, case-insensitive: labels of [a-z0-9-] (at
// most 63, starting and ending alphanumeric) joined by '.', AT LEAST TWO labels (one dot). Its `\Z`
// also accepts one trailing newline.
bool MatchesDomainRegex(std::string_view s) {
  if (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  const std::vector<std::string> parts = SplitList(s, '.');
  if (parts.size() < 2) return false;
  for (const std::string& p : parts) {
    if (p.empty() || p.size() > 63 || !IsAlnum(p.front()) || !IsAlnum(p.back())) return false;
    if (!std::all_of(p.begin(), p.end(), [](char c) { return IsAlnum(c) || c == '-'; })) return false;
  }
  return true;
}

// INVALID_CHAR_REGEX /[^\w\-.]/ (Ruby's \w is ASCII [A-Za-z0-9_]).
bool MetadataChars(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return IsAlnum(c) || c == '_' || c == '-' || c == '.'; });
}

// ALPHANUMERIC_START_END_REGEX /\A(?=[a-zA-Z\d]).*[a-zA-Z\d]\z/.
bool StartsEndsAlnum(std::string_view s) { return !s.empty() && IsAlnum(s.front()) && IsAlnum(s.back()); }

// MetadataValidatorHelper#key_error: nullopt when valid, else CC's message (the MetadataError text).
// The prefix/name split is MetadataHelpers.extract_prefix (app/models/helpers/metadata_helpers.rb):
// Ruby's split('/'), which drops trailing empty parts ("a.b/" has the name "").
std::optional<std::string> MetadataKeyError(std::string_view key) {
  std::optional<std::string> prefix;
  std::string name(key);
  if (key.find('/') != std::string_view::npos) {
    std::vector<std::string> parts = SplitList(key, '/');
    while (!parts.empty() && parts.back().empty()) parts.pop_back();
    if (!parts.empty()) prefix = parts[0];
    name = parts.size() > 1 ? parts[1] : "";
  }
  if (Blank(key)) return "key cannot be empty string";
  if (std::count(key.begin(), key.end(), '/') > 1) return "key has more than one '/'";
  if (prefix && !MatchesDomainRegex(*prefix)) return "prefix '" + *prefix + "' must be in valid dns format";
  if (prefix && Utf8Length(*prefix) > 253) return "prefix '" + Utf8Prefix(*prefix, 8) + "...' is greater than 253 characters";
  if (prefix && Lower(*prefix) == "cloudfoundry.org") return "prefix 'cloudfoundry.org' is reserved";
  if (Blank(name)) return "key cannot be empty string";
  if (!MetadataChars(name)) return "'" + name + "' contains invalid characters";
  if (!StartsEndsAlnum(name)) return "'" + name + "' starts or ends with invalid characters";
  if (Utf8Length(name) > 63) return "'" + Utf8Prefix(name, 8) + "...' is greater than 63 characters";
  return std::nullopt;
}

// MetadataValidatorHelper#value_error (label values; "" is valid).
std::optional<std::string> MetadataValueError(std::string_view value) {
  if (value.empty()) return std::nullopt;
  const std::string v(value);
  if (!MetadataChars(v)) return "'" + v + "' contains invalid characters";
  if (!StartsEndsAlnum(v)) return "'" + v + "' starts or ends with invalid characters";
  if (Utf8Length(v) > 63) return "'" + Utf8Prefix(v, 8) + "...' is greater than 63 characters";
  return std::nullopt;
}

// ---- Label selectors: app/messages/list_message.rb (parse_label_selector) with the patterns of
// app/models/helpers/metadata_helpers.rb, validated by
// app/messages/validators/label_selector_requirement_validator.rb. ----

// The requirements, or CC's messages for what is wrong (see ParseSelector for the answer).
struct SelectorParse {
  std::vector<LabelRequirement> requirements;
  std::vector<std::string> errors;
};

// REQUIREMENT_SPLITTER /(?:\(.*?\)|[^,])+/ scanned over the selector: runs of non-commas, where a
// parenthesised group (up to the first ')') may hold commas.
std::vector<std::string> SplitRequirements(std::string_view s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t j = i;
    while (j < s.size()) {
      if (s[j] == '(') {
        const std::size_t close = s.find(')', j + 1);
        const std::size_t nl = s.find('\n', j + 1);
        if (close != std::string_view::npos && (nl == std::string_view::npos || nl > close)) {
          j = close + 1;
          continue;
        }
      }
      if (s[j] == ',') break;
      ++j;
    }
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

bool KeyChars(std::string_view s) {  // KEY_CHARACTERS %r{[\w\-._/]+}
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return IsAlnum(c) || c == '_' || c == '-' || c == '.' || c == '/';
  });
}

// One requirement by the first of IN, NOT_IN, EQUAL, NOT_EQUAL, EXISTS, NOT_EXISTS that matches;
// nullopt when none does. Values are Ruby's values.split(',') (no trimming).
std::optional<LabelRequirement> ParseRequirement(const std::string& r) {
  if (r.find('\n') != std::string::npos) return std::nullopt;  // `.` never matches a newline
  const auto split_values = [](std::string_view v) {
    std::vector<std::string> parts = SplitList(v, ',');
    while (!parts.empty() && parts.back().empty()) parts.pop_back();
    return parts;
  };
  for (const auto& [word, op] : {std::pair<std::string, LabelRequirement::Op>{" in (", LabelRequirement::Op::kIn},
                                 std::pair<std::string, LabelRequirement::Op>{" notin (", LabelRequirement::Op::kNotIn}}) {
    const std::size_t at = r.find(word);
    if (r.empty() || r.back() != ')' || at == std::string::npos || at + word.size() > r.size() - 1) continue;
    LabelRequirement q;
    q.op = op;
    q.key = r.substr(0, at);
    q.values = split_values(std::string_view(r).substr(at + word.size(), r.size() - 1 - at - word.size()));
    return q;
  }
  std::size_t k = 0;
  while (k < r.size() && KeyChars(std::string_view(r).substr(k, 1))) ++k;
  const std::string key = r.substr(0, k);
  const std::string_view rest = std::string_view(r).substr(k);
  LabelRequirement q;
  q.key = key;
  if (!key.empty() && !rest.empty() && rest[0] == '=') {
    q.op = LabelRequirement::Op::kEquals;
    q.values = split_values(rest.substr(rest.size() > 1 && rest[1] == '=' ? 2 : 1));
    return q;
  }
  if (!key.empty() && rest.substr(0, 2) == "!=") {
    q.op = LabelRequirement::Op::kNotEquals;
    q.values = split_values(rest.substr(2));
    return q;
  }
  if (!key.empty() && rest.empty()) {
    q.op = LabelRequirement::Op::kExists;
    return q;
  }
  if (r.size() > 1 && r[0] == '!' && KeyChars(std::string_view(r).substr(1))) {
    q.op = LabelRequirement::Op::kNotExists;
    q.key = r.substr(1);
    return q;
  }
  return std::nullopt;
}

SelectorParse ParseLabelSelector(std::string_view selector) {
  SelectorParse out;
  const std::vector<std::string> raw = SplitRequirements(selector);
  if (raw.empty()) {
    out.errors.push_back("Missing label_selector value");
    return out;
  }
  if (raw.size() > 50) {
    out.errors.push_back("Too many label_selector requirements (maximum is 50)");
    return out;
  }
  for (const std::string& r : raw) {
    const std::optional<LabelRequirement> q = ParseRequirement(r);
    if (!q) {
      out.errors.push_back("Invalid label_selector value");
      continue;
    }
    std::optional<std::string> error = MetadataKeyError(q->key);
    for (std::size_t i = 0; !error && i < q->values.size(); ++i) error = MetadataValueError(q->values[i]);
    if (error) {
      out.errors.push_back(*error);
      continue;
    }
    out.requirements.push_back(*q);
  }
  return out;
}

bool SelectorMatches(const std::vector<LabelRequirement>& reqs, const std::map<std::string, std::string>& labels) {
  for (const LabelRequirement& r : reqs) {
    const auto it = labels.find(r.key);
    const bool has = it != labels.end();
    const auto in_values = [&] {
      return has && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
    };
    switch (r.op) {
      case LabelRequirement::Op::kEquals:
      case LabelRequirement::Op::kIn:
        if (!in_values()) return false;
        break;
      case LabelRequirement::Op::kNotEquals:
      case LabelRequirement::Op::kNotIn:
        if (in_values()) return false;
        break;
      case LabelRequirement::Op::kExists:
        if (!has) return false;
        break;
      case LabelRequirement::Op::kNotExists:
        if (has) return false;
        break;
    }
  }
  return true;
}

// ================================================================================================
// Replies and CC errors.
// ================================================================================================

struct Reply {
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool reset = false;  // close the connection without answering
};

Reply JsonReply(int status, const Json& body) { return Reply{status, body.Dump(), {}, false}; }

Reply Empty(int status) { return Reply{status, "", {}, false}; }

Reply CcError(int status, int code, const std::string& title, const std::string& detail) {
  return JsonReply(status, Json::Object{{"errors", Json::Array{Json::Object{
                                                      {"code", code}, {"title", title}, {"detail", detail}}}}});
}

Reply NotFound(const std::string& what) { return CcError(404, 10010, "CF-ResourceNotFound", what + " not found"); }
Reply Unprocessable(const std::string& detail) { return CcError(422, 10008, "CF-UnprocessableEntity", detail); }
Reply BadQuery(const std::string& detail) {
  return CcError(400, 10005, "CF-BadQueryParameter", "The query parameter is invalid: " + detail);
}
Reply ParseError() {
  return CcError(400, 1001, "CF-MessageParseError", "Request invalid due to parse error: invalid request body");
}
Reply FeatureDisabled(const std::string& flag) {
  return CcError(403, 330002, "CF-FeatureDisabled", "Feature Disabled: " + flag);
}
Reply InvalidToken() { return CcError(401, 1000, "CF-InvalidAuthToken", "Invalid Auth Token"); }

Reply UaaError(int status, const std::string& error, const std::string& description) {
  return JsonReply(status, Json::Object{{"error", error}, {"error_description", description}});
}

// ---- RapidJSON reading helpers ----

std::string Serialize(const rapidjson::Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return std::string(sb.GetString(), sb.GetSize());
}

const rapidjson::Value* Member(const rapidjson::Value& obj, const char* name) {
  if (!obj.IsObject()) return nullptr;
  const auto it = obj.FindMember(name);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

const rapidjson::Value* Path(const rapidjson::Value& root, std::initializer_list<const char*> names) {
  const rapidjson::Value* v = &root;
  for (const char* n : names) {
    v = Member(*v, n);
    if (v == nullptr) return nullptr;
  }
  return v;
}

std::optional<std::string> StringAt(const rapidjson::Value& root, std::initializer_list<const char*> names) {
  const rapidjson::Value* v = Path(root, names);
  if (v == nullptr || !v->IsString()) return std::nullopt;
  return std::string(v->GetString(), v->GetStringLength());
}

// CC V3 messages reject fields they do not know: 422 "Unknown field(s): 'a', 'b'".
std::optional<Reply> RejectUnknownFields(const rapidjson::Value& obj, std::initializer_list<const char*> allowed) {
  if (!obj.IsObject()) return Unprocessable("Request body must be an object");
  std::vector<std::string> unknown;
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
    const std::string name(it->name.GetString(), it->name.GetStringLength());
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return name == a; })) {
      unknown.push_back("'" + name + "'");
    }
  }
  if (unknown.empty()) return std::nullopt;
  return Unprocessable("Unknown field(s): " + Join(unknown, ", "));
}

// Scalar JSON values as CC stores environment variables (strings; numbers and booleans as text).
std::optional<std::string> ScalarText(const rapidjson::Value& v) {
  if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
  if (v.IsBool()) return std::string(v.GetBool() ? "true" : "false");
  if (v.IsNumber()) return Serialize(v);
  return std::nullopt;
}

// ---- CC message validation ------------------------------------------------------------------------
//
// A CC V3 message (app/messages/*.rb, ActiveModel) collects every error its validators add, in the
// order they are declared (a parent class's first), and the controller answers
// `unprocessable!(message.errors.full_messages)`: 422 10008 CF-UnprocessableEntity whose detail is
// the full messages joined with ", " (app/controllers/v3/application_controller.rb; an Array
// argument is joined that way in lib/cloud_controller/errors/api_error.rb; errors/v2.yml 10008
// "%s"). A full message is the humanized attribute, a space and the message ("Lifecycle type must
// be a string"); errors on :base are the bare message.
struct Errors {
  std::vector<std::string> list;
  void Add(std::string message) { list.push_back(std::move(message)); }
  bool ok() const { return list.empty(); }
  Reply Refusal() const { return Unprocessable(Join(list, ", ")); }
};

// Ruby's `to_s` of a parsed JSON value (nil is "").
std::string RubyToS(const rapidjson::Value& v) {
  if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
  if (v.IsNull()) return "";
  if (v.IsBool()) return v.GetBool() ? "true" : "false";
  return Serialize(v);
}

// Rails' Object#present? of a parsed JSON value.
bool Present(const rapidjson::Value* v) {
  if (v == nullptr || v->IsNull() || v->IsFalse()) return false;
  if (v->IsString()) return !Blank(std::string_view(v->GetString(), v->GetStringLength()));
  if (v->IsObject()) return v->MemberCount() > 0;
  if (v->IsArray()) return !v->Empty();
  return true;
}

// NoAdditionalKeysValidator (app/messages/base_message.rb): one :base error naming every unknown key.
void UnknownFieldErrors(const rapidjson::Value& obj, std::initializer_list<const char*> allowed, Errors* e) {
  if (!obj.IsObject()) return;
  std::vector<std::string> unknown;
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
    const std::string name(it->name.GetString(), it->name.GetStringLength());
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return name == a; })) unknown.push_back(name);
  }
  if (!unknown.empty()) e->Add("Unknown field(s): '" + Join(unknown, "', '") + "'");
}

// StringValidator + LengthValidator (`string: true, length: {in: min..max, message: ...}`,
// app/messages/validators.rb; ActiveModel measures `to_s` of a non-string). `v` nullptr or null:
// allow_nil.
void StringLengthErrors(const rapidjson::Value* v, const std::string& attr, std::size_t min, std::size_t max,
                        const std::string& length_message, Errors* e) {
  if (v == nullptr || v->IsNull()) return;
  if (!v->IsString()) e->Add(attr + " must be a string");
  const std::size_t n = Utf8Length(RubyToS(*v));
  if (n < min || n > max) e->Add(attr + " " + length_message);
}

// ActiveModel's numericality validator with only_integer (`numericality: {only_integer: true,
// greater_than[_or_equal_to]: N, less_than_or_equal_to: MAX}, allow_nil: true`). Stores the value in
// *out when it is valid.
void IntegerErrors(const rapidjson::Value* v, const std::string& attr, std::optional<std::int64_t> greater_than,
                   std::optional<std::int64_t> at_least, std::int64_t at_most, Errors* e, std::optional<std::int64_t>* out) {
  if (v == nullptr || v->IsNull()) return;
  std::int64_t n = 0;
  if (v->IsInt64()) {
    n = v->GetInt64();
  } else if (v->IsUint64()) {
    e->Add(attr + " must be less than or equal to " + std::to_string(at_most));
    return;
  } else if (v->IsDouble()) {
    e->Add(attr + " must be an integer");
    return;
  } else if (v->IsString()) {
    const std::string s = v->GetString();
    const std::string digits = !s.empty() && (s[0] == '+' || s[0] == '-') ? s.substr(1) : s;
    if (digits.empty() || digits.size() > 18 || !AllDigits(digits)) {
      char* end = nullptr;
      std::strtod(s.c_str(), &end);
      const bool number = !s.empty() && end != nullptr && *end == '\0';
      e->Add(attr + (number ? " must be an integer" : " is not a number"));
      return;
    }
    n = std::stoll(s);
  } else {
    e->Add(attr + " is not a number");
    return;
  }
  if (greater_than && n <= *greater_than) {
    e->Add(attr + " must be greater than " + std::to_string(*greater_than));
  } else if (at_least && n < *at_least) {
    e->Add(attr + " must be greater than or equal to " + std::to_string(*at_least));
  } else if (n > at_most) {
    e->Add(attr + " must be less than or equal to " + std::to_string(at_most));
  } else {
    *out = n;
  }
}

constexpr std::int64_t kMaxDbInt = 2147483647;             // BaseMessage::MAX_DB_INT
constexpr std::int64_t kMaxDbBigint = 9223372036854775807;  // BaseMessage::MAX_DB_BIGINT

// app/messages/validators/metadata_validator.rb, on a message's `metadata` (present in the body).
void MetadataErrors(const rapidjson::Value& metadata, Errors* e) {
  if (!metadata.IsObject()) {
    e->Add("Metadata must be an object");
    return;
  }
  std::vector<std::string> unexpected;
  for (auto it = metadata.MemberBegin(); it != metadata.MemberEnd(); ++it) {
    const std::string name(it->name.GetString(), it->name.GetStringLength());
    if (name != "labels" && name != "annotations") unexpected.push_back("'" + name + "'");
  }
  if (!unexpected.empty()) e->Add("Metadata has unexpected field(s): " + Join(unexpected, " "));
  const rapidjson::Value* labels = Member(metadata, "labels");
  if (labels != nullptr && !labels->IsNull() && !labels->IsFalse()) {
    if (!labels->IsObject()) {
      e->Add("Metadata 'labels' is not an object");
    } else {
      for (auto it = labels->MemberBegin(); it != labels->MemberEnd(); ++it) {
        const std::string key(it->name.GetString(), it->name.GetStringLength());
        if (auto err = MetadataKeyError(key)) e->Add("Metadata label key error: " + *err);
        if (auto err = MetadataValueError(RubyToS(it->value))) e->Add("Metadata label value error: " + *err);
      }
    }
  }
  const rapidjson::Value* annotations = Member(metadata, "annotations");
  if (annotations != nullptr && !annotations->IsNull() && !annotations->IsFalse()) {
    if (!annotations->IsObject()) {
      e->Add("Metadata 'annotations' is not an object");
    } else {
      for (auto it = annotations->MemberBegin(); it != annotations->MemberEnd(); ++it) {
        const std::string key(it->name.GetString(), it->name.GetStringLength());
        // The key is only checked when the value is present (a null deletes the annotation).
        if (auto err = MetadataKeyError(key); err && Present(&it->value)) e->Add("Metadata annotation key error: " + *err);
        if (it->value.IsString() && Utf8Length(it->value.GetString()) > 5000) {
          e->Add("Metadata annotation value error: '" + Utf8Prefix(it->value.GetString(), 8) +
                 "...' is greater than 5000 characters");
        }
      }
    }
  }
}

// The metadata of a validated message applied (app/actions/labels_update.rb,
// annotations_update.rb): a null value deletes the key.
void ApplyMetadata(const rapidjson::Value* metadata, std::map<std::string, std::string>* labels,
                   std::map<std::string, std::string>* annotations) {
  if (metadata == nullptr || !metadata->IsObject()) return;
  for (const auto& [field, target] : {std::pair{"labels", labels}, std::pair{"annotations", annotations}}) {
    const rapidjson::Value* m = Member(*metadata, field);
    if (m == nullptr || !m->IsObject()) continue;
    for (auto it = m->MemberBegin(); it != m->MemberEnd(); ++it) {
      const std::string key(it->name.GetString(), it->name.GetStringLength());
      if (it->value.IsNull()) {
        target->erase(key);
      } else {
        (*target)[key] = RubyToS(it->value);
      }
    }
  }
}

// ActiveSupport's String#humanize of a relationship name: "service_instance" -> "Service instance".
std::string Humanize(std::string s) {
  std::replace(s.begin(), s.end(), '_', ' ');
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

// `validates :<name>, presence: true, allow_nil: false, to_one_relationship: true` on a
// relationships message (app/messages/validators.rb ToOneRelationshipValidator, GuidValidator).
void ToOneErrors(const rapidjson::Value& relationships, const char* name, Errors* e) {
  const rapidjson::Value* r = Member(relationships, name);
  const std::string attr = Humanize(name);
  if (!Present(r)) e->Add(attr + " can't be blank");
  const auto only_key = [](const rapidjson::Value* obj, const char* key) {
    return obj != nullptr && obj->IsObject() && obj->MemberCount() == 1 && obj->MemberBegin()->name == key;
  };
  const rapidjson::Value* data = only_key(r, "data") ? &r->MemberBegin()->value : nullptr;
  if (data == nullptr || !(data->IsNull() || only_key(data, "guid"))) {
    e->Add(attr + " must be structured like this: \"" + name + ": {\"data\": {\"guid\": \"valid-guid\"}}\"");
    return;
  }
  if (data->IsNull()) return;
  const rapidjson::Value& guid = data->MemberBegin()->value;
  if (!guid.IsString()) e->Add(attr + " guid must be a string");
  if (!guid.IsString() || guid.GetStringLength() < 1 || Utf8Length(guid.GetString()) > 200) {
    e->Add(attr + " guid must be between 1 and 200 characters");
  }
}

// RelationshipValidator (app/messages/validators.rb): the relationships message's own errors, each
// as a "Relationships ..." full message. `no_additional_keys`: that message has a
// NoAdditionalKeysValidator (checked after `before`'s relationships and before `after`'s).
void RelationshipErrors(const rapidjson::Value* relationships, std::initializer_list<const char*> before,
                        std::initializer_list<const char*> after, bool no_additional_keys,
                        std::initializer_list<const char*> allowed, Errors* e) {
  if (relationships == nullptr || !relationships->IsObject()) {
    e->Add("Relationships 'relationships' is not an object");
    return;
  }
  if (relationships->MemberCount() == 0) {
    e->Add("Relationships 'relationships' must include one or more valid relationships");
    return;
  }
  Errors inner;
  for (const char* name : before) ToOneErrors(*relationships, name, &inner);
  if (no_additional_keys) UnknownFieldErrors(*relationships, allowed, &inner);
  for (const char* name : after) ToOneErrors(*relationships, name, &inner);
  for (const std::string& m : inner.list) e->Add("Relationships " + m);
}

// Environment variable names: EnvironmentVariablesValidator and
// EnvironmentVariablesStringValuesValidator (app/messages/validators.rb); the first rule a name
// breaks (/\AVCAP_/i, /\AVMC/i - no underscore -, /\APORT\z/i).
std::optional<std::string> EnvKeyError(const std::string& key) {
  const std::string lower = Lower(key);
  if (key.empty()) return "key must be a minimum length of 1";
  if (StartsWith(lower, "vcap_")) return "cannot start with VCAP_";
  if (StartsWith(lower, "vmc")) return "cannot start with VMC_";
  if (lower == "port") return "cannot set PORT";
  return std::nullopt;
}

Json MetadataJson(const std::map<std::string, std::string>& labels,
                  const std::map<std::string, std::string>& annotations) {
  return Json::Object{{"labels", StringMap(labels)}, {"annotations", StringMap(annotations)}};
}

// ================================================================================================
// Session-report POSTs, on background threads: each container reports on its own, so reports are
// posted concurrently (up to Reporter::kThreads at a time), each when its own delay has passed.
// ================================================================================================

struct PendingReport {
  std::string app_guid;
  std::string url;
  std::string bearer_token;
  std::string body;
  std::string content_type;
  std::chrono::milliseconds delay{0};
  std::chrono::milliseconds timeout{5000};
};

size_t CurlAppend(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// Owns the threads; Stop() drops queued reports that have not started and joins.
class Reporter {
 public:
  static constexpr std::size_t kThreads = 8;

  Reporter() = default;
  ~Reporter() { Stop(); }

  void Enqueue(PendingReport report) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    if (threads_.empty()) {
      for (std::size_t i = 0; i < kThreads; ++i) threads_.emplace_back([this] { Run(); });
    }
    const auto due = std::chrono::steady_clock::now() + report.delay;
    queue_.emplace(due, std::move(report));
    cv_.notify_all();
  }

  void Stop() {
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      queue_.clear();
      threads.swap(threads_);
    }
    cv_.notify_all();
    for (auto& t : threads) t.join();
  }

  std::vector<FakeCloudController::SessionReportResult> Results() const {
    std::lock_guard<std::mutex> lock(mu_);
    return results_;
  }

  std::vector<FakeCloudController::SessionReportResult> Await(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return results_.size() >= n; });
    return results_;
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      const auto due = queue_.begin()->first;
      if (std::chrono::steady_clock::now() < due) {
        cv_.wait_until(lock, due);  // or an earlier report arrived, or Stop(): look again
        continue;
      }
      PendingReport r = std::move(queue_.begin()->second);
      queue_.erase(queue_.begin());
      lock.unlock();
      FakeCloudController::SessionReportResult result = Post(r);
      lock.lock();
      results_.push_back(std::move(result));
      cv_.notify_all();
    }
  }

  static FakeCloudController::SessionReportResult Post(const PendingReport& r) {
    FakeCloudController::SessionReportResult result;
    result.app_guid = r.app_guid;
    result.url = r.url;
    result.body = r.body;
    CURL* curl = curl_easy_init();
    if (curl == nullptr) {
      result.error = "curl_easy_init failed";
      return result;
    }
    curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, ("Content-Type: " + r.content_type).c_str());
    if (!r.bearer_token.empty()) headers = curl_slist_append(headers, ("Authorization: Bearer " + r.bearer_token).c_str());
    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(curl, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, r.body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(r.body.size()));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout.count()));
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &CurlAppend);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &result.response_body);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    const CURLcode rc = curl_easy_perform(curl);
    if (rc == CURLE_OK) {
      curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &result.status);
    } else {
      result.error = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return result;
  }

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  // Guarded by mu_.
  bool stopping_ = false;
  std::multimap<std::chrono::steady_clock::time_point, PendingReport> queue_;  // by due time
  std::vector<FakeCloudController::SessionReportResult> results_;
  std::vector<std::thread> threads_;
};

// ================================================================================================
// Local containers: process plumbing (Knobs::local_containers).
// ================================================================================================

constexpr char kDropletMarker[] = "ssh-access-fake-droplet.txt";

// A free TCP port on 127.0.0.1 for $PORT (8080 if none can be had).
int FreeLocalPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 8080;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 8080;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// dup2 that also works when `from` already is `to` (then it clears FD_CLOEXEC). Async-signal-safe.
void DupTo(int from, int to) {
  if (from == to) {
    ::fcntl(to, F_SETFD, 0);
  } else {
    ::dup2(from, to);
  }
}

struct Spawned {
  int pid = -1;
  int out = -1;  // read ends, non-blocking and close-on-exec
  int err = -1;
  std::string error;  // non-empty when nothing was started
};

// fork + exec of `/bin/bash -c command` as the leader of a new session and process group, with
// exactly `env`, cwd `dir`, stdin /dev/null and stdout/stderr on two pipes. Returns once the child
// has exec'd (or failed to), so the new process group already exists: a stop right after a start
// reaches the whole group. Everything the child needs is prepared before fork(): between fork and
// exec the child (of a multithreaded process) makes only async-signal-safe calls.
Spawned SpawnInGroup(const std::string& command, const std::string& dir, const std::map<std::string, std::string>& env) {
  Spawned s;
  std::vector<std::string> env_strings;
  for (const auto& [name, value] : env) env_strings.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string bash = "/bin/bash", dash_c = "-c", cmd = command;
  char* argv[] = {bash.data(), dash_c.data(), cmd.data(), nullptr};
  static constexpr char kChdirFailed[] = "fake cc: cannot enter the app folder\n";
  static constexpr char kExecFailed[] = "fake cc: cannot exec /bin/bash\n";
  rlimit lim{};
  int max_fd = 4096;
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
    max_fd = static_cast<int>(std::min<rlim_t>(lim.rlim_cur, 65536));
  }
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigset_t none, all, caller_mask;
  sigemptyset(&none);
  sigfillset(&all);

  // `exec_done`: its write end is close-on-exec, so the parent's read ends when exec happened.
  int out[2] = {-1, -1}, err[2] = {-1, -1}, exec_done[2] = {-1, -1};
  const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0 ||
      ::pipe2(exec_done, O_CLOEXEC) != 0) {
    s.error = std::string("cannot create the output pipes: ") + std::strerror(errno);
    for (int fd : {devnull, out[0], out[1], err[0], err[1], exec_done[0], exec_done[1]}) {
      if (fd >= 0) ::close(fd);
    }
    return s;
  }
  const int keep = exec_done[1];
  // Every signal stays blocked across fork until the child has reset the dispositions, so no
  // handler of the test process ever runs in the child.
  ::pthread_sigmask(SIG_SETMASK, &all, &caller_mask);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setsid();
    // Undo what the fake's process set for itself: handled and ignored signals (SIGPIPE), and
    // blocked ones (fake_cc blocks SIGINT and SIGTERM for sigwait; exec keeps the mask).
    for (int sig = 1; sig < 32; ++sig) {
      if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
    }
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    DupTo(devnull, STDIN_FILENO);
    DupTo(out[1], STDOUT_FILENO);
    DupTo(err[1], STDERR_FILENO);
    if (::chdir(dir.c_str()) != 0) {
      if (::write(STDERR_FILENO, kChdirFailed, sizeof kChdirFailed - 1) < 0) ::_exit(127);
      ::_exit(127);
    }
    // Not every descriptor of the test process is close-on-exec (sockets of other libraries):
    // a long-lived child must not keep the fake's or a client's connections open.
#ifdef SYS_close_range
    const bool closed = ::syscall(SYS_close_range, 3U, static_cast<unsigned>(keep - 1), 0U) == 0 &&
                        ::syscall(SYS_close_range, static_cast<unsigned>(keep + 1), ~0U, 0U) == 0;
#else
    const bool closed = false;
#endif
    if (!closed) {
      for (int fd = 3; fd < max_fd; ++fd) {
        if (fd != keep) ::close(fd);
      }
    }
    ::execve(argv[0], argv, envp.data());
    if (::write(STDERR_FILENO, kExecFailed, sizeof kExecFailed - 1) < 0) ::_exit(127);
    ::_exit(127);
  }
  const int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &caller_mask, nullptr);
  for (int fd : {devnull, out[1], err[1], exec_done[1]}) ::close(fd);
  if (pid < 0) {
    for (int fd : {out[0], err[0], exec_done[0]}) ::close(fd);
    s.error = std::string("fork: ") + std::strerror(fork_errno);
    return s;
  }
  char ignored;
  while (::read(exec_done[0], &ignored, 1) < 0 && errno == EINTR) {
  }
  ::close(exec_done[0]);
  ::fcntl(out[0], F_SETFL, O_NONBLOCK);
  ::fcntl(err[0], F_SETFL, O_NONBLOCK);
  s.pid = pid;
  s.out = out[0];
  s.err = err[0];
  return s;
}

// A pidfd for `pid` (readable once it exits), or -1 where the kernel has none.
int OpenPidFd(int pid) {
#ifdef SYS_pidfd_open
  const long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) {
    ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
    return static_cast<int>(fd);
  }
#else
  (void)pid;
#endif
  return -1;
}

void WriteAll(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    data += w;
    n -= static_cast<std::size_t>(w);
  }
}

}  // namespace

// ==================================================================================================
// The server state and its handlers.
// ==================================================================================================

struct FakeCloudController::Impl {
  // ---- Records (plain structs; all guarded by mu) ----
  struct OrgRec {
    std::uint64_t seq = 0;
    std::string guid, name;
    std::int64_t log_rate_limit = -1;  // its quota's log rate limit; -1: unlimited
    SysClock::time_point created, updated;
  };
  struct SpaceRec {
    std::uint64_t seq = 0;
    std::string guid, name, org_guid;
    std::int64_t log_rate_limit = -1;  // its space quota's log rate limit; -1: none or unlimited
    SysClock::time_point created, updated;
  };
  struct AppRec {
    std::uint64_t seq = 0;
    std::string guid, name, space_guid;
    std::string state = "STOPPED";
    Lifecycle lifecycle = Lifecycle::kBuildpack;
    std::vector<std::string> buildpacks;
    std::optional<std::string> stack;
    std::map<std::string, std::string> env, labels, annotations;
    std::string current_droplet;
    std::map<std::string, bool> features;
    bool created_through_api = false;
    int pending_delete_jobs = 0;
    SysClock::time_point created, updated;
  };
  struct DropletRec {
    std::uint64_t seq = 0;
    std::string guid, app_guid;
    Lifecycle lifecycle = Lifecycle::kBuildpack;
    std::string state = "STAGED";  // COPYING | STAGED | FAILED
    std::optional<std::string> error;
    std::map<std::string, std::string> process_types;
    std::string stack;
    std::vector<std::string> buildpacks;
    std::string image;
    int ticks_done = 0, ticks_needed = 1;
    bool will_fail = false, stuck = false;
    // Its app folder (local containers): a copy of `copied_from`'s, else a seeded one whose
    // marker names `origin_app_name` (the app it was seeded for; copies inherit the name).
    std::string copied_from, origin_app_name;
    SysClock::time_point created, updated;
  };
  struct ProcessRec {
    std::uint64_t seq = 0;
    std::string guid, app_guid, type;
    std::optional<std::string> command;
    int instances = 1, memory_in_mb = 1024, disk_in_mb = 1024;
    std::int64_t log_rate = -1;
    std::string hc_type = "port";
    std::optional<int> hc_timeout, hc_invocation_timeout;
    std::optional<std::string> hc_endpoint;
    std::string readiness_type = "process";
    std::map<std::string, std::string> labels, annotations;
    SysClock::time_point created, updated;
    // All instances share one state: DOWN | STARTING | RUNNING | CRASHED.
    std::string run_state = "DOWN";
    int run_ticks = 0;
    bool reported = false;  // session report sent for this start
    Steady::time_point running_since;
    std::uint64_t container_id = 0;  // the local container of this start (web only); 0: none
  };
  struct OfferingRec {
    std::uint64_t seq = 0;
    std::string guid, name, broker_name, broker_guid;
    bool bindable = true, retrievable = true;
    SysClock::time_point created, updated;
  };
  struct PlanRec {
    std::uint64_t seq = 0;
    std::string guid, name, offering_guid;
    SysClock::time_point created, updated;
  };
  struct InstanceRec {
    std::uint64_t seq = 0;
    std::string guid, name, space_guid, plan_guid;
    bool user_provided = false;
    std::string credentials_json = "{}";
    SysClock::time_point created, updated;
  };
  struct BindingRec {
    std::uint64_t seq = 0;
    std::string guid, app_guid, instance_guid;
    std::optional<std::string> name;
    std::string lo_type = "create", lo_state = "succeeded";
    std::optional<std::string> lo_description;
    std::string parameters_json = "{}";
    std::map<std::string, std::string> labels, annotations;
    SysClock::time_point created, updated;
  };
  enum class JobKind { kBindingCreate, kBindingDelete, kAppDelete, kDropletDelete };
  struct JobError {
    int code;
    std::string title, detail;
  };
  struct JobRec {
    std::uint64_t seq = 0;
    std::string guid, operation, resource_guid;
    JobKind kind = JobKind::kAppDelete;
    std::string state = "PROCESSING";  // PROCESSING | POLLING | COMPLETE | FAILED
    int ticks_done = 0, ticks_needed = 1;
    bool will_fail = false, stuck = false;
    std::vector<JobError> errors;
    SysClock::time_point created, updated;
  };
  struct EnvelopeRec {
    std::int64_t ts = 0;
    std::string instance_id, source_type, text;
    bool is_stderr = false;
  };
  struct TokenRec {
    std::string client_id, username;
    std::vector<std::string> scopes;
    Steady::time_point expires_at;
    bool revoked = false;
  };
  struct RefreshRec {
    std::string client_id, username;
    std::vector<std::string> scopes;
  };
  struct UserRec {
    std::string password;
    std::vector<std::string> scopes;
  };
  struct FaultRec {
    Fault fault;
    int seen = 0;
  };

  // What a handler sees of one request.
  struct Call {
    std::string method, path, route;
    std::map<std::string, std::string> params;     // path parameters, decoded ("guid" -> ...)
    std::map<std::string, std::string> query;      // decoded
    std::map<std::string, std::string> raw_query;  // as received
    std::string body, authorization;
    const TokenRec* token = nullptr;
    std::vector<PendingReport> reports;  // enqueued after the state lock is released

    const std::string& Param(const std::string& name) const { return params.at(name); }
    bool Has(const std::string& name) const { return query.count(name) > 0; }
    std::string Query(const std::string& name) const {
      const auto it = query.find(name);
      return it == query.end() ? std::string() : it->second;
    }
  };

  struct Page {
    int page = 1;
    int per_page = 50;
    std::string order_by = "created_at";
  };

  enum class AuthKind { kNone, kCloudController };
  using Handler = Reply (FakeCloudController::Impl::*)(Call&);
  struct RouteDef {
    Pistache::Http::Method method;
    const char* pattern;
    AuthKind auth;
    Handler handler;
  };
  static const std::vector<RouteDef>& Routes();

  // ---- Immutable after Start / lifecycle ----
  std::mutex lifecycle_mu;
  std::shared_ptr<Pistache::Rest::Router> router;
  std::unique_ptr<Pistache::Http::Endpoint> endpoint;
  bool started = false;
  // Slow responses wait on this; Stop() wakes them.
  std::mutex sleep_mu;
  std::condition_variable sleep_cv;
  bool stopping = false;  // guarded by sleep_mu
  Reporter reporter;
  // Accepted connections by fd, with their addresses (so a reused fd number is never mistaken
  // for one of ours). Guarded by conn_mu.
  struct Connection {
    sockaddr_in local{};
    sockaddr_in peer{};
  };
  std::mutex conn_mu;
  std::map<int, Connection> connections;
  void RememberConnection(int fd);
  void CloseLeftoverConnections();

  // ---- Guarded by mu ----
  mutable std::mutex mu;
  std::string base_url;
  int port = 0;
  std::uint64_t next_id = 0;
  std::uint64_t next_request_id = 0;
  Knobs knobs;
  std::vector<FaultRec> faults;
  std::vector<JournalEntry> journal;
  std::map<std::string, OrgRec> orgs;
  std::map<std::string, SpaceRec> spaces;
  std::map<std::string, AppRec> apps;
  std::map<std::string, DropletRec> droplets;
  std::map<std::string, ProcessRec> processes;
  std::map<std::string, OfferingRec> offerings;
  std::map<std::string, PlanRec> plans;
  std::map<std::string, InstanceRec> instances;
  std::map<std::string, BindingRec> bindings;
  std::map<std::string, JobRec> jobs;
  std::map<std::string, std::vector<EnvelopeRec>> logs;  // by app guid
  std::map<std::string, UaaClient> clients;
  std::map<std::string, UserRec> users;
  std::map<std::string, TokenRec> tokens;
  std::map<std::string, RefreshRec> refresh_tokens;
  std::set<std::string> stacks{"cflinuxfs3", "cflinuxfs4"};

  // ---- Local containers (Knobs::local_containers); guarded by mu ----
  struct OutputStream {
    int fd = -1;      // the pipe's non-blocking read end; -1 once closed
    int log_fd = -1;  // stdout.log / stderr.log (O_APPEND); -1 once closed
    bool is_stderr = false;
    std::string partial;  // bytes after the last newline
  };
  struct ContainerRec {
    std::uint64_t id = 0;
    std::string app_guid, instance_guid, command, app_dir, stdout_path, stderr_path;
    std::map<std::string, std::string> env;
    int pid = -1;     // the leader, also the process group id; -1 when the launch failed
    int pidfd = -1;   // readable once the leader exits (-1: the supervisor polls periodically)
    // False while the leader is ours (not waited for): only then may its pid and group be
    // signalled. Set by the supervisor under mu, so a signal sent under mu never hits a stranger.
    bool reaped = true;
    std::optional<int> exit_status;  // exit code, or 128 + signal
    bool stop_requested = false;
    std::chrono::milliseconds stop_grace{2000};
    std::optional<Steady::time_point> kill_at;  // SIGKILL the group then, if still running
    OutputStream out, err;
  };
  std::map<std::uint64_t, ContainerRec> containers;      // live ones and each app's latest
  std::map<std::string, std::uint64_t> latest_container;  // app guid -> container id
  std::int64_t last_output_ts = 0;  // container lines get strictly increasing timestamps
  std::thread container_thread;     // the supervisor, started with the first container
  int wake_pipe[2] = {-1, -1};      // written to wake the supervisor (non-blocking)
  bool containers_closed = false;   // Stop(): no new container
  std::string inherited_path;       // PATH of the fake's process, read once

  Impl() {
    clients["cf"] = UaaClient{"cf", "", {"password", "refresh_token"}, {}};
    const char* path = std::getenv("PATH");
    inherited_path = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  }
  ~Impl() {
    for (auto& [id, c] : containers) {
      for (int fd : {c.out.fd, c.out.log_fd, c.err.fd, c.err.log_fd, c.pidfd}) {
        if (fd >= 0) ::close(fd);
      }
    }
    for (int fd : wake_pipe) {
      if (fd >= 0) ::close(fd);
    }
  }

  // ---- Ids, urls ----
  std::uint64_t NextSeq() { return ++next_id; }
  // A UUID-shaped guid whose first group tells the kind ("a..." app, "d..." droplet, ...).
  std::string NewGuid(const char* kind8, std::uint64_t seq) const {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s-0000-4000-8000-%012" PRIx64, kind8, seq);
    return buf;
  }
  std::string Url(const std::string& path) const { return base_url + path; }
  std::string LocationBase() const { return knobs.location_base.empty() ? base_url : knobs.location_base; }

  // ---- Dispatch ----
  void Serve(const RouteDef* def, const Pistache::Rest::Request& req, Pistache::Http::ResponseWriter& resp);
  Reply Handle(const RouteDef* def, Call& c);
  std::optional<Fault> MatchFault(const Call& c);
  Reply FaultReply(const Fault& f, const Call& c);
  std::optional<Reply> Authenticate(Call& c);
  const TokenRec* ValidToken(const std::string& authorization) const;
  // Waits `d`; false when Stop() cut the wait short.
  bool SleepInterruptibly(std::chrono::milliseconds d);

  // ---- Helpers ----
  std::optional<Reply> CheckQuery(const Call& c, std::initializer_list<const char*> allowed) const;
  std::optional<Reply> ParsePage(const Call& c, Page* page, std::initializer_list<const char*> order_keys) const;
  std::optional<Reply> ParseInclude(const Call& c, std::initializer_list<const char*> allowed,
                                    std::set<std::string>* out) const;
  std::optional<Reply> ParseSelector(const Call& c, std::optional<std::vector<LabelRequirement>>* out) const;
  std::optional<std::set<std::string>> FilterSet(const Call& c, const std::string& name) const;
  std::string PageLink(const Call& c, int page, int per_page) const;
  template <typename Rec>
  Reply List(const Call& c, const Page& p, std::vector<const Rec*> recs, const std::function<Json(const Rec&)>& render,
             const std::function<Json::Object(const std::vector<const Rec*>&)>& included = nullptr) const;
  void AddWarnings(Reply* r) const;
  Reply Accepted(const std::string& job_guid) const;
  std::string NewJob(JobKind kind, const std::string& operation, const std::string& resource_guid, int ticks,
                     bool will_fail, bool stuck);
  void TickJob(JobRec& job);
  void TickBindingCreateJob(const std::string& binding_guid);
  void FinishJob(JobRec& job);
  void EraseApp(const std::string& app_guid);
  ProcessRec& AddProcess(const AppRec& app, const std::string& guid, const std::string& type, int instances);
  std::optional<std::string> EffectiveCommand(const ProcessRec& p) const;
  void TickProcess(AppRec& app, ProcessRec& p, Call& c);
  void Log(const std::string& app_guid, const std::string& source_type, const std::string& text, bool is_stderr);
  std::optional<PendingReport> MakeReport(const AppRec& app) const;

  // ---- Local containers (all under mu but SuperviseContainers and StopAllContainers) ----
  std::filesystem::path ContainerRoot() const;  // knobs.local_containers->root_dir, absolute
  std::filesystem::path DropletFolder(const std::string& droplet_guid) const;
  // Creates the droplet's app folder if missing (a copy of its source's, else the marker).
  void EnsureDropletFolder(const std::string& droplet_guid, int depth = 0);
  std::string VcapApplication(const AppRec& app, const ProcessRec& web, const std::string& instance_guid) const;
  std::string VcapServices(const AppRec& app) const;
  // Runs the web command of a just-started app (DoStart); sets web.container_id.
  void LaunchContainer(AppRec& app, ProcessRec& web);
  void StopContainer(ContainerRec& c);  // SIGTERM now, SIGKILL at stop_grace
  void StopContainersOfApp(const std::string& app_guid);
  void WakeSupervisor();
  void SuperviseContainers();  // the supervisor thread's body; takes mu per round
  void ServiceContainersLocked();
  // Reads what is available (to EOF or EAGAIN when `final`, then closes the stream).
  void ReadOutputLocked(ContainerRec& c, OutputStream& s, bool final);
  void EmitLineLocked(const ContainerRec& c, const OutputStream& s, std::string line);
  void CloseOutputLocked(ContainerRec& c, OutputStream& s);
  // Records the leader's end (status from waitpid, nullopt if unknown) and crashes its instance.
  void FinishContainerLocked(ContainerRec& c, std::optional<int> wait_status);
  static std::string ExitLine(const ContainerRec& c);
  void StopAllContainers();  // Stop(): stops every container, joins the supervisor
  std::string Expand(const std::string& tmpl, const AppRec& app) const;
  std::string IssueTokenLocked(const std::string& client_id, const std::string& username,
                               const std::vector<std::string>& scopes, Json::Object* response);
  void ApplyEnv(const rapidjson::Value& vars, std::map<std::string, std::string>* env) const;
  std::string ExcludedBy(const AppRec& app) const;

  // ---- Renderers ----
  Json AppJson(const AppRec& a) const;
  Json SpaceJson(const SpaceRec& s) const;
  Json OrgJson(const OrgRec& o) const;
  Json DropletJson(const DropletRec& d) const;
  Json ProcessJson(const ProcessRec& p, bool in_list) const;
  Json StatsJson(const AppRec& app, const ProcessRec& p, int index) const;
  Json BindingJson(const BindingRec& b) const;
  Json InstanceJson(const InstanceRec& i) const;
  Json OfferingJson(const OfferingRec& o) const;
  Json PlanJson(const PlanRec& p) const;
  Json JobJson(const JobRec& j) const;
  Json FeatureJson(const std::string& name, bool enabled) const;
  Json::Object AppIncludes(const std::set<std::string>& include, const std::vector<const AppRec*>& apps) const;

  // ---- Shared actions ----
  Reply DoStart(AppRec& app, Call& c);
  void DoStop(AppRec& app);
  Reply DoScale(ProcessRec& p, Call& c);
  std::vector<std::string> LogRateQuotaErrors(const ProcessRec& before, bool was_started, const ProcessRec& after,
                                              const std::set<std::string>& started_now) const;
  Reply DoStats(ProcessRec& p, Call& c);
  AppRec* FindApp(const std::string& guid);
  static AppView ToView(const AppRec& a);
  static BindingView ToView(const BindingRec& b);
  ProcessRec* FindProcess(const std::string& app_guid, const std::string& type);

  // ---- Handlers (one per endpoint) ----
  Reply GetRoot(Call& c);
  Reply GetV3Root(Call& c);
  Reply PostToken(Call& c);
  Reply ReadLogs(Call& c);
  Reply ListApps(Call& c);
  Reply CreateApp(Call& c);
  Reply GetApp(Call& c);
  Reply UpdateApp(Call& c);
  Reply DeleteApp(Call& c);
  Reply GetAppEnv(Call& c);
  Reply PatchAppEnv(Call& c);
  Reply GetCurrentDroplet(Call& c);
  Reply GetCurrentDropletRelationship(Call& c);
  Reply SetCurrentDroplet(Call& c);
  Reply ListAppProcesses(Call& c);
  Reply GetAppProcess(Call& c);
  Reply GetAppProcessStats(Call& c);
  Reply ScaleAppProcess(Call& c);
  Reply StartApp(Call& c);
  Reply StopApp(Call& c);
  Reply RestartApp(Call& c);
  Reply ListAppFeatures(Call& c);
  Reply GetAppFeature(Call& c);
  Reply PatchAppFeature(Call& c);
  Reply CopyDroplet(Call& c);
  Reply GetDroplet(Call& c);
  Reply DeleteDroplet(Call& c);
  Reply GetProcess(Call& c);
  Reply PatchProcess(Call& c);
  Reply ScaleProcess(Call& c);
  Reply GetProcessStats(Call& c);
  Reply ListBindings(Call& c);
  Reply CreateBinding(Call& c);
  Reply GetBinding(Call& c);
  Reply GetBindingParameters(Call& c);
  Reply GetBindingDetails(Call& c);
  Reply DeleteBinding(Call& c);
  Reply GetJob(Call& c);
  Reply ListServiceOfferings(Call& c);
  Reply ListServicePlans(Call& c);
  Reply ListServiceInstances(Call& c);
  Reply GetServiceInstance(Call& c);
  Reply GetSpace(Call& c);
  Reply GetOrg(Call& c);
  Reply GetFeatureFlag(Call& c);
};

using Method = Pistache::Http::Method;

const std::vector<FakeCloudController::Impl::RouteDef>& FakeCloudController::Impl::Routes() {
  constexpr AuthKind kNone = AuthKind::kNone;
  constexpr AuthKind kCc = AuthKind::kCloudController;
  static const std::vector<RouteDef> kRoutes = {
      {Method::Get, "/", kNone, &FakeCloudController::Impl::GetRoot},
      {Method::Get, "/v3", kNone, &FakeCloudController::Impl::GetV3Root},
      {Method::Post, "/oauth/token", kNone, &FakeCloudController::Impl::PostToken},      // fake UAA
      {Method::Get, "/api/v1/read/:source_id", kNone, &FakeCloudController::Impl::ReadLogs},  // fake log-cache
      {Method::Get, "/v3/apps", kCc, &FakeCloudController::Impl::ListApps},
      {Method::Post, "/v3/apps", kCc, &FakeCloudController::Impl::CreateApp},
      {Method::Get, "/v3/apps/:guid", kCc, &FakeCloudController::Impl::GetApp},
      {Method::Patch, "/v3/apps/:guid", kCc, &FakeCloudController::Impl::UpdateApp},
      {Method::Delete, "/v3/apps/:guid", kCc, &FakeCloudController::Impl::DeleteApp},
      {Method::Get, "/v3/apps/:guid/environment_variables", kCc, &FakeCloudController::Impl::GetAppEnv},
      {Method::Patch, "/v3/apps/:guid/environment_variables", kCc, &FakeCloudController::Impl::PatchAppEnv},
      {Method::Get, "/v3/apps/:guid/droplets/current", kCc, &FakeCloudController::Impl::GetCurrentDroplet},
      {Method::Get, "/v3/apps/:guid/relationships/current_droplet", kCc, &FakeCloudController::Impl::GetCurrentDropletRelationship},
      {Method::Patch, "/v3/apps/:guid/relationships/current_droplet", kCc, &FakeCloudController::Impl::SetCurrentDroplet},
      {Method::Get, "/v3/apps/:guid/processes", kCc, &FakeCloudController::Impl::ListAppProcesses},
      {Method::Get, "/v3/apps/:guid/processes/:type", kCc, &FakeCloudController::Impl::GetAppProcess},
      {Method::Get, "/v3/apps/:guid/processes/:type/stats", kCc, &FakeCloudController::Impl::GetAppProcessStats},
      {Method::Post, "/v3/apps/:guid/processes/:type/actions/scale", kCc, &FakeCloudController::Impl::ScaleAppProcess},
      {Method::Post, "/v3/apps/:guid/actions/start", kCc, &FakeCloudController::Impl::StartApp},
      {Method::Post, "/v3/apps/:guid/actions/stop", kCc, &FakeCloudController::Impl::StopApp},
      {Method::Post, "/v3/apps/:guid/actions/restart", kCc, &FakeCloudController::Impl::RestartApp},
      {Method::Get, "/v3/apps/:guid/features", kCc, &FakeCloudController::Impl::ListAppFeatures},
      {Method::Get, "/v3/apps/:guid/features/:name", kCc, &FakeCloudController::Impl::GetAppFeature},
      {Method::Patch, "/v3/apps/:guid/features/:name", kCc, &FakeCloudController::Impl::PatchAppFeature},
      {Method::Post, "/v3/droplets", kCc, &FakeCloudController::Impl::CopyDroplet},
      {Method::Get, "/v3/droplets/:guid", kCc, &FakeCloudController::Impl::GetDroplet},
      {Method::Delete, "/v3/droplets/:guid", kCc, &FakeCloudController::Impl::DeleteDroplet},
      {Method::Get, "/v3/processes/:guid", kCc, &FakeCloudController::Impl::GetProcess},
      {Method::Patch, "/v3/processes/:guid", kCc, &FakeCloudController::Impl::PatchProcess},
      {Method::Post, "/v3/processes/:guid/actions/scale", kCc, &FakeCloudController::Impl::ScaleProcess},
      {Method::Get, "/v3/processes/:guid/stats", kCc, &FakeCloudController::Impl::GetProcessStats},
      {Method::Get, "/v3/service_credential_bindings", kCc, &FakeCloudController::Impl::ListBindings},
      {Method::Post, "/v3/service_credential_bindings", kCc, &FakeCloudController::Impl::CreateBinding},
      {Method::Get, "/v3/service_credential_bindings/:guid", kCc, &FakeCloudController::Impl::GetBinding},
      {Method::Get, "/v3/service_credential_bindings/:guid/parameters", kCc, &FakeCloudController::Impl::GetBindingParameters},
      {Method::Get, "/v3/service_credential_bindings/:guid/details", kCc, &FakeCloudController::Impl::GetBindingDetails},
      {Method::Delete, "/v3/service_credential_bindings/:guid", kCc, &FakeCloudController::Impl::DeleteBinding},
      {Method::Get, "/v3/jobs/:guid", kCc, &FakeCloudController::Impl::GetJob},
      {Method::Get, "/v3/service_offerings", kCc, &FakeCloudController::Impl::ListServiceOfferings},
      {Method::Get, "/v3/service_plans", kCc, &FakeCloudController::Impl::ListServicePlans},
      {Method::Get, "/v3/service_instances", kCc, &FakeCloudController::Impl::ListServiceInstances},
      {Method::Get, "/v3/service_instances/:guid", kCc, &FakeCloudController::Impl::GetServiceInstance},
      {Method::Get, "/v3/spaces/:guid", kCc, &FakeCloudController::Impl::GetSpace},
      {Method::Get, "/v3/organizations/:guid", kCc, &FakeCloudController::Impl::GetOrg},
      {Method::Get, "/v3/feature_flags/:name", kCc, &FakeCloudController::Impl::GetFeatureFlag},
  };
  return kRoutes;
}

// ---- Dispatch ------------------------------------------------------------------------------------

namespace {

// Any response header by name. Pistache 0.0.5 silently drops headers added with addRaw() from
// responses; only Header objects are serialised.
class AnyHeader : public Pistache::Http::Header::Header {
 public:
  AnyHeader(std::string name, std::string value) : name_(std::move(name)), value_(std::move(value)) {}
  const char* name() const override { return name_.c_str(); }
  void write(std::ostream& os) const override { os << value_; }
#ifdef SAFE_HEADER_CAST
  std::uint64_t hash() const override { return std::hash<std::string>{}(name_); }
#endif

 private:
  std::string name_;
  std::string value_;
};

void SendReply(const Pistache::Rest::Request& req, Pistache::Http::ResponseWriter& resp, const Reply& reply) {
  using Pistache::Http::Header::Connection;
  // Pistache 0.0.5 answers "Connection: Close" to requests without a Connection header, which
  // would make every HTTP/1.1 client reconnect per call.
  if (req.version() == Pistache::Http::Version::Http11 && !req.headers().has<Connection>()) {
    resp.headers().remove<Connection>();
    resp.headers().add<Connection>(Pistache::Http::ConnectionControl::KeepAlive);
  }
  for (const auto& [name, value] : reply.headers) resp.headers().add(std::make_shared<AnyHeader>(name, value));
  if (!reply.body.empty()) resp.headers().add<Pistache::Http::Header::ContentType>(MIME(Application, Json));
  resp.send(static_cast<Pistache::Http::Code>(reply.status), reply.body);
}

// Closes the connection without an answer: with SO_LINGER 0 the close Pistache does once it reads
// EOF (after our SHUT_RD) sends an RST, so the client sees "connection reset by peer".
void ResetConnection(Pistache::Http::ResponseWriter& resp) {
  const std::shared_ptr<Pistache::Tcp::Peer> peer = resp.peer();
  if (!peer) return;
  const int fd = peer->fd();
  linger lg{};
  lg.l_onoff = 1;
  lg.l_linger = 0;
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  ::shutdown(fd, SHUT_RD);
}

std::string BearerOf(const std::string& authorization) {
  if (authorization.size() < 7 || Lower(authorization.substr(0, 7)) != "bearer ") return "";
  return Trim(authorization.substr(7));
}

const char* FaultName(FakeCloudController::Fault::Kind k) {
  using K = FakeCloudController::Fault::Kind;
  switch (k) {
    case K::kExpiredToken: return "expired_token";
    case K::kRateLimited: return "rate_limited";
    case K::kInternalError: return "internal_error";
    case K::kServiceUnavailable: return "service_unavailable";
    case K::kInstancesUnavailable: return "instances_unavailable";
    case K::kConnectionReset: return "connection_reset";
    case K::kSlowResponse: return "slow_response";
  }
  return "fault";
}

}  // namespace

void FakeCloudController::Impl::Serve(const RouteDef* def, const Pistache::Rest::Request& req, Pistache::Http::ResponseWriter& resp) {
  Call c;
  c.method = Pistache::Http::methodString(req.method());
  c.path = req.resource();
  c.route = def != nullptr ? def->pattern : "";
  if (def != nullptr) {
    for (const std::string& segment : SplitList(def->pattern, '/')) {
      if (!segment.empty() && segment[0] == ':' && req.hasParam(segment)) {
        c.params[segment.substr(1)] = PercentDecode(req.param(segment).as<std::string>(), false);
      }
    }
  }
  for (auto it = req.query().parameters_begin(); it != req.query().parameters_end(); ++it) {
    c.raw_query[it->first] = it->second;
    c.query[PercentDecode(it->first, true)] = PercentDecode(it->second, true);
  }
  c.body = req.body();
  if (const auto auth = req.headers().tryGetRaw("Authorization")) c.authorization = auth->value();
  int client_port = 0;
  if (const std::shared_ptr<Pistache::Tcp::Peer> peer = resp.peer()) {
    RememberConnection(peer->fd());
    client_port = static_cast<int>(static_cast<std::uint16_t>(peer->address().port()));
  }
  const SysClock::time_point at = SysClock::now();

  std::optional<Fault> fault;
  {
    std::lock_guard<std::mutex> lock(mu);
    fault = MatchFault(c);
  }
  std::string fault_name;
  bool abandoned = false;  // Stop() cut a slow response short: answer nothing, the socket is closed
  if (fault && fault->kind == Fault::Kind::kSlowResponse) {
    abandoned = !SleepInterruptibly(fault->delay);
    fault_name = FaultName(fault->kind);
    fault.reset();
  }

  Reply reply;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (abandoned) {
      reply.reset = true;  // no state change, no answer
    } else if (fault) {
      reply = FaultReply(*fault, c);
      fault_name = FaultName(fault->kind);
    } else {
      reply = Handle(def, c);
    }
    reply.headers.emplace_back("X-Vcap-Request-Id", "fake-cc-" + std::to_string(++next_request_id));
    JournalEntry e;
    e.method = c.method;
    e.path = c.path;
    e.route = c.route;
    std::vector<std::string> q;
    for (const auto& [k, v] : c.raw_query) q.push_back(k + "=" + v);
    e.query = Join(q, "&");
    e.query_params = c.query;
    e.body = c.body;
    e.authorization = c.authorization;
    e.at = at;
    e.status = reply.reset ? 0 : reply.status;
    e.client_port = client_port;
    e.fault = fault_name;
    journal.push_back(std::move(e));
  }
  for (PendingReport& r : c.reports) reporter.Enqueue(std::move(r));
  if (abandoned) return;  // Stop() closes the connection once the Pistache threads are joined
  if (reply.reset) {
    ResetConnection(resp);
    return;
  }
  SendReply(req, resp, reply);
}

Reply FakeCloudController::Impl::Handle(const RouteDef* def, Call& c) {
  if (def == nullptr) return CcError(404, 10000, "CF-NotFound", "Unknown request");
  if (def->auth == AuthKind::kCloudController) {
    if (auto denied = Authenticate(c)) return *denied;
  }
  try {
    return (this->*(def->handler))(c);
  } catch (const std::exception& e) {
    return CcError(500, 10001, "UnknownError", std::string("An unknown error occurred: ") + e.what());
  }
}

std::optional<FakeCloudController::Fault> FakeCloudController::Impl::MatchFault(const Call& c) {
  std::optional<Fault> hit;
  for (FaultRec& r : faults) {
    const Fault& f = r.fault;
    if (!f.method.empty() && f.method != c.method) continue;
    if (!f.route.empty() && f.route != c.route && !GlobMatch(f.route, c.path)) continue;
    const int n = ++r.seen;
    if (!hit && n >= f.nth && (f.count == 0 || n < f.nth + f.count)) hit = f;
  }
  return hit;
}

Reply FakeCloudController::Impl::FaultReply(const Fault& f, const Call& c) {
  switch (f.kind) {
    case Fault::Kind::kExpiredToken: {
      const auto it = tokens.find(BearerOf(c.authorization));
      if (it != tokens.end()) it->second.revoked = true;
      return InvalidToken();
    }
    case Fault::Kind::kRateLimited: {
      Reply r = CcError(429, 10013, "CF-RateLimitExceeded", "Rate Limit Exceeded");
      const int retry_after = f.retry_after_seconds.value_or(1);
      const auto reset = std::chrono::duration_cast<std::chrono::seconds>(SysClock::now().time_since_epoch()).count() +
                         retry_after;
      r.headers.emplace_back("Retry-After", std::to_string(retry_after));
      r.headers.emplace_back("X-RateLimit-Limit", "2000");
      r.headers.emplace_back("X-RateLimit-Remaining", "0");
      r.headers.emplace_back("X-RateLimit-Reset", std::to_string(reset));
      return r;
    }
    case Fault::Kind::kInternalError:
      return CcError(500, 10001, "UnknownError", "An unknown error occurred.");
    case Fault::Kind::kServiceUnavailable: {
      Reply r = CcError(503, 10015, "CF-ServiceUnavailable", "Service unavailable");
      if (f.retry_after_seconds) r.headers.emplace_back("Retry-After", std::to_string(*f.retry_after_seconds));
      return r;
    }
    case Fault::Kind::kInstancesUnavailable: {
      Reply r = CcError(503, 220002, "CF-InstancesUnavailable",
                        "Instances information unavailable: fake log-cache is unreachable");
      if (f.retry_after_seconds) r.headers.emplace_back("Retry-After", std::to_string(*f.retry_after_seconds));
      return r;
    }
    case Fault::Kind::kConnectionReset: {
      Reply r;
      r.reset = true;
      return r;
    }
    case Fault::Kind::kSlowResponse:
      break;
  }
  return CcError(500, 10001, "UnknownError", "An unknown error occurred.");
}

bool FakeCloudController::Impl::SleepInterruptibly(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(sleep_mu);
  return !sleep_cv.wait_for(lock, d, [&] { return stopping; });
}

namespace {

bool AddressesOf(int fd, sockaddr_in* local, sockaddr_in* peer) {
  socklen_t len = sizeof *local;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(local), &len) != 0 || local->sin_family != AF_INET) return false;
  len = sizeof *peer;
  return getpeername(fd, reinterpret_cast<sockaddr*>(peer), &len) == 0 && peer->sin_family == AF_INET;
}

bool SameAddress(const sockaddr_in& a, const sockaddr_in& b) {
  return a.sin_family == b.sin_family && a.sin_port == b.sin_port && a.sin_addr.s_addr == b.sin_addr.s_addr;
}

}  // namespace

void FakeCloudController::Impl::RememberConnection(int fd) {
  Connection conn;
  if (!AddressesOf(fd, &conn.local, &conn.peer)) return;
  std::lock_guard<std::mutex> lock(conn_mu);
  connections[fd] = conn;
}

// Only after every Pistache thread has been joined. A recorded fd is closed only if it still is
// the very connection recorded (same local and peer address): Pistache may have closed it already
// and the number may now belong to someone else.
void FakeCloudController::Impl::CloseLeftoverConnections() {
  std::lock_guard<std::mutex> lock(conn_mu);
  for (const auto& [fd, conn] : connections) {
    Connection now;
    if (AddressesOf(fd, &now.local, &now.peer) && SameAddress(now.local, conn.local) && SameAddress(now.peer, conn.peer)) {
      ::shutdown(fd, SHUT_RDWR);
      ::close(fd);
    }
  }
  connections.clear();
}

const FakeCloudController::Impl::TokenRec* FakeCloudController::Impl::ValidToken(const std::string& authorization) const {
  const auto it = tokens.find(BearerOf(authorization));
  if (it == tokens.end() || it->second.revoked || Steady::now() >= it->second.expires_at) return nullptr;
  return &it->second;
}

std::optional<Reply> FakeCloudController::Impl::Authenticate(Call& c) {
  if (c.authorization.empty()) return CcError(401, 10002, "CF-NotAuthenticated", "Authentication error");
  c.token = ValidToken(c.authorization);
  if (c.token == nullptr) return InvalidToken();
  const auto has = [&](const char* scope) {
    return std::find(c.token->scopes.begin(), c.token->scopes.end(), scope) != c.token->scopes.end();
  };
  if (has("cloud_controller.admin")) return std::nullopt;
  const bool allowed = c.method == "GET" ? (has("cloud_controller.read") || has("cloud_controller.admin_read_only") ||
                                            has("cloud_controller.global_auditor"))
                                         : has("cloud_controller.write");
  if (!allowed) {
    return CcError(403, 10003, "CF-NotAuthorized", "You are not authorized to perform the requested action");
  }
  return std::nullopt;
}

// ---- Helpers -------------------------------------------------------------------------------------

std::optional<Reply> FakeCloudController::Impl::CheckQuery(const Call& c, std::initializer_list<const char*> allowed) const {
  std::vector<std::string> unknown;
  for (const auto& [name, value] : c.query) {
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return name == a; })) {
      unknown.push_back("'" + name + "'");
    }
  }
  if (unknown.empty()) return std::nullopt;
  std::vector<std::string> valid;
  for (const char* a : allowed) valid.push_back(std::string("'") + a + "'");
  return CcError(400, 10005, "CF-BadQueryParameter",
                 "Unknown query parameter(s): " + Join(unknown, ", ") + ". Valid parameters are: " + Join(valid, ", "));
}

std::optional<Reply> FakeCloudController::Impl::ParsePage(const Call& c, Page* page, std::initializer_list<const char*> order_keys) const {
  const auto parse_int = [](const std::string& s, int* out) {
    if (s.size() > 9 || !AllDigits(s)) return false;
    *out = std::stoi(s);
    return true;
  };
  if (c.Has("page") && (!parse_int(c.Query("page"), &page->page) || page->page < 1)) {
    return BadQuery("Page must be greater than 0");
  }
  if (c.Has("per_page") && (!parse_int(c.Query("per_page"), &page->per_page) || page->per_page < 1 ||
                            page->per_page > 5000)) {
    return BadQuery("Per page must be between 1 and 5000");
  }
  if (c.Has("order_by")) {
    std::string key = c.Query("order_by");
    if (!key.empty() && (key[0] == '-' || key[0] == '+')) key = key.substr(1);
    if (std::none_of(order_keys.begin(), order_keys.end(), [&](const char* k) { return key == k; })) {
      std::vector<std::string> valid;
      for (const char* k : order_keys) valid.push_back(std::string("'") + k + "'");
      return BadQuery("Order by can only be: " + Join(valid, ", "));
    }
    page->order_by = c.Query("order_by");
  }
  return std::nullopt;
}

std::optional<Reply> FakeCloudController::Impl::ParseInclude(const Call& c, std::initializer_list<const char*> allowed,
                                        std::set<std::string>* out) const {
  if (!c.Has("include")) return std::nullopt;
  for (const std::string& inc : SplitList(c.Query("include"), ',')) {
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return inc == a; })) {
      std::vector<std::string> valid;
      for (const char* a : allowed) valid.push_back(std::string("'") + a + "'");
      return BadQuery("Invalid included resource: '" + inc + "'. Valid included resources are: " + Join(valid, ", "));
    }
    out->insert(inc);
  }
  return std::nullopt;
}

std::optional<Reply> FakeCloudController::Impl::ParseSelector(const Call& c, std::optional<std::vector<LabelRequirement>>* out) const {
  if (!c.Has("label_selector")) return std::nullopt;
  // A list message's label_selector errors are :base errors; the controller answers
  // invalid_param!(message.errors.full_messages): 400 10005 CF-BadQueryParameter "The query
  // parameter is invalid: " + the messages joined with ", " (app/messages/metadata_list_message.rb,
  // app/messages/validators/label_selector_requirement_validator.rb, errors/v2.yml 10005).
  SelectorParse parsed = ParseLabelSelector(c.Query("label_selector"));
  if (!parsed.errors.empty()) return BadQuery(Join(parsed.errors, ", "));
  *out = std::move(parsed.requirements);
  return std::nullopt;
}

std::optional<std::set<std::string>> FakeCloudController::Impl::FilterSet(const Call& c, const std::string& name) const {
  if (!c.Has(name)) return std::nullopt;
  std::set<std::string> values;
  for (const std::string& v : SplitList(c.Query(name), ',')) values.insert(v);
  return values;
}

std::string FakeCloudController::Impl::PageLink(const Call& c, int page, int per_page) const {
  std::string q;
  for (const auto& [k, v] : c.raw_query) {
    if (k == "page" || k == "per_page") continue;
    q += k + "=" + v + "&";
  }
  return LocationBase() + c.path + "?" + q + "page=" + std::to_string(page) + "&per_page=" + std::to_string(per_page);
}

template <typename Rec>
Reply FakeCloudController::Impl::List(const Call& c, const Page& p, std::vector<const Rec*> recs, const std::function<Json(const Rec&)>& render,
                 const std::function<Json::Object(const std::vector<const Rec*>&)>& included) const {
  // Creation order unless order_by says otherwise ("name" sorts records that have one).
  std::string key = p.order_by;
  const bool descending = !key.empty() && key[0] == '-';
  if (!key.empty() && (key[0] == '-' || key[0] == '+')) key = key.substr(1);
  std::stable_sort(recs.begin(), recs.end(), [&](const Rec* a, const Rec* b) {
    if (key == "updated_at" && a->updated != b->updated) return a->updated < b->updated;
    if constexpr (requires(const Rec& r) { r.name; }) {
      if (key == "name" && a->name != b->name) return a->name < b->name;
    }
    return a->seq < b->seq;
  });
  if (descending) std::reverse(recs.begin(), recs.end());

  const int per_page = knobs.per_page_override > 0 ? knobs.per_page_override : p.per_page;
  const int total = static_cast<int>(recs.size());
  const int total_pages = (total + per_page - 1) / per_page;
  std::vector<const Rec*> slice;
  for (int i = (p.page - 1) * per_page; i < total && i < p.page * per_page; ++i) slice.push_back(recs[i]);
  Json::Array resources;
  for (const Rec* r : slice) resources.push_back(render(*r));
  Json::Object pagination{
      {"total_results", total},
      {"total_pages", total_pages},
      {"first", Href(PageLink(c, 1, per_page))},
      {"last", Href(PageLink(c, std::max(total_pages, 1), per_page))},
      {"next", p.page < total_pages ? Href(PageLink(c, p.page + 1, per_page)) : Json()},
      {"previous", p.page > 1 ? Href(PageLink(c, p.page - 1, per_page)) : Json()},
  };
  Json::Object body{{"pagination", pagination}, {"resources", resources}};
  if (included) body.emplace_back("included", included(slice));
  return JsonReply(200, body);
}

void FakeCloudController::Impl::AddWarnings(Reply* r) const {
  if (knobs.warnings.empty()) return;
  std::vector<std::string> encoded;
  for (const std::string& w : knobs.warnings) encoded.push_back(base::PercentEncode(w));
  r->headers.emplace_back("X-Cf-Warnings", Join(encoded, ","));
}

Reply FakeCloudController::Impl::Accepted(const std::string& job_guid) const {
  Reply r = Empty(202);
  r.headers.emplace_back("Location", LocationBase() + "/v3/jobs/" + job_guid);
  return r;
}

std::string FakeCloudController::Impl::NewJob(JobKind kind, const std::string& operation, const std::string& resource_guid, int ticks,
                         bool will_fail, bool stuck) {
  JobRec j;
  j.seq = NextSeq();
  j.guid = NewGuid("10b00000", j.seq);
  j.kind = kind;
  j.operation = operation;
  j.resource_guid = resource_guid;
  j.ticks_needed = std::max(1, ticks);
  j.will_fail = will_fail;
  j.stuck = stuck;
  j.created = j.updated = SysClock::now();
  const std::string guid = j.guid;
  jobs.emplace(guid, std::move(j));
  return guid;
}

// One GET of a job: one tick. Binding jobs go PROCESSING -> POLLING (waiting on the other broker)
// -> COMPLETE/FAILED; the others PROCESSING -> COMPLETE/FAILED.
void FakeCloudController::Impl::TickJob(JobRec& job) {
  if (job.state == "COMPLETE" || job.state == "FAILED") return;
  ++job.ticks_done;
  job.updated = SysClock::now();
  const bool binding_job = job.kind == JobKind::kBindingCreate || job.kind == JobKind::kBindingDelete;
  if (binding_job) {
    const auto b = bindings.find(job.resource_guid);
    if (b != bindings.end() && b->second.lo_state == "initial") {
      b->second.lo_state = "in progress";
      b->second.updated = job.updated;
    }
  }
  if (job.stuck || job.ticks_done < job.ticks_needed) {
    job.state = binding_job ? "POLLING" : "PROCESSING";
    return;
  }
  FinishJob(job);
}

// A look at a binding whose create job is unfinished is a tick of that job too: the platform
// finishes the job whether or not its creator still follows it (a broker that lost the job's guid
// in a crash watches the binding instead).
void FakeCloudController::Impl::TickBindingCreateJob(const std::string& binding_guid) {
  for (auto& [guid, job] : jobs) {
    if (job.kind == JobKind::kBindingCreate && job.resource_guid == binding_guid) TickJob(job);
  }
}

void FakeCloudController::Impl::FinishJob(JobRec& job) {
  job.state = "COMPLETE";
  switch (job.kind) {
    case JobKind::kBindingCreate: {
      const auto b = bindings.find(job.resource_guid);
      if (b == bindings.end()) break;
      if (job.will_fail) {
        const std::string detail = "bind could not be completed: Service broker error: the fake broker refused the bind";
        job.state = "FAILED";
        job.errors.push_back({10009, "CF-UnableToPerform", detail});
        b->second.lo_state = "failed";
        b->second.lo_description = detail;
      } else {
        b->second.lo_state = "succeeded";
      }
      b->second.updated = SysClock::now();
      break;
    }
    case JobKind::kBindingDelete:
      bindings.erase(job.resource_guid);
      break;
    case JobKind::kDropletDelete: {
      const auto d = droplets.find(job.resource_guid);
      if (d == droplets.end()) break;
      const auto a = apps.find(d->second.app_guid);
      if (a != apps.end() && a->second.current_droplet == d->first) a->second.current_droplet.clear();
      droplets.erase(d);
      break;
    }
    case JobKind::kAppDelete: {
      const auto a = apps.find(job.resource_guid);
      if (a == apps.end()) break;
      --a->second.pending_delete_jobs;
      const std::string blocker = ExcludedBy(a->second);
      if (knobs.legacy_app_delete && !blocker.empty()) {
        job.state = "FAILED";
        job.errors.push_back({150009, "CF-AppRecursiveDeleteFailed",
                              "Deletion of app " + a->second.name +
                                  " failed because one or more associated resources could not be deleted.\n\n\t"
                                  "An operation for the service binding between app " + a->second.name +
                                  " and service instance " + blocker + " is in progress."});
        break;
      }
      EraseApp(job.resource_guid);
      break;
    }
  }
}

// The name of a managed instance the app is still bound to ("" if none): what blocks a legacy delete.
std::string FakeCloudController::Impl::ExcludedBy(const AppRec& app) const {
  for (const auto& [guid, b] : bindings) {
    if (b.app_guid != app.guid) continue;
    const auto i = instances.find(b.instance_guid);
    if (i != instances.end() && !i->second.user_provided) return i->second.name;
  }
  return "";
}

void FakeCloudController::Impl::EraseApp(const std::string& app_guid) {
  StopContainersOfApp(app_guid);
  apps.erase(app_guid);
  std::erase_if(processes, [&](const auto& kv) { return kv.second.app_guid == app_guid; });
  std::erase_if(droplets, [&](const auto& kv) { return kv.second.app_guid == app_guid; });
  std::erase_if(bindings, [&](const auto& kv) { return kv.second.app_guid == app_guid; });
  logs.erase(app_guid);
}

FakeCloudController::Impl::ProcessRec& FakeCloudController::Impl::AddProcess(const AppRec& app, const std::string& guid, const std::string& type, int count) {
  ProcessRec p;
  p.seq = NextSeq();
  p.guid = guid.empty() ? NewGuid("9c000000", p.seq) : guid;
  p.app_guid = app.guid;
  p.type = type;
  p.instances = count;
  p.hc_type = type == "web" ? "port" : "process";
  p.created = p.updated = SysClock::now();
  const std::string g = p.guid;
  return processes.emplace(g, std::move(p)).first->second;
}

std::optional<std::string> FakeCloudController::Impl::EffectiveCommand(const ProcessRec& p) const {
  if (p.command) return p.command;
  const auto a = apps.find(p.app_guid);
  if (a == apps.end()) return std::nullopt;
  const auto d = droplets.find(a->second.current_droplet);
  if (d == droplets.end()) return std::nullopt;
  const auto t = d->second.process_types.find(p.type);
  if (t == d->second.process_types.end()) return std::nullopt;
  return t->second;
}

void FakeCloudController::Impl::Log(const std::string& app_guid, const std::string& source_type, const std::string& text, bool is_stderr) {
  logs[app_guid].push_back(EnvelopeRec{NowNs(), "0", source_type, text, is_stderr});
}

// One GET of stats: one tick of a starting process.
void FakeCloudController::Impl::TickProcess(AppRec& app, ProcessRec& p, Call& c) {
  if (app.state != "STARTED" || p.instances == 0 || p.run_state != "STARTING") return;
  if (!knobs.placement_error.empty()) return;  // never placed
  if (++p.run_ticks < std::max(1, knobs.instance_start_ticks)) return;
  const auto container = p.container_id != 0 ? containers.find(p.container_id) : containers.end();
  if (knobs.instance_crashes) {
    if (container != containers.end()) StopContainer(container->second);
    p.run_state = "CRASHED";
    for (const LogLine& l : knobs.crash_log) {
      logs[app.guid].push_back(EnvelopeRec{l.timestamp_ns.value_or(NowNs()), l.instance_id, l.source_type, l.text,
                                           l.is_stderr});
    }
    Log(app.guid, "CELL", "Exit status 1 (exited with status 1)", false);
    return;
  }
  if (container != containers.end() && container->second.reaped) {  // it already exited
    p.run_state = "CRASHED";
    Log(app.guid, "CELL", ExitLine(container->second), false);
    return;
  }
  p.run_state = "RUNNING";
  p.running_since = Steady::now();
  Log(app.guid, "CELL", "Container became healthy", false);
  if (p.type == "web" && app.created_through_api && !p.reported && knobs.session_report &&
      knobs.session_report->trigger == SessionReport::Trigger::kOnRunning) {
    if (auto r = MakeReport(app)) c.reports.push_back(std::move(*r));
    p.reported = true;
  }
}

std::string FakeCloudController::Impl::Expand(const std::string& tmpl, const AppRec& app) const {
  const auto lookup = [](const std::map<std::string, std::string>& m, const std::string& k) {
    const auto it = m.find(k);
    return it == m.end() ? std::string() : it->second;
  };
  std::string out;
  std::size_t i = 0;
  while (i < tmpl.size()) {
    const std::size_t open = tmpl.find('{', i);
    const std::size_t close = open == std::string::npos ? std::string::npos : tmpl.find('}', open);
    if (close == std::string::npos) {
      out += tmpl.substr(i);
      break;
    }
    out += tmpl.substr(i, open - i);
    const std::string key = tmpl.substr(open + 1, close - open - 1);
    if (key == "app_guid") {
      out += app.guid;
    } else if (key == "app_name") {
      out += app.name;
    } else if (key == "space_guid") {
      out += app.space_guid;
    } else if (StartsWith(key, "label:")) {
      out += lookup(app.labels, key.substr(6));
    } else if (StartsWith(key, "annotation:")) {
      out += lookup(app.annotations, key.substr(11));
    } else if (StartsWith(key, "env:")) {
      out += lookup(app.env, key.substr(4));
    } else {
      out += '{';  // not a placeholder (JSON bodies have braces): keep the brace, scan on after it
      i = open + 1;
      continue;
    }
    i = close + 1;
  }
  return out;
}

std::optional<PendingReport> FakeCloudController::Impl::MakeReport(const AppRec& app) const {
  if (!knobs.session_report) return std::nullopt;
  const SessionReport& s = *knobs.session_report;
  PendingReport r;
  r.app_guid = app.guid;
  r.url = Expand(s.url, app);
  r.bearer_token = Expand(s.bearer_token, app);
  r.body = Expand(s.body, app);
  r.content_type = s.content_type;
  r.delay = s.delay;
  r.timeout = s.timeout;
  return r;
}

// Applies validated environment variables: a null deletes, other values are stored as their text.
void FakeCloudController::Impl::ApplyEnv(const rapidjson::Value& vars, std::map<std::string, std::string>* env) const {
  if (!vars.IsObject()) return;
  for (auto it = vars.MemberBegin(); it != vars.MemberEnd(); ++it) {
    const std::string key(it->name.GetString(), it->name.GetStringLength());
    if (it->value.IsNull()) {
      env->erase(key);
    } else {
      (*env)[key] = ScalarText(it->value).value_or(Serialize(it->value));
    }
  }
}

std::string FakeCloudController::Impl::IssueTokenLocked(const std::string& client_id, const std::string& username,
                                   const std::vector<std::string>& scopes, Json::Object* response) {
  const std::uint64_t n = NextSeq();
  const std::string token = "tok-" + std::to_string(n);
  const int ttl = knobs.token_expires_in_seconds;
  tokens[token] = TokenRec{client_id, username, scopes, Steady::now() + std::chrono::seconds(ttl), false};
  if (response != nullptr) {
    *response = Json::Object{{"access_token", token},
                             {"token_type", "bearer"},
                             {"expires_in", ttl},
                             {"scope", Join(scopes, " ")},
                             {"jti", "jti-" + std::to_string(n)}};
  }
  return token;
}

FakeCloudController::Impl::AppRec* FakeCloudController::Impl::FindApp(const std::string& guid) {
  const auto it = apps.find(guid);
  return it == apps.end() ? nullptr : &it->second;
}

FakeCloudController::Impl::ProcessRec* FakeCloudController::Impl::FindProcess(const std::string& app_guid, const std::string& type) {
  for (auto& [guid, p] : processes) {
    if (p.app_guid == app_guid && p.type == type) return &p;
  }
  return nullptr;
}

// ---- Renderers (the CC V3 resource shapes) -------------------------------------------------------

// The shape of cloud_controller_ng app/presenters/v3/app_presenter.rb (links: build_links).
Json FakeCloudController::Impl::AppJson(const AppRec& a) const {
  Json::Object data;
  if (a.lifecycle != Lifecycle::kDocker) {
    data = Json::Object{{"buildpacks", StringArray(a.buildpacks)}, {"stack", Json::Opt(a.stack)}};
  }
  const std::string self = Url("/v3/apps/" + a.guid);
  return Json::Object{
      {"guid", a.guid},
      {"created_at", Iso8601(a.created)},
      {"updated_at", Iso8601(a.updated)},
      {"name", a.name},
      {"state", a.state},
      {"lifecycle", Json::Object{{"type", LifecycleName(a.lifecycle)}, {"data", data}}},
      {"relationships", Json::Object{{"space", ToOne(a.space_guid)}, {"current_droplet", ToOne(a.current_droplet)}}},
      {"metadata", MetadataJson(a.labels, a.annotations)},
      {"links", Json::Object{
                    {"self", Href(self)},
                    {"environment_variables", Href(self + "/environment_variables")},
                    {"space", Href(Url("/v3/spaces/" + a.space_guid))},
                    {"processes", Href(self + "/processes")},
                    {"packages", Href(self + "/packages")},
                    {"current_droplet", Href(self + "/droplets/current")},
                    {"droplets", Href(self + "/droplets")},
                    {"tasks", Href(self + "/tasks")},
                    {"start", Json::Object{{"href", self + "/actions/start"}, {"method", "POST"}}},
                    {"stop", Json::Object{{"href", self + "/actions/stop"}, {"method", "POST"}}},
                    {"clear_buildpack_cache",
                     Json::Object{{"href", self + "/actions/clear_buildpack_cache"}, {"method", "POST"}}},
                    {"revisions", Href(self + "/revisions")},
                    {"deployed_revisions", Href(self + "/revisions/deployed")},
                    {"features", Href(self + "/features")},
                }},
  };
}

// The shape of cloud_controller_ng app/presenters/v3/space_presenter.rb (no space quota).
Json FakeCloudController::Impl::SpaceJson(const SpaceRec& s) const {
  return Json::Object{
      {"guid", s.guid},
      {"created_at", Iso8601(s.created)},
      {"updated_at", Iso8601(s.updated)},
      {"name", s.name},
      {"suspended", false},
      {"relationships", Json::Object{{"organization", ToOne(s.org_guid)}, {"quota", Json::Object{{"data", Json()}}}}},
      {"metadata", MetadataJson({}, {})},
      {"links", Json::Object{{"self", Href(Url("/v3/spaces/" + s.guid))},
                             {"organization", Href(Url("/v3/organizations/" + s.org_guid))},
                             {"features", Href(Url("/v3/spaces/" + s.guid + "/features"))},
                             {"apply_manifest", Json::Object{{"href", Url("/v3/spaces/" + s.guid + "/actions/apply_manifest")},
                                                             {"method", "POST"}}}}},
  };
}

// The shape of cloud_controller_ng app/presenters/v3/organization_presenter.rb, except the quota:
// the fake models no organization quota (CC always has one, and links it).
Json FakeCloudController::Impl::OrgJson(const OrgRec& o) const {
  return Json::Object{
      {"guid", o.guid},
      {"created_at", Iso8601(o.created)},
      {"updated_at", Iso8601(o.updated)},
      {"name", o.name},
      {"suspended", false},
      {"relationships", Json::Object{{"quota", Json::Object{{"data", Json()}}}}},
      {"metadata", MetadataJson({}, {})},
      {"links", Json::Object{{"self", Href(Url("/v3/organizations/" + o.guid))},
                             {"domains", Href(Url("/v3/organizations/" + o.guid + "/domains"))},
                             {"default_domain", Href(Url("/v3/organizations/" + o.guid + "/domains/default"))}}},
  };
}

// The shape of cloud_controller_ng app/presenters/v3/droplet_presenter.rb: a docker droplet has
// null buildpacks (droplet_buildpack_info), stack (DockerLifecycleDataModel#stack) and checksum
// (no sha256/sha1); `download` is linked only for a STAGED buildpack droplet.
Json FakeCloudController::Impl::DropletJson(const DropletRec& d) const {
  const bool docker = d.lifecycle == Lifecycle::kDocker;
  Json::Array buildpacks;
  if (!docker && d.state == "STAGED") {
    for (const std::string& bp : d.buildpacks) {
      buildpacks.push_back(Json::Object{{"name", bp}, {"detect_output", bp}, {"buildpack_name", bp}, {"version", "1.0.0"}});
    }
  }
  const std::string self = Url("/v3/droplets/" + d.guid);
  Json::Object links{
      {"self", Href(self)},
      {"app", Href(Url("/v3/apps/" + d.app_guid))},
      {"assign_current_droplet",
       Json::Object{{"href", Url("/v3/apps/" + d.app_guid + "/relationships/current_droplet")}, {"method", "PATCH"}}},
  };
  if (d.state == "STAGED" && !docker) links.emplace_back("download", Href(self + "/download"));
  return Json::Object{
      {"guid", d.guid},
      {"created_at", Iso8601(d.created)},
      {"updated_at", Iso8601(d.updated)},
      {"state", d.state},
      {"error", Json::Opt(d.error)},
      {"lifecycle", Json::Object{{"type", LifecycleName(d.lifecycle)}, {"data", Json::Object{}}}},
      {"checksum", docker ? Json() : Json(Json::Object{{"type", "sha256"}, {"value", "f4ce" + d.guid.substr(0, 8)}})},
      {"buildpacks", docker ? Json() : Json(buildpacks)},
      {"stack", docker ? Json() : Json(d.stack)},
      {"image", docker ? Json(d.image) : Json()},
      {"execution_metadata", ""},
      {"process_types", StringMap(d.process_types)},
      {"relationships", Json::Object{{"app", ToOne(d.app_guid)}}},
      {"metadata", MetadataJson({}, {})},
      {"links", links},
  };
}

// Process lists hide commands, as CC does: clients must GET the one process to read it.
// The shape of cloud_controller_ng app/presenters/v3/process_presenter.rb: health_check.data always
// has timeout, invocation_timeout and interval (null unless set: the columns default to NULL,
// db/migrations/20230804183521_add_health_check_interval.rb); relationships.revision is null for a
// process without a revision (`process.revision_guid && {...}`; the fake models no revisions).
Json FakeCloudController::Impl::ProcessJson(const ProcessRec& p, bool in_list) const {
  Json::Object hc_data{{"timeout", Json::Opt(p.hc_timeout)},
                       {"invocation_timeout", Json::Opt(p.hc_invocation_timeout)},
                       {"interval", Json()}};
  if (p.hc_type == "http") hc_data.emplace_back("endpoint", Json::Opt(p.hc_endpoint));
  const auto command = EffectiveCommand(p);
  const auto a = apps.find(p.app_guid);
  const bool docker = a != apps.end() && a->second.lifecycle == Lifecycle::kDocker;
  const std::string self = Url("/v3/processes/" + p.guid);
  return Json::Object{
      {"guid", p.guid},
      {"created_at", Iso8601(p.created)},
      {"updated_at", Iso8601(p.updated)},
      {"version", NewGuid("5e000000", p.seq)},
      {"type", p.type},
      {"command", in_list && command ? Json("[PRIVATE DATA HIDDEN IN LISTS]") : Json::Opt(command)},
      {"user", docker ? "root" : "vcap"},
      {"instances", p.instances},
      {"memory_in_mb", p.memory_in_mb},
      {"disk_in_mb", p.disk_in_mb},
      {"log_rate_limit_in_bytes_per_second", Json(static_cast<long long>(p.log_rate))},
      {"health_check", Json::Object{{"type", p.hc_type}, {"data", hc_data}}},
      {"readiness_health_check",
       Json::Object{{"type", p.readiness_type}, {"data", Json::Object{{"invocation_timeout", Json()}, {"interval", Json()}}}}},
      {"relationships", Json::Object{{"app", ToOne(p.app_guid)}, {"revision", Json()}}},
      {"metadata", MetadataJson(p.labels, p.annotations)},
      {"links", Json::Object{
                    {"self", Href(self)},
                    {"scale", Json::Object{{"href", self + "/actions/scale"}, {"method", "POST"}}},
                    {"app", Href(Url("/v3/apps/" + p.app_guid))},
                    {"space", Href(Url("/v3/spaces/" + (a != apps.end() ? a->second.space_guid : std::string())))},
                    {"stats", Href(self + "/stats")},
                    {"process_instances", Href(self + "/process_instances")},
                }},
  };
}

Json FakeCloudController::Impl::StatsJson(const AppRec& app, const ProcessRec& p, int index) const {
  std::string state = app.state == "STARTED" ? p.run_state : "DOWN";
  Json details;
  if (state == "STARTING" && !knobs.placement_error.empty()) {
    state = "DOWN";
    details = knobs.placement_error;
  }
  const bool up = state == "RUNNING";
  const long long uptime =
      up ? std::chrono::duration_cast<std::chrono::seconds>(Steady::now() - p.running_since).count() : 0;
  return Json::Object{
      {"type", p.type},
      {"index", index},
      {"state", state},
      {"routable", up},
      {"host", up ? Json("10.0.16.4") : Json("")},
      {"instance_internal_ip", up ? Json("10.255.0.4") : Json("")},
      {"uptime", uptime},
      {"mem_quota", Json(static_cast<long long>(p.memory_in_mb) * 1024 * 1024)},
      {"disk_quota", Json(static_cast<long long>(p.disk_in_mb) * 1024 * 1024)},
      {"log_rate_limit", Json(static_cast<long long>(p.log_rate))},
      {"fds_quota", 16384},
      {"isolation_segment", Json()},
      {"details", details},
      {"instance_ports", Json::Array{}},
      {"usage", up ? Json(Json::Object{{"time", Iso8601(SysClock::now())},
                                       {"cpu", 0.01},
                                       {"mem", 64LL * 1024 * 1024},
                                       {"disk", 128LL * 1024 * 1024},
                                       {"log_rate", 0}})
                   : Json(Json::Object{})},
  };
}

// The shape of cloud_controller_ng app/presenters/v3/service_credential_binding_presenter.rb: no
// `parameters` link for a binding of a user-provided instance (base_links).
Json FakeCloudController::Impl::BindingJson(const BindingRec& b) const {
  const std::string self = Url("/v3/service_credential_bindings/" + b.guid);
  const auto instance = instances.find(b.instance_guid);
  const bool user_provided = instance != instances.end() && instance->second.user_provided;
  Json::Object links{{"self", Href(self)}, {"details", Href(self + "/details")}};
  if (!user_provided) links.emplace_back("parameters", Href(self + "/parameters"));
  links.emplace_back("service_instance", Href(Url("/v3/service_instances/" + b.instance_guid)));
  links.emplace_back("app", Href(Url("/v3/apps/" + b.app_guid)));
  return Json::Object{
      {"guid", b.guid},
      {"created_at", Iso8601(b.created)},
      {"updated_at", Iso8601(b.updated)},
      {"name", Json::Opt(b.name)},
      {"type", "app"},
      {"last_operation", Json::Object{{"type", b.lo_type},
                                      {"state", b.lo_state},
                                      {"description", Json::Opt(b.lo_description)},
                                      {"created_at", Iso8601(b.created)},
                                      {"updated_at", Iso8601(b.updated)}}},
      {"metadata", MetadataJson(b.labels, b.annotations)},
      {"relationships", Json::Object{{"app", ToOne(b.app_guid)}, {"service_instance", ToOne(b.instance_guid)}}},
      {"links", links},
  };
}

Json FakeCloudController::Impl::InstanceJson(const InstanceRec& i) const {
  const std::string self = Url("/v3/service_instances/" + i.guid);
  Json::Object rel{{"space", ToOne(i.space_guid)}};
  Json::Object links{{"self", Href(self)},
                     {"space", Href(Url("/v3/spaces/" + i.space_guid))},
                     {"service_credential_bindings", Href(Url("/v3/service_credential_bindings?service_instance_guids=" + i.guid))}};
  Json::Object o{
      {"guid", i.guid},
      {"created_at", Iso8601(i.created)},
      {"updated_at", Iso8601(i.updated)},
      {"name", i.name},
      {"tags", Json::Array{}},
      {"type", i.user_provided ? "user-provided" : "managed"},
      {"last_operation", Json::Object{{"type", "create"},
                                      {"state", "succeeded"},
                                      {"description", ""},
                                      {"created_at", Iso8601(i.created)},
                                      {"updated_at", Iso8601(i.updated)}}},
  };
  if (i.user_provided) {
    o.emplace_back("syslog_drain_url", Json());
    o.emplace_back("route_service_url", Json());
  } else {
    o.emplace_back("maintenance_info", Json::Object{});
    o.emplace_back("upgrade_available", false);
    o.emplace_back("dashboard_url", Json());
    rel.emplace_back("service_plan", ToOne(i.plan_guid));
    links.emplace_back("service_plan", Href(Url("/v3/service_plans/" + i.plan_guid)));
  }
  o.emplace_back("relationships", rel);
  o.emplace_back("metadata", MetadataJson({}, {}));
  o.emplace_back("links", links);
  return o;
}

Json FakeCloudController::Impl::OfferingJson(const OfferingRec& o) const {
  return Json::Object{
      {"guid", o.guid},
      {"created_at", Iso8601(o.created)},
      {"updated_at", Iso8601(o.updated)},
      {"name", o.name},
      {"description", "fake offering " + o.name},
      {"available", true},
      {"tags", Json::Array{}},
      {"requires", Json::Array{}},
      {"shareable", false},
      {"documentation_url", Json()},
      {"broker_catalog",
       Json::Object{{"id", o.name + "-id"},
                    {"metadata", Json::Object{}},
                    {"features", Json::Object{{"plan_updateable", false},
                                              {"bindable", o.bindable},
                                              {"instances_retrievable", false},
                                              {"bindings_retrievable", o.retrievable},
                                              {"allow_context_updates", false}}}}},
      {"relationships", Json::Object{{"service_broker", ToOne(o.broker_guid)}}},
      {"metadata", MetadataJson({}, {})},
      {"links", Json::Object{{"self", Href(Url("/v3/service_offerings/" + o.guid))},
                             {"service_plans", Href(Url("/v3/service_plans?service_offering_guids=" + o.guid))},
                             {"service_broker", Href(Url("/v3/service_brokers/" + o.broker_guid))}}},
  };
}

Json FakeCloudController::Impl::PlanJson(const PlanRec& p) const {
  return Json::Object{
      {"guid", p.guid},
      {"created_at", Iso8601(p.created)},
      {"updated_at", Iso8601(p.updated)},
      {"name", p.name},
      {"visibility_type", "public"},
      {"available", true},
      {"free", true},
      {"costs", Json::Array{}},
      {"description", "fake plan " + p.name},
      {"maintenance_info", Json::Object{}},
      {"broker_catalog", Json::Object{{"id", p.name + "-id"},
                                      {"metadata", Json::Object{}},
                                      {"maximum_polling_duration", Json()},
                                      {"features", Json::Object{{"bindable", true}, {"plan_updateable", false}}}}},
      {"relationships", Json::Object{{"service_offering", ToOne(p.offering_guid)}}},
      {"metadata", MetadataJson({}, {})},
      {"links", Json::Object{{"self", Href(Url("/v3/service_plans/" + p.guid))},
                             {"service_offering", Href(Url("/v3/service_offerings/" + p.offering_guid))}}},
  };
}

Json FakeCloudController::Impl::JobJson(const JobRec& j) const {
  Json::Array errors;
  for (const JobError& e : j.errors) {
    errors.push_back(Json::Object{{"code", e.code}, {"title", e.title}, {"detail", e.detail}});
  }
  Json::Object links{{"self", Href(LocationBase() + "/v3/jobs/" + j.guid)}};
  switch (j.kind) {
    case JobKind::kBindingCreate:
    case JobKind::kBindingDelete:
      links.emplace_back("service_credential_binding", Href(Url("/v3/service_credential_bindings/" + j.resource_guid)));
      break;
    case JobKind::kAppDelete:
      links.emplace_back("app", Href(Url("/v3/apps/" + j.resource_guid)));
      break;
    case JobKind::kDropletDelete:
      links.emplace_back("droplet", Href(Url("/v3/droplets/" + j.resource_guid)));
      break;
  }
  return Json::Object{
      {"guid", j.guid},
      {"created_at", Iso8601(j.created)},
      {"updated_at", Iso8601(j.updated)},
      {"operation", j.operation},
      {"state", j.state},
      {"errors", errors},
      {"warnings", Json::Array{}},
      {"links", links},
  };
}

Json FakeCloudController::Impl::FeatureJson(const std::string& name, bool enabled) const {
  static const std::map<std::string, std::string> kDescriptions = {
      {"ssh", "Enable SSHing into the app."},
      {"revisions", "Enable versioning of an application"},
      {"service-binding-k8s", "Enable k8s service bindings for the app"},
      {"file-based-vcap-services", "Enable file-based VCAP service bindings for the app"},
  };
  const auto d = kDescriptions.find(name);
  return Json::Object{{"name", name}, {"description", d == kDescriptions.end() ? name : d->second}, {"enabled", enabled}};
}

Json::Object FakeCloudController::Impl::AppIncludes(const std::set<std::string>& include, const std::vector<const AppRec*>& page) const {
  Json::Object included;
  if (include.empty()) return included;
  std::set<std::string> space_guids, org_guids;
  Json::Array spaces_json, orgs_json;
  for (const AppRec* a : page) {
    const auto s = spaces.find(a->space_guid);
    if (s == spaces.end()) continue;
    if (space_guids.insert(s->first).second) spaces_json.push_back(SpaceJson(s->second));
    const auto o = orgs.find(s->second.org_guid);
    if (include.count("space.organization") && o != orgs.end() && org_guids.insert(o->first).second) {
      orgs_json.push_back(OrgJson(o->second));
    }
  }
  included.emplace_back("spaces", spaces_json);
  if (include.count("space.organization")) included.emplace_back("organizations", orgs_json);
  return included;
}

// ---- Root, UAA, log-cache --------------------------------------------------------------------------

// The shape of cloud_controller_ng app/controllers/runtime/root_controller.rb (#read): the
// network policy links and app_ssh are always objects; credhub, routing, logging, log_cache and
// log_stream are null when not configured; there is no bits_service link. The fake's UAA and
// log-cache are the fake itself.
Reply FakeCloudController::Impl::GetRoot(Call&) {
  return JsonReply(200, Json::Object{{"links", Json::Object{
                                                   {"self", Href(knobs.root_self_href.empty() ? LocationBase()
                                                                                              : knobs.root_self_href)},
                                                   {"cloud_controller_v2", Json::Object{{"href", Url("/v2")},
                                                                                        {"meta", Json::Object{{"version", "2.260.0"}}}}},
                                                   {"cloud_controller_v3", Json::Object{{"href", Url("/v3")},
                                                                                        {"meta", Json::Object{{"version", "3.195.0"}}}}},
                                                   {"network_policy_v0", Href(Url("/networking/v0/external"))},
                                                   {"network_policy_v1", Href(Url("/networking/v1/external"))},
                                                   {"login", Href(base_url)},
                                                   {"uaa", Href(base_url)},
                                                   {"credhub", Json()},
                                                   {"routing", Json()},
                                                   {"logging", Json()},
                                                   {"log_cache", Href(base_url)},
                                                   {"log_stream", Json()},
                                                   // The values of CC's config/cloud_controller.yml.
                                                   {"app_ssh", Json::Object{{"href", "ssh.system.domain.example.com:2222"},
                                                                            {"meta", Json::Object{{"host_key_fingerprint",
                                                                                                   "47:0d:d1:c8:c3:3d:0a:36:d1:49:2f:f2:90:27:31:d0"},
                                                                                                  {"oauth_client", "ssh-proxy"}}}}},
                                               }}});
}

Reply FakeCloudController::Impl::GetV3Root(Call&) {
  Json::Object links{{"self", Href(Url("/v3"))}};
  for (const char* r : {"apps", "droplets", "processes", "service_credential_bindings", "service_instances",
                        "service_offerings", "service_plans", "spaces", "organizations", "feature_flags"}) {
    links.emplace_back(r, Href(Url(std::string("/v3/") + r)));
  }
  return JsonReply(200, Json::Object{{"links", links}});
}

// POST /oauth/token (fake UAA): client_credentials, password and refresh_token grants.
Reply FakeCloudController::Impl::PostToken(Call& c) {
  std::map<std::string, std::string> form;
  for (const std::string& pair : SplitList(c.body, '&')) {
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    form[PercentDecode(pair.substr(0, eq), true)] =
        eq == std::string::npos ? "" : PercentDecode(pair.substr(eq + 1), true);
  }
  std::optional<std::string> client_id, client_secret;
  if (StartsWith(Lower(c.authorization), "basic ")) {
    const auto decoded = Base64Decode(Trim(c.authorization.substr(6)));
    if (!decoded || decoded->find(':') == std::string::npos) return UaaError(401, "unauthorized", "Bad credentials");
    client_id = PercentDecode(decoded->substr(0, decoded->find(':')), false);
    client_secret = PercentDecode(decoded->substr(decoded->find(':') + 1), false);
  } else if (form.count("client_id")) {
    client_id = form["client_id"];
    client_secret = form.count("client_secret") ? form["client_secret"] : "";
  }
  if (!client_id) {
    return UaaError(401, "unauthorized", "Full authentication is required to access this resource");
  }
  const auto client = clients.find(*client_id);
  if (client == clients.end() || client->second.secret != *client_secret) {
    return UaaError(401, "unauthorized", "Bad credentials");
  }
  const std::string grant = form["grant_type"];
  if (grant.empty()) return UaaError(400, "invalid_request", "Missing grant type");
  if (grant != "client_credentials" && grant != "password" && grant != "refresh_token") {
    return UaaError(400, "unsupported_grant_type", "Unsupported grant type: " + grant);
  }
  const auto& grants = client->second.grant_types;
  if (std::find(grants.begin(), grants.end(), grant) == grants.end()) {
    return UaaError(401, "invalid_client", "Unauthorized grant type: " + grant);
  }

  std::string username;
  std::vector<std::string> scopes;
  std::optional<std::string> refresh;
  if (grant == "client_credentials") {
    scopes = client->second.authorities;
  } else if (grant == "password") {
    const auto user = users.find(form["username"]);
    if (user == users.end() || user->second.password != form["password"]) {
      return UaaError(401, "unauthorized", "Bad credentials");
    }
    username = user->first;
    scopes = user->second.scopes;
  } else {
    const auto rt = refresh_tokens.find(form["refresh_token"]);
    if (rt == refresh_tokens.end()) {
      return UaaError(401, "invalid_token", "Invalid refresh token: " + form["refresh_token"]);
    }
    if (rt->second.client_id != *client_id) return UaaError(401, "invalid_grant", "Wrong client for this refresh token");
    username = rt->second.username;
    scopes = rt->second.scopes;
    refresh = rt->first;
  }
  if (form.count("scope") && !form["scope"].empty()) {  // narrowing only
    std::vector<std::string> narrowed;
    for (const std::string& s : SplitList(form["scope"], ' ')) {
      if (s.empty()) continue;
      if (std::find(scopes.begin(), scopes.end(), s) == scopes.end()) {
        return UaaError(400, "invalid_scope", "Invalid scope: " + s + ". Did you know that you can get default scopes by simply sending no value?");
      }
      narrowed.push_back(s);
    }
    scopes = narrowed;
  }
  Json::Object body;
  IssueTokenLocked(*client_id, username, scopes, &body);
  if (grant == "password") {
    refresh = "rt-" + std::to_string(NextSeq());
    refresh_tokens[*refresh] = RefreshRec{*client_id, username, scopes};
  }
  if (refresh) body.emplace_back("refresh_token", *refresh);
  Reply r = JsonReply(200, body);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

// GET /api/v1/read/:source_id (fake log-cache, §4.2). Auth failures are 404, as log-cache does.
Reply FakeCloudController::Impl::ReadLogs(Call& c) {
  const Reply not_found = JsonReply(404, Json::Object{{"error", "not found"}});
  const TokenRec* token = ValidToken(c.authorization);
  if (token == nullptr) return not_found;
  const auto has = [&](const char* s) { return std::find(token->scopes.begin(), token->scopes.end(), s) != token->scopes.end(); };
  const std::string& source = c.Param("source_id");
  if (!has("logs.admin") && !has("doppler.firehose") && apps.find(source) == apps.end()) return not_found;

  for (const auto& [name, value] : c.query) {
    if (name != "start_time" && name != "end_time" && name != "envelope_types" && name != "limit" &&
        name != "descending" && name != "name_filter") {
      return JsonReply(400, Json::Object{{"error", "unknown query parameter: " + name}});
    }
  }
  const auto parse_i64 = [](const std::string& s, std::int64_t* out) {
    if (s.size() > 18 || !AllDigits(s)) return false;
    *out = std::stoll(s);
    return true;
  };
  std::int64_t start = 0, end = std::numeric_limits<std::int64_t>::max(), limit = 100;
  if (c.Has("start_time") && !parse_i64(c.Query("start_time"), &start)) {
    return JsonReply(400, Json::Object{{"error", "start_time must be an int64 of nanoseconds"}});
  }
  if (c.Has("end_time") && !parse_i64(c.Query("end_time"), &end)) {
    return JsonReply(400, Json::Object{{"error", "end_time must be an int64 of nanoseconds"}});
  }
  if (c.Has("limit") && (!parse_i64(c.Query("limit"), &limit) || limit > 1000)) {
    return JsonReply(400, Json::Object{{"error", "limit must be a number no greater than 1000"}});
  }
  const bool descending = c.Query("descending") == "true";
  const std::string types = c.Query("envelope_types");
  const bool want_logs = types.empty() || types.find("LOG") != std::string::npos || types == "ANY";

  std::vector<const EnvelopeRec*> selected;
  if (want_logs && logs.count(source)) {
    for (const EnvelopeRec& e : logs.at(source)) {
      if (e.ts >= start && e.ts < end) selected.push_back(&e);
    }
  }
  std::stable_sort(selected.begin(), selected.end(), [](const EnvelopeRec* a, const EnvelopeRec* b) { return a->ts < b->ts; });
  if (descending) std::reverse(selected.begin(), selected.end());
  if (static_cast<std::int64_t>(selected.size()) > limit) selected.resize(static_cast<std::size_t>(limit));

  Json::Array batch;
  const auto app = apps.find(source);
  for (const EnvelopeRec* e : selected) {
    Json::Object tags{{"source_type", e->source_type}};
    if (app != apps.end()) {
      tags.emplace_back("app_id", app->first);
      tags.emplace_back("app_name", app->second.name);
      tags.emplace_back("space_id", app->second.space_guid);
    }
    batch.push_back(Json::Object{
        {"timestamp", std::to_string(e->ts)},
        {"source_id", source},
        {"instance_id", e->instance_id},
        {"deprecated_tags", Json::Object{}},
        {"tags", tags},
        {"log", Json::Object{{"payload", Base64Encode(e->text)}, {"type", e->is_stderr ? "ERR" : "OUT"}}},
    });
  }
  return JsonReply(200, Json::Object{{"envelopes", Json::Object{{"batch", batch}}}});
}

// ---- Apps -----------------------------------------------------------------------------------------

namespace {

bool ParseBody(const std::string& body, rapidjson::Document* d) {
  d->Parse(body.c_str(), body.size());
  return !d->HasParseError() && d->IsObject();
}

// LifecycleValidator (app/messages/validators.rb): the lifecycle data checked by the data message
// of the lifecycle type - BuildpackLifecycleDataMessage for buildpack and cnb
// (app/messages/buildpack_lifecycle_data_message.rb), EmptyLifecycleDataMessage for docker
// (app/messages/empty_lifecycle_data_message.rb) - each error as a "Lifecycle ..." full message.
// `type` is the requested type (nullptr or not present: the default, buildpack).
void LifecycleErrors(const rapidjson::Value* type, const rapidjson::Value* data, Errors* e) {
  const bool absent = type == nullptr || type->IsNull() || type->IsFalse();  // `lifecycle_type || default`
  const std::string t = absent ? "buildpack" : (type->IsString() ? type->GetString() : "\x01");
  if (t != "buildpack" && t != "docker" && t != "cnb") {
    e->Add("Lifecycle type is not included in the list: buildpack, docker, cnb");
    return;
  }
  if (data == nullptr || !data->IsObject()) return;
  Errors inner;
  if (t == "docker") {
    UnknownFieldErrors(*data, {}, &inner);
  } else {
    UnknownFieldErrors(*data, {"buildpacks", "stack", "credentials"}, &inner);
    StringLengthErrors(Member(*data, "stack"), "Stack", 1, 4096, "must be between 1 and 4096 characters", &inner);
    const rapidjson::Value* bps = Member(*data, "buildpacks");
    if (bps != nullptr && !bps->IsNull() && !bps->IsArray()) inner.Add("Buildpacks must be an array");
    const rapidjson::Value* creds = Member(*data, "credentials");
    if (creds != nullptr && !creds->IsNull() && !creds->IsObject()) inner.Add("Credentials must be an object");
    if (bps != nullptr && bps->IsArray()) {
      bool non_string = false, length_error = false;
      for (const auto& bp : bps->GetArray()) {
        if (!bp.IsString()) {
          non_string = true;
          continue;
        }
        if (Blank(bp.GetString()) || Utf8Length(bp.GetString()) > 4096) length_error = true;
      }
      if (non_string) inner.Add("Buildpacks can only contain strings");
      if (length_error) inner.Add("Buildpacks entries must be between 1 and 4096 characters");
    }
    if (creds != nullptr && creds->IsObject()) {
      for (auto it = creds->MemberBegin(); it != creds->MemberEnd(); ++it) {
        if (!it->value.IsObject()) {
          inner.Add("Credentials credentials value must be a hash");
          break;
        }
      }
    }
  }
  for (const std::string& m : inner.list) e->Add("Lifecycle " + m);
}

// The `lifecycle` errors shared by AppCreateMessage and AppUpdateMessage
// (app/messages/app_create_message.rb, app_update_message.rb): the LifecycleValidator (create: only
// when a type is given; update: whenever `lifecycle` is), `lifecycle_type` a string when given,
// `lifecycle_data` an object. Appended by the caller in declaration order, so split in two.
void LifecycleTypeAndDataErrors(const rapidjson::Value* lifecycle, Errors* e) {
  if (lifecycle == nullptr) return;
  const rapidjson::Value* type = Member(*lifecycle, "type");  // HashUtils.dig: nil unless an object
  if (Present(type) && !type->IsString()) e->Add("Lifecycle type must be a string");
  const rapidjson::Value* data = Member(*lifecycle, "data");
  if (data == nullptr || !data->IsObject()) e->Add("Lifecycle data must be an object");
}

// AppModel#validate (app/models/runtime/app_model.rb) as Sequel reports it: CC's Sequel patch
// (lib/cloud_controller/db.rb default_validation_helpers_options) makes each helper's message its
// type, so "name presence" / "name format" (APP_NAME_REGEX /\A[[:alnum:][:punct:][:print:]]+\Z/:
// no control characters); EnvironmentVariablesValidator's `errors.add(attribute, message: ...)` on
// a Sequel model stores the keyword Hash, so `environment_variables {:message=>"cannot set PORT"}`.
// Sequel::ValidationFailed's message is these joined with ", " (answered 422 10008 by
// app/actions/app_create.rb / app_update.rb InvalidApp).
std::vector<std::string> AppModelErrors(const std::string& stripped_name, const rapidjson::Value* env) {
  std::vector<std::string> out;
  if (stripped_name.empty()) out.push_back("name presence");
  if (stripped_name.empty() || std::any_of(stripped_name.begin(), stripped_name.end(), [](char ch) {
        return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7F;
      })) {
    out.push_back("name format");
  }
  if (env != nullptr && env->IsObject()) {
    for (auto it = env->MemberBegin(); it != env->MemberEnd(); ++it) {
      if (auto err = EnvKeyError(std::string(it->name.GetString(), it->name.GetStringLength()))) {
        out.push_back("environment_variables {:message=>\"" + *err + "\"}");
      }
    }
  }
  return out;
}

}  // namespace

Reply FakeCloudController::Impl::ListApps(Call& c) {
  if (auto bad = CheckQuery(c, {"guids", "names", "space_guids", "organization_guids", "stacks", "lifecycle_type",
                                "label_selector", "include", "page", "per_page", "order_by"})) {
    return *bad;
  }
  Page page;
  std::set<std::string> include;
  std::optional<std::vector<LabelRequirement>> selector;
  if (auto bad = ParsePage(c, &page, {"created_at", "updated_at", "name", "state"})) return *bad;
  if (auto bad = ParseInclude(c, {"space", "space.organization"}, &include)) return *bad;
  if (auto bad = ParseSelector(c, &selector)) return *bad;
  const auto guids = FilterSet(c, "guids");
  const auto names = FilterSet(c, "names");
  const auto space_guids = FilterSet(c, "space_guids");
  const auto org_guids = FilterSet(c, "organization_guids");
  const auto stacks_filter = FilterSet(c, "stacks");
  const std::string lifecycle = c.Query("lifecycle_type");
  std::vector<const AppRec*> recs;
  for (const auto& [guid, a] : apps) {
    if (guids && !guids->count(guid)) continue;
    if (names && !names->count(a.name)) continue;
    if (space_guids && !space_guids->count(a.space_guid)) continue;
    if (org_guids) {
      const auto s = spaces.find(a.space_guid);
      if (s == spaces.end() || !org_guids->count(s->second.org_guid)) continue;
    }
    if (stacks_filter && (!a.stack || !stacks_filter->count(*a.stack))) continue;
    if (!lifecycle.empty() && lifecycle != LifecycleName(a.lifecycle)) continue;
    if (selector && !SelectorMatches(*selector, a.labels)) continue;
    recs.push_back(&a);
  }
  std::function<Json::Object(const std::vector<const AppRec*>&)> inc;
  if (!include.empty()) inc = [&](const std::vector<const AppRec*>& slice) { return AppIncludes(include, slice); };
  return List<AppRec>(c, page, recs, [&](const AppRec& a) { return AppJson(a); }, inc);
}

// POST /v3/apps: app/controllers/v3/apps_controller.rb#create, in its order.
Reply FakeCloudController::Impl::CreateApp(Call& c) {
  rapidjson::Document d;
  if (!ParseBody(c.body, &d)) return ParseError();
  // AppCreateMessage (app/messages/app_create_message.rb; MetadataBaseMessage's validator first).
  Errors e;
  if (const rapidjson::Value* m = Member(d, "metadata")) MetadataErrors(*m, &e);
  UnknownFieldErrors(d, {"name", "environment_variables", "relationships", "lifecycle", "metadata"}, &e);
  RelationshipErrors(Member(d, "relationships"), {"space"}, {}, true, {"space"}, &e);
  const rapidjson::Value* lifecycle = Member(d, "lifecycle");
  const rapidjson::Value* type = lifecycle != nullptr ? Member(*lifecycle, "type") : nullptr;
  const rapidjson::Value* data = lifecycle != nullptr ? Member(*lifecycle, "data") : nullptr;
  if (lifecycle != nullptr && Present(type)) LifecycleErrors(type, data, &e);
  const rapidjson::Value* name_v = Member(d, "name");
  if (name_v == nullptr || !name_v->IsString()) e.Add("Name must be a string");
  if (name_v != nullptr && Utf8Length(RubyToS(*name_v)) > 255) e.Add("Name is too long (maximum is 255 characters)");
  const rapidjson::Value* vars = Member(d, "environment_variables");
  if (vars != nullptr && !vars->IsNull() && !vars->IsObject()) e.Add("Environment variables must be an object");
  LifecycleTypeAndDataErrors(lifecycle, &e);
  if (!e.ok()) return e.Refusal();

  const auto space_guid = StringAt(d, {"relationships", "space", "data", "guid"});
  if (!space_guid || !spaces.count(*space_guid)) {
    return Unprocessable("Invalid space. Ensure that the space exists and you have access to it.");
  }
  const std::string type_name = Present(type) ? type->GetString() : "buildpack";  // default_app_lifecycle
  const Lifecycle lc = *ParseLifecycle(type_name);
  if (lc == Lifecycle::kDocker && knobs.docker_disabled) return FeatureDisabled("diego_docker");
  if (lc == Lifecycle::kCnb && knobs.cnb_disabled) return FeatureDisabled("diego_cnb");

  // AppBuildpackLifecycle / AppCNBLifecycle (lib/cloud_controller/diego/lifecycles/): buildpacks
  // and stack from the data (stack default: the default stack), checked by
  // BuildpackLifecycleDataValidator (lifecycles/buildpack_lifecycle_data_validator.rb).
  std::vector<std::string> buildpacks;
  std::optional<std::string> stack = "cflinuxfs4";
  if (lc != Lifecycle::kDocker) {
    if (const rapidjson::Value* bps = data != nullptr ? Member(*data, "buildpacks") : nullptr; bps != nullptr && bps->IsArray()) {
      for (const auto& bp : bps->GetArray()) buildpacks.emplace_back(bp.GetString(), bp.GetStringLength());
    }
    if (const rapidjson::Value* st = data != nullptr ? Member(*data, "stack") : nullptr; st != nullptr && st->IsString()) {
      stack = st->GetString();
    }
    Errors lifecycle_errors;
    const bool stack_exists = stacks.count(*stack) > 0;
    for (const std::string& bp : buildpacks) {
      if (!knobs.unknown_buildpacks.count(bp)) continue;
      lifecycle_errors.Add("Buildpack \"" + bp + "\"" + (stack_exists ? " for stack \"" + *stack + "\"" : "") +
                           " must be an existing admin buildpack or a valid git URI");
    }
    if (!stack_exists) lifecycle_errors.Add("Stack must be an existing stack");
    if (!lifecycle_errors.ok()) return lifecycle_errors.Refusal();
  }

  // AppCreate (app/actions/app_create.rb): the model's validations, then the unique name, then
  // the stack's state (lib/cloud_controller/stack_state_validator.rb).
  const std::string name = Trim(name_v->GetString());  // strip_attributes :name
  if (const auto model = AppModelErrors(name, vars); !model.empty()) return Unprocessable(Join(model, ", "));
  for (const auto& [guid, other] : apps) {
    if (other.space_guid == *space_guid && Lower(other.name) == Lower(name)) {
      return CcError(422, 10016, "CF-UniquenessError", "App with the name '" + name + "' already exists.");
    }
  }
  if (lc != Lifecycle::kDocker && knobs.restricted_stacks.count(*stack)) {
    return Unprocessable("ERROR: Staging failed. The stack '" + *stack + "' is 'RESTRICTED' and cannot be used for staging.");
  }
  std::map<std::string, std::string> env, labels, annotations;
  if (vars != nullptr) ApplyEnv(*vars, &env);
  ApplyMetadata(Member(d, "metadata"), &labels, &annotations);

  AppRec a;
  a.seq = NextSeq();
  a.guid = NewGuid("a0000000", a.seq);
  a.name = name;
  a.space_guid = *space_guid;
  a.lifecycle = lc;
  if (lc != Lifecycle::kDocker) {
    a.buildpacks = buildpacks;
    a.stack = stack;
  }
  a.env = std::move(env);
  a.labels = std::move(labels);
  a.annotations = std::move(annotations);
  a.features = {{"ssh", true}, {"revisions", true}, {"service-binding-k8s", false}, {"file-based-vcap-services", false}};
  a.created_through_api = true;
  a.created = a.updated = SysClock::now();
  const AppRec& stored = apps.emplace(a.guid, std::move(a)).first->second;
  AddProcess(stored, knobs.web_process_guid_is_app_guid ? stored.guid : "", "web", 1);
  Reply r = JsonReply(201, AppJson(stored));
  AddWarnings(&r);
  return r;
}

Reply FakeCloudController::Impl::GetApp(Call& c) {
  if (auto bad = CheckQuery(c, {"include"})) return *bad;
  std::set<std::string> include;
  if (auto bad = ParseInclude(c, {"space", "space.organization"}, &include)) return *bad;
  const AppRec* a = FindApp(c.Param("guid"));
  if (a == nullptr) return NotFound("App");
  Json json = AppJson(*a);
  if (!include.empty()) json.Add("included", AppIncludes(include, {a}));
  return JsonReply(200, json);
}

// PATCH /v3/apps/:guid: app/controllers/v3/apps_controller.rb#update - the message before the app.
Reply FakeCloudController::Impl::UpdateApp(Call& c) {
  rapidjson::Document d;
  if (!ParseBody(c.body, &d)) return ParseError();
  // AppUpdateMessage (app/messages/app_update_message.rb).
  Errors e;
  if (const rapidjson::Value* m = Member(d, "metadata")) MetadataErrors(*m, &e);
  UnknownFieldErrors(d, {"name", "lifecycle", "metadata"}, &e);
  const rapidjson::Value* lifecycle = Member(d, "lifecycle");
  const rapidjson::Value* type = lifecycle != nullptr ? Member(*lifecycle, "type") : nullptr;
  const rapidjson::Value* data = lifecycle != nullptr ? Member(*lifecycle, "data") : nullptr;
  if (lifecycle != nullptr) LifecycleErrors(type, data, &e);
  const rapidjson::Value* name_v = Member(d, "name");
  if (name_v != nullptr && !name_v->IsNull() && !name_v->IsString()) e.Add("Name must be a string");
  if (name_v != nullptr && Utf8Length(RubyToS(*name_v)) > 255) e.Add("Name is too long (maximum is 255 characters)");
  LifecycleTypeAndDataErrors(lifecycle, &e);
  if (!e.ok()) return e.Refusal();

  AppRec* a = FindApp(c.Param("guid"));
  if (a == nullptr) return NotFound("App");
  // AppLifecycleProvider.provide_for_update: the requested type, else the app's.
  const Lifecycle lc = Present(type) ? *ParseLifecycle(type->GetString()) : a->lifecycle;
  std::optional<std::string> stack = a->stack;
  std::vector<std::string> buildpacks = a->buildpacks;
  if (lc != Lifecycle::kDocker) {
    // AppBaseLifecycle: the requested stack, else the default stack; BuildpackLifecycleDataValidator.
    const rapidjson::Value* st = data != nullptr ? Member(*data, "stack") : nullptr;
    const std::string checked_stack = st != nullptr && st->IsString() ? st->GetString() : "cflinuxfs4";
    const rapidjson::Value* bps = data != nullptr ? Member(*data, "buildpacks") : nullptr;
    Errors lifecycle_errors;
    const bool stack_exists = stacks.count(checked_stack) > 0;
    if (bps != nullptr && bps->IsArray()) {
      for (const auto& bp : bps->GetArray()) {
        if (!knobs.unknown_buildpacks.count(bp.GetString())) continue;
        lifecycle_errors.Add(std::string("Buildpack \"") + bp.GetString() + "\"" +
                             (stack_exists ? " for stack \"" + checked_stack + "\"" : "") +
                             " must be an existing admin buildpack or a valid git URI");
      }
    }
    if (!stack_exists) lifecycle_errors.Add("Stack must be an existing stack");
    if (!lifecycle_errors.ok()) return lifecycle_errors.Refusal();
    if (st != nullptr) stack = st->IsString() ? std::optional<std::string>(st->GetString()) : std::nullopt;
    if (bps != nullptr) {
      buildpacks.clear();
      if (bps->IsArray()) {
        for (const auto& bp : bps->GetArray()) buildpacks.emplace_back(bp.GetString());
      }
    }
  }
  // AppUpdate (app/actions/app_update.rb): the type never changes; the model's validations and its
  // unique name are InvalidApp, so 422 10008 here (not the 10016 of a create).
  if (lc != a->lifecycle) {
    return Unprocessable(std::string("Lifecycle type cannot be changed from ") + LifecycleName(a->lifecycle) + " to " +
                         LifecycleName(lc));
  }
  const std::string name = name_v != nullptr && name_v->IsString() ? Trim(name_v->GetString()) : a->name;
  if (const auto model = AppModelErrors(name, nullptr); !model.empty()) return Unprocessable(Join(model, ", "));
  for (const auto& [guid, other] : apps) {
    if (guid != a->guid && other.space_guid == a->space_guid && Lower(other.name) == Lower(name)) {
      return Unprocessable("App with the name '" + name + "' already exists.");
    }
  }
  if (lc != Lifecycle::kDocker && data != nullptr && Member(*data, "stack") != nullptr && stack &&
      knobs.restricted_stacks.count(*stack)) {
    // validate_stack_state: an app with no builds is new; the fake's clones are staged by copy.
    return Unprocessable("ERROR: Staging failed. The stack '" + *stack + "' is 'RESTRICTED' and cannot be used for staging.");
  }
  ApplyMetadata(Member(d, "metadata"), &a->labels, &a->annotations);
  a->name = name;
  a->stack = stack;
  a->buildpacks = buildpacks;
  a->updated = SysClock::now();
  return JsonReply(200, AppJson(*a));
}

Reply FakeCloudController::Impl::DeleteApp(Call& c) {
  AppRec* a = FindApp(c.Param("guid"));
  if (a == nullptr) return NotFound("App");
  ++a->pending_delete_jobs;
  return Accepted(NewJob(JobKind::kAppDelete, "app.delete", a->guid, knobs.app_delete_job_ticks, false, false));
}

Reply FakeCloudController::Impl::GetAppEnv(Call& c) {
  const AppRec* a = FindApp(c.Param("guid"));
  if (a == nullptr) return NotFound("App");
  const std::string self = Url("/v3/apps/" + a->guid);
  return JsonReply(200, Json::Object{{"var", StringMap(a->env)},
                                     {"links", Json::Object{{"self", Href(self + "/environment_variables")},
                                                            {"app", Href(self)}}}});
}

// PATCH /v3/apps/:guid/environment_variables: app/controllers/v3/apps_controller.rb
// #update_environment_variables (the app first), UpdateEnvironmentVariablesMessage
// (app/messages/update_environment_variables_message.rb) with
// EnvironmentVariablesStringValuesValidator (app/messages/validators.rb): one error per bad name,
// values only strings or null.
Reply FakeCloudController::Impl::PatchAppEnv(Call& c) {
  AppRec* a = FindApp(c.Param("guid"));
  if (a == nullptr) return NotFound("App");
  rapidjson::Document d;
  if (!ParseBody(c.body, &d)) return ParseError();
  Errors e;
  UnknownFieldErrors(d, {"var"}, &e);
  const rapidjson::Value* vars = Member(d, "var");
  if (vars == nullptr || !vars->IsObject()) {
    e.Add("Var must be an object");
  } else {
    for (auto it = vars->MemberBegin(); it != vars->MemberEnd(); ++it) {
      const std::string key(it->name.GetString(), it->name.GetStringLength());
      if (auto err = EnvKeyError(key)) {
        e.Add("Var " + *err);
      } else if (!it->value.IsString() && !it->value.IsNull()) {
        e.Add("Non-string value in environment variable for key '" + key + "', value '" + Serialize(it->value) + "'");
      }
    }
  }
  if (!e.ok()) return e.Refusal();
  ApplyEnv(*vars, &a->env);
  a->updated = SysClock::now();
  return GetAppEnv(c);
}

Reply FakeCloudController::Impl::GetCurrentDroplet(Call& c) {
  const AppRec* a = FindApp(c.Param("guid"));
  if (a == nullptr) return NotFound("App");
  const auto d = droplets.find(a->current_droplet);
  if (d == droplets.end()) return NotFound("Droplet");
  return JsonReply(200, DropletJson(d->second));
}

Reply FakeCloudController::Impl::GetCurrentDropletRelationship(Call& c) {
  const AppRec* a = FindApp(c.Param("guid"));
  if (a == nullptr) return NotFound("App");
  const std::string self = Url("/v3/apps/" + a->guid);
  return JsonReply(200, Json::Object{
                            {"data", a->current_droplet.empty() ? Json() : Json(Json::Object{{"guid", a->current_droplet}})},
                            {"links", Json::Object{{"self", Href(self + "/relationships/current_droplet")},
                                                   {"related", Href(self + "/droplets/current")}}}});
}

// Assigning a droplet creates one process per process_types key: web with 1 instance, others 0.
Reply FakeCloudController::Impl::SetCurrentDroplet(Call& c) {
  // app/controllers/v3/apps_controller.rb#assign_current_droplet: no message class, so no
  // unknown-field check; a `data` whose guid is null is refused before the app is looked up.
  rapidjson::Document d;
  if (!ParseBody(c.body, &d)) return ParseError();
  const auto guid = StringAt(d, {"data", "guid"});
  if (Member(d, "data") != nullptr && !guid) {
    return Unprocessable("Current droplet cannot be removed. Replace it with a preferred droplet.");
  }
  AppRec* a = FindApp(c.Param("guid"));
  if (a == nullptr) return NotFound("App");
  // app/actions/app_assign_droplet.rb: one of the app's droplets, and AppModel's
  // validate_droplet_is_staged (app/models/runtime/app_model.rb) as Sequel words it.
  const auto droplet = guid ? droplets.find(*guid) : droplets.end();
  if (droplet == droplets.end() || droplet->second.app_guid != a->guid) {
    return Unprocessable("Unable to assign current droplet. Ensure the droplet exists and belongs to this app.");
  }
  if (droplet->second.state != "STAGED") return Unprocessable("droplet must be in staged state");
  a->current_droplet = droplet->first;
  a->updated = SysClock::now();
  for (const auto& [type, command] : droplet->second.process_types) {
    if (FindProcess(a->guid, type) == nullptr) AddProcess(*a, type == "web" ? a->guid : "", type, type == "web" ? 1 : 0);
  }
  return GetCurrentDropletRelationship(c);
}

Reply FakeCloudController::Impl::ListAppProcesses(Call& c) {
  if (auto bad = CheckQuery(c, {"types", "guids", "page", "per_page", "order_by", "label_selector"})) return *bad;
  const AppRec* a = FindApp(c.Param("guid"));
  if (a == nullptr) return NotFound("App");
  Page page;
  std::optional<std::vector<LabelRequirement>> selector;
  if (auto bad = ParsePage(c, &page, {"created_at", "updated_at"})) return *bad;
  if (auto bad = ParseSelector(c, &selector)) return *bad;
  const auto types = FilterSet(c, "types");
  const auto guids = FilterSet(c, "guids");
  std::vector<const ProcessRec*> recs;
  for (const auto& [guid, p] : processes) {
    if (p.app_guid != a->guid) continue;
    if (types && !types->count(p.type)) continue;
    if (guids && !guids->count(guid)) continue;
    if (selector && !SelectorMatches(*selector, p.labels)) continue;
    recs.push_back(&p);
  }
  return List<ProcessRec>(c, page, recs, [&](const ProcessRec& p) { return ProcessJson(p, true); });
}

Reply FakeCloudController::Impl::GetAppProcess(Call& c) {
  if (FindApp(c.Param("guid")) == nullptr) return NotFound("App");
  const ProcessRec* p = FindProcess(c.Param("guid"), c.Param("type"));
  if (p == nullptr) return NotFound("Process");
  return JsonReply(200, ProcessJson(*p, false));
}

Reply FakeCloudController::Impl::GetAppProcessStats(Call& c) {
  if (FindApp(c.Param("guid")) == nullptr) return NotFound("App");
  ProcessRec* p = FindProcess(c.Param("guid"), c.Param("type"));
  if (p == nullptr) return NotFound("Process");
  return DoStats(*p, c);
}

Reply FakeCloudController::Impl::ScaleAppProcess(Call& c) {
  if (FindApp(c.Param("guid")) == nullptr) return NotFound("App");
  ProcessRec* p = FindProcess(c.Param("guid"), c.Param("type"));
  if (p == nullptr) return NotFound("Process");
  return DoScale(*p, c);
}

Reply FakeCloudController::Impl::DoStart(AppRec& a, Call& c) {
  if (a.current_droplet.empty() || !droplets.count(a.current_droplet)) {
    return Unprocessable("Assign a droplet before starting this app.");
  }
  // app/controllers/v3/apps_controller.rb#start: the lifecycle's feature flag.
  if (a.lifecycle == Lifecycle::kDocker && knobs.docker_disabled) return FeatureDisabled("diego_docker");
  if (a.lifecycle == Lifecycle::kCnb && knobs.cnb_disabled) return FeatureDisabled("diego_cnb");
  if (knobs.start_quota_exceeded) return Unprocessable("memory quota_exceeded");
  if (a.state != "STARTED") {
    // app/actions/app_start.rb updates each process (in creation order) to STARTED in one
    // transaction; the first one the model refuses fails the start (422) and nothing changes.
    std::vector<const ProcessRec*> order;
    for (const auto& [guid, p] : processes) {
      if (p.app_guid == a.guid) order.push_back(&p);
    }
    std::sort(order.begin(), order.end(), [](const ProcessRec* x, const ProcessRec* y) { return x->seq < y->seq; });
    std::set<std::string> started_now;
    for (const ProcessRec* p : order) {
      if (const auto quota = LogRateQuotaErrors(*p, false, *p, started_now); !quota.empty()) {
        return Unprocessable(Join(quota, ", "));
      }
      started_now.insert(p->guid);
    }
    a.state = "STARTED";
    a.updated = SysClock::now();
    for (auto& [guid, p] : processes) {
      if (p.app_guid != a.guid) continue;
      p.run_state = p.instances > 0 ? "STARTING" : "DOWN";
      p.run_ticks = 0;
      p.reported = false;
      p.container_id = 0;
    }
    Log(a.guid, "API", "Updated app with guid " + a.guid + " ({\"state\"=>\"STARTED\"})", false);
    Log(a.guid, "CELL", "Cell fake-cell-0 creating container for instance 0", false);
    ProcessRec* web = FindProcess(a.guid, "web");
    if (knobs.local_containers && knobs.placement_error.empty() && web != nullptr && web->instances > 0) {
      LaunchContainer(a, *web);
    }
    if (a.created_through_api && knobs.session_report &&
        knobs.session_report->trigger == SessionReport::Trigger::kOnStart) {
      if (auto r = MakeReport(a)) c.reports.push_back(std::move(*r));
    }
  }
  return JsonReply(200, AppJson(a));
}

void FakeCloudController::Impl::DoStop(AppRec& a) {
  if (a.state == "STOPPED") return;
  a.state = "STOPPED";
  a.updated = SysClock::now();
  for (auto& [guid, p] : processes) {
    if (p.app_guid == a.guid) p.run_state = "DOWN";
  }
  Log(a.guid, "CELL", "Cell fake-cell-0 stopping instance 0", false);
  StopContainersOfApp(a.guid);
}

Reply FakeCloudController::Impl::StartApp(Call& c) {
  AppRec* a = FindApp(c.Param("guid"));
  if (a == nullptr) return NotFound("App");
  return DoStart(*a, c);
}

Reply FakeCloudController::Impl::StopApp(Call& c) {
  AppRec* a = FindApp(c.Param("guid"));
  if (a == nullptr) return NotFound("App");
  DoStop(*a);
  return JsonReply(200, AppJson(*a));
}

Reply FakeCloudController::Impl::RestartApp(Call& c) {
  AppRec* a = FindApp(c.Param("guid"));
  if (a == nullptr) return NotFound("App");
  DoStop(*a);
  return DoStart(*a, c);
}

Reply FakeCloudController::Impl::ListAppFeatures(Call& c) {
  const AppRec* a = FindApp(c.Param("guid"));
  if (a == nullptr) return NotFound("App");
  Json::Array resources;
  for (const auto& [name, enabled] : a->features) {
    if (!knobs.missing_app_features.count(name)) resources.push_back(FeatureJson(name, enabled));
  }
  const int total = static_cast<int>(resources.size());
  const std::string self = Url(c.path);
  return JsonReply(200, Json::Object{{"resources", resources},
                                     {"pagination", Json::Object{{"total_results", total},
                                                                 {"total_pages", 1},
                                                                 {"first", Href(self)},
                                                                 {"last", Href(self)},
                                                                 {"next", Json()},
                                                                 {"previous", Json()}}}});
}

Reply FakeCloudController::Impl::GetAppFeature(Call& c) {
  const AppRec* a = FindApp(c.Param("guid"));
  if (a == nullptr) return NotFound("App");
  const auto f = a->features.find(c.Param("name"));
  if (f == a->features.end() || knobs.missing_app_features.count(f->first)) return NotFound("Feature");
  return JsonReply(200, FeatureJson(f->first, f->second));
}

Reply FakeCloudController::Impl::PatchAppFeature(Call& c) {
  AppRec* a = FindApp(c.Param("guid"));
  if (a == nullptr) return NotFound("App");
  const auto f = a->features.find(c.Param("name"));
  if (f == a->features.end() || knobs.missing_app_features.count(f->first)) return NotFound("Feature");
  rapidjson::Document d;
  if (!ParseBody(c.body, &d)) return ParseError();
  if (auto bad = RejectUnknownFields(d, {"enabled"})) return *bad;
  const rapidjson::Value* enabled = Member(d, "enabled");
  if (enabled == nullptr || !enabled->IsBool()) return Unprocessable("Enabled must be a boolean");
  f->second = enabled->GetBool();
  return JsonReply(200, FeatureJson(f->first, f->second));
}

// ---- Droplets ---------------------------------------------------------------------------------------

// POST /v3/droplets?source_guid=: buildpack copies are async (COPYING, then STAGED after
// droplet_copy_ticks GETs), docker copies are STAGED at once, cnb follows the cnb_droplet_copy knob.
Reply FakeCloudController::Impl::CopyDroplet(Call& c) {
  if (auto bad = CheckQuery(c, {"source_guid"})) return *bad;
  if (!c.Has("source_guid")) return Unprocessable("fake cloud controller: only droplet copy (source_guid) is modeled");
  rapidjson::Document d;
  if (!ParseBody(c.body, &d)) return ParseError();
  // DropletCopyMessage (app/messages/droplet_copy_message.rb): top-level keys only (the
  // relationships object itself is not checked for unknown keys), `app` an object, its guid a guid.
  Errors e;
  UnknownFieldErrors(d, {"relationships"}, &e);
  const rapidjson::Value* rel_app = Path(d, {"relationships", "app"});
  if (rel_app == nullptr || !rel_app->IsObject()) e.Add("App must be an object");
  const rapidjson::Value* guid_v = rel_app != nullptr ? Path(*rel_app, {"data", "guid"}) : nullptr;
  if (guid_v == nullptr || !guid_v->IsString()) e.Add("App guid must be a string");
  if (guid_v == nullptr || !guid_v->IsString() || guid_v->GetStringLength() < 1 || Utf8Length(guid_v->GetString()) > 200) {
    e.Add("App guid must be between 1 and 200 characters");
  }
  if (!e.ok()) return e.Refusal();
  // app/controllers/v3/droplets_controller.rb#create_copy: 404 for the source droplet, then for the
  // destination app; then app/actions/droplet_copy.rb's InvalidCopyError (422).
  const auto src = droplets.find(c.Query("source_guid"));
  if (src == droplets.end()) return NotFound("Droplet");
  AppRec* app = FindApp(guid_v->GetString());
  if (app == nullptr) return NotFound("App");
  if (src->second.state != "STAGED") return Unprocessable("source droplet is not staged");
  if (src->second.lifecycle != app->lifecycle) return Unprocessable("source and destination lifecycle types do not match");
  const bool cnb = src->second.lifecycle == Lifecycle::kCnb;
  if (cnb && knobs.cnb_droplet_copy == CnbDropletCopy::kRejected) return Unprocessable("cnb droplets cannot be copied");

  DropletRec n;
  n.seq = NextSeq();
  n.guid = NewGuid("d0000000", n.seq);
  n.app_guid = app->guid;
  n.lifecycle = src->second.lifecycle;
  n.process_types = src->second.process_types;
  n.stack = src->second.stack;
  n.buildpacks = src->second.buildpacks;
  n.image = src->second.image;
  n.copied_from = src->first;
  n.origin_app_name = src->second.origin_app_name;
  n.created = n.updated = SysClock::now();
  if (n.lifecycle == Lifecycle::kDocker) {
    n.state = "STAGED";
  } else {
    n.state = "COPYING";
    n.ticks_needed = std::max(1, knobs.droplet_copy_ticks);
    n.will_fail = knobs.droplet_copy_fails;
    n.stuck = cnb && knobs.cnb_droplet_copy == CnbDropletCopy::kStuckCopying;
  }
  const DropletRec& stored = droplets.emplace(n.guid, std::move(n)).first->second;
  if (knobs.local_containers) {
    try {
      EnsureDropletFolder(stored.guid);  // the copy's bits (a start retries if this fails)
    } catch (const std::exception&) {
    }
  }
  Reply r = JsonReply(201, DropletJson(stored));
  AddWarnings(&r);
  return r;
}

Reply FakeCloudController::Impl::GetDroplet(Call& c) {
  const auto it = droplets.find(c.Param("guid"));
  if (it == droplets.end()) return NotFound("Droplet");
  DropletRec& d = it->second;
  if (d.state == "COPYING" && !d.stuck && ++d.ticks_done >= d.ticks_needed) {
    d.updated = SysClock::now();
    if (d.will_fail) {
      d.state = "FAILED";
      d.error = knobs.droplet_copy_error;
    } else {
      d.state = "STAGED";
    }
  }
  return JsonReply(200, DropletJson(d));
}

Reply FakeCloudController::Impl::DeleteDroplet(Call& c) {
  const auto it = droplets.find(c.Param("guid"));
  if (it == droplets.end()) return NotFound("Droplet");
  return Accepted(NewJob(JobKind::kDropletDelete, "droplet.delete", it->first, knobs.droplet_delete_job_ticks, false, false));
}

// ---- Processes --------------------------------------------------------------------------------------

Reply FakeCloudController::Impl::GetProcess(Call& c) {
  const auto it = processes.find(c.Param("guid"));
  if (it == processes.end()) return NotFound("Process");
  return JsonReply(200, ProcessJson(it->second, false));
}

// PATCH /v3/processes/:guid: ProcessUpdateMessage (app/messages/process_update_message.rb), then
// app/actions/process_update.rb. Only top-level keys are checked for unknowns: CC reads
// health_check / readiness_health_check by digging, so other keys inside them are ignored.
Reply FakeCloudController::Impl::PatchProcess(Call& c) {
  const auto it = processes.find(c.Param("guid"));
  if (it == processes.end()) return NotFound("Process");
  ProcessRec& p = it->second;
  rapidjson::Document d;
  if (!ParseBody(c.body, &d)) return ParseError();
  const rapidjson::Value* hc = Member(d, "health_check");
  const rapidjson::Value* rhc = Member(d, "readiness_health_check");
  if ((hc != nullptr && !hc->IsObject() && !hc->IsNull()) || (rhc != nullptr && !rhc->IsObject() && !rhc->IsNull())) {
    // The message's initialize calls `key?` on it: CC fails with a 500 (V3ErrorHasher's unknown error).
    return CcError(500, 10001, "UnknownError", "An unknown error occurred.");
  }
  Errors e;
  if (const rapidjson::Value* m = Member(d, "metadata")) MetadataErrors(*m, &e);
  UnknownFieldErrors(d, {"command", "user", "health_check", "readiness_health_check", "metadata"}, &e);
  const rapidjson::Value* cmd = Member(d, "command");
  StringLengthErrors(cmd, "Command", 1, 4096, "must be between 1 and 4096 characters", &e);
  StringLengthErrors(Member(d, "user"), "User", 1, 255, "must be between 1 and 255 characters", &e);
  std::optional<std::int64_t> timeout, invocation_timeout, interval, r_invocation_timeout, r_interval;
  const auto checks = [&](const rapidjson::Value* check, const std::string& attr, std::optional<std::int64_t>* timeout_out,
                          std::optional<std::int64_t>* invocation_out, std::optional<std::int64_t>* interval_out) {
    if (check == nullptr || !check->IsObject()) return;
    if (const rapidjson::Value* t = Member(*check, "type")) {
      const std::string v = t->IsString() ? t->GetString() : "";
      if (v != "port" && v != "process" && v != "http") e.Add(attr + " type must be \"port\", \"process\", or \"http\"");
    }
    const rapidjson::Value* data = Member(*check, "data");
    if (data == nullptr || !data->IsObject()) return;
    if (timeout_out != nullptr) IntegerErrors(Member(*data, "timeout"), attr + " timeout", std::nullopt, 1, kMaxDbInt, &e, timeout_out);
    IntegerErrors(Member(*data, "invocation_timeout"), attr + " invocation timeout", std::nullopt, 1, kMaxDbInt, &e, invocation_out);
    IntegerErrors(Member(*data, "interval"), attr + " interval", std::nullopt, 1, kMaxDbInt, &e, interval_out);
    if (const rapidjson::Value* ep = Member(*data, "endpoint"); ep != nullptr && !ep->IsNull()) {
      if (Utf8Length(RubyToS(*ep)) > 255) e.Add(attr + " endpoint is too long (maximum is 255 characters)");
      const std::string path = ep->IsString() ? ep->GetString() : "";
      const bool uri_path = ep->IsString() && !path.empty() && path[0] == '/' &&
                            (path.size() == 1 || (path[1] != '/' && std::none_of(path.begin(), path.end(), [](char ch) {
                                                    return std::isspace(static_cast<unsigned char>(ch)) != 0;
                                                  })));
      if (!uri_path) e.Add(attr + " endpoint must be a valid URI path");  // lib/utils/uri_utils.rb is_uri_path?
    }
  };
  checks(hc, "Health check", &timeout, &invocation_timeout, &interval);
  checks(rhc, "Readiness health check", nullptr, &r_invocation_timeout, &r_interval);
  if (!e.ok()) return e.Refusal();

  ProcessRec updated = p;
  if (cmd != nullptr) {
    updated.command = cmd->IsNull() ? std::nullopt : std::optional<std::string>(cmd->GetString());
  }
  const auto type_of = [](const rapidjson::Value* check) -> std::optional<std::string> {
    const rapidjson::Value* t = check != nullptr ? Member(*check, "type") : nullptr;
    return t != nullptr ? std::optional<std::string>(t->GetString()) : std::nullopt;
  };
  const rapidjson::Value* hc_data = hc != nullptr ? Member(*hc, "data") : nullptr;
  if (const auto t = type_of(hc)) updated.hc_type = *t;
  if (hc_data != nullptr && Member(*hc_data, "timeout") != nullptr) updated.hc_timeout = timeout;
  if (hc_data != nullptr && Member(*hc_data, "invocation_timeout") != nullptr) updated.hc_invocation_timeout = invocation_timeout;
  if (const auto t = type_of(hc); t && *t != "http") {
    updated.hc_endpoint.reset();  // process_update.rb: a non-http type clears the endpoint
  } else if (const rapidjson::Value* ep = hc_data != nullptr ? Member(*hc_data, "endpoint") : nullptr) {
    updated.hc_endpoint = ep->IsString() ? std::optional<std::string>(ep->GetString()) : std::nullopt;
  }
  if (const auto t = type_of(rhc)) updated.readiness_type = *t;
  ApplyMetadata(Member(d, "metadata"), &updated.labels, &updated.annotations);
  updated.updated = SysClock::now();
  p = std::move(updated);
  return JsonReply(200, ProcessJson(p, false));
}

// AppMaxLogRateLimitPolicy (app/models/runtime/constraints/max_log_rate_limit_policy.rb) for the
// space, then the organization (ProcessModel#validation_policies, app/models/runtime/process_model.rb),
// with ProcessLogRateLimitCalculator (lib/cloud_controller/app_services/
// process_log_rate_limit_calculator.rb) and Space/Organization#has_remaining_log_rate_limit. Only a
// process that is STARTED after the change and whose state, instances or log rate changed is
// checked. `started_now`: processes already started earlier in the same start (counted as used).
// Sequel's full messages of the :log_rate_limit errors.
std::vector<std::string> FakeCloudController::Impl::LogRateQuotaErrors(const ProcessRec& before, bool was_started,
                                                                       const ProcessRec& after,
                                                                       const std::set<std::string>& started_now) const {
  std::vector<std::string> out;
  const bool changed = !was_started || before.instances != after.instances || before.log_rate != after.log_rate;
  if (!changed) return out;
  const auto app = apps.find(after.app_guid);
  if (app == apps.end()) return out;
  const auto space = spaces.find(app->second.space_guid);
  if (space == spaces.end()) return out;
  const auto org = orgs.find(space->second.org_guid);
  std::int64_t requested = -1;
  if (after.log_rate != -1) {
    const std::int64_t used_before = was_started && before.log_rate != -1 ? before.log_rate * before.instances : 0;
    requested = after.log_rate * after.instances - used_before;
  }
  // started_app_log_rate_limit: the sum of log_rate_limit * instances over STARTED processes.
  const auto used_in = [&](const std::function<bool(const AppRec&)>& in_target) {
    std::int64_t used = 0;
    for (const auto& [guid, p] : processes) {
      const auto a = apps.find(p.app_guid);
      if (a == apps.end() || !in_target(a->second)) continue;
      if (a->second.state == "STARTED" || started_now.count(guid)) used += p.log_rate * p.instances;
    }
    return used;
  };
  const auto check = [&](const std::string& kind, const std::string& name, std::int64_t limit,
                         const std::function<bool(const AppRec&)>& in_target) {
    if (requested == -1 && limit != -1) out.push_back("log_rate_limit cannot be unlimited in " + kind + " '" + name + "'.");
    if (limit != -1 && limit - used_in(in_target) < requested) {
      out.push_back("log_rate_limit exceeds " + kind + " log rate quota");
    }
  };
  check("space", space->second.name, space->second.log_rate_limit,
        [&](const AppRec& a) { return a.space_guid == space->first; });
  if (org != orgs.end()) {
    check("organization", org->second.name, org->second.log_rate_limit, [&](const AppRec& a) {
      const auto s = spaces.find(a.space_guid);
      return s != spaces.end() && s->second.org_guid == org->first;
    });
  }
  return out;
}

// POST /v3/processes/:guid/actions/scale: app/controllers/v3/processes_controller.rb#scale (the
// app_scaling flag first), ProcessScaleMessage (app/messages/process_scale_message.rb), then
// app/actions/process_scale.rb (the process model's policies: 422). Answers 202 with the process.
Reply FakeCloudController::Impl::DoScale(ProcessRec& p, Call& c) {
  if (knobs.app_scaling_disabled) return FeatureDisabled("app_scaling");
  rapidjson::Document d;
  if (Trim(c.body).empty()) {
    d.SetObject();
  } else if (!ParseBody(c.body, &d)) {
    return ParseError();
  }
  Errors e;
  UnknownFieldErrors(d, {"instances", "memory_in_mb", "disk_in_mb", "log_rate_limit_in_bytes_per_second"}, &e);
  std::map<std::string, std::int64_t> values;
  std::optional<std::int64_t> v;
  IntegerErrors(Member(d, "instances"), "Instances", std::nullopt, 0, kMaxDbInt, &e, &v);
  if (v) values["instances"] = *v;
  v.reset();
  IntegerErrors(Member(d, "memory_in_mb"), "Memory in mb", 0, std::nullopt, kMaxDbInt, &e, &v);
  if (v) values["memory_in_mb"] = *v;
  v.reset();
  IntegerErrors(Member(d, "disk_in_mb"), "Disk in mb", 0, std::nullopt, kMaxDbInt, &e, &v);
  if (v) values["disk_in_mb"] = *v;
  v.reset();
  IntegerErrors(Member(d, "log_rate_limit_in_bytes_per_second"), "Log rate limit in bytes per second", std::nullopt, -1,
                kMaxDbBigint, &e, &v);
  if (v) values["log_rate_limit_in_bytes_per_second"] = *v;
  if (!e.ok()) return e.Refusal();
  ProcessRec after = p;
  if (values.count("instances")) after.instances = static_cast<int>(values["instances"]);
  if (values.count("log_rate_limit_in_bytes_per_second")) after.log_rate = values["log_rate_limit_in_bytes_per_second"];
  const AppRec* app = FindApp(p.app_guid);
  if (app != nullptr && app->state == "STARTED") {
    if (const auto quota = LogRateQuotaErrors(p, true, after, {}); !quota.empty()) return Unprocessable(Join(quota, ", "));
  }
  if (values.count("instances")) p.instances = static_cast<int>(values["instances"]);
  if (p.instances == 0 && p.type == "web") StopContainersOfApp(p.app_guid);  // no instance left
  if (values.count("memory_in_mb")) p.memory_in_mb = static_cast<int>(values["memory_in_mb"]);
  if (values.count("disk_in_mb")) p.disk_in_mb = static_cast<int>(values["disk_in_mb"]);
  if (values.count("log_rate_limit_in_bytes_per_second")) p.log_rate = values["log_rate_limit_in_bytes_per_second"];
  p.updated = SysClock::now();
  return JsonReply(202, ProcessJson(p, false));
}

Reply FakeCloudController::Impl::ScaleProcess(Call& c) {
  const auto it = processes.find(c.Param("guid"));
  if (it == processes.end()) return NotFound("Process");
  return DoScale(it->second, c);
}

// Each stats GET is one tick: STARTING for instance_start_ticks GETs, then RUNNING (or CRASHED).
Reply FakeCloudController::Impl::DoStats(ProcessRec& p, Call& c) {
  AppRec* app = FindApp(p.app_guid);
  if (app == nullptr) return NotFound("Process");
  TickProcess(*app, p, c);
  Json::Array resources;
  for (int i = 0; i < p.instances; ++i) resources.push_back(StatsJson(*app, p, i));
  return JsonReply(200, Json::Object{{"resources", resources}});
}

Reply FakeCloudController::Impl::GetProcessStats(Call& c) {
  const auto it = processes.find(c.Param("guid"));
  if (it == processes.end()) return NotFound("Process");
  return DoStats(it->second, c);
}

// ---- Service credential bindings --------------------------------------------------------------------

Reply FakeCloudController::Impl::ListBindings(Call& c) {
  if (auto bad = CheckQuery(c, {"app_guids", "app_names", "service_instance_guids", "service_instance_names",
                                "service_plan_guids", "service_plan_names", "service_offering_guids",
                                "service_offering_names", "type", "guids", "names", "label_selector", "include", "page",
                                "per_page", "order_by"})) {
    return *bad;
  }
  Page page;
  std::set<std::string> include;
  std::optional<std::vector<LabelRequirement>> selector;
  if (auto bad = ParsePage(c, &page, {"created_at", "updated_at", "name"})) return *bad;
  if (auto bad = ParseInclude(c, {"app", "service_instance"}, &include)) return *bad;
  if (auto bad = ParseSelector(c, &selector)) return *bad;
  const std::string type = c.Query("type");
  if (!type.empty() && type != "app" && type != "key") return BadQuery("Type must be one of 'app', 'key'");
  const auto app_guids = FilterSet(c, "app_guids");
  const auto app_names = FilterSet(c, "app_names");
  const auto instance_guids = FilterSet(c, "service_instance_guids");
  const auto instance_names = FilterSet(c, "service_instance_names");
  const auto plan_guids = FilterSet(c, "service_plan_guids");
  const auto plan_names = FilterSet(c, "service_plan_names");
  const auto offering_guids = FilterSet(c, "service_offering_guids");
  const auto offering_names = FilterSet(c, "service_offering_names");
  const auto guids = FilterSet(c, "guids");
  const auto names = FilterSet(c, "names");
  std::vector<const BindingRec*> recs;
  for (const auto& [guid, b] : bindings) {
    if (type == "key") continue;  // only app bindings are modeled
    const auto app = apps.find(b.app_guid);
    const auto inst = instances.find(b.instance_guid);
    const PlanRec* plan = inst != instances.end() && plans.count(inst->second.plan_guid) ? &plans.at(inst->second.plan_guid) : nullptr;
    const OfferingRec* offering = plan != nullptr && offerings.count(plan->offering_guid) ? &offerings.at(plan->offering_guid) : nullptr;
    if (app_guids && !app_guids->count(b.app_guid)) continue;
    if (app_names && (app == apps.end() || !app_names->count(app->second.name))) continue;
    if (instance_guids && !instance_guids->count(b.instance_guid)) continue;
    if (instance_names && (inst == instances.end() || !instance_names->count(inst->second.name))) continue;
    if (plan_guids && (plan == nullptr || !plan_guids->count(plan->guid))) continue;
    if (plan_names && (plan == nullptr || !plan_names->count(plan->name))) continue;
    if (offering_guids && (offering == nullptr || !offering_guids->count(offering->guid))) continue;
    if (offering_names && (offering == nullptr || !offering_names->count(offering->name))) continue;
    if (guids && !guids->count(guid)) continue;
    if (names && (!b.name || !names->count(*b.name))) continue;
    if (selector && !SelectorMatches(*selector, b.labels)) continue;
    recs.push_back(&b);
  }
  const auto included = [&](const std::vector<const BindingRec*>& slice) {
    Json::Object out;
    if (include.count("service_instance")) {
      std::set<std::string> seen;
      Json::Array list;
      for (const BindingRec* b : slice) {
        const auto i = instances.find(b->instance_guid);
        if (i != instances.end() && seen.insert(i->first).second) list.push_back(InstanceJson(i->second));
      }
      out.emplace_back("service_instances", list);
    }
    if (include.count("app")) {
      std::set<std::string> seen;
      Json::Array list;
      for (const BindingRec* b : slice) {
        const auto a = apps.find(b->app_guid);
        if (a != apps.end() && seen.insert(a->first).second) list.push_back(AppJson(a->second));
      }
      out.emplace_back("apps", list);
    }
    return out;
  };
  std::function<Json::Object(const std::vector<const BindingRec*>&)> inc;
  if (!include.empty()) inc = included;
  for (const BindingRec* b : recs) TickBindingCreateJob(b->guid);
  return List<BindingRec>(c, page, recs, [&](const BindingRec& b) { return BindingJson(b); }, inc);
}

// Managed: the record exists at once (create/initial), then 202 + Location of a
// service_bindings.create job. User-provided: 201 with the binding.
// POST /v3/service_credential_bindings: app/controllers/v3/service_credential_bindings_controller.rb
// #create, build_create_message: ServiceCredentialBindingCreateMessage
// (app/messages/service_credential_binding_create_message.rb) must pass before
// ServiceCredentialAppBindingCreateMessage (service_credential_app_binding_create_message.rb) is
// checked; then app/actions/service_credential_binding_app_create.rb#precursor.
Reply FakeCloudController::Impl::CreateBinding(Call& c) {
  rapidjson::Document d;
  if (!ParseBody(c.body, &d)) return ParseError();
  const rapidjson::Value* rels = Member(d, "relationships");
  const rapidjson::Value* params = Member(d, "parameters");
  const rapidjson::Value* type_v = Member(d, "type");
  const auto common = [&](Errors* e, bool app_message) {
    if (const rapidjson::Value* m = Member(d, "metadata")) MetadataErrors(*m, e);
    UnknownFieldErrors(d, {"type", "strategy", "name", "relationships", "parameters", "metadata"}, e);
    if (app_message) {
      RelationshipErrors(rels, {"service_instance"}, {"app"}, true, {"service_instance", "app"}, e);
    } else {
      RelationshipErrors(rels, {"service_instance"}, {}, false, {}, e);
    }
    if (params != nullptr && !params->IsNull() && !params->IsObject()) e->Add("Parameters must be an object");
    const bool type_ok = type_v != nullptr && type_v->IsString() &&
                         (std::string(type_v->GetString()) == "app" || std::string(type_v->GetString()) == "key");
    if (!type_ok) e->Add("Type must be 'app' or 'key'");
  };
  Errors generic;
  common(&generic, false);
  if (!generic.ok()) return generic.Refusal();
  const std::string type = type_v->GetString();
  if (type == "key") return Unprocessable("fake cloud controller: service keys are not modeled");
  Errors specific;
  common(&specific, true);
  const rapidjson::Value* strategy = Member(d, "strategy");
  if (strategy != nullptr && !strategy->IsNull() &&
      !(strategy->IsString() && (std::string(strategy->GetString()) == "single" || std::string(strategy->GetString()) == "multiple"))) {
    specific.Add("Strategy must be 'single' or 'multiple'");
  }
  if (!specific.ok()) return specific.Refusal();

  const std::string instance_guid = StringAt(d, {"relationships", "service_instance", "data", "guid"}).value_or("");
  const std::string app_guid = StringAt(d, {"relationships", "app", "data", "guid"}).value_or("");
  std::optional<std::string> name;
  if (const rapidjson::Value* n = Member(d, "name"); n != nullptr && !n->IsNull()) name = RubyToS(*n);
  const auto inst = instances.find(instance_guid);
  if (inst == instances.end()) return Unprocessable("The service instance could not be found: '" + instance_guid + "'");
  if (inst->second.user_provided && params != nullptr) {
    return Unprocessable("Binding parameters are not supported for user-provided service instances");
  }
  const AppRec* app = FindApp(app_guid);
  if (app == nullptr) return Unprocessable("The app could not be found: '" + app_guid + "'");
  if (app->space_guid != inst->second.space_guid) return Unprocessable("The service instance and the app are in different spaces");
  if (!inst->second.user_provided) {
    const auto plan = plans.find(inst->second.plan_guid);
    const auto offering = plan == plans.end() ? offerings.end() : offerings.find(plan->second.offering_guid);
    if (offering != offerings.end() && !offering->second.bindable) return Unprocessable("Service plan does not allow bindings");
  }
  // A binding whose create failed does not count: CC destroys it.
  std::erase_if(bindings, [&](const auto& kv) {
    const BindingRec& b = kv.second;
    return b.app_guid == app_guid && b.instance_guid == instance_guid && b.lo_type == "create" && b.lo_state == "failed";
  });
  for (const auto& [guid, b] : bindings) {
    if (b.app_guid != app_guid || b.instance_guid != instance_guid) continue;
    if (b.lo_type == "delete") return Unprocessable("The binding is getting deleted or its deletion failed");
    return Unprocessable("The app is already bound to the service instance");
  }
  for (const auto& [guid, b] : bindings) {
    if (name && b.app_guid == app_guid && b.name == name) {
      return Unprocessable(
          "The binding name is invalid. Binding names must be unique for a given service instance and app. The app "
          "already has a binding with name '" + *name + "'.");
    }
  }
  BindingRec b;
  b.seq = NextSeq();
  b.guid = NewGuid("b1000000", b.seq);
  b.app_guid = app_guid;
  b.instance_guid = instance_guid;
  b.name = name;
  if (params != nullptr && params->IsObject()) b.parameters_json = Serialize(*params);
  ApplyMetadata(Member(d, "metadata"), &b.labels, &b.annotations);
  b.created = b.updated = SysClock::now();
  Reply r;
  if (inst->second.user_provided) {
    b.lo_state = "succeeded";
    r = JsonReply(201, BindingJson(b));
  } else {
    b.lo_state = "initial";
    const bool fail = knobs.binding_job_fails_for_instances.count(instance_guid) > 0;
    const bool stuck = knobs.binding_job_stuck_for_instances.count(instance_guid) > 0;
    r = Accepted(NewJob(JobKind::kBindingCreate, "service_bindings.create", b.guid, knobs.binding_create_job_ticks, fail, stuck));
  }
  bindings.emplace(b.guid, std::move(b));
  AddWarnings(&r);
  return r;
}

Reply FakeCloudController::Impl::GetBinding(Call& c) {
  if (auto bad = CheckQuery(c, {"include"})) return *bad;
  const auto b = bindings.find(c.Param("guid"));
  if (b == bindings.end()) return NotFound("Service credential binding");
  TickBindingCreateJob(b->first);
  return JsonReply(200, BindingJson(b->second));
}

Reply FakeCloudController::Impl::GetBindingParameters(Call& c) {
  const auto b = bindings.find(c.Param("guid"));
  if (b == bindings.end()) return NotFound("Service credential binding");
  const auto inst = instances.find(b->second.instance_guid);
  if (inst == instances.end() || inst->second.user_provided) {
    return Unprocessable("This service does not support fetching service binding parameters (user-provided service instance).");
  }
  const auto plan = plans.find(inst->second.plan_guid);
  const auto offering = plan == plans.end() ? offerings.end() : offerings.find(plan->second.offering_guid);
  if (offering != offerings.end() && !offering->second.retrievable) {
    return CcError(400, 90007, "CF-ServiceFetchBindingParametersNotSupported",
                   "This service does not support fetching service binding parameters.");
  }
  if (knobs.binding_parameters_broker_error) {
    return CcError(502, 10001, "CF-ServiceBrokerBadResponse",
                   "The service broker returned an invalid response: status code: 500");
  }
  return JsonReply(200, Json::Raw{b->second.parameters_json});
}

Reply FakeCloudController::Impl::GetBindingDetails(Call& c) {
  const auto b = bindings.find(c.Param("guid"));
  if (b == bindings.end()) return NotFound("Service credential binding");
  const auto inst = instances.find(b->second.instance_guid);
  const std::string creds = inst == instances.end() ? "{}" : inst->second.credentials_json;
  return JsonReply(200, Json::Object{{"credentials", Json::Raw{creds}}, {"syslog_drain_url", Json()},
                                     {"volume_mounts", Json::Array{}}});
}

Reply FakeCloudController::Impl::DeleteBinding(Call& c) {
  const auto b = bindings.find(c.Param("guid"));
  if (b == bindings.end()) return NotFound("Service credential binding");
  const auto inst = instances.find(b->second.instance_guid);
  if (b->second.lo_state == "initial" || b->second.lo_state == "in progress") {
    const auto app = apps.find(b->second.app_guid);
    return CcError(409, 90008, "CF-AsyncServiceBindingOperationInProgress",
                   "An operation for the service binding between app " +
                       (app == apps.end() ? b->second.app_guid : app->second.name) + " and service instance " +
                       (inst == instances.end() ? b->second.instance_guid : inst->second.name) + " is in progress.");
  }
  if (inst == instances.end() || inst->second.user_provided) {
    bindings.erase(b);
    return Empty(204);
  }
  b->second.lo_type = "delete";
  b->second.lo_state = "in progress";
  b->second.lo_description.reset();
  b->second.updated = SysClock::now();
  return Accepted(NewJob(JobKind::kBindingDelete, "service_bindings.delete", b->first, knobs.binding_delete_job_ticks, false, false));
}

// ---- Jobs -------------------------------------------------------------------------------------------

Reply FakeCloudController::Impl::GetJob(Call& c) {
  const auto it = jobs.find(c.Param("guid"));
  if (it == jobs.end()) return NotFound("Job");
  TickJob(it->second);
  return JsonReply(200, JobJson(it->second));
}

// ---- Services, spaces, orgs, feature flags ---------------------------------------------------------

Reply FakeCloudController::Impl::ListServiceOfferings(Call& c) {
  if (auto bad = CheckQuery(c, {"names", "guids", "service_broker_names", "service_broker_guids", "available",
                                "space_guids", "organization_guids", "label_selector", "page", "per_page", "order_by"})) {
    return *bad;
  }
  Page page;
  // A MetadataListMessage: label_selector is validated (app/messages/metadata_list_message.rb); the
  // fake's offerings carry no labels, so a selector matches as against none.
  std::optional<std::vector<LabelRequirement>> selector;
  if (auto bad = ParseSelector(c, &selector)) return *bad;
  if (auto bad = ParsePage(c, &page, {"created_at", "updated_at", "name"})) return *bad;
  const auto names = FilterSet(c, "names");
  const auto guids = FilterSet(c, "guids");
  const auto broker_names = FilterSet(c, "service_broker_names");
  const auto broker_guids = FilterSet(c, "service_broker_guids");
  std::vector<const OfferingRec*> recs;
  for (const auto& [guid, o] : offerings) {
    if (names && !names->count(o.name)) continue;
    if (guids && !guids->count(guid)) continue;
    if (broker_names && !broker_names->count(o.broker_name)) continue;
    if (broker_guids && !broker_guids->count(o.broker_guid)) continue;
    if (selector && !SelectorMatches(*selector, {})) continue;
    recs.push_back(&o);
  }
  return List<OfferingRec>(c, page, recs, [&](const OfferingRec& o) { return OfferingJson(o); });
}

Reply FakeCloudController::Impl::ListServicePlans(Call& c) {
  if (auto bad = CheckQuery(c, {"names", "guids", "service_broker_names", "service_broker_guids", "service_offering_guids",
                                "service_offering_names", "available", "space_guids", "organization_guids",
                                "service_instance_guids", "label_selector", "include", "page", "per_page", "order_by"})) {
    return *bad;
  }
  Page page;
  // A MetadataListMessage: label_selector is validated (app/messages/metadata_list_message.rb); the
  // fake's plans carry no labels, so a selector matches as against none.
  std::optional<std::vector<LabelRequirement>> selector;
  if (auto bad = ParseSelector(c, &selector)) return *bad;
  std::set<std::string> include;
  if (auto bad = ParsePage(c, &page, {"created_at", "updated_at", "name"})) return *bad;
  if (auto bad = ParseInclude(c, {"service_offering", "space.organization"}, &include)) return *bad;
  const auto names = FilterSet(c, "names");
  const auto guids = FilterSet(c, "guids");
  const auto broker_names = FilterSet(c, "service_broker_names");
  const auto broker_guids = FilterSet(c, "service_broker_guids");
  const auto offering_guids = FilterSet(c, "service_offering_guids");
  const auto offering_names = FilterSet(c, "service_offering_names");
  const auto instance_guids = FilterSet(c, "service_instance_guids");
  std::vector<const PlanRec*> recs;
  for (const auto& [guid, p] : plans) {
    const auto o = offerings.find(p.offering_guid);
    if (names && !names->count(p.name)) continue;
    if (guids && !guids->count(guid)) continue;
    if (broker_names && (o == offerings.end() || !broker_names->count(o->second.broker_name))) continue;
    if (broker_guids && (o == offerings.end() || !broker_guids->count(o->second.broker_guid))) continue;
    if (offering_guids && !offering_guids->count(p.offering_guid)) continue;
    if (offering_names && (o == offerings.end() || !offering_names->count(o->second.name))) continue;
    if (instance_guids && std::none_of(instance_guids->begin(), instance_guids->end(), [&](const std::string& g) {
          return instances.count(g) && instances.at(g).plan_guid == guid;
        })) {
      continue;
    }
    if (selector && !SelectorMatches(*selector, {})) continue;
    recs.push_back(&p);
  }
  std::function<Json::Object(const std::vector<const PlanRec*>&)> inc;
  if (include.count("service_offering")) {
    inc = [&](const std::vector<const PlanRec*>& slice) {
      std::set<std::string> seen;
      Json::Array list;
      for (const PlanRec* p : slice) {
        const auto o = offerings.find(p->offering_guid);
        if (o != offerings.end() && seen.insert(o->first).second) list.push_back(OfferingJson(o->second));
      }
      return Json::Object{{"service_offerings", list}};
    };
  }
  return List<PlanRec>(c, page, recs, [&](const PlanRec& p) { return PlanJson(p); }, inc);
}

Reply FakeCloudController::Impl::ListServiceInstances(Call& c) {
  if (auto bad = CheckQuery(c, {"names", "guids", "space_guids", "organization_guids", "type", "service_plan_guids",
                                "service_plan_names", "label_selector", "page", "per_page", "order_by"})) {
    return *bad;
  }
  Page page;
  // A MetadataListMessage: label_selector is validated (app/messages/metadata_list_message.rb); the
  // fake's instances carry no labels, so a selector matches as against none.
  std::optional<std::vector<LabelRequirement>> selector;
  if (auto bad = ParseSelector(c, &selector)) return *bad;
  if (auto bad = ParsePage(c, &page, {"created_at", "updated_at", "name"})) return *bad;
  const auto names = FilterSet(c, "names");
  const auto guids = FilterSet(c, "guids");
  const auto space_guids = FilterSet(c, "space_guids");
  const auto org_guids = FilterSet(c, "organization_guids");
  const auto plan_guids = FilterSet(c, "service_plan_guids");
  const auto plan_names = FilterSet(c, "service_plan_names");
  const std::string type = c.Query("type");
  if (!type.empty() && type != "managed" && type != "user-provided") {
    return BadQuery("Type must be one of 'managed', 'user-provided'");
  }
  std::vector<const InstanceRec*> recs;
  for (const auto& [guid, i] : instances) {
    if (names && !names->count(i.name)) continue;
    if (guids && !guids->count(guid)) continue;
    if (space_guids && !space_guids->count(i.space_guid)) continue;
    if (org_guids) {
      const auto s = spaces.find(i.space_guid);
      if (s == spaces.end() || !org_guids->count(s->second.org_guid)) continue;
    }
    if (plan_guids && !plan_guids->count(i.plan_guid)) continue;
    if (plan_names && (!plans.count(i.plan_guid) || !plan_names->count(plans.at(i.plan_guid).name))) continue;
    if (type == "managed" && i.user_provided) continue;
    if (type == "user-provided" && !i.user_provided) continue;
    if (selector && !SelectorMatches(*selector, {})) continue;
    recs.push_back(&i);
  }
  return List<InstanceRec>(c, page, recs, [&](const InstanceRec& i) { return InstanceJson(i); });
}

Reply FakeCloudController::Impl::GetServiceInstance(Call& c) {
  const auto i = instances.find(c.Param("guid"));
  if (i == instances.end()) return NotFound("Service instance");
  return JsonReply(200, InstanceJson(i->second));
}

Reply FakeCloudController::Impl::GetSpace(Call& c) {
  const auto s = spaces.find(c.Param("guid"));
  if (s == spaces.end()) return NotFound("Space");
  return JsonReply(200, SpaceJson(s->second));
}

Reply FakeCloudController::Impl::GetOrg(Call& c) {
  const auto o = orgs.find(c.Param("guid"));
  if (o == orgs.end()) return NotFound("Organization");
  return JsonReply(200, OrgJson(o->second));
}

Reply FakeCloudController::Impl::GetFeatureFlag(Call& c) {
  const std::map<std::string, bool> flags = {
      {"diego_docker", !knobs.docker_disabled},
      {"diego_cnb", !knobs.cnb_disabled},
      {"app_scaling", !knobs.app_scaling_disabled},
      {"app_bits_upload", true},
      {"service_instance_creation", true},
      {"service_instance_sharing", false},
  };
  const auto f = flags.find(c.Param("name"));
  if (f == flags.end()) return NotFound("Feature flag");
  return JsonReply(200, Json::Object{{"name", f->first},
                                     {"enabled", f->second},
                                     {"updated_at", Json()},
                                     {"custom_error_message", Json()},
                                     {"links", Json::Object{{"self", Href(Url("/v3/feature_flags/" + f->first))}}}});
}

// ==================================================================================================
// Local containers (Knobs::local_containers).
// ==================================================================================================

std::filesystem::path FakeCloudController::Impl::ContainerRoot() const {
  return std::filesystem::absolute(std::filesystem::path(knobs.local_containers->root_dir));
}

std::filesystem::path FakeCloudController::Impl::DropletFolder(const std::string& droplet_guid) const {
  return ContainerRoot() / "droplets" / droplet_guid / "app";
}

void FakeCloudController::Impl::EnsureDropletFolder(const std::string& droplet_guid, int depth) {
  namespace fs = std::filesystem;
  const fs::path dir = DropletFolder(droplet_guid);
  if (fs::exists(dir)) return;
  const auto d = droplets.find(droplet_guid);
  if (d != droplets.end() && depth < 64 && droplets.count(d->second.copied_from)) {
    EnsureDropletFolder(d->second.copied_from, depth + 1);
    fs::create_directories(dir.parent_path());
    fs::copy(DropletFolder(d->second.copied_from), dir, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    return;
  }
  // Seeded (or its source is gone): the marker names the app the bits came from.
  fs::create_directories(dir);
  std::ofstream marker(dir / kDropletMarker);
  marker << (d != droplets.end() ? d->second.origin_app_name : std::string()) << "\n";
  if (!marker) throw std::runtime_error("cannot write " + (dir / kDropletMarker).string());
}

std::string FakeCloudController::Impl::VcapApplication(const AppRec& app, const ProcessRec& web,
                                                       const std::string& instance_guid) const {
  const auto space = spaces.find(app.space_guid);
  const auto org = space != spaces.end() ? orgs.find(space->second.org_guid) : orgs.end();
  const std::string space_name = space != spaces.end() ? space->second.name : "";
  const std::string org_guid = org != orgs.end() ? org->second.guid : "";
  const std::string org_name = org != orgs.end() ? org->second.name : "";
  return Json(Json::Object{
                  {"application_id", app.guid},
                  {"application_name", app.name},
                  {"application_uris", Json::Array{}},
                  {"application_version", app.current_droplet},
                  {"cf_api", base_url},
                  {"host", "0.0.0.0"},
                  {"instance_id", instance_guid},
                  {"instance_index", 0},
                  {"limits", Json::Object{{"mem", web.memory_in_mb}, {"disk", web.disk_in_mb}, {"fds", 16384}}},
                  {"name", app.name},
                  {"organization_id", org_guid},
                  {"organization_name", org_name},
                  {"process_id", web.guid},
                  {"process_type", web.type},
                  {"space_id", app.space_guid},
                  {"space_name", space_name},
                  {"uris", Json::Array{}},
                  {"users", Json()},
                  {"version", app.current_droplet},
              })
      .Dump();
}

// The bindings whose create succeeded, oldest first, grouped by offering name ("user-provided").
std::string FakeCloudController::Impl::VcapServices(const AppRec& app) const {
  std::vector<const BindingRec*> recs;
  for (const auto& [guid, b] : bindings) {
    if (b.app_guid != app.guid) continue;
    if (b.lo_type == "create" && b.lo_state != "succeeded") continue;  // not bound (yet)
    recs.push_back(&b);
  }
  std::sort(recs.begin(), recs.end(), [](const BindingRec* x, const BindingRec* y) { return x->seq < y->seq; });
  std::map<std::string, Json::Array> by_label;
  for (const BindingRec* b : recs) {
    const auto i = instances.find(b->instance_guid);
    if (i == instances.end()) continue;
    const InstanceRec& inst = i->second;
    rapidjson::Document creds;
    creds.Parse(inst.credentials_json.c_str(), inst.credentials_json.size());
    const Json credentials = creds.HasParseError() ? Json(inst.credentials_json) : Json(Json::Raw{inst.credentials_json});
    Json::Object entry{{"name", b->name.value_or(inst.name)},
                       {"instance_guid", inst.guid},
                       {"instance_name", inst.name},
                       {"binding_guid", b->guid},
                       {"binding_name", Json::Opt(b->name)}};
    std::string label = "user-provided";
    if (inst.user_provided) {
      entry.emplace_back("label", label);
      entry.emplace_back("tags", Json::Array{});
      entry.emplace_back("syslog_drain_url", "");
    } else {
      const auto plan = plans.find(inst.plan_guid);
      const auto offering = plan != plans.end() ? offerings.find(plan->second.offering_guid) : offerings.end();
      label = offering != offerings.end() ? offering->second.name : "";
      entry.emplace_back("label", label);
      entry.emplace_back("plan", plan != plans.end() ? plan->second.name : "");
      entry.emplace_back("provider", Json());
      entry.emplace_back("tags", Json::Array{});
      entry.emplace_back("syslog_drain_url", Json());
    }
    entry.emplace_back("volume_mounts", Json::Array{});
    entry.emplace_back("credentials", credentials);
    by_label[label].push_back(std::move(entry));
  }
  Json::Object out;
  for (auto& [label, entries] : by_label) out.emplace_back(label, std::move(entries));
  return Json(std::move(out)).Dump();
}

void FakeCloudController::Impl::LaunchContainer(AppRec& app, ProcessRec& web) {
  namespace fs = std::filesystem;
  const LocalContainers& lc = *knobs.local_containers;
  ContainerRec c;
  c.id = NextSeq();
  c.app_guid = app.guid;
  c.instance_guid = NewGuid("c0000000", c.id);
  c.stop_grace = lc.stop_grace;
  const std::optional<std::string> command = EffectiveCommand(web);
  c.command = command.value_or("");
  std::string failure;
  fs::path base;
  try {
    base = ContainerRoot() / app.guid;
    c.app_dir = (base / "app").string();
    c.stdout_path = (base / "stdout.log").string();
    c.stderr_path = (base / "stderr.log").string();
    fs::create_directories(base);
    fs::remove_all(base / "app");
    fs::remove_all(base / "tmp");
    fs::create_directories(base / "tmp");
    EnsureDropletFolder(app.current_droplet);
    fs::copy(DropletFolder(app.current_droplet), base / "app", fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  } catch (const std::exception& e) {
    failure = std::string("cannot prepare the app folder: ") + e.what();
  }
  if (failure.empty() && !command) failure = "the web process has no command";
  if (failure.empty() && containers_closed) failure = "the fake cloud controller is stopped";

  const int app_port = FreeLocalPort();
  std::map<std::string, std::string>& env = c.env;
  env = app.env;
  env["VCAP_APPLICATION"] = VcapApplication(app, web, c.instance_guid);
  env["VCAP_SERVICES"] = VcapServices(app);
  env["PORT"] = std::to_string(app_port);
  env["HOME"] = c.app_dir;
  env["TMPDIR"] = base.empty() ? std::string() : (base / "tmp").string();
  env["LANG"] = "C.UTF-8";
  env["MEMORY_LIMIT"] = std::to_string(web.memory_in_mb) + "m";
  env["INSTANCE_INDEX"] = "0";
  env["CF_INSTANCE_INDEX"] = "0";
  env["CF_INSTANCE_GUID"] = c.instance_guid;
  env["CF_INSTANCE_IP"] = "127.0.0.1";
  env["CF_INSTANCE_INTERNAL_IP"] = "127.0.0.1";
  env["CF_INSTANCE_PORT"] = std::to_string(app_port);
  env["CF_INSTANCE_ADDR"] = "127.0.0.1:" + std::to_string(app_port);
  env["PATH"] = inherited_path;
  for (const auto& [name, value] : lc.extra_env) env[name] = value;

  if (failure.empty()) {
    c.out.is_stderr = false;
    c.err.is_stderr = true;
    c.out.log_fd = ::open(c.stdout_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    c.err.log_fd = ::open(c.stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    Spawned s = SpawnInGroup(c.command, c.app_dir, env);
    if (s.pid < 0) {
      failure = s.error;
      CloseOutputLocked(c, c.out);
      CloseOutputLocked(c, c.err);
    } else {
      c.pid = s.pid;
      c.pidfd = OpenPidFd(s.pid);
      c.reaped = false;
      c.out.fd = s.out;
      c.err.fd = s.err;
    }
  }
  if (!failure.empty()) {
    Log(app.guid, "CELL", "Failed to create container for instance 0: " + failure, true);
    c.exit_status = 127;
  }
  // An app keeps its latest record; older ones go once their process is reaped.
  std::erase_if(containers, [&](const auto& kv) { return kv.second.app_guid == app.guid && kv.second.reaped; });
  latest_container[app.guid] = c.id;
  web.container_id = c.id;
  const bool live = !c.reaped;
  containers.emplace(c.id, std::move(c));
  if (!live) return;
  if (wake_pipe[0] < 0 && ::pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0) wake_pipe[0] = wake_pipe[1] = -1;
  if (!container_thread.joinable()) container_thread = std::thread([this] { SuperviseContainers(); });
  WakeSupervisor();
}

void FakeCloudController::Impl::StopContainer(ContainerRec& c) {
  if (c.reaped || c.stop_requested) return;
  c.stop_requested = true;
  // The leader is not reaped (checked under mu), so its pid and group id are still ours. Both:
  // a child stopped right after fork may not have called setsid() yet.
  ::kill(-c.pid, SIGTERM);
  ::kill(c.pid, SIGTERM);
  c.kill_at = Steady::now() + c.stop_grace;
  WakeSupervisor();
}

void FakeCloudController::Impl::StopContainersOfApp(const std::string& app_guid) {
  for (auto& [id, c] : containers) {
    if (c.app_guid == app_guid) StopContainer(c);
  }
}

void FakeCloudController::Impl::WakeSupervisor() {
  if (wake_pipe[1] < 0) return;
  const char byte = 1;
  if (::write(wake_pipe[1], &byte, 1) < 0) {
    // EAGAIN: the pipe is full, so a wake-up is pending anyway.
  }
}

void FakeCloudController::Impl::SuperviseContainers() {
  constexpr int kPollWithoutPidFdMs = 20;
  std::vector<pollfd> fds;
  while (true) {
    int timeout_ms = -1;
    fds.assign(1, pollfd{wake_pipe[0], POLLIN, 0});
    {
      std::lock_guard<std::mutex> lock(mu);
      bool live = false;
      const Steady::time_point now = Steady::now();
      const auto shorten = [&](int ms) { timeout_ms = timeout_ms < 0 ? ms : std::min(timeout_ms, ms); };
      for (auto& [id, c] : containers) {
        if (c.reaped) continue;
        live = true;
        for (const int fd : {c.out.fd, c.err.fd, c.pidfd}) {
          if (fd >= 0) fds.push_back(pollfd{fd, POLLIN, 0});
        }
        if (c.pidfd < 0) shorten(kPollWithoutPidFdMs);
        if (c.kill_at) {
          const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*c.kill_at - now).count();
          shorten(static_cast<int>(std::clamp<long long>(left + 1, 0, 60000)));
        }
      }
      if (!live && containers_closed) return;
    }
    ::poll(fds.data(), fds.size(), timeout_ms);
    char drain[64];
    while (::read(wake_pipe[0], drain, sizeof drain) > 0) {
    }
    std::lock_guard<std::mutex> lock(mu);
    ServiceContainersLocked();
  }
}

void FakeCloudController::Impl::ServiceContainersLocked() {
  const Steady::time_point now = Steady::now();
  for (auto& [id, c] : containers) {
    if (c.reaped) continue;
    ReadOutputLocked(c, c.out, false);
    ReadOutputLocked(c, c.err, false);
    siginfo_t info;
    std::memset(&info, 0, sizeof info);
    // WNOWAIT: the leader stays a zombie, so its group id cannot be reused while the rest of the
    // group is killed.
    const int w = ::waitid(P_PID, static_cast<id_t>(c.pid), &info, WEXITED | WNOHANG | WNOWAIT);
    const int wait_errno = errno;
    if (w == 0 && info.si_pid == c.pid) {
      ::kill(-c.pid, SIGKILL);  // a container ends with its leader
      ReadOutputLocked(c, c.out, true);
      ReadOutputLocked(c, c.err, true);
      int status = 0;
      const pid_t r = ::waitpid(c.pid, &status, 0);
      FinishContainerLocked(c, r == c.pid ? std::optional<int>(status) : std::nullopt);
    } else if (w != 0 && wait_errno == ECHILD) {  // reaped by someone else
      ReadOutputLocked(c, c.out, true);
      ReadOutputLocked(c, c.err, true);
      FinishContainerLocked(c, std::nullopt);
    } else if (c.kill_at && now >= *c.kill_at) {
      ::kill(-c.pid, SIGKILL);
      ::kill(c.pid, SIGKILL);
      c.kill_at.reset();
    }
  }
  std::erase_if(containers, [&](const auto& kv) {
    const auto latest = latest_container.find(kv.second.app_guid);
    return kv.second.reaped && (latest == latest_container.end() || latest->second != kv.first);
  });
}

void FakeCloudController::Impl::ReadOutputLocked(ContainerRec& c, OutputStream& s, bool final) {
  if (s.fd < 0) return;
  char buf[16384];
  bool eof = false;
  // Bounded, so a process that writes without pause cannot hold the mutex forever.
  for (int round = 0; round < (final ? 4096 : 64); ++round) {
    const ssize_t n = ::read(s.fd, buf, sizeof buf);
    if (n > 0) {
      if (s.log_fd >= 0) WriteAll(s.log_fd, buf, static_cast<std::size_t>(n));
      s.partial.append(buf, static_cast<std::size_t>(n));
      std::size_t start = 0;
      for (std::size_t nl = s.partial.find('\n'); nl != std::string::npos; nl = s.partial.find('\n', start)) {
        EmitLineLocked(c, s, s.partial.substr(start, nl - start));
        start = nl + 1;
      }
      s.partial.erase(0, start);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    eof = true;  // EOF, or an error that ends the stream all the same
    break;
  }
  if (eof || final) CloseOutputLocked(c, s);
}

void FakeCloudController::Impl::EmitLineLocked(const ContainerRec& c, const OutputStream& s, std::string line) {
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty() || !apps.count(c.app_guid)) return;  // log-cache drops empty lines; a deleted app has none
  last_output_ts = std::max(NowNs(), last_output_ts + 1);
  logs[c.app_guid].push_back(EnvelopeRec{last_output_ts, "0", "APP/PROC/WEB", std::move(line), s.is_stderr});
}

void FakeCloudController::Impl::CloseOutputLocked(ContainerRec& c, OutputStream& s) {
  if (!s.partial.empty()) EmitLineLocked(c, s, std::exchange(s.partial, std::string()));
  if (s.fd >= 0) ::close(s.fd);
  if (s.log_fd >= 0) ::close(s.log_fd);
  s.fd = s.log_fd = -1;
}

void FakeCloudController::Impl::FinishContainerLocked(ContainerRec& c, std::optional<int> wait_status) {
  c.reaped = true;
  c.kill_at.reset();
  CloseOutputLocked(c, c.out);
  CloseOutputLocked(c, c.err);
  if (c.pidfd >= 0) ::close(c.pidfd);
  c.pidfd = -1;
  if (wait_status && WIFEXITED(*wait_status)) c.exit_status = WEXITSTATUS(*wait_status);
  if (wait_status && WIFSIGNALED(*wait_status)) c.exit_status = 128 + WTERMSIG(*wait_status);
  if (c.stop_requested) return;
  // It exited on its own: a RUNNING instance crashes (a STARTING one does at its last tick).
  for (auto& [guid, p] : processes) {
    if (p.container_id != c.id || p.run_state != "RUNNING") continue;
    const auto a = apps.find(p.app_guid);
    if (a == apps.end() || a->second.state != "STARTED") continue;
    p.run_state = "CRASHED";
    Log(p.app_guid, "CELL", ExitLine(c), false);
  }
}

std::string FakeCloudController::Impl::ExitLine(const ContainerRec& c) {
  if (!c.exit_status) return "Exit status unknown";
  return "Exit status " + std::to_string(*c.exit_status);
}

void FakeCloudController::Impl::StopAllContainers() {
  std::thread supervisor;
  {
    std::lock_guard<std::mutex> lock(mu);
    containers_closed = true;
    for (auto& [id, c] : containers) StopContainer(c);
    supervisor = std::move(container_thread);
    WakeSupervisor();
  }
  if (supervisor.joinable()) supervisor.join();
}

// ==================================================================================================
// Public API.
// ==================================================================================================

FakeCloudController::AppView FakeCloudController::Impl::ToView(const AppRec& a) {
  FakeCloudController::AppView v;
  v.guid = a.guid;
  v.name = a.name;
  v.space_guid = a.space_guid;
  v.state = a.state;
  v.lifecycle = a.lifecycle;
  v.buildpacks = a.buildpacks;
  v.stack = a.stack;
  v.env = a.env;
  v.labels = a.labels;
  v.annotations = a.annotations;
  v.current_droplet_guid = a.current_droplet;
  v.created_through_api = a.created_through_api;
  v.delete_in_progress = a.pending_delete_jobs > 0;
  return v;
}

FakeCloudController::BindingView FakeCloudController::Impl::ToView(const BindingRec& b) {
  return FakeCloudController::BindingView{b.guid, b.name.value_or(""), b.app_guid, b.instance_guid, b.lo_type, b.lo_state};
}


FakeCloudController::FakeCloudController() : impl_(std::make_unique<Impl>()) {
  static std::once_flag curl_once;
  std::call_once(curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

FakeCloudController::~FakeCloudController() { Stop(); }

void FakeCloudController::Start(int port) { StartServing(port, "", ""); }

void FakeCloudController::StartTls(const std::string& cert_file, const std::string& key_file, int port) {
  if (cert_file.empty() || key_file.empty()) {
    throw std::invalid_argument("FakeCloudController::StartTls: a certificate and a key file are required");
  }
  StartServing(port, cert_file, key_file);
}

void FakeCloudController::StartServing(int port, const std::string& cert_file, const std::string& key_file) {
  std::lock_guard<std::mutex> lifecycle(impl_->lifecycle_mu);
  if (impl_->started) throw std::runtime_error("FakeCloudController::Start: already started");
  impl_->started = true;
  auto router = std::make_shared<Pistache::Rest::Router>();
  Impl* impl = impl_.get();
  for (const FakeCloudController::Impl::RouteDef& def : FakeCloudController::Impl::Routes()) {
    const FakeCloudController::Impl::RouteDef* d = &def;
    router->addRoute(def.method, def.pattern,
                     [impl, d](const Pistache::Rest::Request& req, Pistache::Http::ResponseWriter resp) {
                       impl->Serve(d, req, resp);
                       return Pistache::Rest::Route::Result::Ok;
                     });
  }
  router->addNotFoundHandler([impl](const Pistache::Rest::Request& req, Pistache::Http::ResponseWriter resp) {
    impl->Serve(nullptr, req, resp);
    return Pistache::Rest::Route::Result::Ok;
  });
  const bool tls = !cert_file.empty();
  // Pistache writes with plain send()/SSL_write(): a client that hung up (a killed broker, a TLS
  // client that aborted the handshake) would raise SIGPIPE and kill the whole test process. Like
  // the broker's main(), the process ignores SIGPIPE; the write then fails with EPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  try {
    auto endpoint = std::make_unique<Pistache::Http::Endpoint>(
        Pistache::Address("127.0.0.1", Pistache::Port(static_cast<std::uint16_t>(port))));
    endpoint->init(Pistache::Http::Endpoint::options()
                       .threads(4)
                       .flags(Pistache::Tcp::Options::ReuseAddr)
                       .maxRequestSize(8 * 1024 * 1024));
    endpoint->setHandler(router->handler());
    if (tls) endpoint->useSSL(cert_file, key_file);
    endpoint->serveThreaded();
    const int actual = static_cast<int>(static_cast<std::uint16_t>(endpoint->getPort()));
    {
      std::lock_guard<std::mutex> lock(impl_->mu);
      impl_->port = actual;
      impl_->base_url = std::string(tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(actual);
    }
    impl_->router = std::move(router);
    impl_->endpoint = std::move(endpoint);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("FakeCloudController::Start: cannot listen on 127.0.0.1:") +
                             std::to_string(port) + ": " + e.what());
  }
}

void FakeCloudController::Stop() {
  std::lock_guard<std::mutex> lifecycle(impl_->lifecycle_mu);
  {
    std::lock_guard<std::mutex> lock(impl_->sleep_mu);
    impl_->stopping = true;
  }
  impl_->sleep_cv.notify_all();
  if (impl_->endpoint) {
    impl_->endpoint->shutdown();  // stops accepting and the reactor loops
    impl_->endpoint.reset();      // joins the handler threads
    // Pistache 0.0.5 never closes the connections still open at shutdown: a client waiting on
    // one would hang until its own timeout (and the fds leak). Close them now that no Pistache
    // thread runs.
    impl_->CloseLeftoverConnections();
  }
  impl_->reporter.Stop();  // then the session-report thread
  impl_->StopAllContainers();  // then the local containers and their supervisor
}

std::string FakeCloudController::base_url() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->base_url;
}

int FakeCloudController::port() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->port;
}

// ---- Seeding ----

std::string FakeCloudController::AddOrg(const std::string& name) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  FakeCloudController::Impl::OrgRec o;
  o.seq = impl_->NextSeq();
  o.guid = impl_->NewGuid("0e000000", o.seq);
  o.name = name;
  o.created = o.updated = SysClock::now();
  impl_->orgs[o.guid] = o;
  return o.guid;
}

std::string FakeCloudController::AddSpace(const std::string& name, const std::string& org_guid) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (!impl_->orgs.count(org_guid)) throw std::invalid_argument("AddSpace: unknown org " + org_guid);
  FakeCloudController::Impl::SpaceRec s;
  s.seq = impl_->NextSeq();
  s.guid = impl_->NewGuid("5a000000", s.seq);
  s.name = name;
  s.org_guid = org_guid;
  s.created = s.updated = SysClock::now();
  impl_->spaces[s.guid] = s;
  return s.guid;
}

std::string FakeCloudController::AddApp(const AppSpec& spec) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& m = *impl_;
  if (!m.spaces.count(spec.space_guid)) throw std::invalid_argument("AddApp: unknown space " + spec.space_guid);
  FakeCloudController::Impl::AppRec a;
  a.seq = m.NextSeq();
  a.guid = spec.guid.empty() ? m.NewGuid("a0000000", a.seq) : spec.guid;
  if (m.apps.count(a.guid)) throw std::invalid_argument("AddApp: duplicate guid " + a.guid);
  a.name = spec.name;
  a.space_guid = spec.space_guid;
  a.lifecycle = spec.lifecycle;
  if (spec.lifecycle != Lifecycle::kDocker) {
    a.buildpacks = spec.buildpacks;
    a.stack = spec.stack;
    if (spec.stack) m.stacks.insert(*spec.stack);
  }
  m.stacks.insert(spec.droplet_stack);
  a.env = spec.env;
  a.labels = spec.labels;
  a.annotations = spec.annotations;
  a.features = {{"ssh", true}, {"revisions", true}, {"service-binding-k8s", false}, {"file-based-vcap-services", false}};
  for (const auto& [name, enabled] : spec.features) a.features[name] = enabled;
  a.state = spec.started && spec.has_droplet ? "STARTED" : "STOPPED";
  a.created = a.updated = SysClock::now();
  if (spec.has_droplet) {
    FakeCloudController::Impl::DropletRec d;
    d.seq = m.NextSeq();
    d.guid = m.NewGuid("d0000000", d.seq);
    d.app_guid = a.guid;
    d.lifecycle = spec.lifecycle;
    d.state = "STAGED";
    d.process_types = spec.process_types;
    d.stack = spec.droplet_stack;
    d.buildpacks = spec.buildpacks;
    if (spec.lifecycle == Lifecycle::kDocker) d.image = spec.docker_image;
    d.origin_app_name = spec.name;
    d.created = d.updated = a.created;
    a.current_droplet = d.guid;
    m.droplets[d.guid] = d;
  }
  const FakeCloudController::Impl::AppRec& stored = m.apps.emplace(a.guid, std::move(a)).first->second;
  FakeCloudController::Impl::ProcessRec& web = m.AddProcess(stored, m.knobs.web_process_guid_is_app_guid ? stored.guid : "", "web", spec.web.instances);
  web.command = spec.web.command;
  web.memory_in_mb = spec.web.memory_in_mb;
  web.disk_in_mb = spec.web.disk_in_mb;
  web.log_rate = spec.web.log_rate_limit_in_bytes_per_second;
  web.hc_type = spec.web.health_check_type;
  web.hc_timeout = spec.web.health_check_timeout;
  web.hc_endpoint = spec.web.health_check_endpoint;
  if (spec.has_droplet) {
    for (const auto& [type, command] : spec.process_types) {
      if (type != "web") m.AddProcess(stored, "", type, 0);
    }
  }
  for (auto& [guid, p] : m.processes) {
    if (p.app_guid == stored.guid && stored.state == "STARTED" && p.instances > 0) {
      p.run_state = "RUNNING";
      p.running_since = Steady::now();
    }
  }
  return stored.guid;
}

void FakeCloudController::SetOrgLogRateLimit(const std::string& org_guid, std::int64_t bytes_per_second) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const auto it = impl_->orgs.find(org_guid);
  if (it == impl_->orgs.end()) throw std::invalid_argument("SetOrgLogRateLimit: unknown org " + org_guid);
  it->second.log_rate_limit = bytes_per_second;
}

void FakeCloudController::SetSpaceLogRateLimit(const std::string& space_guid, std::int64_t bytes_per_second) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const auto it = impl_->spaces.find(space_guid);
  if (it == impl_->spaces.end()) throw std::invalid_argument("SetSpaceLogRateLimit: unknown space " + space_guid);
  it->second.log_rate_limit = bytes_per_second;
}

std::string FakeCloudController::AddServiceOffering(const OfferingSpec& spec) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  Impl& m = *impl_;
  FakeCloudController::Impl::OfferingRec o;
  o.seq = m.NextSeq();
  o.guid = m.NewGuid("0f000000", o.seq);
  o.name = spec.name;
  o.broker_name = spec.service_broker_name;
  // One guid per broker name, shared by its offerings.
  for (const auto& [guid, other] : m.offerings) {
    if (other.broker_name == spec.service_broker_name) o.broker_guid = other.broker_guid;
  }
  if (o.broker_guid.empty()) o.broker_guid = m.NewGuid("b0000000", m.NextSeq());
  o.bindable = spec.bindable;
  o.retrievable = spec.bindings_retrievable;
  o.created = o.updated = SysClock::now();
  m.offerings[o.guid] = o;
  return o.guid;
}

std::string FakeCloudController::AddServicePlan(const std::string& offering_guid, const std::string& name) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (!impl_->offerings.count(offering_guid)) throw std::invalid_argument("AddServicePlan: unknown offering " + offering_guid);
  FakeCloudController::Impl::PlanRec p;
  p.seq = impl_->NextSeq();
  p.guid = impl_->NewGuid("91000000", p.seq);
  p.name = name;
  p.offering_guid = offering_guid;
  p.created = p.updated = SysClock::now();
  impl_->plans[p.guid] = p;
  return p.guid;
}

std::string FakeCloudController::AddServiceInstance(const InstanceSpec& spec) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (!impl_->spaces.count(spec.space_guid)) throw std::invalid_argument("AddServiceInstance: unknown space " + spec.space_guid);
  if (!spec.user_provided && !impl_->plans.count(spec.plan_guid)) {
    throw std::invalid_argument("AddServiceInstance: unknown plan " + spec.plan_guid);
  }
  FakeCloudController::Impl::InstanceRec i;
  i.seq = impl_->NextSeq();
  i.guid = impl_->NewGuid("51000000", i.seq);
  i.name = spec.name;
  i.space_guid = spec.space_guid;
  i.plan_guid = spec.user_provided ? "" : spec.plan_guid;
  i.user_provided = spec.user_provided;
  i.credentials_json = spec.credentials_json.empty() ? "{}" : spec.credentials_json;
  i.created = i.updated = SysClock::now();
  impl_->instances[i.guid] = i;
  return i.guid;
}

std::string FakeCloudController::AddServiceBinding(const std::string& app_guid, const std::string& instance_guid,
                                                   const std::string& name) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (!impl_->apps.count(app_guid)) throw std::invalid_argument("AddServiceBinding: unknown app " + app_guid);
  if (!impl_->instances.count(instance_guid)) throw std::invalid_argument("AddServiceBinding: unknown instance " + instance_guid);
  FakeCloudController::Impl::BindingRec b;
  b.seq = impl_->NextSeq();
  b.guid = impl_->NewGuid("b1000000", b.seq);
  b.app_guid = app_guid;
  b.instance_guid = instance_guid;
  if (!name.empty()) b.name = name;
  b.created = b.updated = SysClock::now();
  impl_->bindings[b.guid] = b;
  return b.guid;
}

void FakeCloudController::AddLogLine(const std::string& app_guid, const LogLine& line) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->logs[app_guid].push_back(
      FakeCloudController::Impl::EnvelopeRec{line.timestamp_ns.value_or(NowNs()), line.instance_id, line.source_type, line.text, line.is_stderr});
}

void FakeCloudController::RemoveApp(const std::string& app_guid) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->EraseApp(app_guid);
}

void FakeCloudController::RemoveServiceBinding(const std::string& binding_guid) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->bindings.erase(binding_guid);
}

void FakeCloudController::AddUaaClient(const UaaClient& client) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->clients[client.id] = client;
}

void FakeCloudController::AddUaaUser(const std::string& username, const std::string& password,
                                     const std::vector<std::string>& scopes) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->users[username] = FakeCloudController::Impl::UserRec{password, scopes};
}

std::string FakeCloudController::IssueToken(const std::string& client_id) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const auto c = impl_->clients.find(client_id);
  if (c == impl_->clients.end()) throw std::invalid_argument("IssueToken: unknown client " + client_id);
  return impl_->IssueTokenLocked(client_id, "", c->second.authorities, nullptr);
}

void FakeCloudController::ExpireToken(const std::string& access_token) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const auto t = impl_->tokens.find(access_token);
  if (t != impl_->tokens.end()) t->second.revoked = true;
}

void FakeCloudController::ExpireAllTokens() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  for (auto& [token, rec] : impl_->tokens) rec.revoked = true;
}

FakeCloudController::DemoFoundation FakeCloudController::SeedDemoFoundation() {
  DemoFoundation f;
  f.org_guid = AddOrg("demo-org");
  f.space_guid = AddSpace("demo-space", f.org_guid);
  const std::string mysql = AddServiceOffering({"p.mysql", "mysql-broker", true, true});
  const std::string redis = AddServiceOffering({"p.redis", "redis-broker", true, false});
  f.ssh_offering_guid = AddServiceOffering({"ssh-access", "ssh-access-broker", true, true});
  const std::string mysql_plan = AddServicePlan(mysql, "db-small");
  const std::string redis_plan = AddServicePlan(redis, "cache-small");
  f.ssh_plan_guid = AddServicePlan(f.ssh_offering_guid, "standard");
  f.mysql_instance_guid = AddServiceInstance(
      {"music-db", f.space_guid, mysql_plan, false, R"({"uri":"mysql://music:secret@10.0.0.5:3306/music"})"});
  f.redis_instance_guid =
      AddServiceInstance({"music-cache", f.space_guid, redis_plan, false, R"({"host":"10.0.0.6","password":"secret"})"});
  f.ups_instance_guid =
      AddServiceInstance({"music-config", f.space_guid, "", true, R"({"api_key":"demo-key","endpoint":"https://config.example"})"});
  f.ssh_instance_guid = AddServiceInstance({"my-ssh", f.space_guid, f.ssh_plan_guid, false, "{}"});

  AppSpec app;
  app.name = "spring-music";
  app.space_guid = f.space_guid;
  app.buildpacks = {"java_buildpack"};
  app.env = {{"JBP_CONFIG_OPEN_JDK_JRE", "{ jre: { version: 17.+ } }"}, {"SPRING_PROFILES_ACTIVE", "cloud"}};
  app.process_types = {{"web", "JAVA_OPTS=\"-agentpath:$PWD/.java-buildpack/jvmkill\" exec $PWD/.java-buildpack/open_jdk_jre/bin/java -cp $PWD/. org.springframework.boot.loader.JarLauncher"},
                       {"task", "exec $PWD/.java-buildpack/open_jdk_jre/bin/java -cp $PWD/. org.springframework.boot.loader.JarLauncher --task"}};
  app.web.memory_in_mb = 1024;
  app.web.disk_in_mb = 1024;
  app.web.health_check_type = "http";
  app.web.health_check_endpoint = "/actuator/health";
  f.app_guid = AddApp(app);
  f.binding_guids.push_back(AddServiceBinding(f.app_guid, f.mysql_instance_guid));
  f.binding_guids.push_back(AddServiceBinding(f.app_guid, f.redis_instance_guid, "cache"));
  f.binding_guids.push_back(AddServiceBinding(f.app_guid, f.ups_instance_guid));
  AddLogLine(f.app_guid, {"Started SpringMusicApplication in 4.2 seconds", "APP/PROC/WEB", "0", false, std::nullopt});

  f.client_id = "ssh-access-broker";
  f.client_secret = "fake-secret";
  AddUaaClient({f.client_id, f.client_secret, {"client_credentials"}, {"cloud_controller.admin", "uaa.resource"}});
  f.username = "admin";
  f.password = "admin";
  AddUaaUser(f.username, f.password, {"cloud_controller.admin", "cloud_controller.read", "cloud_controller.write", "openid"});
  return f;
}

// ---- Knobs, faults ----

FakeCloudController::Knobs FakeCloudController::knobs() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->knobs;
}

void FakeCloudController::SetKnobs(const Knobs& knobs) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->knobs = knobs;
}

void FakeCloudController::UpdateKnobs(const std::function<void(Knobs&)>& edit) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  edit(impl_->knobs);
}

void FakeCloudController::AddFault(const Fault& fault) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->faults.push_back(FakeCloudController::Impl::FaultRec{fault, 0});
}

void FakeCloudController::ClearFaults() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->faults.clear();
}

// ---- Inspection ----

std::vector<FakeCloudController::JournalEntry> FakeCloudController::Journal() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->journal;
}

void FakeCloudController::ClearJournal() {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->journal.clear();
}

std::vector<FakeCloudController::JournalEntry> FakeCloudController::Calls(const std::string& method,
                                                                          const std::string& route_or_path) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<JournalEntry> out;
  for (const JournalEntry& e : impl_->journal) {
    if (!method.empty() && e.method != method) continue;
    if (e.route != route_or_path && !GlobMatch(route_or_path, e.path)) continue;
    out.push_back(e);
  }
  return out;
}

std::vector<FakeCloudController::AppView> FakeCloudController::Apps() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<const FakeCloudController::Impl::AppRec*> recs;
  for (const auto& [guid, a] : impl_->apps) recs.push_back(&a);
  std::sort(recs.begin(), recs.end(), [](const auto* x, const auto* y) { return x->seq < y->seq; });
  std::vector<AppView> out;
  for (const auto* a : recs) out.push_back(Impl::ToView(*a));
  return out;
}

std::optional<FakeCloudController::AppView> FakeCloudController::App(const std::string& app_guid) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const auto a = impl_->apps.find(app_guid);
  if (a == impl_->apps.end()) return std::nullopt;
  return Impl::ToView(a->second);
}

std::vector<FakeCloudController::AppView> FakeCloudController::AppsWithLabel(const std::string& label_selector) const {
  const SelectorParse parsed = ParseLabelSelector(label_selector);
  if (!parsed.errors.empty()) {
    throw std::invalid_argument("AppsWithLabel: label selector '" + label_selector + "': " + Join(parsed.errors, ", "));
  }
  std::vector<AppView> out;
  for (AppView& a : Apps()) {
    if (SelectorMatches(parsed.requirements, a.labels)) out.push_back(std::move(a));
  }
  return out;
}

std::vector<FakeCloudController::BindingView> FakeCloudController::BindingsOfApp(const std::string& app_guid) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<const FakeCloudController::Impl::BindingRec*> recs;
  for (const auto& [guid, b] : impl_->bindings) {
    if (b.app_guid == app_guid) recs.push_back(&b);
  }
  std::sort(recs.begin(), recs.end(), [](const auto* x, const auto* y) { return x->seq < y->seq; });
  std::vector<BindingView> out;
  for (const auto* b : recs) out.push_back(Impl::ToView(*b));
  return out;
}

std::optional<FakeCloudController::BindingView> FakeCloudController::Binding(const std::string& binding_guid) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const auto b = impl_->bindings.find(binding_guid);
  if (b == impl_->bindings.end()) return std::nullopt;
  return Impl::ToView(b->second);
}

std::vector<FakeCloudController::ProcessView> FakeCloudController::ProcessesOf(const std::string& app_guid) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<ProcessView> out;
  const auto app = impl_->apps.find(app_guid);
  std::vector<const FakeCloudController::Impl::ProcessRec*> recs;
  for (const auto& [guid, p] : impl_->processes) {
    if (p.app_guid == app_guid) recs.push_back(&p);
  }
  std::sort(recs.begin(), recs.end(), [](const auto* x, const auto* y) { return x->seq < y->seq; });
  for (const auto* p : recs) {
    ProcessView v;
    v.guid = p->guid;
    v.app_guid = p->app_guid;
    v.type = p->type;
    v.command = p->command;
    v.instances = p->instances;
    v.memory_in_mb = p->memory_in_mb;
    v.disk_in_mb = p->disk_in_mb;
    v.log_rate_limit_in_bytes_per_second = p->log_rate;
    v.health_check_type = p->hc_type;
    v.health_check_timeout = p->hc_timeout;
    v.instance_state = app != impl_->apps.end() && app->second.state == "STARTED" ? p->run_state : "DOWN";
    out.push_back(std::move(v));
  }
  return out;
}

std::optional<FakeCloudController::ProcessView> FakeCloudController::ProcessOf(const std::string& app_guid,
                                                                               const std::string& type) const {
  for (ProcessView& p : ProcessesOf(app_guid)) {
    if (p.type == type) return std::move(p);
  }
  return std::nullopt;
}

std::vector<FakeCloudController::DropletView> FakeCloudController::DropletsOf(const std::string& app_guid) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::vector<const FakeCloudController::Impl::DropletRec*> recs;
  for (const auto& [guid, d] : impl_->droplets) {
    if (d.app_guid == app_guid) recs.push_back(&d);
  }
  std::sort(recs.begin(), recs.end(), [](const auto* x, const auto* y) { return x->seq < y->seq; });
  std::vector<DropletView> out;
  for (const auto* d : recs) out.push_back(DropletView{d->guid, d->app_guid, d->state, d->lifecycle, d->process_types});
  return out;
}

std::optional<FakeCloudController::LocalContainerView> FakeCloudController::LocalContainer(
    const std::string& app_guid) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const auto latest = impl_->latest_container.find(app_guid);
  if (latest == impl_->latest_container.end()) return std::nullopt;
  const auto it = impl_->containers.find(latest->second);
  if (it == impl_->containers.end()) return std::nullopt;
  const FakeCloudController::Impl::ContainerRec& c = it->second;
  LocalContainerView v;
  v.pid = c.pid;
  v.running = !c.reaped;
  v.exit_status = c.exit_status;
  v.stop_requested = c.stop_requested;
  v.command = c.command;
  v.app_dir = c.app_dir;
  v.stdout_path = c.stdout_path;
  v.stderr_path = c.stderr_path;
  v.env = c.env;
  return v;
}

std::vector<FakeCloudController::SessionReportResult> FakeCloudController::SessionReports() const {
  return impl_->reporter.Results();
}

std::vector<FakeCloudController::SessionReportResult> FakeCloudController::AwaitSessionReports(
    std::size_t n, std::chrono::milliseconds timeout) const {
  return impl_->reporter.Await(n, timeout);
}

}  // namespace broker::testing
