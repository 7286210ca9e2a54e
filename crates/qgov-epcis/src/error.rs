//! The one error type of this crate: a list of problems, each naming the event and the field.

use std::fmt;

/// One thing wrong with a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Index of the event in the document's event list (`None`: a document-level problem).
    pub event_index: Option<usize>,
    /// JSON-pointer-like path of the field, in the JSON shape of the document
    /// (`/epcisBody/eventList/3/bizStep`); XML documents use the same names.
    pub pointer: String,
    /// What is wrong, in plain words.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.event_index {
            Some(i) => write!(f, "event {i}, {}: {}", self.pointer, self.message),
            None => write!(f, "{}: {}", if self.pointer.is_empty() { "/" } else { &self.pointer }, self.message),
        }
    }
}

/// Every problem found in a document (parsing goes on after the first one, so a client sees
/// them all at once).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} problem(s) in the EPCIS document", self.0.len())?;
        for p in self.0.iter().take(20) {
            write!(f, "\n  {p}")?;
        }
        if self.0.len() > 20 {
            write!(f, "\n  … and {} more", self.0.len() - 20)?;
        }
        Ok(())
    }
}

impl Problems {
    /// A single document-level problem.
    pub fn one(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Problems(vec![Problem { event_index: None, pointer: pointer.into(), message: message.into() }])
    }
}
