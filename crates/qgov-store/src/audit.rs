//! The audit trail on disk: appended inside writing transactions, verified by walking
//! the chain (rule in [`qgov_domain::audit`]).

use crate::{Actor, Result, Store, now};
use qgov_domain::audit::{AuditRecord, ChainBreak, ChainVerifier, record_hash};
use serde::Serialize;
use sqlx::{Any, Row, Transaction};

/// A writing transaction. Its first statement takes the write lock on the audit head,
/// so on SQLite the transaction holds the writer lock from the start (no upgrade from a
/// stale read snapshot) and on PostgreSQL concurrent writers queue on one row: the
/// chain is appended strictly in order on both engines.
pub(crate) struct WriteTx {
    pub tx: Transaction<'static, Any>,
    seq: i64,
    hash: String,
}

impl WriteTx {
    pub async fn begin(store: &Store) -> Result<Self> {
        let mut tx = store.pool.begin().await?;
        let row =
            sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash").fetch_one(&mut *tx).await?;
        Ok(Self { tx, seq: row.try_get(0)?, hash: row.try_get(1)? })
    }

    /// Append one audit record (who, what, before/after images).
    pub async fn audit(
        &mut self,
        actor: &Actor,
        action: &str,
        target_type: &str,
        target_id: &str,
        before: &impl Serialize,
        after: &impl Serialize,
    ) -> Result<()> {
        let mut r = AuditRecord {
            seq: self.seq + 1,
            at: now(),
            actor: actor.0.clone(),
            action: action.to_owned(),
            target_type: target_type.to_owned(),
            target_id: target_id.to_owned(),
            before: serde_json::to_string(before).unwrap_or_else(|_| "null".into()),
            after: serde_json::to_string(after).unwrap_or_else(|_| "null".into()),
            prev_hash: self.hash.clone(),
            hash: String::new(),
        };
        r.hash = record_hash(&r);
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, action, target_type, target_id, before_json, after_json, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(r.seq)
        .bind(&r.at)
        .bind(&r.actor)
        .bind(&r.action)
        .bind(&r.target_type)
        .bind(&r.target_id)
        .bind(&r.before)
        .bind(&r.after)
        .bind(&r.prev_hash)
        .bind(&r.hash)
        .execute(&mut *self.tx)
        .await?;
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(r.seq)
            .bind(&r.hash)
            .execute(&mut *self.tx)
            .await?;
        self.seq = r.seq;
        self.hash = r.hash;
        Ok(())
    }

    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

fn record_from_row(row: &sqlx::any::AnyRow) -> Result<AuditRecord> {
    Ok(AuditRecord {
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        target_type: row.try_get("target_type")?,
        target_id: row.try_get("target_id")?,
        before: row.try_get("before_json")?,
        after: row.try_get("after_json")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

/// The outcome of a full chain check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub count: i64,
    pub head_hash: String,
}

impl Store {
    /// Walk the whole chain in sequence order. `Ok(Err(break))` names the first
    /// broken record; `Err` is a database failure.
    pub async fn audit_verify(&self) -> Result<Result<Verified, ChainBreak>> {
        let mut v = ChainVerifier::default();
        let mut last = i64::MIN;
        loop {
            let rows = sqlx::query("SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 5000")
                .bind(last)
                .fetch_all(&self.pool)
                .await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let r = record_from_row(row)?;
                last = r.seq;
                if let Err(b) = v.push(&r) {
                    return Ok(Err(b));
                }
            }
        }
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(&self.pool).await?;
        let (seq, hash): (i64, String) = (head.try_get(0)?, head.try_get(1)?);
        Ok(v.finish(seq, &hash).map(|count| Verified { count, head_hash: hash }))
    }

    /// The newest audit records first.
    pub async fn audit_recent(&self, limit: i64, offset: i64) -> Result<Vec<AuditRecord>> {
        let rows = sqlx::query("SELECT * FROM audit_log ORDER BY seq DESC LIMIT $1 OFFSET $2")
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(record_from_row).collect()
    }

    /// Audit records about one target, oldest first.
    pub async fn audit_for(&self, target_type: &str, target_id: &str) -> Result<Vec<AuditRecord>> {
        let rows = sqlx::query("SELECT * FROM audit_log WHERE target_type = $1 AND target_id = $2 ORDER BY seq")
            .bind(target_type)
            .bind(target_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(record_from_row).collect()
    }
}
