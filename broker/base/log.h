// Logging: one named spdlog logger per module, writing `module.event key=value ...` lines to
// stdout (where Cloud Foundry's Loggregator collects them).
//
// Context is passed explicitly (spdlog 1.10 has no MDC, and our work runs on thread pools).
// Never pass a secret to a logger: credentials, Authorization headers, UAA tokens, database
// passwords and tmate session strings go through Redact* first, or not at all.
// Thread-safe: loggers are created once and shared.
#ifndef BROKER_BASE_LOG_H_
#define BROKER_BASE_LOG_H_

#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>

namespace broker::base {

// Sets the pattern and level for every logger made by Logger(). `level` is one of spdlog's names
// ("trace", "debug", "info", "warn", "error", "off"); an unknown name means "info".
void InitLogging(std::string_view level);

// The logger for `module` ("http", "osb", "store", ...), created on first use.
std::shared_ptr<spdlog::logger> Logger(const std::string& module);

// "postgres://user:***@host:5432/db": the URI with any password replaced by ***.
std::string RedactUri(std::string_view uri);

// A short, non-reversible tag for a secret, so two log lines can be correlated without the
// secret itself appearing: "sha:1a2b3c4d". Empty input gives "none".
std::string SecretTag(std::string_view secret);

// Quotes a free-text log value so it stays one logfmt field whatever it holds: "a b" -> "\"a b\"";
// '"' and '\\' are escaped, and so is every control byte (\n, \r, \t, others as \xHH: NUL is \x00,
// DEL \x7f). Bytes from 0x80 up are kept (UTF-8 cannot start a line or a field).
std::string LogQuote(std::string_view text);

// An id, identity or path from a request, as a log value: bare when it is 1 to 128 bytes of
// [A-Za-z0-9-_.:~] (so a UUID or a slug reads as before), else LogQuote(text). Either way it
// stays one field of one line.
std::string LogId(std::string_view text);

}  // namespace broker::base

#endif  // BROKER_BASE_LOG_H_
