//! Fresh databases for tests: a new SQLite file, and a new PostgreSQL database on the
//! server named by `QGOV_TEST_PG_URL` (the test script starts a throw-away cluster
//! when none is given). Not used by the application.

use crate::random_secret;

/// The engines a test suite runs against, each with a fresh, empty database URL.
/// Panics, naming the variable, when `QGOV_TEST_PG_URL` is missing: a PostgreSQL test
/// must never pass by quietly not running.
pub async fn fresh_database(engine: crate::Engine) -> String {
    match engine {
        crate::Engine::Sqlite => {
            let dir = std::env::temp_dir().join("qgov-tests");
            std::fs::create_dir_all(&dir).expect("temp dir");
            format!("sqlite://{}/{}.db", dir.display(), &random_secret()[..16])
        }
        crate::Engine::Postgres => {
            let admin = std::env::var("QGOV_TEST_PG_URL").expect(
                "QGOV_TEST_PG_URL is not set: run ./scripts/test (it starts a throw-away PostgreSQL) \
                 or point it at a server, e.g. postgres://postgres@127.0.0.1:5432/test",
            );
            sqlx::any::install_default_drivers();
            let name = format!("qgov_t_{}", &random_secret()[..16]);
            let mut conn =
                <sqlx::AnyConnection as sqlx::Connection>::connect(&admin).await.expect("connect to QGOV_TEST_PG_URL");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .expect("create test database");
            let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
            let query = admin.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
            format!("{base}/{name}{query}")
        }
    }
}
