// Tests for broker/session/session.h: the tmate ssh line parser, the report decoder, and the
// credentials a report produces.
#include "broker/session/session.h"

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <string>
#include <vector>

namespace broker::session {
namespace {

using base::Code;

rapidjson::Document Parse(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  return doc;
}

std::string Str(const rapidjson::Value& doc, const char* name) {
  REQUIRE(doc.HasMember(name));
  REQUIRE(doc[name].IsString());
  return std::string(doc[name].GetString(), doc[name].GetStringLength());
}

const base::TimePoint kAt = base::TimePoint(std::chrono::milliseconds(1'790'000'000'123));

TEST_SUITE("session::ParseSshCommand") {
  TEST_CASE("accepts exactly the forms tmate prints and normalises them") {
    struct Row {
      const char* text;
      const char* command;
      const char* host;
      int port;
      const char* username;
    };
    const std::vector<Row> rows = {
        // tmate.md §4.2, observed.
        {"ssh -p2222 ZtUe8FunVPV2CcSbG4s22rK3f@127.0.0.1", "ssh -p 2222 ZtUe8FunVPV2CcSbG4s22rK3f@127.0.0.1",
         "127.0.0.1", 2222, "ZtUe8FunVPV2CcSbG4s22rK3f"},
        {"ssh -p2222 ro-A4HHCB4GQRbLw5UjkaJefdNtE@127.0.0.1", "ssh -p 2222 ro-A4HHCB4GQRbLw5UjkaJefdNtE@127.0.0.1",
         "127.0.0.1", 2222, "ro-A4HHCB4GQRbLw5UjkaJefdNtE"},
        // Advertised port 22: no -p at all.
        {"ssh u3kqnRX9CVnAdHArTFJWgL6r2@tmate.example.com", "ssh u3kqnRX9CVnAdHArTFJWgL6r2@tmate.example.com",
         "tmate.example.com", 22, "u3kqnRX9CVnAdHArTFJWgL6r2"},
        {"ssh -p 2222 tok@tmate.example.com", "ssh -p 2222 tok@tmate.example.com", "tmate.example.com", 2222, "tok"},
        {"ssh -p22 tok@h", "ssh tok@h", "h", 22, "tok"},
        {"ssh -p1 t_k-1@a-b.c", "ssh -p 1 t_k-1@a-b.c", "a-b.c", 1, "t_k-1"},
        {"ssh -p65535 tok@h", "ssh -p 65535 tok@h", "h", 65535, "tok"},
    };
    for (const Row& row : rows) {
      CAPTURE(row.text);
      const auto r = ParseSshCommand(row.text);
      REQUIRE_MESSAGE(r.ok(), r.status().ToString());
      CHECK(r->command == row.command);
      CHECK(r->host == row.host);
      CHECK(r->port == row.port);
      CHECK(r->username == row.username);
      CHECK(r->Uri() == std::string("ssh://") + row.username + "@" + row.host + ":" + std::to_string(row.port));
      // The normalised command parses to the same endpoint.
      const auto again = ParseSshCommand(r->command);
      REQUIRE(again.ok());
      CHECK(again->command == r->command);
    }
  }

  TEST_CASE("rejects everything else with kInvalidArgument that does not echo the text") {
    const std::string long_host(600, 'a');
    const std::string over_512 = "ssh tok@" + std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                                 std::string(63, 'c') + "." + std::string(63, 'd') + "." + std::string(300, 'e');
    const std::vector<std::string> rows = {
        "",
        "ssh",
        "ssh ",
        "tok@host",
        "SSH tok@host",
        " ssh tok@host",
        "ssh tok@host ",
        "ssh tok@host\n",
        "ssh  tok@host",
        "ssh\ttok@host",
        "ssh tok@",
        "ssh @host",
        "ssh tok",
        "ssh tok@host@other",
        "ssh to k@host",
        "ssh tok@ho st",
        "ssh -p0 tok@host",
        "ssh -p65536 tok@host",
        "ssh -p99999 tok@host",
        "ssh -p123456 tok@host",
        "ssh -p02222 tok@host",
        "ssh -p+22 tok@host",
        "ssh -p-22 tok@host",
        "ssh -p tok@host",
        "ssh -p  2222 tok@host",
        "ssh -pabc tok@host",
        "ssh -p2222",
        "ssh -p2222 ",
        "ssh -o ProxyCommand=sh tok@host",
        "ssh -oProxyCommand=sh@host",
        "ssh -l root host",
        "ssh -p2222 tok@host -R 1:h:2",
        "ssh -p2222 tok@host; rm -rf /",
        "ssh tok@host;id",
        "ssh tok@host&&id",
        "ssh tok@host|id",
        "ssh tok@$(id)",
        "ssh `id`@host",
        "ssh tok$HOME@host",
        "ssh 'tok'@host",
        "ssh \"tok\"@host",
        "ssh tok@host>x",
        "ssh tok@host\\",
        "ssh tok@-oProxyCommand",
        "ssh -tok@host",
        "ssh _tok@host",
        "ssh tok@.host",
        "ssh tok@host.",
        "ssh tok@a..b",
        "ssh tok@-host",
        "ssh tok@host-",
        "ssh tok@[::1]",
        "ssh tok@host:22",
        "ssh tok@h\xc3\xa9",
        std::string("ssh tok@ho\0st", 13),
        "ssh " + std::string(129, 'a') + "@host",
        "ssh tok@" + std::string(64, 'a'),
        "ssh tok@" + long_host,
        over_512,
    };
    for (const std::string& text : rows) {
      CAPTURE(text);
      const auto r = ParseSshCommand(text);
      REQUIRE_FALSE(r.ok());
      CHECK(r.status().code() == Code::kInvalidArgument);
      CHECK_FALSE(r.status().message().empty());
      if (text.size() > 8) CHECK(r.status().message().find(text) == std::string::npos);
    }
  }

  TEST_CASE("limits are inclusive: a 128-character token, 63-character labels and a 253-character host") {
    CHECK(ParseSshCommand("ssh " + std::string(128, 'a') + "@host").ok());
    CHECK(ParseSshCommand("ssh tok@" + std::string(63, 'a')).ok());
    const std::string host_253 =
        std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." + std::string(61, 'd');
    REQUIRE(host_253.size() == 253);
    CHECK(ParseSshCommand("ssh tok@" + host_253).ok());
    CHECK_FALSE(ParseSshCommand("ssh tok@" + host_253 + "d").ok());
  }
}

TEST_SUITE("session::DecodeSessionReport") {
  TEST_CASE("decodes the ssh command and the optional members") {
    SUBCASE("when only ssh_command is present") {
      const auto r = DecodeSessionReport(R"({"ssh_command":"ssh -p2222 tok@h"})");
      REQUIRE_MESSAGE(r.ok(), r.status().ToString());
      CHECK(r->ssh_command == "ssh -p2222 tok@h");
      CHECK_FALSE(r->ssh_command_read_only.has_value());
      CHECK_FALSE(r->web_url.has_value());
    }
    SUBCASE("when every member is present and unknown members are ignored") {
      const auto r = DecodeSessionReport(
          R"({"ssh_command":"ssh -p2222 tok@h","ssh_command_read_only":"ssh -p2222 ro-tok@h",)"
          R"("web_url":"https://tmate.example.com/t/abc","tmate_version":"2.4.0"})");
      REQUIRE_MESSAGE(r.ok(), r.status().ToString());
      CHECK(r->ssh_command_read_only == std::optional<std::string>("ssh -p2222 ro-tok@h"));
      CHECK(r->web_url == std::optional<std::string>("https://tmate.example.com/t/abc"));
    }
    SUBCASE("when optional members are null") {
      const auto r = DecodeSessionReport(R"({"ssh_command":"ssh tok@h","ssh_command_read_only":null,"web_url":null})");
      REQUIRE_MESSAGE(r.ok(), r.status().ToString());
      CHECK_FALSE(r->ssh_command_read_only.has_value());
      CHECK_FALSE(r->web_url.has_value());
    }
  }

  TEST_CASE("malformed reports are kInvalidArgument naming the problem") {
    struct Row {
      std::string body;
      const char* says;
    };
    const std::vector<Row> rows = {
        {"", "not valid JSON"},
        {"ssh -p2222 tok@h", "not valid JSON"},
        {R"({"ssh_command":"ssh tok@h"} x)", "not valid JSON"},
        {R"({"ssh_command":"ssh tok@h")", "not valid JSON"},
        {"{\"ssh_command\":\"ssh tok@h\xff\"}", "not valid JSON"},
        {"[]", "JSON object"},
        {R"("ssh tok@h")", "JSON object"},
        {"null", "JSON object"},
        {"{}", "no ssh_command"},
        {R"({"ssh_command":null})", "no ssh_command"},
        {R"({"ssh":"ssh tok@h"})", "no ssh_command"},
        {R"({"ssh_command":42})", "ssh_command must be a string"},
        {R"({"ssh_command":["ssh tok@h"]})", "ssh_command must be a string"},
        {R"({"ssh_command":"ssh tok@h; id"})", "ssh_command: the ssh command"},
        {R"({"ssh_command":"ssh -p0 tok@h"})", "ssh_command: the ssh command has a port"},
        {R"({"ssh_command":"ssh tok@h","ssh_command_read_only":"rm -rf /"})", "ssh_command_read_only: the ssh"},
        {R"({"ssh_command":"ssh tok@h","ssh_command_read_only":7})", "ssh_command_read_only must be a string"},
        {R"j({"ssh_command":"ssh tok@h","web_url":"javascript:alert(1)"})j", "web_url must be"},
        {R"({"ssh_command":"ssh tok@h","web_url":"https://a b"})", "web_url must be"},
        {R"({"ssh_command":"ssh tok@h","web_url":"https://"})", "web_url must be"},
        {R"({"ssh_command":"ssh tok@h","web_url":"https://x/\"><script>"})", "web_url must be"},
        {R"({"ssh_command":"ssh tok@h","web_url":true})", "web_url must be a string"},
        {R"({"ssh_command":"ssh tok@h","web_url":")" + std::string("https://") + std::string(505, 'a') + "\"}",
         "web_url must be"},
    };
    for (const Row& row : rows) {
      CAPTURE(row.body);
      const auto r = DecodeSessionReport(row.body);
      REQUIRE_FALSE(r.ok());
      CHECK(r.status().code() == Code::kInvalidArgument);
      CHECK_MESSAGE(r.status().message().find(row.says) != std::string::npos, r.status().message());
    }
  }
}

TEST_SUITE("session::MergeSession") {
  TEST_CASE("adds the session members and keeps every member the clone job wrote") {
    const std::string existing =
        R"({"clone_app_name":"spring-music-ssh","clone_app_guid":"c1","expires_at":"2026-01-01T00:00:00.000Z",)"
        R"("session_url":"https://b1:key@broker.example.com/ssh-access/v1/bindings/b1/session",)"
        R"("skipped_services":[{"name":"db","reason":"x"}],"nested":{"a":[1,2.5,null,true]}})";
    SessionReport report;
    report.ssh_command = "ssh -p2222 ZtUe8FunVPV2CcSbG4s22rK3f@tmate.example.com";
    report.ssh_command_read_only = "ssh -p2222 ro-A4HHCB4GQRbLw5UjkaJefdNtE@tmate.example.com";
    const auto merged = MergeSession(existing, report, kAt);
    REQUIRE_MESSAGE(merged.ok(), merged.status().ToString());
    const auto doc = Parse(*merged);
    REQUIRE_FALSE(doc.HasParseError());
    REQUIRE(doc.IsObject());

    CHECK(Str(doc, "ssh_command") == "ssh -p 2222 ZtUe8FunVPV2CcSbG4s22rK3f@tmate.example.com");
    CHECK(Str(doc, "ssh_command_read_only") == "ssh -p 2222 ro-A4HHCB4GQRbLw5UjkaJefdNtE@tmate.example.com");
    CHECK(Str(doc, "host") == "tmate.example.com");
    REQUIRE(doc["port"].IsInt());
    CHECK(doc["port"].GetInt() == 2222);
    CHECK(Str(doc, "username") == "ZtUe8FunVPV2CcSbG4s22rK3f");
    CHECK(Str(doc, "uri") == "ssh://ZtUe8FunVPV2CcSbG4s22rK3f@tmate.example.com:2222");
    CHECK(Str(doc, "session_reported_at") == base::FormatIso8601(kAt));
    CHECK_FALSE(doc.HasMember("web_url"));

    const auto before = Parse(existing);
    for (const auto& m : before.GetObject()) {
      CAPTURE(m.name.GetString());
      REQUIRE(doc.HasMember(m.name));
      CHECK(doc[m.name] == m.value);
    }
    CHECK(doc.MemberCount() == before.MemberCount() + 7);
  }

  TEST_CASE("a newer report replaces the whole session, optional members included") {
    SessionReport first;
    first.ssh_command = "ssh -p2222 first@h1";
    first.ssh_command_read_only = "ssh -p2222 ro-first@h1";
    first.web_url = "https://h1/t/first";
    const auto once = MergeSession(R"({"clone_app_name":"a-ssh"})", first, kAt);
    REQUIRE(once.ok());

    SessionReport second;
    second.ssh_command = "ssh second@h2";
    const auto later = kAt + std::chrono::minutes(5);
    const auto twice = MergeSession(*once, second, later);
    REQUIRE_MESSAGE(twice.ok(), twice.status().ToString());
    const auto doc = Parse(*twice);
    CHECK(Str(doc, "clone_app_name") == "a-ssh");
    CHECK(Str(doc, "ssh_command") == "ssh second@h2");
    CHECK(Str(doc, "host") == "h2");
    CHECK(doc["port"].GetInt() == 22);
    CHECK(Str(doc, "uri") == "ssh://second@h2:22");
    CHECK(Str(doc, "session_reported_at") == base::FormatIso8601(later));
    CHECK_FALSE(doc.HasMember("ssh_command_read_only"));
    CHECK_FALSE(doc.HasMember("web_url"));
    CHECK(twice->find("first") == std::string::npos);
    // Each member appears once.
    CHECK(doc.MemberCount() == 7);
  }

  TEST_CASE("empty existing credentials count as {}") {
    SessionReport report;
    report.ssh_command = "ssh tok@h";
    report.web_url = "https://h/t/x";
    const auto merged = MergeSession("", report, kAt);
    REQUIRE(merged.ok());
    const auto doc = Parse(*merged);
    CHECK(Str(doc, "web_url") == "https://h/t/x");
    CHECK(doc.MemberCount() == 7);
  }

  TEST_CASE("fails without writing anything") {
    SessionReport good;
    good.ssh_command = "ssh tok@h";
    SUBCASE("when the existing credentials are not a JSON object: kInternal") {
      for (const char* existing : {"[]", "not json", "\"s\"", "{\"a\":"}) {
        CAPTURE(existing);
        const auto r = MergeSession(existing, good, kAt);
        REQUIRE_FALSE(r.ok());
        CHECK(r.status().code() == Code::kInternal);
      }
    }
    SUBCASE("when a command does not parse: kInvalidArgument") {
      SessionReport bad = good;
      bad.ssh_command = "ssh tok@h; id";
      CHECK(MergeSession("{}", bad, kAt).status().code() == Code::kInvalidArgument);
      bad = good;
      bad.ssh_command_read_only = "ssh -p0 ro-tok@h";
      CHECK(MergeSession("{}", bad, kAt).status().code() == Code::kInvalidArgument);
      bad = good;
      bad.web_url = "file:///etc/passwd";
      CHECK(MergeSession("{}", bad, kAt).status().code() == Code::kInvalidArgument);
    }
  }
}

TEST_SUITE("session::SessionView") {
  TEST_CASE("projects the session members of merged credentials") {
    SessionReport report;
    report.ssh_command = "ssh -p2222 tok@tmate.example.com";
    report.ssh_command_read_only = "ssh -p2222 ro-tok@tmate.example.com";
    const auto merged = MergeSession(
        R"({"clone_app_name":"a-ssh","session_url":"https://b:k@broker/ssh-access/v1/bindings/b/session"})", report,
        kAt);
    REQUIRE(merged.ok());
    const auto view = SessionView(*merged);
    REQUIRE_MESSAGE(view.ok(), view.status().ToString());
    const auto doc = Parse(*view);
    REQUIRE(doc.IsObject());
    CHECK(Str(doc, "ssh_command") == "ssh -p 2222 tok@tmate.example.com");
    CHECK(Str(doc, "ssh_command_read_only") == "ssh -p 2222 ro-tok@tmate.example.com");
    CHECK(Str(doc, "uri") == "ssh://tok@tmate.example.com:2222");
    CHECK(Str(doc, "host") == "tmate.example.com");
    CHECK(doc["port"].GetInt() == 2222);
    CHECK(Str(doc, "username") == "tok");
    CHECK(Str(doc, "session_reported_at") == base::FormatIso8601(kAt));
    // The job's members, the session_url's key among them, are not repeated.
    CHECK_FALSE(doc.HasMember("session_url"));
    CHECK_FALSE(doc.HasMember("clone_app_name"));
  }

  TEST_CASE("no session yet is kNotFound; unreadable credentials are kInternal") {
    for (const char* creds : {"", "{}", R"({"clone_app_name":"a-ssh"})", R"({"ssh_command":null})"}) {
      CAPTURE(creds);
      CHECK(SessionView(creds).status().code() == Code::kNotFound);
    }
    for (const char* creds : {"[]", "nope", R"({"ssh_command":"rm -rf /"})"}) {
      CAPTURE(creds);
      CHECK(SessionView(creds).status().code() == Code::kInternal);
    }
  }
}

}  // namespace
}  // namespace broker::session
