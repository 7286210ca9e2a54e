//! Bulk loading: the secondary indexes of the event tables are set aside while a large
//! backlog (a migration from another repository, years of archived documents) is captured,
//! then rebuilt once, sorted, instead of being updated page by page for every document.
//!
//! Captures stay what they always are (validated, all-or-nothing, durable per document,
//! audited); only the query indexes wait. Uniqueness of `event_id` is kept (PostgreSQL's unique
//! index stays; SQLite keeps eventIDs unique in memory, `ids.rs`), so a repeated capture still
//! stores an event once. Each definition set aside is kept in
//! `epcis_deferred_indexes` until it is rebuilt, and [`Store::migrate`] rebuilds whatever is
//! left there, so a load interrupted half-way leaves a store that repairs itself on its next
//! start. Queries during a load are correct but slow (no index to use).

use crate::{Engine, Result, Store, now};
use sqlx::Row;

/// The event tables whose secondary indexes a bulk load defers.
const EVENT_TABLES: &[&str] = &[
    "epcis_events",
    "epcis_epcs",
    "epcis_quantities",
    "epcis_biz_transactions",
    "epcis_source_dest",
    "epcis_persistent_dispositions",
    "epcis_corrective_ids",
    "epcis_certifications",
    "epcis_sensor_reports",
    "epcis_fields",
];

/// `CREATE INDEX x …` → `CREATE INDEX IF NOT EXISTS x …` (both engines write definitions so).
fn idempotent(definition: &str) -> String {
    match definition.strip_prefix("CREATE INDEX ") {
        Some(rest) if !rest.starts_with("IF NOT EXISTS") => format!("CREATE INDEX IF NOT EXISTS {rest}"),
        _ => definition.to_owned(),
    }
}

impl Store {
    /// Sets aside the non-unique indexes of the event tables for a bulk load and returns how
    /// many. The definitions are recorded in the same transaction as the drops.
    pub async fn epcis_defer_indexes(&self) -> Result<usize> {
        let tables = EVENT_TABLES.iter().map(|t| format!("'{t}'")).collect::<Vec<_>>().join(", ");
        let list = match self.engine {
            // `sql IS NULL` for the automatic index of a UNIQUE constraint: kept.
            Engine::Sqlite => format!(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL \
                 AND tbl_name IN ({tables}) ORDER BY name"
            ),
            Engine::Postgres => format!(
                "SELECT indexname::text, indexdef FROM pg_indexes WHERE schemaname = current_schema() \
                 AND tablename IN ({tables}) AND indexdef NOT LIKE 'CREATE UNIQUE INDEX%' ORDER BY indexname"
            ),
        };
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(list)).fetch_all(&mut *tx).await?;
        let at = now();
        for row in &rows {
            let (name, definition): (String, String) = (row.try_get(0)?, row.try_get(1)?);
            sqlx::query("INSERT INTO epcis_deferred_indexes (name, definition, deferred_at) VALUES ($1, $2, $3)")
                .bind(&name)
                .bind(&definition)
                .bind(&at)
                .execute(&mut *tx)
                .await?;
            // Index names come from the catalogue, not from a caller.
            sqlx::query(dyn_sql!("DROP INDEX \"{}\"", name.replace('"', "\"\""))).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(rows.len())
    }

    /// Rebuilds every deferred index (one sorted build each) and returns how many; nothing to
    /// do returns 0 at the cost of one query.
    pub async fn epcis_restore_indexes(&self) -> Result<usize> {
        let rows = sqlx::query("SELECT name, definition FROM epcis_deferred_indexes ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        for row in &rows {
            let (name, definition): (String, String) = (row.try_get(0)?, row.try_get(1)?);
            let mut tx = self.pool.begin().await?;
            sqlx::query(sqlx::AssertSqlSafe(idempotent(&definition))).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM epcis_deferred_indexes WHERE name = $1").bind(&name).execute(&mut *tx).await?;
            tx.commit().await?;
        }
        Ok(rows.len())
    }

    /// How many indexes a bulk load has set aside (0 in normal operation).
    pub async fn epcis_deferred_index_count(&self) -> Result<usize> {
        let n: i64 =
            sqlx::query("SELECT COUNT(*) FROM epcis_deferred_indexes").fetch_one(&self.pool).await?.try_get(0)?;
        Ok(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::idempotent;

    #[test]
    fn definitions_are_made_idempotent_on_both_engines() {
        assert_eq!(
            idempotent("CREATE INDEX epcis_events_type ON epcis_events (event_type)"),
            "CREATE INDEX IF NOT EXISTS epcis_events_type ON epcis_events (event_type)"
        );
        assert_eq!(
            idempotent("CREATE INDEX epcis_epcs_epc ON public.epcis_epcs USING btree (epc, role, event_pk)"),
            "CREATE INDEX IF NOT EXISTS epcis_epcs_epc ON public.epcis_epcs USING btree (epc, role, event_pk)"
        );
    }
}
