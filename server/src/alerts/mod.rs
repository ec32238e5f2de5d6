//! Alerts: rules on what the queues do ([`rules`]), evaluated once across all server
//! replicas ([`evaluator`]) with a pending period before a breach fires and a resolved
//! notice when it clears, silences with an end ([`silences`]), and notices delivered by
//! the notifications processor by email and webhook ([`notice`]).

pub mod evaluator;
pub mod notice;
pub mod rules;
pub mod silences;
pub mod status;
