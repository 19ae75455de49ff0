// tile_check: validates tile/tile.yml without tile-generator (which CI doesn't have), by the rules
// of the tile reference §3.2 "Rules a tile.yml must satisfy" (tile-generator's Cerberus schema plus
// Ops Manager's rules), and cross-checks the broker package with the top-level manifest.yml.
// Library of the `tile_check` program (support/programs/tile_check_main.cc) and of
// tests/unit/tile/tile_check_test.cc. Each Violation names its rule:
//
//   1.required        name, label, description, icon_file present (non-empty strings)
//   1.name            name matches [a-z][a-z0-9_-]*[a-z0-9] (so at least 2 characters)
//   1.icon            icon_file exists (relative to the tile folder) and is a PNG
//   1.metadata_version  a YAML number (not quoted) whose string form keeps every digit (not 2.10)
//   1.stemcell        stemcell_criteria.os is ubuntu-jammy, .version a quoted string
//   1.reserved        no reserved top-level key (releases, all_properties, post_deploy_errands,
//                     pre_delete_errands, requires_docker_bosh, unknown_keys)
//   1.version         a `version` key, if any, is semver (x.y.z)
//   2.packages        packages is a non-empty list of maps
//   2.type            each package's type is one tile-generator knows
//   2.name            each package has a name; lower-cased with - -> _ it matches
//                     [a-z][a-z0-9]*(_[a-z0-9]+)*
//   2.unique          package names unique (after that normalisation)
//   3.manifest        app / app-broker: manifest is a map
//   3.buildpack       ... with `buildpack` (singular; a `buildpacks:` list alone fails the build)
//   3.random-route    ... without random-route
//   3.path            ... with a relative `path` inside the tile folder that exists (a missing
//                     build output under resources/ is accepted unless require_build_outputs)
//   3.host            app-broker: its host (manifest host, else the package name with hyphens)
//                     is a DNS label
//   3.needs_cf_credentials  app-broker: needs_cf_credentials: true (the broker acts as CF admin)
//   4.containers      docker-bosh: manifest.containers is a non-empty list, no `path` in manifest
//   4.container-name  each container name matches [a-z][a-zA-Z0-9_]*
//   4.sizing          cpu, memory, ephemeral_disk, instances (and persistent_disk) are integers
//   4.image           each container image is in docker_images or has a files: entry named
//                     after it ("/" and ":" -> "-", .tgz), as tile build --cache names them
//   4.pinned          no container image is `latest` or untagged; one pulled at build time
//                     (docker_images) is named by digest; one shipped as resources/X.tgz has the
//                     pin resources/X.digest holding one REPO@sha256:<64 hex> line (required
//                     with require_build_outputs; checked whenever present)
//   4.port22          no bind_ports entry uses host port 22 (the stemcell's sshd)
//   5.form            each form (and service_plan_form) has name and label
//   5.property-name   each property has a name matching the tile name rule
//   5.property-type   ... a type Ops Manager knows
//   5.property-label  ... a label
//   5.optional-default  never both optional: true and default
//   5.dropdown-default  a dropdown_select/selector default is one of its options
//   5.unique          property names unique across properties, forms and service_plan_forms
//   5.env-clash       no property whose env var tile-generator sets itself (CF_*, SECURITY_*,
//                     UAA_HOST, CC_HOST, LOGIN_HOST, ROOT, SCHEME, VERIFY_SSL) or
//                     <docker-bosh package>_HOST(S)
//   5.plan-description  service_plan_forms properties have a description
//   5.reference       every (( .properties.NAME... )) accessor names a defined property
//   6.manifest        manifest.yml has applications[0], a map; the tile has one app-broker
//   6.command, 6.buildpack, 6.memory, 6.health-check
//                     the broker package's manifest agrees with manifest.yml applications[0]
//                     (buildpack = the single entry of buildpacks:, memory compared in MB)
//   6.env             every env key of manifest.yml is supplied by the tile (its manifest env, a
//                     property's env var, or what tile-generator sets); every key of the tile's
//                     manifest env is in manifest.yml, unless its value is derived from the
//                     foundation by an Ops Manager accessor ((( ..cf... )) or (( $runtime... )):
//                     manifest.yml leaves those to the operator); the tile's env sets none of the
//                     keys tile-generator or a property sets (they would be overwritten)
// Not covered: §3.2 rule 7 (the .pivotal zip), since no .pivotal is built in-house.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace broker::testing {

struct Violation {
  std::string rule;     // "3.buildpack"
  std::string message;  // what is wrong, naming the package/property
};

struct TileCheckOptions {
  // Release builds: app zips and image tarballs must exist (CI has neither).
  bool require_build_outputs = false;
};

// tile: tile.yml parsed; manifest: manifest.yml parsed (a null node skips rule 6); tile_dir: the
// folder tile.yml's relative paths start from.
std::vector<Violation> CheckTile(const YAML::Node& tile, const YAML::Node& manifest, const std::string& tile_dir,
                                 const TileCheckOptions& options = {});

// "[rule] message"
std::string FormatViolation(const Violation& v);

}  // namespace broker::testing
