// PgStore: the PostgreSQL implementation of the OSB domain's persistence port (osb::Store),
// against the tables of migrations/0001_create_core_tables.sql.
//
// Mapping: every field of osb::Instance and osb::Binding has a column of the same name (JSON
// fields in `context`, `parameters`, `plan_settings`); enum fields are stored as their osb name
// words; Instance state 'deleted' and Binding::deleted set `deleted_at` (the tombstone); times
// are timestamptz and come back with millisecond precision. Binding credentials are sealed with
// the KeyRing's current key (AES-256-GCM, the binding id as associated data) into
// `credentials_ciphertext` + `credentials_key_id`, both empty/NULL when there are none; older
// keys in the ring still open what they sealed. Inserting over a tombstone updates that row in
// place (jobs reference it), resetting `session_token_hash` and `created_at`.
//
// Transactions are READ COMMITTED; the domain serializes with row locks (Lock*: FOR UPDATE).
// InTransaction retries the whole function, in a fresh transaction, when it or the commit fails
// with kAborted (a unique-key race, serialization failure or deadlock): kMaxAttempts in total.
//
// Failure codes of every operation, besides those the port documents: kUnavailable when the
// database or a pooled connection cannot be had (see PgPool); kInternal "database error" for an
// unexpected SQL failure, and for a row that cannot be decoded (an unknown state word, or
// credentials that no configured key opens — "binding <id>: credentials could not be decrypted").
// Raw database text is logged to the `store` logger only.
//
// Thread-safety: PgStore is thread-safe (each call leases its own connection from the pool). The
// StoreTx handed to InTransaction's function belongs to that call's thread and transaction.
#ifndef BROKER_STORE_PG_STORE_H_
#define BROKER_STORE_PG_STORE_H_

#include <chrono>
#include <functional>
#include <optional>
#include <string_view>

#include "broker/osb/store.h"
#include "broker/store/cipher.h"
#include "broker/store/pg_pool.h"

namespace broker::store {

class PgStore final : public osb::Store {
 public:
  static constexpr int kMaxAttempts = 3;
  static constexpr std::chrono::milliseconds kPingTimeout{2000};

  // `pool` must outlive the store.
  PgStore(PgPool& pool, KeyRing keys);

  // See osb::Store. Returns fn's Status, or the commit's; kAborted after kMaxAttempts lost races.
  // A function that swallows a failed statement and returns OK gets kInternal (PostgreSQL
  // refuses to commit such a transaction), and nothing is written. kUnavailable from the COMMIT
  // itself (the connection dropped mid-commit) leaves the outcome unknown, as with any database;
  // the domain's idempotent re-reads (Lock*) settle it on the platform's retry.
  base::Status InTransaction(const std::function<base::Status(osb::StoreTx&)>& fn) override;

  base::Result<std::optional<osb::Instance>> GetInstance(std::string_view id) override;
  base::Result<std::optional<osb::Binding>> GetBinding(std::string_view id) override;

  // SELECT 1 within kPingTimeout on a pooled connection; kUnavailable otherwise.
  base::Status Ping() override;

 private:
  PgPool& pool_;
  const KeyRing keys_;
};

}  // namespace broker::store

#endif  // BROKER_STORE_PG_STORE_H_
