//! qgov's pure domain core.
//!
//! Types that parse instead of validate (an invalid credit code cannot exist past the
//! boundary), the roles and their rights, the register records, and the hash rule of
//! the audit chain. Nothing here does I/O: it compiles fast and is tested with plain
//! unit and property tests. Storage and HTTP are shells around it.

pub mod audit;
pub mod ids;
pub mod registers;
pub mod role;
pub mod validation;

pub use ids::{Gln, Gtin, UnifiedCreditCode};
pub use role::Role;
pub use validation::{FieldError, FieldErrors};
