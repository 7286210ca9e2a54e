//! The hash rule of the tamper-evident audit trail.
//!
//! Each record carries the hash of the record before it; the hash of a record covers its
//! sequence number, time, actor, action, target, before/after images and that previous
//! hash, each length-prefixed so no two different records serialise alike. Altering,
//! inserting or deleting a record breaks the chain at that record; deleting the newest
//! records is caught by the separately stored head (sequence and hash of the last record).

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Hash of the (virtual) record before the first one.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The content of one audit record, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    pub seq: i64,
    /// RFC 3339 UTC time with microseconds.
    pub at: String,
    /// `user:<username>`, `token:<id>` or `system`.
    pub actor: String,
    /// Dotted verb, e.g. `enterprise.create`.
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    /// JSON image before the change (`null` for creations).
    pub before: String,
    /// JSON image after the change (`null` for deletions).
    pub after: String,
    pub prev_hash: String,
    pub hash: String,
}

/// Compute the hash of a record from its fields (the `hash` field itself is ignored).
pub fn record_hash(r: &AuditRecord) -> String {
    let mut h = Sha256::new();
    h.update(b"qgov-audit-v1");
    for part in [
        r.seq.to_string().as_str(),
        &r.at,
        &r.actor,
        &r.action,
        &r.target_type,
        &r.target_id,
        &r.before,
        &r.after,
        &r.prev_hash,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Where a chain check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("record {seq}: its hash does not match its contents (record altered)")]
    Altered { seq: i64 },
    #[error("record {seq}: expected sequence number {expected} (record inserted or deleted before it)")]
    Sequence { seq: i64, expected: i64 },
    #[error("record {seq}: previous-hash link broken (record inserted, deleted or altered before it)")]
    Link { seq: i64 },
    #[error("the chain ends at record {last} but the head says {head} (records deleted or appended outside qgov)")]
    Head { last: i64, head: i64 },
    #[error("the last record's hash does not match the head (chain rewritten)")]
    HeadHash,
}

/// Incremental verifier: feed records in sequence order, then `finish` with the head.
#[derive(Debug)]
pub struct ChainVerifier {
    expected_seq: i64,
    prev_hash: String,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self { expected_seq: 1, prev_hash: GENESIS_HASH.to_owned() }
    }
}

impl ChainVerifier {
    pub fn push(&mut self, r: &AuditRecord) -> Result<(), ChainBreak> {
        if r.seq != self.expected_seq {
            return Err(ChainBreak::Sequence { seq: r.seq, expected: self.expected_seq });
        }
        if record_hash(r) != r.hash {
            return Err(ChainBreak::Altered { seq: r.seq });
        }
        if r.prev_hash != self.prev_hash {
            return Err(ChainBreak::Link { seq: r.seq });
        }
        self.expected_seq += 1;
        self.prev_hash = r.hash.clone();
        Ok(())
    }
    /// Number of records verified so far.
    pub fn count(&self) -> i64 {
        self.expected_seq - 1
    }
    /// Compare with the stored head; returns the verified record count.
    pub fn finish(self, head_seq: i64, head_hash: &str) -> Result<i64, ChainBreak> {
        let last = self.count();
        if last != head_seq {
            return Err(ChainBreak::Head { last, head: head_seq });
        }
        if self.prev_hash != head_hash {
            return Err(ChainBreak::HeadHash);
        }
        Ok(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let mut r = AuditRecord {
                    seq,
                    at: format!("2026-01-01T00:00:{seq:02}.000000Z"),
                    actor: "user:admin".into(),
                    action: "enterprise.create".into(),
                    target_type: "enterprise".into(),
                    target_id: seq.to_string(),
                    before: "null".into(),
                    after: format!("{{\"n\":{seq}}}"),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                r.hash = record_hash(&r);
                prev = r.hash.clone();
                r
            })
            .collect()
    }

    fn verify(rs: &[AuditRecord], head: (i64, &str)) -> Result<i64, ChainBreak> {
        let mut v = ChainVerifier::default();
        for r in rs {
            v.push(r)?;
        }
        v.finish(head.0, head.1)
    }

    #[test]
    fn intact_chain_verifies() {
        let c = chain(5);
        assert_eq!(verify(&c, (5, &c[4].hash)), Ok(5));
        assert_eq!(verify(&[], (0, GENESIS_HASH)), Ok(0));
    }

    #[test]
    fn alteration_insertion_deletion_are_caught() {
        let c = chain(5);
        let head = (5, c[4].hash.clone());
        let mut altered = c.clone();
        altered[2].after = "{\"n\":99}".into();
        assert_eq!(verify(&altered, (head.0, &head.1)), Err(ChainBreak::Altered { seq: 3 }));

        let mut deleted = c.clone();
        deleted.remove(1);
        assert_eq!(verify(&deleted, (head.0, &head.1)), Err(ChainBreak::Sequence { seq: 3, expected: 2 }));

        let mut tail_deleted = c.clone();
        tail_deleted.pop();
        assert_eq!(verify(&tail_deleted, (head.0, &head.1)), Err(ChainBreak::Head { last: 4, head: 5 }));

        // An inserted record renumbered to fit still breaks the link of its successor.
        let mut inserted = chain(5);
        let mut fake = inserted[1].clone();
        fake.after = "{\"forged\":true}".into();
        fake.hash = record_hash(&fake);
        inserted[1] = fake;
        assert_eq!(verify(&inserted, (head.0, &head.1)), Err(ChainBreak::Link { seq: 3 }));
    }

    #[test]
    fn fields_are_length_prefixed() {
        let mut a = chain(1).remove(0);
        let mut b = a.clone();
        a.actor = "ab".into();
        a.action = "c".into();
        b.actor = "a".into();
        b.action = "bc".into();
        assert_ne!(record_hash(&a), record_hash(&b));
    }
}
