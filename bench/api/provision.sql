-- What one PUT /v2/service_instances/<id> (a new instance) sends to PostgreSQL, statement for
-- statement, as broker/store/pg_store.cc writes them (LockInstanceSql, InsertInstanceSql,
-- RecordEventSql inside PgStore::InTransaction). Run by bench/api/run as the provision ceiling:
--   pgbench -M prepared -c16 -j2 -T10 -n -f provision.sql
-- Keep it in step with pg_store.cc when those statements change.
-- Each transaction gets a new UUID-shaped instance id from two random numbers and the client id.
\set r1 random(1, 2147483647)
\set r2 random(1, 2147483647)
BEGIN;
SELECT id, service_id, plan_id, organization_guid, space_guid, context, parameters, maintenance_version, state, deprovision_operation, floor(extract(epoch from created_at) * 1000)::bigint FROM service_instances WHERE id = md5(:r1::text || '-' || :r2::text || '-' || :client_id::text)::uuid::text FOR UPDATE;
INSERT INTO service_instances AS si (id, service_id, plan_id, organization_guid, space_guid, context, parameters, maintenance_version, state, deprovision_operation, created_at, updated_at, deleted_at) VALUES (md5(:r1::text || '-' || :r2::text || '-' || :client_id::text)::uuid::text, '647a5929-f551-403c-b5c3-d587684999fd', 'e87ec4cb-9b71-4136-a471-6904dbc038e9', '0f9c3b8e-1d7a-4c2b-9e55-6a1f2b3c4d5e', '7d2e4f60-8a9b-4c1d-a2e3-f4a5b6c7d8e9', '{"organization_guid":"0f9c3b8e-1d7a-4c2b-9e55-6a1f2b3c4d5e","platform":"cloudfoundry","space_guid":"7d2e4f60-8a9b-4c1d-a2e3-f4a5b6c7d8e9"}', '{}', '1.0.0', 'active'::text, 0::bigint, COALESCE((timestamptz 'epoch' + (1764000000000::bigint * interval '1 millisecond')), now()), now(), CASE WHEN 'active'::text = 'deleted' THEN now() END) ON CONFLICT (id) DO UPDATE SET service_id = EXCLUDED.service_id, plan_id = EXCLUDED.plan_id, organization_guid = EXCLUDED.organization_guid, space_guid = EXCLUDED.space_guid, context = EXCLUDED.context, parameters = EXCLUDED.parameters, maintenance_version = EXCLUDED.maintenance_version, state = EXCLUDED.state, deprovision_operation = EXCLUDED.deprovision_operation, created_at = EXCLUDED.created_at, updated_at = now(), deleted_at = EXCLUDED.deleted_at WHERE si.deleted_at IS NOT NULL;
INSERT INTO events (kind, instance_id, binding_id, actor, request_id, detail) VALUES ('instance.provisioned', md5(:r1::text || '-' || :r2::text || '-' || :client_id::text)::uuid::text, '', '', '3b7c9e2a-5f1d-4e8b-a6c4-9d2f1e0b7a53', '{}'::jsonb);
COMMIT;
