// Tests for tests/support/tile_check.h: the repository's tile/tile.yml and manifest.yml pass, and
// one mutated copy per rule is rejected with a violation naming that rule. Mutations are made on
// the parsed YAML (YAML::Clone of the real files), so every case differs from the real tile in one
// place only.
#include "tests/support/tile_check.h"

#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace broker::testing {
namespace {

namespace fs = std::filesystem;

const std::string kTileDir = std::string(BROKER_SOURCE_DIR) + "/tile";

YAML::Node RealTile() { return YAML::LoadFile(kTileDir + "/tile.yml"); }
YAML::Node RealManifest() { return YAML::LoadFile(std::string(BROKER_SOURCE_DIR) + "/manifest.yml"); }

std::string Joined(const std::vector<Violation>& vs) {
  std::string s;
  for (const auto& v : vs) s += FormatViolation(v) + "\n";
  return s;
}

bool Names(const std::vector<Violation>& vs, const std::string& rule) {
  for (const auto& v : vs) {
    if (v.rule == rule) return true;
  }
  return false;
}

YAML::Node Package(YAML::Node& tile, const std::string& type) {
  for (auto p : tile["packages"]) {
    if (p["type"].as<std::string>() == type) return p;
  }
  FAIL("no package of type " << type);
  return {};
}
YAML::Node Broker(YAML::Node& t) { return Package(t, "app-broker"); }
YAML::Node Tmate(YAML::Node& t) { return Package(t, "docker-bosh"); }
YAML::Node Container(YAML::Node& t) { return Tmate(t)["manifest"]["containers"][0]; }
YAML::Node FormProperty(YAML::Node& t, const std::string& name) {
  for (auto f : t["forms"]) {
    for (auto p : f["properties"]) {
      if (p["name"].as<std::string>() == name) return p;
    }
  }
  FAIL("no form property " << name);
  return {};
}
YAML::Node Quoted(const std::string& s) {
  YAML::Node n(s);
  n.SetTag("!");
  return n;
}
YAML::Node Plain(const std::string& s) {
  YAML::Node n(s);
  n.SetTag("?");
  return n;
}
YAML::Node AppOf(YAML::Node& manifest) { return manifest["applications"][0]; }

struct Mutation {
  const char* rule;
  const char* what;
  std::function<void(YAML::Node& tile, YAML::Node& manifest)> apply;
};

TEST_SUITE("tile check") {
  TEST_CASE("the repository's tile.yml and manifest.yml pass") {
    const auto vs = CheckTile(RealTile(), RealManifest(), kTileDir);
    INFO(Joined(vs));
    CHECK(vs.empty());
  }

  TEST_CASE("the icon is a real PNG of 128x128") {
    std::ifstream in(kTileDir + "/resources/icon.png", std::ios::binary);
    std::string head(24, '\0');
    in.read(head.data(), 24);
    REQUIRE(in);
    CHECK(head.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
    CHECK(head.substr(12, 4) == "IHDR");
    auto be32 = [&](std::size_t at) {
      return (static_cast<unsigned char>(head[at]) << 24) | (static_cast<unsigned char>(head[at + 1]) << 16) |
             (static_cast<unsigned char>(head[at + 2]) << 8) | static_cast<unsigned char>(head[at + 3]);
    };
    CHECK(be32(16) == 128);
    CHECK(be32(20) == 128);
  }

  TEST_CASE("each rule rejects its mutation, naming the rule") {
    const std::vector<Mutation> mutations = {
        {"1.required", "no name", [](YAML::Node& t, YAML::Node&) { t.remove("name"); }},
        {"1.required", "no label", [](YAML::Node& t, YAML::Node&) { t.remove("label"); }},
        {"1.required", "no description", [](YAML::Node& t, YAML::Node&) { t.remove("description"); }},
        {"1.required", "no icon_file", [](YAML::Node& t, YAML::Node&) { t.remove("icon_file"); }},
        {"1.name", "capitals", [](YAML::Node& t, YAML::Node&) { t["name"] = "SSH-Access"; }},
        {"1.name", "bad characters", [](YAML::Node& t, YAML::Node&) { t["name"] = "ssh.access"; }},
        {"1.name", "one character", [](YAML::Node& t, YAML::Node&) { t["name"] = "s"; }},
        {"1.name", "ends in a hyphen", [](YAML::Node& t, YAML::Node&) { t["name"] = "ssh-"; }},
        {"1.icon", "missing icon", [](YAML::Node& t, YAML::Node&) { t["icon_file"] = "resources/nope.png"; }},
        {"1.icon", "icon not a PNG", [](YAML::Node& t, YAML::Node&) { t["icon_file"] = "tile.yml"; }},
        {"1.icon", "icon outside the tile", [](YAML::Node& t, YAML::Node&) { t["icon_file"] = "../README.md"; }},
        {"1.metadata_version", "quoted", [](YAML::Node& t, YAML::Node&) { t["metadata_version"] = Quoted("3.0"); }},
        {"1.metadata_version", "2.10 loses a digit",
         [](YAML::Node& t, YAML::Node&) { t["metadata_version"] = Plain("2.10"); }},
        {"1.metadata_version", "not a number", [](YAML::Node& t, YAML::Node&) { t["metadata_version"] = Plain("three"); }},
        {"1.stemcell", "no stemcell_criteria", [](YAML::Node& t, YAML::Node&) { t.remove("stemcell_criteria"); }},
        {"1.stemcell", "os xenial", [](YAML::Node& t, YAML::Node&) { t["stemcell_criteria"]["os"] = "ubuntu-xenial"; }},
        {"1.stemcell", "version a number",
         [](YAML::Node& t, YAML::Node&) { t["stemcell_criteria"]["version"] = Plain("1.300"); }},
        {"1.reserved", "releases key", [](YAML::Node& t, YAML::Node&) { t["releases"] = YAML::Node(YAML::NodeType::Sequence); }},
        {"1.reserved", "pre_delete_errands key",
         [](YAML::Node& t, YAML::Node&) { t["pre_delete_errands"] = YAML::Node(YAML::NodeType::Sequence); }},
        {"1.version", "version not semver", [](YAML::Node& t, YAML::Node&) { t["version"] = "1.0"; }},
        {"2.packages", "no packages", [](YAML::Node& t, YAML::Node&) { t.remove("packages"); }},
        {"2.type", "unknown type", [](YAML::Node& t, YAML::Node&) { Tmate(t)["type"] = "docker-vm"; }},
        {"2.type", "package without type", [](YAML::Node& t, YAML::Node&) { Tmate(t).remove("type"); }},
        {"2.name", "package without name", [](YAML::Node& t, YAML::Node&) { Tmate(t).remove("name"); }},
        {"2.name", "package name with a dot", [](YAML::Node& t, YAML::Node&) { Tmate(t)["name"] = "tmate.server"; }},
        {"2.name", "package name with a double underscore",
         [](YAML::Node& t, YAML::Node&) { Tmate(t)["name"] = "tmate__server"; }},
        {"2.unique", "duplicate package names (after - -> _)",
         [](YAML::Node& t, YAML::Node&) { Tmate(t)["name"] = "ssh-access"; }},
        {"3.manifest", "broker manifest a list",
         [](YAML::Node& t, YAML::Node&) { Broker(t)["manifest"] = YAML::Node(YAML::NodeType::Sequence); }},
        {"3.buildpack", "buildpacks list only",
         [](YAML::Node& t, YAML::Node&) {
           auto m = Broker(t)["manifest"];
           m.remove("buildpack");
           m["buildpacks"].push_back("binary_buildpack");
         }},
        {"3.random-route", "random-route", [](YAML::Node& t, YAML::Node&) { Broker(t)["manifest"]["random-route"] = true; }},
        {"3.path", "no path", [](YAML::Node& t, YAML::Node&) { Broker(t)["manifest"].remove("path"); }},
        {"3.path", "path outside resources/ missing",
         [](YAML::Node& t, YAML::Node&) { Broker(t)["manifest"]["path"] = "dist/broker.zip"; }},
        {"3.path", "path escaping the tile", [](YAML::Node& t, YAML::Node&) { Broker(t)["manifest"]["path"] = "../dist"; }},
        {"3.host", "host not DNS-safe", [](YAML::Node& t, YAML::Node&) { Broker(t)["manifest"]["host"] = "ssh.access"; }},
        {"3.needs_cf_credentials", "no CF credentials",
         [](YAML::Node& t, YAML::Node&) { Broker(t).remove("needs_cf_credentials"); }},
        {"3.needs_cf_credentials", "CF credentials false",
         [](YAML::Node& t, YAML::Node&) { Broker(t)["needs_cf_credentials"] = false; }},
        {"4.containers", "no containers", [](YAML::Node& t, YAML::Node&) { Tmate(t)["manifest"].remove("containers"); }},
        {"4.containers", "path in a docker-bosh manifest",
         [](YAML::Node& t, YAML::Node&) { Tmate(t)["manifest"]["path"] = "resources/x"; }},
        {"4.container-name", "container name with a hyphen", [](YAML::Node& t, YAML::Node&) { Container(t)["name"] = "tmate-server"; }},
        {"4.container-name", "container name capitalised", [](YAML::Node& t, YAML::Node&) { Container(t)["name"] = "Tmate"; }},
        {"4.sizing", "cpu not an integer", [](YAML::Node& t, YAML::Node&) { Tmate(t)["cpu"] = "one"; }},
        {"4.sizing", "memory quoted", [](YAML::Node& t, YAML::Node&) { Tmate(t)["memory"] = Quoted("1024"); }},
        {"4.sizing", "no instances", [](YAML::Node& t, YAML::Node&) { Tmate(t).remove("instances"); }},
        {"4.sizing", "no ephemeral_disk", [](YAML::Node& t, YAML::Node&) { Tmate(t).remove("ephemeral_disk"); }},
        {"4.image", "image without a files entry",
         [](YAML::Node& t, YAML::Node&) { Container(t)["image"] = "tmate/tmate-ssh-server:2.3.0"; }},
        {"4.image", "no files", [](YAML::Node& t, YAML::Node&) { Tmate(t).remove("files"); }},
        {"4.pinned", "image :latest",
         [](YAML::Node& t, YAML::Node&) {
           Container(t)["image"] = "tmate/tmate-ssh-server:latest";
           Tmate(t)["files"][0] = "resources/tmate-tmate-ssh-server-latest.tgz";
         }},
        {"4.pinned", "image without a tag",
         [](YAML::Node& t, YAML::Node&) {
           Container(t)["image"] = "tmate/tmate-ssh-server";
           Tmate(t)["files"][0] = "resources/tmate-tmate-ssh-server.tgz";
         }},
        {"4.pinned", "docker_images by tag",
         [](YAML::Node& t, YAML::Node&) {
           Container(t)["image"] = "tmate/tmate-ssh-server:2.4";
           Tmate(t)["docker_images"].push_back("tmate/tmate-ssh-server:2.4");
         }},
        {"4.port22", "host port 22", [](YAML::Node& t, YAML::Node&) { Container(t)["bind_ports"][0] = "22:2200"; }},
        {"4.port22", "host port 22 on an address",
         [](YAML::Node& t, YAML::Node&) { Container(t)["bind_ports"][0] = "0.0.0.0:22:2200"; }},
        {"5.form", "form without label", [](YAML::Node& t, YAML::Node&) { t["forms"][0].remove("label"); }},
        {"5.form", "form without name", [](YAML::Node& t, YAML::Node&) { t["forms"][1].remove("name"); }},
        {"5.property-name", "property without name",
         [](YAML::Node& t, YAML::Node&) { FormProperty(t, "clone_ttl").remove("name"); }},
        {"5.property-name", "property name with capitals",
         [](YAML::Node& t, YAML::Node&) { FormProperty(t, "clone_ttl")["name"] = "Clone_TTL"; }},
        {"5.property-type", "wrong type", [](YAML::Node& t, YAML::Node&) { FormProperty(t, "clone_ttl")["type"] = "int"; }},
        {"5.property-type", "no type", [](YAML::Node& t, YAML::Node&) { FormProperty(t, "clone_ttl").remove("type"); }},
        {"5.property-label", "no label", [](YAML::Node& t, YAML::Node&) { FormProperty(t, "clone_ttl").remove("label"); }},
        {"5.optional-default", "optional with a default",
         [](YAML::Node& t, YAML::Node&) { FormProperty(t, "clone_ttl")["optional"] = true; }},
        {"5.dropdown-default", "dropdown default not an option",
         [](YAML::Node& t, YAML::Node&) { FormProperty(t, "tmate_mode")["default"] = "builtin"; }},
        {"5.unique", "duplicate property names",
         [](YAML::Node& t, YAML::Node&) { FormProperty(t, "clone_max_per_space")["name"] = "clone_ttl"; }},
        {"5.unique", "a fixed property named like a form property",
         [](YAML::Node& t, YAML::Node&) {
           YAML::Node p;
           p["name"] = "database_url";
           p["type"] = "string";
           p["label"] = "again";
           t["properties"].push_back(p);
         }},
        {"5.env-clash", "property named cf_api_url (CF_*)",
         [](YAML::Node& t, YAML::Node&) { FormProperty(t, "clone_ttl")["name"] = "cf_api_url"; }},
        {"5.env-clash", "property named security_user_name",
         [](YAML::Node& t, YAML::Node&) { FormProperty(t, "clone_ttl")["name"] = "security_user_name"; }},
        {"5.env-clash", "property named uaa_host", [](YAML::Node& t, YAML::Node&) { FormProperty(t, "clone_ttl")["name"] = "uaa_host"; }},
        {"5.env-clash", "property named after the docker-bosh package",
         [](YAML::Node& t, YAML::Node&) { FormProperty(t, "clone_ttl")["name"] = "tmate_ssh_server_hosts"; }},
        {"5.plan-description", "service plan form property without description",
         [](YAML::Node& t, YAML::Node&) {
           YAML::Node f;
           f["name"] = "custom_plans";
           f["label"] = "Plans";
           YAML::Node p;
           p["name"] = "ttl_minutes";
           p["type"] = "integer";
           p["label"] = "TTL";
           f["properties"].push_back(p);
           t["service_plan_forms"].push_back(f);
         }},
        {"5.reference", "form property referencing an undefined property",
         [](YAML::Node& t, YAML::Node&) { FormProperty(t, "tmate_server_host")["name"] = "tmate_host"; }},
        {"5.reference", "auto_services naming an undefined property",
         [](YAML::Node& t, YAML::Node&) { Broker(t)["auto_services"][0]["name"] = "(( .properties.db_service.value ))"; }},
        {"6.manifest", "manifest.yml without applications", [](YAML::Node&, YAML::Node& m) { m.remove("applications"); }},
        {"6.manifest", "two brokers",
         [](YAML::Node& t, YAML::Node&) {
           YAML::Node copy = YAML::Clone(Broker(t));
           copy["name"] = "ssh_access_two";
           t["packages"].push_back(copy);
         }},
        {"6.command", "command mismatch", [](YAML::Node& t, YAML::Node&) { Broker(t)["manifest"]["command"] = "./broker --x"; }},
        {"6.command", "command only in manifest.yml", [](YAML::Node& t, YAML::Node&) { Broker(t)["manifest"].remove("command"); }},
        {"6.buildpack", "buildpack mismatch",
         [](YAML::Node& t, YAML::Node&) { Broker(t)["manifest"]["buildpack"] = "go_buildpack"; }},
        {"6.buildpack", "manifest.yml with two buildpacks",
         [](YAML::Node&, YAML::Node& m) { AppOf(m)["buildpacks"].push_back("go_buildpack"); }},
        {"6.memory", "memory mismatch", [](YAML::Node& t, YAML::Node&) { Broker(t)["manifest"]["memory"] = "1G"; }},
        {"6.memory", "memory unreadable", [](YAML::Node& t, YAML::Node&) { Broker(t)["manifest"]["memory"] = "lots"; }},
        {"6.health-check", "health check type mismatch",
         [](YAML::Node& t, YAML::Node&) { Broker(t)["manifest"]["health-check-type"] = "port"; }},
        {"6.health-check", "health check endpoint mismatch",
         [](YAML::Node& t, YAML::Node&) { Broker(t)["manifest"]["health-check-http-endpoint"] = "/health"; }},
        {"6.health-check", "tile-generator health_check key", [](YAML::Node& t, YAML::Node&) { Broker(t)["health_check"] = "http"; }},
        {"6.env", "manifest.yml env key the tile doesn't supply",
         [](YAML::Node&, YAML::Node& m) { AppOf(m)["env"]["SOMETHING_NEW"] = "x"; }},
        {"6.env", "a tile env key manifest.yml lacks", [](YAML::Node& t, YAML::Node&) { Broker(t)["manifest"]["env"]["EXTRA"] = "x"; }},
        {"6.env", "tile env setting a tile-generator variable",
         [](YAML::Node& t, YAML::Node& m) {
           Broker(t)["manifest"]["env"]["SECURITY_USER_NAME"] = "x";
           AppOf(m)["env"]["SECURITY_USER_NAME"] = "x";
         }},
        {"6.env", "a property's env var gone (skip_export)",
         [](YAML::Node& t, YAML::Node& m) {
           AppOf(m)["env"]["CLONE_TTL"] = "60";
           FormProperty(t, "clone_ttl")["skip_export"] = true;
         }},
    };
    for (const auto& mu : mutations) {
      YAML::Node tile = YAML::Clone(RealTile());
      YAML::Node manifest = YAML::Clone(RealManifest());
      mu.apply(tile, manifest);
      const auto vs = CheckTile(tile, manifest, kTileDir);
      INFO(mu.rule << ": " << mu.what << "\n" << Joined(vs));
      CHECK(Names(vs, mu.rule));
    }
  }

  TEST_CASE("equivalent spellings pass: memory units, a buildpacks list of one, a property's env var") {
    YAML::Node tile = YAML::Clone(RealTile());
    YAML::Node manifest = YAML::Clone(RealManifest());
    const std::string mem = AppOf(manifest)["memory"].as<std::string>();
    const long mb = std::stol(mem);
    Broker(tile)["manifest"]["memory"] = std::to_string(mb) + "MB";
    AppOf(manifest).remove("buildpacks");
    AppOf(manifest)["buildpack"] = Broker(tile)["manifest"]["buildpack"].as<std::string>();
    AppOf(manifest)["env"]["CLONE_MAX_PER_SPACE"] = "3";  // the tile's clone_max_per_space property
    const auto vs = CheckTile(tile, manifest, kTileDir);
    INFO(Joined(vs));
    CHECK(vs.empty());
  }

  TEST_CASE("build outputs: missing zips and image tarballs fail only when required") {
    const auto vs = CheckTile(RealTile(), RealManifest(), kTileDir, {.require_build_outputs = true});
    const bool zip = fs::exists(kTileDir + "/resources/ssh-access-broker.zip");
    const bool image = fs::exists(kTileDir + "/resources/ssh-access-tmate-ssh-server-pinned.tgz");
    const bool pin = fs::exists(kTileDir + "/resources/ssh-access-tmate-ssh-server-pinned.digest");
    INFO(Joined(vs));
    CHECK(Names(vs, "3.path") == !zip);
    CHECK(Names(vs, "4.image") == !image);
    CHECK(Names(vs, "4.pinned") == !pin);
  }

  TEST_CASE("the tmate image's pin is required for a release and must name the image by digest") {
    const fs::path dir = fs::temp_directory_path() / ("tile-check-pin-" + std::to_string(::getpid()));
    fs::create_directories(dir / "resources");
    const fs::path pin = dir / "resources" / "ssh-access-tmate-ssh-server-pinned.digest";
    auto pinned = [&](bool release) {
      return Names(CheckTile(RealTile(), RealManifest(), dir.string(), {.require_build_outputs = release}), "4.pinned");
    };
    CHECK(pinned(true));    // no pin: a release build fails
    CHECK_FALSE(pinned(false));  // CI has no build outputs
    const std::string digest = "tmate/tmate-ssh-server@sha256:" + std::string(64, 'a');
    for (const std::string& bad : {std::string("tmate/tmate-ssh-server:latest\n"), std::string("tmate/tmate-ssh-server:2.4\n"),
                                   std::string("tmate/tmate-ssh-server@sha256:abc\n"), digest + "\n" + digest + "\n", std::string("\n")}) {
      CAPTURE(bad);
      std::ofstream(pin) << bad;
      CHECK(pinned(false));
      CHECK(pinned(true));
    }
    std::ofstream(pin) << digest << "\n";
    CHECK_FALSE(pinned(true));
    fs::remove_all(dir);
  }
}

}  // namespace
}  // namespace broker::testing
