//! The schema, as numbered migrations. Migration `n` (1-based) brings `PRAGMA user_version` from
//! `n - 1` to `n`. Never edit a released migration: append a new one.
//!
//! Values that queries filter or sort on are columns (instants as INTEGER nanoseconds since the
//! epoch, so they sort correctly); the full domain value is the JSON `body`, decoded through the
//! domain type on read.

/// Every migration, in order.
pub(crate) const MIGRATIONS: &[&str] = &[V1, V2];

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
