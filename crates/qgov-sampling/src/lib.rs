//! qgov's pure sampling core: no I/O, no async.
//!
//! - [`calendar`]: the Chinese working-day calendar ([`calendar::WorkCalendar`]), holiday data per
//!   year shipped as text files and loadable by an administrator.
//! - [`gbt2828`]: GB/T 2828.1-2012 (= ISO 2859-1:1999) single sampling plans from Tables 1 and
//!   2-A/2-B/2-C, and the switching rules with the switching score.
//! - [`draw`]: the reproducible "double random" draw of targets and inspectors, with a seed
//!   commitment and verification.
//! - [`deadline`]: the statutory time limits of the sampling workflow as data, with due dates
//!   computed on the working-day calendar.
//! - [`workflow`]: the sample workflow as a state machine (sampled → tested → failed → notified →
//!   re-test → rectification → re-inspection → announcement …) that says why it refuses an event.
//! - [`judgement`]: verdicts of test results against a limits table.
//!
//! The standards' tables and the State Council's holiday notices are kept as data files under
//! `data/`, embedded at compile time, so they can be checked line by line against the source.

pub mod calendar;
pub mod deadline;
pub mod draw;
pub mod gbt2828;
pub mod judgement;
pub mod workflow;
