import { SCHEDULES_MIGRATION } from './postgres-schedules.js';
import { CLUSTER_MIGRATION } from './postgres-cluster.js';

/**
 * The PostgreSQL schema, as numbered migrations. A relay applies the ones it lacks at start,
 * each in its own transaction, under an advisory lock so several nodes starting at once apply
 * each exactly once. Never edit a released migration: add the next one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: records and the audit log
  `
  CREATE TABLE api_keys (
    id text PRIMARY KEY,
    name text NOT NULL,
    hash text NOT NULL,
    created_ms bigint NOT NULL,
    expires_ms bigint,
    revoked boolean NOT NULL DEFAULT false,
    last_used_ms bigint NOT NULL DEFAULT 0,
    grants jsonb NOT NULL
  );
  CREATE TABLE join_tokens (
    id text PRIMARY KEY,
    hash text NOT NULL,
    created_ms bigint NOT NULL,
    expires_ms bigint NOT NULL,
    uses_left integer,
    uses integer NOT NULL DEFAULT 0,
    labels jsonb NOT NULL,
    revoked boolean NOT NULL DEFAULT false,
    fleet_id text NOT NULL DEFAULT ''
  );
  CREATE TABLE machines (
    id text PRIMARY KEY,
    hostname text NOT NULL,
    name text NOT NULL,
    labels jsonb NOT NULL,
    public_key text NOT NULL UNIQUE,
    agent_version text NOT NULL,
    os text NOT NULL,
    arch text NOT NULL,
    enrolled_ms bigint NOT NULL,
    last_seen_ms bigint NOT NULL,
    disabled boolean NOT NULL DEFAULT false
  );
  CREATE TABLE fleets (
    id text PRIMARY KEY,
    name text NOT NULL UNIQUE,
    description text NOT NULL DEFAULT '',
    selector text NOT NULL DEFAULT '',
    disabled boolean NOT NULL DEFAULT false,
    created_ms bigint NOT NULL,
    updated_ms bigint NOT NULL
  );
  CREATE TABLE fleet_machines (
    fleet_id text NOT NULL REFERENCES fleets(id),
    machine_id text NOT NULL REFERENCES machines(id),
    PRIMARY KEY (fleet_id, machine_id)
  );
  CREATE TABLE fleet_members (
    fleet_id text NOT NULL REFERENCES fleets(id),
    key_id text NOT NULL REFERENCES api_keys(id),
    role text NOT NULL,
    added_ms bigint NOT NULL,
    PRIMARY KEY (fleet_id, key_id)
  );
  CREATE TABLE audit (
    pos bigserial PRIMARY KEY,
    chain text NOT NULL,
    seq bigint NOT NULL,
    ts_ms bigint NOT NULL,
    type text NOT NULL,
    key_id text NOT NULL,
    machine_id text NOT NULL,
    body text NOT NULL,
    prev text NOT NULL,
    hash text NOT NULL,
    sig text NOT NULL,
    agent_seq bigint,
    UNIQUE (chain, seq)
  );
  CREATE UNIQUE INDEX audit_agent ON audit (machine_id, agent_seq) WHERE agent_seq IS NOT NULL;
  CREATE INDEX audit_ts ON audit (ts_ms);
  CREATE INDEX audit_key ON audit (key_id, pos);
  CREATE INDEX audit_machine ON audit (machine_id, pos);
  `,
  // 2: schedules and their runs
  SCHEDULES_MIGRATION,
  // 3: relay nodes, presence per node, and change notifications
  CLUSTER_MIGRATION,
];
