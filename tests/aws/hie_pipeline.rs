//! The HIE pipeline on AWS: the collector on DynamoDB enqueues on SQS, the hie-sender's batch
//! handler takes what SQS delivers and mails through SES (moto records it) (the scenarios in
//! `support::hie`, on DynamoDB Local + moto).

crate::support::hie::hie_scenarios!(crate::support::Backend::Aws);
