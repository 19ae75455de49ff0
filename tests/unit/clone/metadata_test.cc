// Tests for broker/clone/metadata.h: Cloud Controller's metadata rules, with CC's own wording
// (cloud_controller_ng app/messages/metadata_validator_helper.rb,
// app/messages/validators/metadata_validator.rb, lib/cloud_controller/domain_decorator.rb).
#include "broker/clone/metadata.h"

#include <doctest/doctest.h>

#include <string>

namespace broker::clone {
namespace {

TEST_SUITE("clone metadata") {
  TEST_CASE("a key prefix must be a DNS name with at least one dot") {
    struct Row {
      const char* key;
      const char* error;
    };
    const Row rows[] = {
        {"ssh-access.broker/binding-guid", ""},
        {"binding-guid", ""},
        {"a.b/c", ""},
        {"Example.COM/x", ""},
        {"ssh-access/binding-guid", "prefix 'ssh-access' must be in valid dns format"},
        {"onlycom/key4", "prefix 'onlycom' must be in valid dns format"},  // CC's own spec lists it invalid
        {"-a.b/x", "prefix '-a.b' must be in valid dns format"},
        {"a_b.c/x", "prefix 'a_b.c' must be in valid dns format"},
        {"a..b/x", "prefix 'a..b' must be in valid dns format"},
        {"/x", "prefix '' must be in valid dns format"},
        {"cloudfoundry.org/x", "prefix 'cloudfoundry.org' is reserved"},
        {"CloudFoundry.Org/x", "prefix 'cloudfoundry.org' is reserved"},
        {"a.b/c/d", "key has more than one '/'"},
        {"", "key cannot be empty string"},
        {"a.b/", "key cannot be empty string"},
        {"a.b/-x", "'-x' starts or ends with invalid characters"},
        {"a.b/x y", "'x y' contains invalid characters"},
        {"a.b/0123456789012345678901234567890123456789012345678901234567890123",
         "'01234567...' is greater than 63 characters"},
    };
    for (const Row& r : rows) {
      CAPTURE(r.key);
      CHECK(MetadataKeyError(r.key) == r.error);
    }
  }

  TEST_CASE("a prefix longer than 253 characters is refused") {
    std::string prefix;
    while (prefix.size() < 254) prefix += "abcdefgh.";
    prefix += "io";
    CHECK(MetadataPrefixError(prefix) == "prefix 'abcdefgh...' is greater than 253 characters");
  }

  TEST_CASE("label values are empty or up to 63 name characters, annotation values up to 5000") {
    CHECK(LabelValueError("").empty());
    CHECK(LabelValueError("11111111-aaaa-4bbb-8ccc-000000000001").empty());
    CHECK(LabelValueError("my app") == "'my app' contains invalid characters");
    CHECK(LabelValueError("app-") == "'app-' starts or ends with invalid characters");
    CHECK(LabelValueError(std::string(64, 'a')) == "'aaaaaaaa...' is greater than 63 characters");
    CHECK(AnnotationValueError("my app, with spaces / and slashes").empty());
    CHECK(AnnotationValueError(std::string(5000, 'x')).empty());
    CHECK(AnnotationValueError(std::string(5001, 'x')) == "'xxxxxxxx...' is greater than 5000 characters");
  }

  TEST_CASE("MetadataError names the first label or annotation CC would refuse") {
    CHECK(MetadataError({{"a.b/binding-guid", "g1"}}, {{"a.b/source-app-name", "my app"}}).empty());
    CHECK(MetadataError({{"a.b/binding-guid", "not a guid"}}, {}) ==
          "label 'a.b/binding-guid': 'not a guid' contains invalid characters");
    CHECK(MetadataError({}, {{"x/created-at", "now"}}) ==
          "annotation 'x/created-at': prefix 'x' must be in valid dns format");
  }
}

}  // namespace
}  // namespace broker::clone
