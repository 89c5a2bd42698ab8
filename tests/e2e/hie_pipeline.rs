//! The HIE pipeline end to end on the embedded store: intake, collector, sender, outbox, audit
//! (the scenarios in `support::hie`, on SQLite).

crate::support::hie::hie_scenarios!(crate::support::Backend::Sqlite);
