//! A plugin's options, described by the JSON Schema of its options type.
//!
//! The schema is derived from `Plugin::Options` (`#[derive(JsonSchema)]`, which reads
//! the type's serde attributes and doc comments) and crosses the ABI as text (api
//! 0.2.3). Both sides use it: the export layer checks every options table against it
//! before serde sees it ([`OptionsSchema::check`]: unknown keys and wrong types are
//! refused by name, whatever serde attributes the author used), and the host shows it
//! (`agent-host inspect`) and reads `--option` values by it.

mod check;
mod describe;
mod schema;

pub use check::OptionError;
pub use describe::OptionSpec;
pub use schema::OptionsSchema;

#[cfg(test)]
mod tests;
