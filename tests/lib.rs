//! End-to-end tests live in `e2e/` (SQLite, HTTP) and `aws/` (DynamoDB Local + moto), sharing
//! `support/` (one `TestApp` per backend, the HIE scenarios); this crate has no library code.
