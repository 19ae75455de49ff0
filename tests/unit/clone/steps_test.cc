#include "broker/clone/steps.h"

#include <doctest/doctest.h>

#include <string>

namespace broker::clone {
namespace {

osb::Binding WithJson(const std::string& params, const std::string& plan) {
  osb::Binding b;
  b.id = "0123456789abcdef";
  b.parameters_json = params;
  b.plan_settings_json = plan;
  return b;
}

TEST_SUITE("clone::Steps") {
  TEST_CASE("CloneName: <app>-ssh, then <app>-ssh-<8 of binding id>, always within 255 characters") {
    CHECK(CloneName("spring-music", "9a8b7c6d-1111-2222", 0) == "spring-music-ssh");
    CHECK(CloneName("spring-music", "9a8b7c6d-1111-2222", 1) == "spring-music-ssh-9a8b7c6d");
    const std::string long_name(300, 'x');
    CHECK(CloneName(long_name, "9a8b7c6d-1111", 0).size() == 255);
    CHECK(CloneName(long_name, "9a8b7c6d-1111", 0).ends_with("x-ssh"));
    CHECK(CloneName(long_name, "9a8b7c6d-1111", 1).size() == 255);
    CHECK(CloneName(long_name, "9a8b7c6d-1111", 1).ends_with("-ssh-9a8b7c6d"));
    CHECK(CloneName(std::string(251, 'y'), "b", 0).size() == 255);
  }

  TEST_CASE("SessionPath percent-encodes the binding id, so no id can change the route it names") {
    CHECK(SessionPath("9a8b7c6d-1111-2222-3333-444455556666") ==
          "/ssh-access/v1/bindings/9a8b7c6d-1111-2222-3333-444455556666/session");
    // OSB binding ids are the platform's strings; the route decodes :binding_id (http/server.cc).
    CHECK(SessionPath("b 1/") == "/ssh-access/v1/bindings/b%201%2F/session");
    CHECK(SessionPath("a?b#c%") == "/ssh-access/v1/bindings/a%3Fb%23c%25/session");
  }

  TEST_CASE("CloneTtlMinutes: parameter, else operator setting, else plan default; capped by the plan") {
    const std::string plan = R"({"ttl_minutes_default":480,"ttl_minutes_max":480})";
    EngineSettings s;
    CHECK(CloneTtlMinutes(WithJson("{}", plan), s) == 480);
    CHECK(CloneTtlMinutes(WithJson(R"({"ttl_minutes":30})", plan), s) == 30);
    s.ttl_minutes = 90;
    CHECK(CloneTtlMinutes(WithJson("{}", plan), s) == 90);
    CHECK(CloneTtlMinutes(WithJson(R"({"ttl_minutes":30})", plan), s) == 30);
    s.ttl_minutes = 1000;
    CHECK(CloneTtlMinutes(WithJson("{}", plan), s) == 480);
    CHECK(CloneTtlMinutes(WithJson(R"({"ttl_minutes":600})", R"({"ttl_minutes_default":60,"ttl_minutes_max":60})"),
                          EngineSettings{}) == 60);
    CHECK(CloneTtlMinutes(WithJson("not json", "{}"), EngineSettings{}) == 60);
  }

  TEST_CASE("RedactLogLine hides tokens, user@host pairs and secret values, and keeps the rest") {
    struct Row {
      std::string in;
      std::string out;
    };
    const Row rows[] = {
        {"bootstrap: tmate exited with status 1", "bootstrap: tmate exited with status 1"},
        {"ssh -p2222 Xk9fQ2mZ7aP4rT8w@tmate.example.com", "ssh -p2222 [redacted]@tmate.example.com"},
        {"ssh ro@host", "ssh [redacted]@host"},
        {"connecting with aGVsbG8gd29ybGQgdGhpcyBpcyBh", "connecting with [redacted]"},
        {"DB_PASSWORD=hunter2 starting", "DB_PASSWORD=[redacted] starting"},
        {"api_key: abc, next", "api_key: [redacted], next"},
        {"token=xyz", "token=[redacted]"},
        {"tab\there", "tab here"},
    };
    for (const auto& r : rows) {
      CAPTURE(r.in);
      CHECK(RedactLogLine(r.in) == r.out);
    }
    CHECK(RedactLogLine(std::string(500, '.'), 200).size() == 203);
  }

  TEST_CASE("AssembleCredentials keeps the reported session and adds the clone facts") {
    rapidjson::Document outputs;
    outputs.Parse(R"({"clone":{"guid":"c-guid","name":"app-ssh"},
                      "skipped":[{"name":"db","instance_guid":"i1","reason":"refused"}]})");
    const std::string session =
        R"({"ssh_command":"ssh -p2222 T@h","host":"h","port":2222,"username":"T","uri":"ssh://T@h:2222",)"
        R"("clone_app_name":"stale"})";
    const std::string out = AssembleCredentials(session, outputs, "https://b:k@broker/s", base::TimePoint{});
    rapidjson::Document d;
    d.Parse(out.c_str());
    REQUIRE(d.IsObject());
    CHECK(std::string(d["ssh_command"].GetString()) == "ssh -p2222 T@h");
    CHECK(d["port"].GetInt() == 2222);
    CHECK(std::string(d["clone_app_name"].GetString()) == "app-ssh");
    CHECK(std::string(d["clone_app_guid"].GetString()) == "c-guid");
    CHECK(std::string(d["session_url"].GetString()) == "https://b:k@broker/s");
    CHECK(std::string(d["expires_at"].GetString()) == "1970-01-01T00:00:00.000Z");
    REQUIRE(d["skipped_services"].IsArray());
    CHECK(std::string(d["skipped_services"][0]["name"].GetString()) == "db");
    CHECK_FALSE(d["skipped_services"][0].HasMember("instance_guid"));

    rapidjson::Document none;
    none.Parse(R"({"clone":{"guid":"g","name":"n"}})");
    rapidjson::Document d2;
    d2.Parse(AssembleCredentials("", none, "u", base::TimePoint{}).c_str());
    CHECK_FALSE(d2.HasMember("skipped_services"));
    CHECK_FALSE(d2.HasMember("ssh_command"));
  }
}

}  // namespace
}  // namespace broker::clone
