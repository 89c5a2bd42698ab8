//! Shared by the migration tests that take a file back to an older schema version.

/// Undoes migrations 6 (search columns) and 7 (dashboard): with it, dropping the tables a
/// migration created and setting `user_version` leaves the file as that older build wrote it.
pub const UNDO_SEARCH_AND_DASHBOARD: &str = "\
    DROP TABLE dashboard_hours; DROP TABLE dashboard_crm_errors; DROP TABLE dashboard_batch_runs; \
    DROP INDEX audit_by_channel; ALTER TABLE audit_log DROP COLUMN channel_id; \
    DROP INDEX patients_by_mrn; DROP INDEX patients_by_birth_date_name; \
    ALTER TABLE patients DROP COLUMN mrn; ALTER TABLE patients DROP COLUMN birth_date; \
    ALTER TABLE patients DROP COLUMN name_key; \
    DROP INDEX appointments_by_patient_start; ALTER TABLE appointments DROP COLUMN starts_at;";
