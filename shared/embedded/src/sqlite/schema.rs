//! The schema, as numbered migrations. Migration `n` (1-based) brings `PRAGMA user_version` from
//! `n - 1` to `n`. Never edit a released migration: append a new one.
//!
//! Values that queries filter or sort on are columns (instants as INTEGER nanoseconds since the
//! epoch, so they sort correctly); the full domain value is the JSON `body`, decoded through the
//! domain type on read.

/// Every migration, in order.
pub(crate) const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6_DASHBOARD];

/// Version 1: stores and queues.
const V1: &str = r#"
CREATE TABLE patients (
    patient_id TEXT PRIMARY KEY NOT NULL,
    body       TEXT NOT NULL
) STRICT;

-- The latest record of a patient is the one with the highest seq: (patient_id, seq) is unique, so
-- two writers can never both add seq n, and the latest is one index seek.
CREATE TABLE consents (
    consent_id TEXT PRIMARY KEY NOT NULL,
    patient_id TEXT NOT NULL,
    seq        INTEGER NOT NULL CHECK (seq >= 1),
    revoked    INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1)),
    body       TEXT NOT NULL,
    UNIQUE (patient_id, seq)
) STRICT;

CREATE TABLE settings (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL CHECK (version >= 1),
    body    TEXT NOT NULL
) STRICT;

CREATE TABLE audit_log (
    entry_id       TEXT PRIMARY KEY NOT NULL,
    occurred_at    INTEGER NOT NULL,
    log_type       TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    patient_id     TEXT,
    appointment_id TEXT,
    consent_id     TEXT,
    body           TEXT NOT NULL
) STRICT;
CREATE INDEX audit_by_time ON audit_log (occurred_at, entry_id);
CREATE INDEX audit_by_type ON audit_log (log_type, occurred_at, entry_id);
CREATE INDEX audit_by_patient ON audit_log (patient_id, occurred_at, entry_id) WHERE patient_id IS NOT NULL;
CREATE INDEX audit_by_appointment ON audit_log (appointment_id, occurred_at, entry_id) WHERE appointment_id IS NOT NULL;
CREATE INDEX audit_by_outcome ON audit_log (outcome, occurred_at, entry_id);

CREATE TABLE appointments (
    appointment_id  TEXT PRIMARY KEY NOT NULL,
    patient_id      TEXT NOT NULL,
    transition_seq  INTEGER NOT NULL DEFAULT 0 CHECK (transition_seq >= 0),
    transitioned_at INTEGER,
    body            TEXT NOT NULL
) STRICT;
CREATE INDEX appointments_by_transition ON appointments (transitioned_at, appointment_id)
    WHERE transitioned_at IS NOT NULL;
CREATE INDEX appointments_by_patient ON appointments (patient_id);

-- Queue messages: id is the send order; visible_at and the timers are milliseconds since the
-- epoch; receipt is the handle of the current delivery (NULL when not delivered).
CREATE TABLE queue_messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    queue         TEXT NOT NULL,
    message_id    TEXT NOT NULL UNIQUE,
    body          TEXT NOT NULL,
    group_id      TEXT,
    dedup_id      TEXT,
    sent_at       INTEGER NOT NULL,
    visible_at    INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt       TEXT UNIQUE
) STRICT;
CREATE INDEX queue_messages_visible ON queue_messages (queue, visible_at, id);
CREATE INDEX queue_messages_group ON queue_messages (queue, group_id, id) WHERE group_id IS NOT NULL;

-- Deduplication ids seen per queue, until expires_at (the 5-minute window from the first send).
CREATE TABLE queue_dedup (
    queue      TEXT NOT NULL,
    dedup_id   TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (queue, dedup_id)
) STRICT, WITHOUT ROWID;

-- Messages that were received max_receives times without being deleted.
CREATE TABLE queue_dead_letters (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    queue         TEXT NOT NULL,
    message_id    TEXT NOT NULL UNIQUE,
    body          TEXT NOT NULL,
    group_id      TEXT,
    dedup_id      TEXT,
    sent_at       INTEGER NOT NULL,
    receive_count INTEGER NOT NULL,
    dead_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX queue_dead_letters_by_queue ON queue_dead_letters (queue, id);
"#;

/// Version 2: the HIE send ledger, one row per delivery `(appointment, transition, resend)`.
/// `lease_until` and `updated_at` are nanoseconds since the epoch; the checks keep each state's
/// invariants (a lease only while sending, a message id only once sent).
const V2: &str = r#"
CREATE TABLE send_ledger (
    appointment_id TEXT NOT NULL,
    transition_seq INTEGER NOT NULL CHECK (transition_seq >= 0),
    resend         INTEGER NOT NULL CHECK (resend >= 0),
    state          TEXT NOT NULL CHECK (state IN ('sending', 'retry_pending', 'sent', 'failed')),
    attempts       INTEGER NOT NULL CHECK (attempts >= 1),
    lease_until    INTEGER CHECK ((state = 'sending') = (lease_until IS NOT NULL)),
    message_id     TEXT CHECK ((state = 'sent') = (message_id IS NOT NULL)),
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (appointment_id, transition_seq, resend)
) STRICT, WITHOUT ROWID;
"#;

/// Version 3: the EHR <-> CRM side. Channels and flows (the domain values as JSON, with the
/// columns lists filter and sort on), the inbound ledger (one row per `(channel, MSH-10)`, its
/// steps' progress as a JSON object), the embedded CRM's leads and activities (fields as a JSON
/// object of name -> value; `crm_lead_values` indexes each lead field's case-folded value for
/// lookups), and the local secrets behind `local:` references.
const V3: &str = r#"
CREATE TABLE channels (
    channel_id TEXT PRIMARY KEY NOT NULL,
    body       TEXT NOT NULL
) STRICT;

-- No foreign key to channels: whether flows still use a channel is the caller's check.
CREATE TABLE flows (
    flow_id    TEXT PRIMARY KEY NOT NULL,
    channel_id TEXT NOT NULL,
    body       TEXT NOT NULL
) STRICT;
CREATE INDEX flows_by_channel ON flows (channel_id, flow_id);

CREATE TABLE inbound_ledger (
    channel_id  TEXT NOT NULL,
    control_id  TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    event       TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('processing', 'failed', 'done')),
    attempts    INTEGER NOT NULL CHECK (attempts >= 1),
    lease_until INTEGER CHECK ((state = 'processing') = (lease_until IS NOT NULL)),
    steps       TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (channel_id, control_id)
) STRICT, WITHOUT ROWID;

-- seq is the creation order ("the oldest lead" of several matches).
CREATE TABLE crm_leads (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    lead_id    TEXT NOT NULL UNIQUE,
    fields     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE crm_lead_values (
    lead_id TEXT NOT NULL REFERENCES crm_leads (lead_id) ON DELETE CASCADE,
    name    TEXT NOT NULL,
    folded  TEXT NOT NULL,
    PRIMARY KEY (lead_id, name)
) STRICT, WITHOUT ROWID;
CREATE INDEX crm_lead_values_lookup ON crm_lead_values (name, folded);

CREATE TABLE crm_activities (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    activity_id TEXT NOT NULL UNIQUE,
    lead_id     TEXT NOT NULL REFERENCES crm_leads (lead_id),
    event       INTEGER NOT NULL,
    note        TEXT NOT NULL,
    at          INTEGER NOT NULL,
    fields      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX crm_activities_by_lead ON crm_activities (lead_id, event, seq);

CREATE TABLE local_secrets (
    secret_id  TEXT PRIMARY KEY NOT NULL,
    value      BLOB NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
"#;

/// Version 4: outbound deliveries (CRM -> EHR) and the CRM write log. `webhooks` holds each
/// accepted webhook's key (`channel|entity|id|version`), so a repeated webhook is one primary-key
/// conflict; `deliveries` one row per HL7 message to deliver (`message` is the ER7 text, PHI;
/// instants are nanoseconds since the epoch; the checks keep each state's invariants: a lease
/// only while delivering, a due time only while retrying, `held_behind` only while held);
/// `delivery_group_blocks` the patient groups blocked by a parked delivery; `crm_writes` what
/// the connector wrote to the CRM lately (field digests only, never values), for echo
/// suppression.
const V4: &str = r#"
CREATE TABLE webhooks (
    webhook_key TEXT PRIMARY KEY NOT NULL,
    received_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE deliveries (
    delivery_id     TEXT PRIMARY KEY NOT NULL,
    webhook_key     TEXT NOT NULL REFERENCES webhooks (webhook_key),
    channel_id      TEXT NOT NULL,
    flow_id         TEXT NOT NULL,
    group_id        TEXT NOT NULL,
    control_id      TEXT NOT NULL,
    event           TEXT NOT NULL,
    message         TEXT NOT NULL,
    state           TEXT NOT NULL
        CHECK (state IN ('queued', 'delivering', 'retrying', 'delivered', 'parked', 'held')),
    attempts        INTEGER NOT NULL CHECK (attempts >= 0),
    last_outcome    TEXT,
    lease_until     INTEGER CHECK ((state = 'delivering') = (lease_until IS NOT NULL)),
    next_attempt_at INTEGER CHECK ((state = 'retrying') = (next_attempt_at IS NOT NULL)),
    held_behind     TEXT CHECK ((state = 'held') = (held_behind IS NOT NULL)),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX deliveries_by_group ON deliveries (group_id, created_at, delivery_id);
CREATE INDEX deliveries_by_state ON deliveries (state, created_at, delivery_id);
CREATE INDEX deliveries_by_time ON deliveries (created_at, delivery_id);
CREATE INDEX deliveries_by_webhook ON deliveries (webhook_key, created_at, delivery_id);

-- At most one block per group: the parked delivery the group's later deliveries wait behind.
CREATE TABLE delivery_group_blocks (
    group_id    TEXT PRIMARY KEY NOT NULL,
    delivery_id TEXT NOT NULL REFERENCES deliveries (delivery_id),
    blocked_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- id is the recording order (ties of `at`).
CREATE TABLE crm_writes (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    entity        TEXT NOT NULL,
    at            INTEGER NOT NULL,
    field_digests TEXT NOT NULL
) STRICT;
CREATE INDEX crm_writes_by_entity ON crm_writes (entity, at, id);
CREATE INDEX crm_writes_by_time ON crm_writes (at);
"#;

/// Version 5: the CRM user each remembered CRM write names (`modified_by`: the connector's API
/// user as the CRM reported it right after the write; NULL when it did not, and such a write
/// suppresses no webhook), and `inbound_key_locks`, the per-patient search key locks the
/// EHR -> CRM flows hold while they search for and may create a lead (`lock_id` holds a digest
/// of the key value, never the value; instants in nanoseconds since the epoch).
const V5: &str = r#"
ALTER TABLE crm_writes ADD COLUMN modified_by TEXT;

CREATE TABLE inbound_key_locks (
    lock_id     TEXT PRIMARY KEY NOT NULL,
    holder      TEXT NOT NULL,
    lease_until INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
"#;

/// Version 6: the admin dashboard and the message log's channel filter. `audit_log.channel_id`
/// (the channel of `hl7_inbound` and `crm_outbound` entries, backfilled from their detail) with
/// its index; `dashboard_hours`, counters per series, UTC hour (nanoseconds) and counter name,
/// incremented in the transaction that inserts the audit entry they count (backfilled from the
/// entries already stored); `dashboard_crm_errors` and `dashboard_batch_runs`, the newest CRM
/// errors and batch run summaries (bodies hold ids and counts only), kept short.
const V6_DASHBOARD: &str = r#"
ALTER TABLE audit_log ADD COLUMN channel_id TEXT;
UPDATE audit_log SET channel_id = json_extract(body, '$.detail.channel_id')
    WHERE log_type IN ('hl7_inbound', 'crm_outbound');
CREATE INDEX audit_by_channel ON audit_log (log_type, channel_id, occurred_at, entry_id)
    WHERE channel_id IS NOT NULL;

CREATE TABLE dashboard_hours (
    series  TEXT NOT NULL,
    hour    INTEGER NOT NULL,
    counter TEXT NOT NULL,
    n       INTEGER NOT NULL CHECK (n >= 0),
    PRIMARY KEY (series, hour, counter)
) STRICT, WITHOUT ROWID;

INSERT INTO dashboard_hours (series, hour, counter, n)
    SELECT 'hie', occurred_at - (occurred_at % 3600000000000),
           CASE json_extract(body, '$.action') WHEN 'appointment.sent' THEN 'sent' ELSE 'errors' END,
           count(*)
    FROM audit_log
    WHERE log_type = 'hie_sent_appointments'
      AND ((json_extract(body, '$.action') = 'appointment.sent' AND outcome = 'success')
        OR (json_extract(body, '$.action') = 'appointment.failed' AND outcome = 'error'))
    GROUP BY 1, 2, 3;
INSERT INTO dashboard_hours (series, hour, counter, n)
    SELECT 'hl7', occurred_at - (occurred_at % 3600000000000), json_extract(body, '$.detail.ack'),
           count(*)
    FROM audit_log
    WHERE log_type = 'hl7_inbound' AND json_extract(body, '$.detail.ack') IN ('AA', 'AE', 'AR')
    GROUP BY 1, 2, 3;

CREATE TABLE dashboard_crm_errors (
    entry_id TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    at       INTEGER NOT NULL,
    body     TEXT NOT NULL,
    PRIMARY KEY (entry_id, seq)
) STRICT, WITHOUT ROWID;
CREATE INDEX dashboard_crm_errors_by_time ON dashboard_crm_errors (at, entry_id, seq);

CREATE TABLE dashboard_batch_runs (
    entry_id    TEXT PRIMARY KEY NOT NULL,
    finished_at INTEGER NOT NULL,
    body        TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX dashboard_batch_runs_by_time ON dashboard_batch_runs (finished_at, entry_id);
"#;
