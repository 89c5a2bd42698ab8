//! The background jobs, independent of their host: the batch collector (EventBridge schedule on
//! AWS, an interval in `connector serve`) and the HIE sender (SQS on AWS, the embedded queue in
//! `connector serve`), the EHR delivery (the FIFO delivery queue), and the queue worker that
//! serves both where the host pulls its own work.

pub mod batch_run;
pub mod collector;
pub mod delivery;
pub mod sender;
pub mod worker;
