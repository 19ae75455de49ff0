#include "broker/base/json.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace broker::base {
namespace {

// Iterative: the reader keeps its state on the heap, so depth costs no stack.
// Numbers as strings: RapidJSON 1.1.0 turns 1e309 into inf; std::from_chars says out of range.
// No kParseValidateEncodingFlag: every decoded string is checked here (which also catches the lone
// low surrogates RapidJSON 1.1.0 lets through). kParseStopWhenDoneFlag: the tail is checked here,
// since MemoryStream reads a raw NUL as the end of the input.
constexpr unsigned kFlags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseStopWhenDoneFlag;

// Longest rendering of a field path in a message; deeper paths end in "...".
constexpr std::size_t kMaxPathBytes = 160;
constexpr std::size_t kMaxKeyBytes = 64;

constexpr char kNumberOutOfRange[] = "a number is outside the range of a double";

bool IsJsonWhitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// A member name as a path segment: valid UTF-8 already; control characters shown as '?' so a
// message never carries a line break; cut at a character boundary.
std::string PathSegment(std::string_view key) {
  std::string out;
  for (std::size_t i = 0; i < key.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(key[i]);
    if (out.size() >= kMaxKeyBytes && (c & 0xC0) != 0x80) {
      out += "...";
      break;
    }
    out += c < 0x20 || c == 0x7F ? '?' : static_cast<char>(c);
  }
  return out;
}

// Forwards SAX events to `Out` (a Document, or a handler that keeps nothing) after checking them.
template <typename Out>
class CheckingHandler {
 public:
  CheckingHandler(Out& out, const rapidjson::MemoryStream& in, int max_depth)
      : out_(out), in_(in), max_depth_(max_depth) {}

  bool Null() { return Enter() && out_.Null(); }
  bool Bool(bool b) { return Enter() && out_.Bool(b); }
  // Unused with kParseNumbersAsStringsFlag; forwarded for completeness.
  bool Int(int i) { return Enter() && out_.Int(i); }
  bool Uint(unsigned u) { return Enter() && out_.Uint(u); }
  bool Int64(std::int64_t i) { return Enter() && out_.Int64(i); }
  bool Uint64(std::uint64_t u) { return Enter() && out_.Uint64(u); }
  bool Double(double d) { return Enter() && out_.Double(d); }

  bool RawNumber(const char* s, rapidjson::SizeType n, bool /*copy*/) {
    if (!Enter()) return false;
    const char* end = s + n;
    const bool integral = std::none_of(s, end, [](char c) { return c == '.' || c == 'e' || c == 'E'; });
    if (integral) {
      std::int64_t i = 0;
      if (const auto r = std::from_chars(s, end, i); r.ec == std::errc() && r.ptr == end) return out_.Int64(i);
      std::uint64_t u = 0;
      if (const auto r = std::from_chars(s, end, u); r.ec == std::errc() && r.ptr == end) return out_.Uint64(u);
    }
    double d = 0;
    const auto r = std::from_chars(s, end, d);
    if (r.ec != std::errc() || r.ptr != end || !std::isfinite(d)) {
      return Fail(kNumberOutOfRange);
    }
    return out_.Double(d);
  }

  bool String(const char* s, rapidjson::SizeType n, bool copy) {
    if (!Enter()) return false;
    if (!CheckString({s, n}, "a string")) return false;
    return out_.String(s, n, copy);
  }

  bool StartObject() {
    if (!Enter() || !Push(/*object=*/true)) return false;
    return out_.StartObject();
  }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) {
    Frame& f = frames_.back();
    f.key_pending = true;  // a refused name is not shown: the path stops at its object
    if (!CheckString({s, n}, "a member name")) return false;
    auto [it, inserted] = f.keys.emplace(s, n);
    f.key = PathSegment(*it);
    f.key_pending = false;
    if (!inserted) return Fail("a member name appears twice");
    return out_.Key(s, n, copy);
  }
  bool EndObject(rapidjson::SizeType members) {
    frames_.pop_back();
    return out_.EndObject(members);
  }
  bool StartArray() {
    if (!Enter() || !Push(/*object=*/false)) return false;
    return out_.StartArray();
  }
  bool EndArray(rapidjson::SizeType elements) {
    frames_.pop_back();
    return out_.EndArray(elements);
  }

  // Set when a check (not RapidJSON's grammar) refused the input.
  bool failed() const { return !reason_.empty(); }
  const std::string& reason() const { return reason_; }
  std::size_t offset() const { return offset_; }
  const std::string& path() const { return path_; }
  // The path of the value being read, for RapidJSON's own errors (which come before the handler
  // hears of the value: in an array, that is the next element).
  std::string CurrentPath() const { return RenderPath(/*next_element=*/true); }

 private:
  struct Frame {
    bool object;
    std::string key;             // the current member's name (objects)
    std::size_t count = 0;       // values seen so far (arrays)
    std::set<std::string> keys;  // member names seen so far (objects)
    bool key_pending = false;    // a member name is being checked
  };

  // A value starts: in an array it is the next element.
  bool Enter() {
    if (!frames_.empty() && !frames_.back().object) ++frames_.back().count;
    return true;
  }

  bool Push(bool object) {
    if (static_cast<int>(frames_.size()) >= max_depth_) {
      return Fail("values are nested more than " + std::to_string(max_depth_) + " deep");
    }
    frames_.push_back(Frame{object, {}, 0, {}, false});
    return true;
  }

  bool CheckString(std::string_view s, const char* what) {
    if (s.find('\0') != std::string_view::npos) return Fail(std::string(what) + " holds a NUL character");
    if (!IsJsonSafeUtf8(s)) return Fail(std::string(what) + " is not valid UTF-8 (or holds an unpaired surrogate)");
    return true;
  }

  bool Fail(std::string reason) {
    reason_ = std::move(reason);
    offset_ = in_.Tell();
    path_ = RenderPath();
    return false;
  }

  std::string RenderPath(bool next_element = false) const {
    std::string out;
    for (std::size_t i = 0; i < frames_.size(); ++i) {
      const Frame& f = frames_[i];
      const std::size_t before = out.size();
      if (f.object) {
        if (f.key_pending || f.keys.empty()) break;  // no member name read yet
        if (!out.empty()) out += '.';
        out += f.key;
      } else {
        const std::size_t index = next_element && i + 1 == frames_.size() ? f.count : f.count - 1;
        if (index == static_cast<std::size_t>(-1)) break;
        out += "[" + std::to_string(index) + "]";
      }
      if (out.size() > kMaxPathBytes) {  // whole segments only
        out.resize(before);
        out += "...";
        break;
      }
    }
    return out;
  }

  Out& out_;
  const rapidjson::MemoryStream& in_;
  const int max_depth_;
  std::vector<Frame> frames_;
  std::string reason_;
  std::size_t offset_ = 0;
  std::string path_;
};

Status Refuse(std::string_view what, std::string_view reason, const std::string& path, std::size_t offset) {
  std::string msg = std::string(what) + " is not valid JSON: " + std::string(reason);
  if (!path.empty()) msg += " in " + path;
  msg += " at offset " + std::to_string(offset);
  return Status::InvalidArgument(std::move(msg));
}

// Runs the checking reader over `text`, feeding `out`. OK or the refusal.
template <typename Out>
Status Run(std::string_view text, std::string_view what, int max_depth, Out& out) {
  if (text.size() >= 3 && text.substr(0, 3) == "\xEF\xBB\xBF") {
    return Refuse(what, "a byte-order mark is not allowed", "", 0);
  }
  rapidjson::MemoryStream in(text.data(), text.size());
  CheckingHandler<Out> handler(out, in, max_depth);
  rapidjson::Reader reader;
  const rapidjson::ParseResult r = reader.Parse<kFlags>(in, handler);
  if (handler.failed()) return Refuse(what, handler.reason(), handler.path(), handler.offset());
  if (r.IsError()) {
    std::size_t offset = r.Offset();
    // MemoryStream reads a raw NUL as the end of the input; say what it was.
    if (offset < text.size() && text[offset] == '\0') {
      return Refuse(what, "a raw NUL character", handler.CurrentPath(), offset);
    }
    // RapidJSON refuses some numbers itself (1e400, 400 digits): the same words as ours.
    const char* reason =
        r.Code() == rapidjson::kParseErrorNumberTooBig ? kNumberOutOfRange : rapidjson::GetParseError_En(r.Code());
    return Refuse(what, reason, handler.CurrentPath(), offset);
  }
  std::size_t tail = in.Tell();
  while (tail < text.size() && IsJsonWhitespace(text[tail])) ++tail;
  if (tail != text.size()) return Refuse(what, "something other than whitespace follows the value", "", tail);
  return Status::Ok();
}

// Populates a Document from the checking reader (GenericDocument::Populate's generator).
struct DocumentGenerator {
  std::string_view text;
  std::string_view what;
  int max_depth;
  Status status;
  bool operator()(rapidjson::Document& doc) {
    status = Run(text, what, max_depth, doc);
    return status.ok();
  }
};

// Writes a number in its one canonical spelling.
void WriteNumber(const rapidjson::Value& v, rapidjson::Writer<rapidjson::StringBuffer>& w) {
  if (!v.IsDouble()) {
    if (v.IsInt64()) {
      w.Int64(v.GetInt64());
    } else {
      w.Uint64(v.GetUint64());
    }
    return;
  }
  const double d = v.GetDouble();
  if (!std::isfinite(d)) {
    w.Null();
    return;
  }
  constexpr double kTwo63 = 9223372036854775808.0;
  constexpr double kTwo64 = 18446744073709551616.0;
  if (std::trunc(d) == d) {
    if (d >= -kTwo63 && d < kTwo63) {
      w.Int64(static_cast<std::int64_t>(d));  // -0.0 becomes 0
      return;
    }
    if (d >= 0 && d < kTwo64) {
      w.Uint64(static_cast<std::uint64_t>(d));
      return;
    }
  }
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, d);
  w.RawValue(buf, static_cast<std::size_t>(r.ptr - buf), rapidjson::kNumberType);
}

void WriteCanonical(const rapidjson::Value& v, rapidjson::Writer<rapidjson::StringBuffer>& w) {
  if (v.IsObject()) {
    std::vector<const rapidjson::Value::Member*> members;
    members.reserve(v.MemberCount());
    for (const auto& m : v.GetObject()) members.push_back(&m);
    std::sort(members.begin(), members.end(), [](const auto* a, const auto* b) {
      return std::string_view(a->name.GetString(), a->name.GetStringLength()) <
             std::string_view(b->name.GetString(), b->name.GetStringLength());
    });
    w.StartObject();
    for (const auto* m : members) {
      w.Key(m->name.GetString(), m->name.GetStringLength());
      WriteCanonical(m->value, w);
    }
    w.EndObject();
  } else if (v.IsArray()) {
    w.StartArray();
    for (const auto& e : v.GetArray()) WriteCanonical(e, w);
    w.EndArray();
  } else if (v.IsNumber()) {
    WriteNumber(v, w);
  } else {
    v.Accept(w);
  }
}

}  // namespace

Result<rapidjson::Document> ParseJson(std::string_view text, std::string_view what, int max_depth) {
  rapidjson::Document doc;
  DocumentGenerator gen{text, what, max_depth, Status::Ok()};
  doc.Populate(gen);
  if (!gen.status.ok()) return gen.status;
  return doc;
}

Status ValidateJson(std::string_view text, std::string_view what, int max_depth) {
  rapidjson::BaseReaderHandler<rapidjson::UTF8<>> ignore;
  return Run(text, what, max_depth, ignore);
}

std::string CanonicalJson(const rapidjson::Value& value) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  WriteCanonical(value, w);
  return std::string(buf.GetString(), buf.GetSize());
}

bool IsJsonSafeUtf8(std::string_view bytes) {
  std::size_t i = 0;
  const std::size_t n = bytes.size();
  while (i < n) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c == 0) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len;
    unsigned lo = 0x80, hi = 0xBF;  // the range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c == 0xE0) {
      len = 3, lo = 0xA0;  // no overlong forms
    } else if (c == 0xED) {
      len = 3, hi = 0x9F;  // no surrogates (U+D800..U+DFFF)
    } else if (c >= 0xE1 && c <= 0xEF) {
      len = 3;
    } else if (c == 0xF0) {
      len = 4, lo = 0x90;
    } else if (c >= 0xF1 && c <= 0xF3) {
      len = 4;
    } else if (c == 0xF4) {
      len = 4, hi = 0x8F;  // nothing past U+10FFFF
    } else {
      return false;  // a continuation byte, C0/C1 or F5..FF
    }
    if (n - i < static_cast<std::size_t>(len)) return false;
    const unsigned char c1 = static_cast<unsigned char>(bytes[i + 1]);
    if (c1 < lo || c1 > hi) return false;
    for (int k = 2; k < len; ++k) {
      if ((static_cast<unsigned char>(bytes[i + k]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

}  // namespace broker::base
