#include "broker/clone/metadata.h"

#include <algorithm>
#include <cctype>
#include <cstddef>

namespace broker::clone {
namespace {

constexpr std::size_t kMaxNameSize = 63;        // MetadataValidatorHelper::MAX_METADATA_KEY_SIZE
constexpr std::size_t kMaxPrefixSize = 253;     // MAX_METADATA_PREFIX_SIZE
constexpr std::size_t kMaxAnnotationValue = 5000;  // MetadataValidator::MAX_ANNOTATION_VALUE_SIZE

bool Alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// DomainDecorator::DOMAIN_REGEX: /\A(([a-z0-9]|[a-z0-9][a-z0-9-]{0,61}[a-z0-9])\.)+(...)\Z/ix,
// so at least two labels. (\Z also lets one trailing newline through; the broker never sends one.)
bool ValidDomain(std::string_view s) {
  std::size_t labels = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = s.find('.', start);
    const std::string_view label = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > 63 || !Alnum(label.front()) || !Alnum(label.back())) return false;
    if (!std::all_of(label.begin(), label.end(), [](char c) { return Alnum(c) || c == '-'; })) return false;
    ++labels;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return labels >= 2;
}

bool ValidCharacters(std::string_view s) {  // !INVALID_CHAR_REGEX /[^\w\-.]/
  return std::all_of(s.begin(), s.end(), [](char c) { return Alnum(c) || c == '_' || c == '-' || c == '.'; });
}

bool StartEndAlphanumeric(std::string_view s) { return !s.empty() && Alnum(s.front()) && Alnum(s.back()); }

std::string Quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

std::string Shortened(std::string_view s) { return "'" + std::string(s.substr(0, 8)) + "...'"; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// A key's name part or a label value (MetadataValidatorHelper#key_error / #value_error).
std::string NameError(std::string_view name) {
  if (!ValidCharacters(name)) return Quoted(name) + " contains invalid characters";
  if (!StartEndAlphanumeric(name)) return Quoted(name) + " starts or ends with invalid characters";
  if (name.size() > kMaxNameSize) return Shortened(name) + " is greater than 63 characters";
  return "";
}

}  // namespace

std::string MetadataPrefixError(std::string_view prefix) {
  if (!ValidDomain(prefix)) return "prefix " + Quoted(prefix) + " must be in valid dns format";
  if (prefix.size() > kMaxPrefixSize) return "prefix " + Shortened(prefix) + " is greater than 253 characters";
  if (EqualsIgnoreCase(prefix, "cloudfoundry.org")) return "prefix 'cloudfoundry.org' is reserved";
  return "";
}

std::string MetadataKeyError(std::string_view key) {
  if (key.empty()) return "key cannot be empty string";
  if (std::count(key.begin(), key.end(), '/') > 1) return "key has more than one '/'";
  std::string_view name = key;
  if (const std::size_t slash = key.find('/'); slash != std::string_view::npos) {
    if (std::string e = MetadataPrefixError(key.substr(0, slash)); !e.empty()) return e;
    name = key.substr(slash + 1);
  }
  if (name.empty()) return "key cannot be empty string";
  return NameError(name);
}

std::string LabelValueError(std::string_view value) { return value.empty() ? "" : NameError(value); }

std::string AnnotationValueError(std::string_view value) {
  return value.size() > kMaxAnnotationValue ? Shortened(value) + " is greater than 5000 characters" : "";
}

std::string MetadataError(const std::map<std::string, std::string>& labels,
                          const std::map<std::string, std::string>& annotations) {
  for (const auto& [key, value] : labels) {
    std::string e = MetadataKeyError(key);
    if (e.empty()) e = LabelValueError(value);
    if (!e.empty()) return "label " + Quoted(key) + ": " + e;
  }
  for (const auto& [key, value] : annotations) {
    std::string e = MetadataKeyError(key);
    if (e.empty()) e = AnnotationValueError(value);
    if (!e.empty()) return "annotation " + Quoted(key) + ": " + e;
  }
  return "";
}

}  // namespace broker::clone
