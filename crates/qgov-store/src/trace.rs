//! Storage for traceability (issue 4): the capture-order stream the in-memory trace index is
//! rebuilt from, the register facts a trace is labelled with (places, parties, products by
//! GLN / GTIN), recall scopes shared with enterprises, and the straightforward recursive-SQL
//! trace that `qgov bench trace` compares the index with.
//!
//! The database is the source of truth; `qgov-trace` only ever holds a rebuildable copy.

use crate::audit::WriteTx;
use crate::epcis::StoredEvent;
use crate::{Actor, Result, Store, now};
use serde::Serialize;
use sqlx::Row;
use std::collections::HashMap;

/// A registered location as a trace shows it: its name, where it is, and who owns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegisteredPlace {
    pub gln: String,
    pub name: String,
    pub street: Option<String>,
    pub grid: Option<String>,
    pub owner_entity_id: Option<i64>,
    pub owner_name: Option<String>,
    pub owner_uscc: Option<String>,
}

/// A recall scope shared with an enterprise.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceShare {
    pub root: String,
    pub entity_id: i64,
    pub created_at: String,
}

/// A share of a recall scope as listed for staff: with whom (as registered), by whom, when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceShareEntry {
    pub entity_id: i64,
    pub entity_name: String,
    pub uscc: String,
    /// The user who shared it; `None` when no user did (a system task) or the account is gone.
    pub shared_by: Option<String>,
    pub shared_at: String,
}

impl Store {
    /// Up to `limit` stored events with internal key greater than `after_pk`, in capture
    /// order. Keyset paging on the primary key: each page is one index range scan, so a
    /// full rebuild reads the table once.
    pub async fn epcis_events_after(&self, after_pk: i64, limit: i64) -> Result<Vec<StoredEvent>> {
        let rows = sqlx::query("SELECT id, event_id, body FROM epcis_events WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after_pk)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok(StoredEvent { pk: r.try_get(0)?, event_id: r.try_get(1)?, body: r.try_get(2)? }))
            .collect()
    }

    /// The highest internal event key (0 when empty): tells a reader whether its copy is
    /// current without reading any event.
    pub async fn epcis_last_pk(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COALESCE(MAX(id), 0) FROM epcis_events").fetch_one(&self.pool).await?;
        Ok(row.try_get(0)?)
    }

    /// Every registered location by GLN, with its owner (a server keeps this in memory while
    /// [`Self::register_version`] stays the same).
    pub async fn places_by_gln(&self) -> Result<HashMap<String, RegisteredPlace>> {
        let rows = sqlx::query(
            "SELECT l.gln, l.name, l.street, l.grid, l.owner_entity_id, m.name AS owner_name, m.uscc \
             FROM locations l LEFT JOIN market_entities m ON m.id = l.owner_entity_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = HashMap::with_capacity(rows.len());
        for r in rows {
            let p = RegisteredPlace {
                gln: r.try_get(0)?,
                name: r.try_get(1)?,
                street: r.try_get(2)?,
                grid: r.try_get(3)?,
                owner_entity_id: r.try_get(4)?,
                owner_name: r.try_get(5)?,
                owner_uscc: r.try_get(6)?,
            };
            out.insert(p.gln.clone(), p);
        }
        Ok(out)
    }

    /// Product names by GTIN in its 14-digit form (the register keeps GTIN-8/12/13 as given;
    /// identifiers inside events always carry 14 digits).
    pub async fn product_names_by_gtin(&self) -> Result<HashMap<String, String>> {
        let rows = sqlx::query("SELECT gtin, name FROM products").fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((format!("{:0>14}", r.try_get::<String, _>(0)?), r.try_get(1)?))).collect()
    }

    /// GLNs of the locations an enterprise owns (its part of the chain).
    pub async fn entity_glns(&self, entity_id: i64) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT gln FROM locations WHERE owner_entity_id = $1")
            .bind(entity_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Shares the recall scope of `root` with an enterprise (idempotent), audited.
    pub async fn trace_share(
        &self,
        actor: &Actor,
        root: &str,
        entity_id: i64,
        by_user: Option<i64>,
    ) -> Result<TraceShare> {
        let mut w = WriteTx::begin(self).await?;
        let existing = sqlx::query("SELECT created_at FROM trace_shares WHERE root = $1 AND entity_id = $2")
            .bind(root)
            .bind(entity_id)
            .fetch_optional(&mut *w.tx)
            .await?;
        if let Some(r) = existing {
            return Ok(TraceShare { root: root.to_owned(), entity_id, created_at: r.try_get(0)? });
        }
        let share = TraceShare { root: root.to_owned(), entity_id, created_at: now() };
        sqlx::query("INSERT INTO trace_shares (root, entity_id, shared_by_user, created_at) VALUES ($1, $2, $3, $4)")
            .bind(root)
            .bind(entity_id)
            .bind(by_user)
            .bind(&share.created_at)
            .execute(&mut *w.tx)
            .await?;
        w.audit(actor, "trace.share", "trace_scope", root, &(), &share).await?;
        w.commit().await?;
        Ok(share)
    }

    /// With whom the recall scope of `root` (canonical identifier) was shared, by whom and
    /// when, oldest first: the shares table itself, so the list is exactly what grants access.
    pub async fn trace_shares(&self, root: &str) -> Result<Vec<TraceShareEntry>> {
        let rows = sqlx::query(
            "SELECT s.entity_id, m.name, m.uscc, u.username, s.created_at FROM trace_shares s \
             JOIN market_entities m ON m.id = s.entity_id LEFT JOIN users u ON u.id = s.shared_by_user \
             WHERE s.root = $1 ORDER BY s.created_at, s.id",
        )
        .bind(root)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TraceShareEntry {
                    entity_id: r.try_get(0)?,
                    entity_name: r.try_get(1)?,
                    uscc: r.try_get(2)?,
                    shared_by: r.try_get(3)?,
                    shared_at: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Whether the recall scope of `root` was shared with the enterprise.
    pub async fn trace_shared(&self, root: &str, entity_id: i64) -> Result<bool> {
        let row = sqlx::query("SELECT 1 FROM trace_shares WHERE root = $1 AND entity_id = $2")
            .bind(root)
            .bind(entity_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// The straightforward trace, for comparison only: one recursive SQL query over the
    /// normalised identifier tables that follows a shared identifier to every event naming
    /// it (at or after the time it was reached, forward; at or before, backward) and from
    /// there input → output and child ↔ parent links. Returns how many distinct identifiers
    /// it reaches. It knows no aggregation windows or lot membership, so it answers a looser
    /// question than the index; it is the baseline a reader would write first.
    pub async fn trace_recursive_sql(&self, root: &str, forward: bool) -> Result<i64> {
        let (cmp, start, next_time, link) = if forward {
            (
                ">=",
                i64::MIN / 2,
                "e.event_time",
                "(i.role = 'input' AND o.role = 'output') OR (i.role = 'child' AND o.role = 'parent') \
                 OR (i.role = 'parent' AND o.role = 'child')",
            )
        } else {
            (
                "<=",
                i64::MAX / 2,
                "e.event_time",
                "(i.role = 'output' AND o.role = 'input') OR (i.role = 'parent' AND o.role = 'child') \
                 OR (i.role = 'child' AND o.role = 'parent')",
            )
        };
        let ids = "(SELECT event_pk, role, epc AS id FROM epcis_epcs \
                    UNION ALL SELECT event_pk, role, epc_class AS id FROM epcis_quantities)";
        // The PostgreSQL identifier columns are COLLATE "C" and a recursive term must keep
        // the seed row's collation; SQLite has no collation of that name. (Benchmark-only
        // SQL, so the one engine difference outside the migrations stays here.)
        let seed = match self.engine {
            crate::Engine::Postgres => "CAST($1 AS TEXT) COLLATE \"C\"",
            crate::Engine::Sqlite => "CAST($1 AS TEXT)",
        };
        let sql = format!(
            "WITH RECURSIVE reach(id, t) AS ( \
               SELECT {seed}, CAST($2 AS BIGINT) \
               UNION \
               SELECT o.id, {next_time} FROM reach r \
                 JOIN {ids} i ON i.id = r.id \
                 JOIN epcis_events e ON e.id = i.event_pk AND e.event_time {cmp} r.t \
                 JOIN {ids} o ON o.event_pk = i.event_pk AND ({link}) \
             ) SELECT COUNT(DISTINCT id) FROM reach"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(root).bind(start).fetch_one(&self.pool).await?;
        let n: i64 = row.try_get(0)?;
        Ok(n)
    }

    /// eventIDs of the events an enterprise captured (its side of the visibility rule that
    /// the GLN test cannot see).
    pub async fn epcis_event_ids_captured_by(&self, entity_id: i64) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT event_id FROM epcis_events WHERE captured_by_entity = $1")
            .bind(entity_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Every stored event naming one of `ids` (canonical identifiers) in any role, in event
    /// time order: the records behind a trace, for export.
    pub async fn epcis_events_naming(&self, ids: &[String]) -> Result<Vec<StoredEvent>> {
        let mut pks = std::collections::BTreeSet::new();
        for chunk in ids.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let list = marks.join(", ");
            let sql = dyn_sql!(
                "SELECT event_pk FROM epcis_epcs WHERE epc IN ({list}) \
                 UNION SELECT event_pk FROM epcis_quantities WHERE epc_class IN ({list})"
            );
            let mut q = sqlx::query(sql);
            for id in chunk {
                q = q.bind(id.as_str());
            }
            for r in q.fetch_all(&self.pool).await? {
                pks.insert(r.try_get::<i64, _>(0)?);
            }
        }
        let pks: Vec<i64> = pks.into_iter().collect();
        let mut out = Vec::with_capacity(pks.len());
        for chunk in pks.chunks(500) {
            let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
            let sql = dyn_sql!(
                "SELECT id, event_id, body FROM epcis_events WHERE id IN ({}) ORDER BY event_time, id",
                list.join(", ")
            );
            for r in sqlx::query(sql).fetch_all(&self.pool).await? {
                out.push(StoredEvent { pk: r.try_get(0)?, event_id: r.try_get(1)?, body: r.try_get(2)? });
            }
        }
        Ok(out)
    }
}
