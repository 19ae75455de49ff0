// Cloud Controller's rules for metadata (labels and annotations), checked by the broker before it
// sends a clone's metadata or a label_selector, so a refusal is a clear message here and never a
// 422/400 from the platform (cloud_controller_ng app/messages/metadata_validator_helper.rb,
// app/messages/validators/metadata_validator.rb, lib/cloud_controller/domain_decorator.rb).
//
//   key:    [prefix/]name, at most one '/';
//           prefix: a DNS name with at least one dot (labels of [a-z0-9-], each starting and
//           ending alphanumeric, at most 63 chars, joined by '.', case-insensitive), at most 253
//           chars, never "cloudfoundry.org";
//           name: 1-63 chars of [A-Za-z0-9_.-], starting and ending alphanumeric.
//   label value:      "" or 1-63 chars of the name's characters, starting and ending alphanumeric.
//   annotation value: at most 5000 chars.
//
// Each check returns "" when the text is valid, else CC's own wording of the first rule broken
// (e.g. "prefix 'ssh-access' must be in valid dns format"). Pure functions; thread-safe.
#ifndef BROKER_CLONE_METADATA_H_
#define BROKER_CLONE_METADATA_H_

#include <map>
#include <string>
#include <string_view>

namespace broker::clone {

// The default prefix of the clone's label and annotation keys (CLONE_METADATA_PREFIX).
inline constexpr char kDefaultMetadataPrefix[] = "ssh-access.broker";

std::string MetadataPrefixError(std::string_view prefix);
std::string MetadataKeyError(std::string_view key);
std::string LabelValueError(std::string_view value);
std::string AnnotationValueError(std::string_view value);

// The first rule `labels` and `annotations` break, as "label 'KEY': WHY" or
// "annotation 'KEY': WHY"; "" when all hold.
std::string MetadataError(const std::map<std::string, std::string>& labels,
                          const std::map<std::string, std::string>& annotations);

}  // namespace broker::clone

#endif  // BROKER_CLONE_METADATA_H_
