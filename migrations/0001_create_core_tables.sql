-- The broker's state: service instances, their bindings, the durable job queue that clones and
-- tears down apps, and an audit trail. Forward-only: later changes come as new files.

CREATE TABLE service_instances (
  id                     text PRIMARY KEY,          -- OSB instance_id as the platform sent it
  service_id             text NOT NULL,
  plan_id                text NOT NULL,
  organization_guid      text NOT NULL,
  space_guid             text NOT NULL,
  -- JSON kept as canonical text (sorted keys, no spaces): compared as text to tell 200 from 409
  parameters             text NOT NULL DEFAULT '{}',
  context                text NOT NULL DEFAULT '{}',
  maintenance_version    text NOT NULL DEFAULT '',
  state                  text NOT NULL CHECK (state IN ('active', 'deprovisioning', 'deleted')),
  deprovision_operation  bigint NOT NULL DEFAULT 0,  -- id in the operation token of an async deprovision
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  deleted_at             timestamptz                 -- tombstone: set with state 'deleted'
);

CREATE TABLE service_bindings (
  id                     text PRIMARY KEY,          -- OSB binding_id
  instance_id            text NOT NULL REFERENCES service_instances (id),
  service_id             text NOT NULL,
  plan_id                text NOT NULL,
  app_guid               text NOT NULL,             -- the source app to clone
  space_guid             text NOT NULL DEFAULT '',
  parameters             text NOT NULL DEFAULT '{}',  -- canonical JSON text, as for instances
  context                text NOT NULL DEFAULT '{}',
  plan_settings          text NOT NULL DEFAULT '{}',  -- JSON snapshot: a catalog change never alters a live binding
  operation              text NOT NULL CHECK (operation IN ('bind', 'unbind')),
  state                  text NOT NULL CHECK (state IN ('in progress', 'succeeded', 'failed')),
  description            text NOT NULL DEFAULT '',  -- user-safe; shown by last_operation
  operation_id           bigint NOT NULL DEFAULT 0, -- the job carrying the current operation
  clone_app_guid         text NOT NULL DEFAULT '',
  clone_app_name         text NOT NULL DEFAULT '',
  -- AES-256-GCM(nonce || ciphertext || tag) of the credentials JSON; NULL until the bind succeeds
  credentials_ciphertext bytea,
  credentials_key_id     text NOT NULL DEFAULT '',
  session_token_hash     text NOT NULL DEFAULT '',  -- sha256 of the clone's callback bearer token
  expires_at             timestamptz,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now(),
  deleted_at             timestamptz                 -- tombstone: the unbind finished
);
CREATE INDEX service_bindings_instance ON service_bindings (instance_id) WHERE deleted_at IS NULL;

-- The durable work queue (river / graphile-worker style). A job and the binding row it serves
-- are written in one transaction; workers claim with FOR UPDATE SKIP LOCKED under a lease.
CREATE TABLE jobs (
  id            bigserial PRIMARY KEY,
  binding_id    text NOT NULL REFERENCES service_bindings (id),
  kind          text NOT NULL CHECK (kind IN ('clone', 'teardown')),
  status        text NOT NULL CHECK (status IN
                  ('available', 'running', 'retryable', 'completed', 'cancelled', 'failed')),
  step          text NOT NULL,                 -- the next step to run
  outputs       jsonb NOT NULL DEFAULT '{}',   -- GUIDs etc. checkpointed by finished steps
  attempt       int NOT NULL DEFAULT 0,
  max_attempts  int NOT NULL,
  run_at        timestamptz NOT NULL DEFAULT now(),
  deadline_at   timestamptz NOT NULL,          -- past it the job fails, so nothing stays in progress
  locked_by     text,
  locked_until  timestamptz,
  last_error    text NOT NULL DEFAULT '',      -- operator-facing; never a secret
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  finalized_at  timestamptz
);
-- Matches the claim query: claimable rows ordered by run_at.
CREATE INDEX jobs_claimable ON jobs (run_at, id) WHERE status IN ('available', 'retryable', 'running');
CREATE INDEX jobs_binding ON jobs (binding_id);

-- Audit: who did what to which resource, when. Never a secret.
CREATE TABLE events (
  id           bigserial PRIMARY KEY,
  kind         text NOT NULL,
  instance_id  text NOT NULL DEFAULT '',
  binding_id   text NOT NULL DEFAULT '',
  actor        text NOT NULL DEFAULT '',
  request_id   text NOT NULL DEFAULT '',
  detail       jsonb NOT NULL DEFAULT '{}',
  created_at   timestamptz NOT NULL DEFAULT now()
);
