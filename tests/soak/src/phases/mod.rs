//! The soak's phases, one file each.

pub mod cycles;
pub mod dropped;
pub mod in_flight;
pub mod large_message;
pub mod runtimes;
