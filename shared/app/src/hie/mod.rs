//! The HIE service: the batch collector (EventBridge schedule on AWS, an interval in
//! `connector serve`) plans each day's consented appointments, the HIE sender (SQS on AWS, the
//! embedded queue in `connector serve`) sends them, and the HL7 feed ([`hl7_feed`]) keeps
//! patients and appointments current from the EHR's ADT, SIU and DFT messages.

pub mod batch_run;
pub mod collector;
pub mod hl7_feed;
pub mod sender;
