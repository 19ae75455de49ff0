#include "tests/support/tile_check.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>

namespace broker::testing {
namespace {

namespace fs = std::filesystem;

const std::regex kTileNameRe("^[a-z][a-z0-9_-]*[a-z0-9]$");
const std::regex kPackageNameRe("^[a-z][a-z0-9]*(_[a-z0-9]+)*$");
const std::regex kContainerNameRe("^[a-z][a-zA-Z0-9_]*$");
const std::regex kDnsLabelRe("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$");
const std::regex kSemverRe("^(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)\\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\\+[0-9A-Za-z.-]+)?$");
const std::regex kNumberRe("^[0-9]+(\\.[0-9]+)?$");
// An image reference by digest: REPO[:TAG]@sha256:<64 hex>.
const std::regex kDigestRefRe("^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}$");
const std::regex kPropertyRefRe("\\(\\(\\s*\\.properties\\.([A-Za-z0-9_]+)");

const std::set<std::string> kPackageTypes = {"app",       "app-broker", "docker-app", "docker-app-broker",
                                             "external-broker", "buildpack", "decorator", "docker-bosh",
                                             "bosh-release",    "blob",      "helm"};
const std::set<std::string> kReservedKeys = {"releases",         "all_properties",       "post_deploy_errands",
                                             "pre_delete_errands", "requires_docker_bosh", "unknown_keys"};
const std::set<std::string> kPropertyTypes = {
    "boolean",          "ca_certificate",        "collection",
    "disk_type_dropdown", "domain",              "dropdown_select",
    "email",            "http_url",              "integer",
    "ip_address",       "ip_ranges",             "ldap_url",
    "multi_select_options", "network_address",   "network_address_list",
    "port",             "rsa_cert_credentials",  "rsa_pkey_credentials",
    "salted_credentials", "secret",              "selector",
    "service_network_az_multi_select", "service_network_az_single_select", "simple_credentials",
    "smtp_authentication", "stemcell_selector",  "string",
    "string_list",      "text",                  "uuid",
    "vm_type_dropdown", "wildcard_domain"};
// Env vars tile-generator's deploy-all sets on every pushed app (reference §1.6).
const std::set<std::string> kFixedEnv = {"UAA_HOST", "CC_HOST",   "LOGIN_HOST", "ROOT",
                                         "SCHEME",   "VERIFY_SSL", "CF_ORG",    "CF_SPACE",
                                         "CF_TARGET", "CF_SKIP_SSL", "SECURITY_USER_NAME", "SECURITY_USER_PASSWORD"};
const std::set<std::string> kCfCredentialsEnv = {"CF_ADMIN_USER", "CF_ADMIN_USERNAME", "CF_ADMIN_PASSWORD"};

class Checker {
 public:
  Checker(const YAML::Node& tile, const YAML::Node& manifest, std::string tile_dir, const TileCheckOptions& options)
      : tile_(tile), manifest_(manifest), dir_(std::move(tile_dir)), options_(options) {}

  std::vector<Violation> Run() {
    if (!tile_.IsMap()) {
      Add("1.required", "tile.yml is not a map");
      return out_;
    }
    TopLevel();
    Packages();
    Properties();
    References();
    if (manifest_) CrossCheck();
    return out_;
  }

 private:
  void Add(const std::string& rule, const std::string& message) { out_.push_back({rule, message}); }

  // n[key] for a map, else an undefined node (operator[] throws on scalars).
  static YAML::Node At(const YAML::Node& n, const char* key) { return n && n.IsMap() ? n[key] : YAML::Node(); }
  static std::optional<std::string> Str(const YAML::Node& n) {
    if (!n || !n.IsScalar()) return std::nullopt;
    return n.Scalar();
  }
  static std::string Upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return s;
  }
  static std::string Normalised(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return c == '-' ? '_' : static_cast<char>(std::tolower(c)); });
    return s;
  }
  static bool IsInteger(const YAML::Node& n) {
    if (!n || !n.IsScalar() || n.Tag() == "!") return false;
    static const std::regex re("^-?[0-9]+$");
    return std::regex_match(n.Scalar(), re);
  }
  static bool IsTrue(const YAML::Node& n) {
    if (!n || !n.IsScalar() || n.Tag() == "!") return false;
    const std::string v = n.Scalar();
    return v == "true" || v == "True" || v == "TRUE" || v == "yes";
  }

  // A path in tile.yml: relative, inside the tile folder; true when it exists.
  bool CheckedPath(const std::string& rule, const std::string& what, const std::string& path) {
    const fs::path p(path);
    if (p.is_absolute() || path.find("..") != std::string::npos) {
      Add(rule, what + " path " + path + " must be relative to the tile folder and stay inside it");
      return false;
    }
    return fs::exists(fs::path(dir_) / p);
  }
  void BuildOutput(const std::string& rule, const std::string& what, const std::string& path) {
    if (!CheckedPath(rule, what, path) && (options_.require_build_outputs || path.rfind("resources/", 0) != 0)) {
      Add(rule, "Package file " + path + " of " + what + " not found (in " + dir_ + ")");
    }
  }

  void TopLevel() {
    for (const char* key : {"name", "label", "description", "icon_file"}) {
      const auto v = Str(tile_[key]);
      if (!v || v->empty()) Add("1.required", std::string("top-level `") + key + "` is missing");
    }
    if (const auto name = Str(tile_["name"]); name && !name->empty() && !std::regex_match(*name, kTileNameRe)) {
      Add("1.name", "tile name '" + *name + "' doesn't match [a-z][a-z0-9_-]*[a-z0-9] (at least 2 characters)");
    }
    if (const auto icon = Str(tile_["icon_file"]); icon && !icon->empty()) {
      if (!CheckedPath("1.icon", "icon_file", *icon)) {
        Add("1.icon", "icon_file " + *icon + " not found (in " + dir_ + ")");
      } else {
        std::ifstream in(fs::path(dir_) / *icon, std::ios::binary);
        char sig[8] = {};
        in.read(sig, 8);
        if (!in || std::string(sig, 8) != std::string("\x89PNG\r\n\x1a\n", 8)) {
          Add("1.icon", "icon_file " + *icon + " is not a PNG");
        }
      }
    }
    if (const YAML::Node mv = tile_["metadata_version"]) {
      if (!mv.IsScalar() || mv.Tag() == "!" || !std::regex_match(mv.Scalar(), kNumberRe)) {
        Add("1.metadata_version", "metadata_version must be of number type (unquoted, e.g. 3.0)");
      } else {
        const std::string s = mv.Scalar();
        const auto dot = s.find('.');
        if (dot != std::string::npos && s.size() - dot > 2 && s.back() == '0') {
          Add("1.metadata_version", "metadata_version " + s + " loses a digit as a number (becomes '" +
                                        s.substr(0, s.find_last_not_of('0') + 1) + "')");
        }
      }
    }
    const YAML::Node sc = tile_["stemcell_criteria"];
    if (!sc || !sc.IsMap()) {
      Add("1.stemcell", "stemcell_criteria is missing (its default calls the Pivnet API)");
    } else {
      if (Str(sc["os"]).value_or("") != "ubuntu-jammy") Add("1.stemcell", "stemcell_criteria.os must be ubuntu-jammy");
      if (!sc["version"] || !sc["version"].IsScalar() || sc["version"].Tag() != "!") {
        Add("1.stemcell", "stemcell_criteria.version must be a quoted string (e.g. '1.300')");
      }
    }
    for (const auto& kv : tile_) {
      const std::string key = kv.first.Scalar();
      if (kReservedKeys.count(key)) Add("1.reserved", "top-level key `" + key + "` is reserved by tile-generator");
    }
    if (const YAML::Node v = tile_["version"]) {
      if (!Str(v) || !std::regex_match(*Str(v), kSemverRe)) {
        Add("1.version", "version '" + Str(v).value_or("") + "' is not semver (x.y.z)");
      }
    }
  }

  void Packages() {
    const YAML::Node pkgs = tile_["packages"];
    if (!pkgs || !pkgs.IsSequence() || pkgs.size() == 0) {
      Add("2.packages", "packages must be a non-empty list");
      return;
    }
    std::set<std::string> seen;
    for (std::size_t i = 0; i < pkgs.size(); ++i) {
      const YAML::Node p = pkgs[i];
      std::string what = "package #" + std::to_string(i + 1);
      if (!p.IsMap()) {
        Add("2.packages", what + " is not a map");
        continue;
      }
      const auto name = Str(p["name"]);
      if (!name || name->empty()) {
        Add("2.name", what + " has no name");
      } else {
        what = "package " + *name;
        const std::string norm = Normalised(*name);
        if (!std::regex_match(norm, kPackageNameRe)) {
          Add("2.name", what + ": name doesn't match [a-z][a-z0-9]*(_[a-z0-9]+)* after lower-casing and - -> _");
        }
        if (!seen.insert(norm).second) Add("2.unique", what + ": name used by another package");
      }
      const std::string type = Str(p["type"]).value_or("");
      if (!kPackageTypes.count(type)) {
        Add("2.type", what + ": type '" + type +
                          "' is not one of app, app-broker, docker-app, docker-app-broker, external-broker, "
                          "buildpack, decorator, docker-bosh, bosh-release, blob, helm");
        continue;
      }
      if (type == "docker-bosh" && name) docker_bosh_.push_back(Normalised(*name));
      if (type == "app" || type == "app-broker") App(p, what, type, name.value_or(""));
      if (type == "docker-bosh") DockerBosh(p, what);
    }
  }

  void App(const YAML::Node& p, const std::string& what, const std::string& type, const std::string& name) {
    const YAML::Node m = p["manifest"];
    if (!m || !m.IsMap()) {
      Add("3.manifest", what + ": manifest must be a map of one application's attributes");
      return;
    }
    if (!Str(m["buildpack"])) Add("3.buildpack", what + ": {'manifest': [{'buildpack': ['required field']}]}");
    if (m["random-route"]) Add("3.random-route", what + ": random-route is an unallowed value");
    if (const auto path = Str(m["path"])) {
      BuildOutput("3.path", what, *path);
    } else {
      Add("3.path", what + ": manifest has no path");
    }
    if (type != "app-broker") return;
    broker_ = p;
    ++brokers_;
    std::string host = Str(m["host"]).value_or(name);
    std::replace(host.begin(), host.end(), '_', '-');
    if (!std::regex_match(host, kDnsLabelRe)) Add("3.host", what + ": host '" + host + "' is not a DNS label");
    if (!IsTrue(p["needs_cf_credentials"])) {
      Add("3.needs_cf_credentials", what + ": needs_cf_credentials must be true (the broker uses CF_ADMIN_USER)");
    }
  }

  // Rule 4.pinned for container `cname`'s `image`: never `latest` or untagged; pulled at tile
  // build (docker_images) only by digest; shipped as resources/<saved>.tgz only with the pin
  // resources/<saved>.digest naming the image by digest (required for a release build).
  void Pinned(const std::string& what, const std::string& cname, const std::string& image, bool pulled,
              const std::string& saved) {
    if (image.empty()) return;
    const std::string last = image.substr(image.find_last_of('/') == std::string::npos ? 0 : image.find_last_of('/') + 1);
    const bool digest = std::regex_match(image, kDigestRefRe);
    if (!digest && (last.find(':') == std::string::npos || last.ends_with(":latest"))) {
      Add("4.pinned", what + ": container " + cname + "'s image '" + image + "' is " +
                          (last.find(':') == std::string::npos ? "untagged (latest)" : "latest") + ": pin it by digest");
      return;
    }
    if (pulled && !digest) {
      Add("4.pinned", what + ": container " + cname + "'s image '" + image +
                          "' is pulled at build time by a tag: name it by digest (REPO@sha256:...)");
    }
    if (saved.empty()) return;
    const std::string pin = "resources/" + saved + ".digest";
    if (!CheckedPath("4.pinned", what, pin)) {
      if (options_.require_build_outputs) {
        Add("4.pinned", what + ": container " + cname + "'s image tarball needs its pin " + pin +
                            " (the image by digest; docs/operator.md)");
      }
      return;
    }
    std::ifstream in(fs::path(dir_) / pin);
    std::string line, extra;
    std::getline(in, line);
    std::getline(in, extra);
    if (!std::regex_match(line, kDigestRefRe) || !extra.empty() || in.good()) {
      Add("4.pinned", what + ": " + pin + " must hold one image reference by digest (REPO@sha256:<64 hex>)");
    }
  }

  void DockerBosh(const YAML::Node& p, const std::string& what) {
    for (const char* key : {"cpu", "memory", "ephemeral_disk", "instances", "persistent_disk"}) {
      const bool required = std::string(key) != "persistent_disk";
      if ((required || p[key]) && !IsInteger(p[key])) Add("4.sizing", what + ": " + key + " must be an integer");
    }
    std::set<std::string> images;
    if (const YAML::Node di = p["docker_images"]; di && di.IsSequence()) {
      for (const auto& d : di) images.insert(d.Scalar());
    }
    std::set<std::string> files;
    if (const YAML::Node f = p["files"]; f && f.IsSequence()) {
      for (const auto& e : f) {
        const std::string path = Str(e).value_or(Str(At(e, "path")).value_or(""));
        BuildOutput("4.image", what, path);
        files.insert(fs::path(path).filename().string());
      }
    }
    const YAML::Node m = p["manifest"];
    const YAML::Node cs = m && m.IsMap() ? m["containers"] : YAML::Node();
    if (m && m.IsMap() && m["path"]) Add("4.containers", what + ": a docker-bosh manifest can't have a path");
    if (!cs || !cs.IsSequence() || cs.size() == 0) {
      Add("4.containers", what + ": manifest.containers must be a non-empty list");
      return;
    }
    for (const auto& c : cs) {
      const std::string cname = Str(At(c, "name")).value_or("");
      if (!std::regex_match(cname, kContainerNameRe)) {
        Add("4.container-name", what + ": container name '" + cname + "' doesn't match [a-z][a-zA-Z0-9_]*");
      }
      const std::string image = Str(At(c, "image")).value_or("");
      std::string saved = image;
      std::replace(saved.begin(), saved.end(), '/', '-');
      std::replace(saved.begin(), saved.end(), ':', '-');
      Pinned(what, cname, image, images.count(image) > 0, files.count(saved + ".tgz") > 0 ? saved : "");
      if (image.empty() || (!images.count(image) && !files.count(saved + ".tgz"))) {
        Add("4.image", what + ": container " + cname + "'s image '" + image + "' is neither in docker_images nor a files: entry " +
                           saved + ".tgz");
      }
      if (const YAML::Node bp = At(c, "bind_ports"); bp && bp.IsSequence()) {
        for (const auto& b : bp) {
          const std::string spec = b.Scalar();
          const auto last = spec.rfind(':');
          if (last == std::string::npos) continue;  // container port only: a random host port
          const std::string head = spec.substr(0, last);
          const auto prev = head.rfind(':');
          if ((prev == std::string::npos ? head : head.substr(prev + 1)) == "22") {
            Add("4.port22", what + ": bind_ports " + spec + " uses host port 22, which BOSH's sshd owns");
          }
        }
      }
    }
  }

  void Property(const YAML::Node& prop, const std::string& where, bool plan_form) {
    if (!prop.IsMap()) {
      Add("5.property-name", where + ": a property is not a map");
      return;
    }
    const auto name = Str(At(prop, "name"));
    const std::string what = where + " property " + name.value_or("?");
    if (!name || !std::regex_match(*name, kTileNameRe)) {
      Add("5.property-name", what + ": name must match [a-z][a-z0-9_-]*[a-z0-9]");
    }
    const std::string type = Str(At(prop, "type")).value_or("");
    if (!kPropertyTypes.count(type)) Add("5.property-type", what + ": type '" + type + "' is not an Ops Manager type");
    if (!Str(At(prop, "label"))) Add("5.property-label", what + ": no label (tile-generator fails with KeyError: 'label')");
    if (plan_form && !Str(At(prop, "description"))) {
      Add("5.plan-description", what + ": no description (tile-generator fails with KeyError)");
    }
    const YAML::Node def = At(prop, "default") ? At(prop, "default") : At(prop, "value");
    if (IsTrue(At(prop, "optional")) && def) Add("5.optional-default", what + ": optional: true together with a default");
    if ((type == "dropdown_select" || type == "selector") && def) {
      bool found = false;
      const YAML::Node opts = type == "selector" ? At(prop, "option_templates") : At(prop, "options");
      if (opts && opts.IsSequence()) {
        for (const auto& o : opts) {
          if (Str(At(o, "name")) == Str(def) || (type == "selector" && Str(At(o, "select_value")) == Str(def))) found = true;
        }
      }
      if (!found) Add("5.dropdown-default", what + ": default '" + Str(def).value_or("") + "' is not one of its options");
    }
    if (!name) return;
    if (!properties_.insert(*name).second) Add("5.unique", what + ": name defined twice");
    const std::string env = Upper(Normalised(*name));
    bool clash = env.rfind("CF_", 0) == 0 || env.rfind("SECURITY_", 0) == 0 || kFixedEnv.count(env);
    for (const auto& pkg : docker_bosh_) clash = clash || env == Upper(pkg) + "_HOST" || env == Upper(pkg) + "_HOSTS";
    if (clash) Add("5.env-clash", what + ": its env var " + env + " is one tile-generator sets itself");
    if (!IsTrue(At(prop, "skip_export")) && !plan_form) exported_.insert(env);
  }

  void Forms(const char* key, bool plan_forms) {
    const YAML::Node forms = tile_[key];
    if (!forms) return;
    if (!forms.IsSequence()) {
      Add("5.form", std::string(key) + " must be a list");
      return;
    }
    for (const auto& f : forms) {
      const auto name = Str(At(f, "name"));
      if (!name || !Str(At(f, "label"))) Add("5.form", std::string(key) + " entry " + name.value_or("?") + ": needs name and label");
      if (plan_forms && name) {
        if (!properties_.insert(*name).second) Add("5.unique", "service plan form " + *name + ": name defined twice");
        const YAML::Node var = At(f, "variable_name");
        exported_.insert(var ? Upper(var.Scalar()) : Upper(*name));
      }
      const YAML::Node props = At(f, "properties");
      if (props && props.IsSequence()) {
        for (const auto& p : props) Property(p, std::string(plan_forms ? "service plan form " : "form ") + name.value_or("?"), plan_forms);
      }
    }
  }

  void Properties() {
    if (const YAML::Node props = tile_["properties"]; props && props.IsSequence()) {
      for (const auto& p : props) Property(p, "top-level", false);
    }
    Forms("forms", false);
    Forms("service_plan_forms", true);
  }

  // Every (( .properties.x... )) accessor in the tile names a property it defines.
  void References() {
    std::vector<std::string> unknown;
    Walk(tile_, unknown);
    for (const auto& name : unknown) {
      Add("5.reference", "(( .properties." + name + " )) references a property the tile doesn't define");
    }
  }
  void Walk(const YAML::Node& n, std::vector<std::string>& unknown) {
    if (n.IsScalar()) {
      const std::string& s = n.Scalar();
      for (std::sregex_iterator it(s.begin(), s.end(), kPropertyRefRe), end; it != end; ++it) {
        const std::string name = (*it)[1];
        // tile-generator's own blueprints (<pkg>_enable_global_access_to_plans, ...) start with a package name.
        if (!properties_.count(name) && std::find(unknown.begin(), unknown.end(), name) == unknown.end()) {
          unknown.push_back(name);
        }
      }
    } else if (n.IsSequence()) {
      for (const auto& e : n) Walk(e, unknown);
    } else if (n.IsMap()) {
      for (const auto& kv : n) Walk(kv.second, unknown);
    }
  }

  static std::optional<long> MemoryMb(const YAML::Node& n) {
    const auto s = Str(n);
    if (!s) return std::nullopt;
    static const std::regex re("^\\s*([0-9]+)\\s*(M|MB|G|GB)?\\s*$", std::regex::icase);
    std::smatch m;
    if (!std::regex_match(*s, m, re)) return std::nullopt;
    const long v = std::stol(m[1]);
    const std::string unit = Upper(m[2]);
    return unit.empty() || unit[0] == 'M' ? v : v * 1024;
  }
  static std::optional<std::string> Buildpack(const YAML::Node& app) {
    if (const auto b = Str(app["buildpack"])) return b;
    const YAML::Node bs = app["buildpacks"];
    if (bs && bs.IsSequence() && bs.size() == 1) return Str(bs[0]);
    return std::nullopt;
  }
  static std::set<std::string> EnvKeys(const YAML::Node& app) {
    std::set<std::string> keys;
    if (const YAML::Node env = app["env"]; env && env.IsMap()) {
      for (const auto& kv : env) keys.insert(kv.first.Scalar());
    }
    return keys;
  }

  void CrossCheck() {
    const YAML::Node apps = manifest_["applications"];
    const YAML::Node app = apps && apps.IsSequence() && apps.size() > 0 ? apps[0] : YAML::Node();
    if (!app || !app.IsMap()) {
      Add("6.manifest", "manifest.yml has no applications[0]");
      return;
    }
    if (brokers_ != 1) {
      Add("6.manifest", "the tile has " + std::to_string(brokers_) + " app-broker packages; the cross-check needs exactly 1");
      return;
    }
    const YAML::Node tm = broker_["manifest"];
    if (!tm || !tm.IsMap()) return;  // 3.manifest said so
    const std::string pkg = "package " + Str(broker_["name"]).value_or("?");
    auto same = [&](const std::string& rule, const std::string& key, const std::optional<std::string>& t,
                    const std::optional<std::string>& m) {
      if (t != m) {
        Add(rule, pkg + ": " + key + " '" + t.value_or("(none)") + "' differs from manifest.yml's '" + m.value_or("(none)") + "'");
      }
    };
    same("6.command", "command", Str(tm["command"]), Str(app["command"]));
    same("6.buildpack", "buildpack", Buildpack(tm), Buildpack(app));
    const auto tmem = MemoryMb(tm["memory"]), mmem = MemoryMb(app["memory"]);
    if (!tmem || tmem != mmem) {
      same("6.memory", "memory", Str(tm["memory"]).value_or("(unreadable)"), Str(app["memory"]).value_or("(unreadable)"));
    }
    same("6.health-check", "health-check-type", Str(tm["health-check-type"]), Str(app["health-check-type"]));
    same("6.health-check", "health-check-http-endpoint", Str(tm["health-check-http-endpoint"]),
         Str(app["health-check-http-endpoint"]));
    if (broker_["health_check"]) Add("6.health-check", pkg + ": use the manifest's health-check-type, not health_check");

    const std::set<std::string> tile_env = EnvKeys(tm), manifest_env = EnvKeys(app);
    std::set<std::string> supplied = exported_;
    supplied.insert(kFixedEnv.begin(), kFixedEnv.end());
    if (IsTrue(broker_["needs_cf_credentials"])) supplied.insert(kCfCredentialsEnv.begin(), kCfCredentialsEnv.end());
    for (const auto& k : manifest_env) {
      if (!tile_env.count(k) && !supplied.count(k)) {
        Add("6.env", pkg + ": manifest.yml sets " + k + ", which the tile supplies neither in its env nor as a property");
      }
    }
    for (const auto& k : tile_env) {
      // A value the tile derives from the foundation (an Ops Manager accessor such as
      // (( ..cf.cloud_controller.system_domain.value ))) is one a cf push operator fills in by hand
      // (manifest.yml lists those as comments); any other tile-only key is drift.
      const std::string value = Str(At(tm["env"], k.c_str())).value_or("");
      const bool derived = value.find("(( ..") != std::string::npos || value.find("(( $") != std::string::npos;
      if (!manifest_env.count(k) && !derived) {
        Add("6.env", pkg + ": the tile's env sets " + k + ", which manifest.yml doesn't");
      }
      if (supplied.count(k)) Add("6.env", pkg + ": the tile's env sets " + k + ", which tile-generator or a property sets too");
    }
  }

  const YAML::Node tile_;
  const YAML::Node manifest_;
  const std::string dir_;
  const TileCheckOptions options_;
  std::vector<Violation> out_;
  std::vector<std::string> docker_bosh_;  // normalised names
  std::set<std::string> properties_;      // every property and plan form name
  std::set<std::string> exported_;        // the env vars properties give the apps
  YAML::Node broker_;
  int brokers_ = 0;
};

}  // namespace

std::vector<Violation> CheckTile(const YAML::Node& tile, const YAML::Node& manifest, const std::string& tile_dir,
                                 const TileCheckOptions& options) {
  return Checker(tile, manifest, tile_dir, options).Run();
}

std::string FormatViolation(const Violation& v) { return "[" + v.rule + "] " + v.message; }

}  // namespace broker::testing
