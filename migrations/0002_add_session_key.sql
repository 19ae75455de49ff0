-- The key that authenticates a holder of a binding's credentials at its session_url (hex SHA-256;
-- the key itself is only in the credentials, which are encrypted).
ALTER TABLE service_bindings ADD COLUMN session_key_hash text NOT NULL DEFAULT '';
