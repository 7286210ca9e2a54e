//! A native SQLite connection for bulk capture: multi-row `INSERT`s prepared once and
//! reused (`bind` / `step` / `reset`), without sqlx's per-statement work (argument conversion
//! through the `Any` driver, binding by parameter name, a channel round trip to the worker
//! thread per statement).
//!
//! All `unsafe` code of the store lives here, behind [`RawConn`]'s safe API. It links the
//! same `sqlite3` as sqlx (`libsqlite3-sys` at the version sqlx-sqlite uses; the bundled
//! library is compiled with `SQLITE_THREADSAFE=1`).

use super::V;
use crate::{Result, StoreError};
use libsqlite3_sys as ffi;
use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicI32, Ordering};

/// A column value read back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Out {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

/// One SQLite connection with a cache of prepared statements keyed by their SQL.
pub(crate) struct RawConn {
    db: NonNull<ffi::sqlite3>,
    stmts: HashMap<String, NonNull<ffi::sqlite3_stmt>>,
    /// Frames in the WAL after this connection's last commit, when it counts them
    /// ([`RawConn::count_wal_frames`]); boxed so that its address, which SQLite holds, stays put.
    wal_frames: Option<Box<AtomicI32>>,
}

// SAFETY: the bundled SQLite is built thread-safe (SQLITE_THREADSAFE=1), so a connection and its
// statements may be used from any thread as long as two threads never use them at once; every
// method takes `&mut self`, which Rust's aliasing rules make exclusive.
unsafe impl Send for RawConn {}

fn db_error(msg: String) -> StoreError {
    StoreError::Db(sqlx::Error::Protocol(format!("sqlite: {msg}")))
}

impl RawConn {
    /// Opens the existing database file `path` read-write, with the pool's settings
    /// (busy timeout, foreign keys, `synchronous = NORMAL`; the file is already in WAL mode).
    pub fn open(path: &str) -> Result<Self> {
        let c = CString::new(path).map_err(|_| db_error(format!("bad path {path:?}")))?;
        let mut db: *mut ffi::sqlite3 = ptr::null_mut();
        let flags = ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_NOMUTEX | ffi::SQLITE_OPEN_EXRESCODE;
        // SAFETY: `c` is a valid NUL-terminated string that outlives the call, `db` a valid
        // out-pointer; a null VFS name selects the default VFS.
        let rc = unsafe { ffi::sqlite3_open_v2(c.as_ptr(), &mut db, flags, ptr::null()) };
        let Some(db) = NonNull::new(db) else {
            return Err(db_error(format!("cannot open {path:?} (code {rc})")));
        };
        // From here on `Drop` closes the handle, also on the error paths below.
        let mut conn = RawConn { db, stmts: HashMap::new(), wal_frames: None };
        if rc != ffi::SQLITE_OK {
            return Err(conn.error());
        }
        // SAFETY: `db` is an open connection owned by `conn`.
        unsafe { ffi::sqlite3_busy_timeout(conn.db.as_ptr(), 10_000) };
        conn.exec("PRAGMA foreign_keys = ON")?;
        conn.exec("PRAGMA synchronous = NORMAL")?;
        // This connection writes whole capture documents: a commit dirties thousands of index
        // pages. A 64 MiB cache keeps them from being re-read, and checkpointing every 16,384
        // WAL pages (64 MiB) instead of every 1,000 copies a page rewritten by consecutive
        // captures into the database once (docs/BENCHMARKS.md). Durability is unchanged. (The
        // capture writer goes further: it counts frames and has a thread of its own checkpoint,
        // see `count_wal_frames`.)
        conn.exec("PRAGMA cache_size = -65536")?;
        conn.exec("PRAGMA wal_autocheckpoint = 16384")?;
        // Group commit runs each document in a savepoint, whose statement journal holds a copy
        // of every page the document touches: in memory, not in a temporary file.
        conn.exec("PRAGMA temp_store = MEMORY")?;
        Ok(conn)
    }

    /// From now on this connection counts the WAL's frames after each of its commits instead
    /// of checkpointing itself (SQLite's automatic checkpoint is the WAL hook this replaces):
    /// its owner checkpoints, or has it done elsewhere, by [`RawConn::wal_frames`].
    pub fn count_wal_frames(&mut self) {
        let cell = self.wal_frames.get_or_insert_with(Box::default);
        let ctx = ptr::from_ref::<AtomicI32>(cell).cast_mut().cast::<c_void>();
        // SAFETY: `db` is open; `ctx` points to the boxed counter, which lives as long as this
        // connection (it is dropped after `Drop::drop` has closed the handle) and is only read
        // and written atomically.
        unsafe { ffi::sqlite3_wal_hook(self.db.as_ptr(), Some(count_frames), ctx) };
    }

    /// Frames in the WAL after this connection's last commit (0 unless it counts them).
    pub fn wal_frames(&self) -> i32 {
        self.wal_frames.as_ref().map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// A passive checkpoint: copies into the database every WAL frame no reader still needs,
    /// without waiting for (or blocking) anyone. Returns the WAL's frames and how many of
    /// them are now in the database; `None` when another connection is checkpointing.
    pub fn checkpoint(&mut self) -> Result<Option<(i32, i32)>> {
        let (mut log, mut done) = (0, 0);
        // SAFETY: `db` is open; a null schema name means every attached database; the two
        // out-pointers are valid for the call.
        let rc = unsafe {
            ffi::sqlite3_wal_checkpoint_v2(
                self.db.as_ptr(),
                ptr::null(),
                ffi::SQLITE_CHECKPOINT_PASSIVE,
                &mut log,
                &mut done,
            )
        };
        match rc {
            ffi::SQLITE_OK => Ok(Some((log, done))),
            ffi::SQLITE_BUSY => Ok(None),
            _ => Err(self.error()),
        }
    }

    /// The connection's last error message.
    fn error(&self) -> StoreError {
        // SAFETY: `db` is open; `sqlite3_errmsg` returns a NUL-terminated string owned by the
        // connection, valid until the next call on it, which we copy at once.
        let msg = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(self.db.as_ptr())) };
        // SAFETY: as above.
        let code = unsafe { ffi::sqlite3_extended_errcode(self.db.as_ptr()) };
        db_error(format!("{} (code {code})", msg.to_string_lossy()))
    }

    /// Is a transaction open?
    pub fn in_transaction(&self) -> bool {
        // SAFETY: `db` is open.
        unsafe { ffi::sqlite3_get_autocommit(self.db.as_ptr()) == 0 }
    }

    /// Runs SQL without parameters or results (`BEGIN IMMEDIATE`, `COMMIT`, pragmas).
    pub fn exec(&mut self, sql: &str) -> Result<()> {
        let c = CString::new(sql).map_err(|_| db_error("NUL in SQL".into()))?;
        // SAFETY: `db` is open, `c` is NUL-terminated and outlives the call; no callback, so
        // the callback argument and error out-pointer may be null.
        let rc = unsafe { ffi::sqlite3_exec(self.db.as_ptr(), c.as_ptr(), None, ptr::null_mut(), ptr::null_mut()) };
        if rc != ffi::SQLITE_OK {
            return Err(self.error());
        }
        Ok(())
    }

    /// The prepared statement for `sql`, prepared on first use.
    fn stmt(&mut self, sql: &str) -> Result<NonNull<ffi::sqlite3_stmt>> {
        if let Some(s) = self.stmts.get(sql) {
            return Ok(*s);
        }
        let len = c_int::try_from(sql.len()).map_err(|_| db_error("statement too long".into()))?;
        let mut stmt: *mut ffi::sqlite3_stmt = ptr::null_mut();
        // SAFETY: `db` is open; `sql` points to `len` valid bytes (SQLite reads at most `len`
        // bytes, so no NUL terminator is needed); `stmt` is a valid out-pointer.
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                self.db.as_ptr(),
                sql.as_ptr().cast(),
                len,
                ffi::SQLITE_PREPARE_PERSISTENT as _,
                &mut stmt,
                ptr::null_mut(),
            )
        };
        if rc != ffi::SQLITE_OK {
            if !stmt.is_null() {
                // SAFETY: a statement returned by prepare is ours to finalize, once.
                unsafe { ffi::sqlite3_finalize(stmt) };
            }
            return Err(self.error());
        }
        let stmt = NonNull::new(stmt).ok_or_else(|| db_error(format!("empty statement {sql:?}")))?;
        self.stmts.insert(sql.to_owned(), stmt);
        Ok(stmt)
    }

    /// Binds `vals` to `?1…?n` of `sql`, steps once and hands the statement to `read` when
    /// it produced a row. The statement is reset and its bindings cleared before returning,
    /// whatever happened, so no bound pointer outlives this call.
    fn step<T>(&mut self, sql: &str, vals: &[V], read: impl FnOnce(&RowRef) -> T) -> Result<Option<T>> {
        let stmt = self.stmt(sql)?;
        self.step_prepared(stmt, vals, read)
    }

    /// [`Self::step`] on a statement of this connection's cache.
    fn step_prepared<T>(
        &mut self,
        stmt: NonNull<ffi::sqlite3_stmt>,
        vals: &[V],
        read: impl FnOnce(&RowRef) -> T,
    ) -> Result<Option<T>> {
        let s = stmt.as_ptr();
        let mut result = self.bind(s, vals).map(|()| None);
        if result.is_ok() {
            // SAFETY: `s` is a live statement with all its parameters bound to live values.
            let rc = unsafe { ffi::sqlite3_step(s) };
            result = match rc {
                ffi::SQLITE_DONE => Ok(None),
                ffi::SQLITE_ROW => Ok(Some(read(&RowRef { stmt: s }))),
                _ => Err(self.error()),
            };
        }
        // SAFETY: `s` is a live statement; reset ends its execution and clear_bindings drops
        // every bound pointer (see above). Their return codes repeat the step's error, if any.
        unsafe {
            ffi::sqlite3_reset(s);
            ffi::sqlite3_clear_bindings(s);
        }
        result
    }

    /// Binds `vals` to `?1…?n` of the live statement `s` of this connection. Text is bound
    /// with SQLITE_STATIC: the caller must clear the bindings (`sqlite3_clear_bindings`)
    /// before `vals` goes out of scope.
    fn bind(&self, s: *mut ffi::sqlite3_stmt, vals: &[V]) -> Result<()> {
        for (i, v) in vals.iter().enumerate() {
            let idx = (i + 1) as c_int;
            // SAFETY: `s` is a live statement of this connection. Text is bound with
            // SQLITE_STATIC: SQLite keeps the pointer, without copying, until the binding is
            // replaced or cleared; every caller clears the bindings before `vals` is released,
            // so the pointer is never read after the borrow ends. An out-of-range index just
            // returns SQLITE_RANGE.
            let rc = unsafe {
                match v {
                    V::I(Some(x)) => ffi::sqlite3_bind_int64(s, idx, *x),
                    V::R(Some(x)) => ffi::sqlite3_bind_double(s, idx, *x),
                    V::T(Some(t)) => bind_text(s, idx, t),
                    V::S(t) => bind_text(s, idx, t),
                    V::I(None) | V::R(None) | V::T(None) => ffi::sqlite3_bind_null(s, idx),
                }
            };
            if rc != ffi::SQLITE_OK {
                return Err(self.error());
            }
        }
        Ok(())
    }

    /// Runs a query and hands each row to `read`, in order.
    pub fn each(&mut self, sql: &str, vals: &[V], mut read: impl FnMut(&RowRef)) -> Result<()> {
        let s = self.stmt(sql)?.as_ptr();
        let mut result = self.bind(s, vals);
        while result.is_ok() {
            // SAFETY: `s` is a live statement with all its parameters bound to live values;
            // stepping again after a row is how SQLite yields the next one.
            match unsafe { ffi::sqlite3_step(s) } {
                ffi::SQLITE_ROW => read(&RowRef { stmt: s }),
                ffi::SQLITE_DONE => break,
                _ => result = Err(self.error()),
            }
        }
        // SAFETY: as in `step_prepared`: reset, and drop every bound pointer.
        unsafe {
            ffi::sqlite3_reset(s);
            ffi::sqlite3_clear_bindings(s);
        }
        result
    }

    /// Runs a statement that returns no rows.
    pub fn run(&mut self, sql: &str, vals: &[V]) -> Result<()> {
        self.step(sql, vals, |_| ()).map(|_| ())
    }

    /// The first row of a query, its first `n` columns.
    pub fn row(&mut self, sql: &str, vals: &[V], n: usize) -> Result<Option<Vec<Out>>> {
        self.step(sql, vals, |r| (0..n).map(|i| r.get(i)).collect())
    }
}

/// The current row of a statement, valid only inside the `read` of [`RawConn::step`] or
/// [`RawConn::each`].
pub(crate) struct RowRef {
    stmt: *mut ffi::sqlite3_stmt,
}

impl RowRef {
    pub fn get(&self, i: usize) -> Out {
        let i = i as c_int;
        // SAFETY: `stmt` is a live statement that has just returned SQLITE_ROW (RowRef is only
        // built then and does not escape the closure); out-of-range columns read as NULL. The
        // text pointer and byte count are read in the order SQLite documents (text, then
        // bytes) and copied before any other call on the statement.
        unsafe {
            match ffi::sqlite3_column_type(self.stmt, i) {
                ffi::SQLITE_INTEGER => Out::Int(ffi::sqlite3_column_int64(self.stmt, i)),
                ffi::SQLITE_FLOAT => Out::Real(ffi::sqlite3_column_double(self.stmt, i)),
                ffi::SQLITE_NULL => Out::Null,
                _ => {
                    let p = ffi::sqlite3_column_text(self.stmt, i);
                    let n = ffi::sqlite3_column_bytes(self.stmt, i);
                    if p.is_null() {
                        Out::Null
                    } else {
                        let bytes = std::slice::from_raw_parts(p, n.max(0) as usize);
                        Out::Text(String::from_utf8_lossy(bytes).into_owned())
                    }
                }
            }
        }
    }
}

/// Binds `t` to parameter `idx` of `s` without copying (SQLITE_STATIC).
///
/// # Safety
/// `s` must be a live statement, and the binding must be cleared before `t` is released.
unsafe fn bind_text(s: *mut ffi::sqlite3_stmt, idx: c_int, t: &str) -> c_int {
    match c_int::try_from(t.len()) {
        // SAFETY: per this function's contract; `t` is valid for `n` bytes.
        Ok(n) => unsafe { ffi::sqlite3_bind_text(s, idx, t.as_ptr().cast(), n, ffi::SQLITE_STATIC()) },
        Err(_) => ffi::SQLITE_TOOBIG,
    }
}

/// The WAL hook of [`RawConn::count_wal_frames`]: records the frame count, checkpoints nothing.
unsafe extern "C" fn count_frames(
    ctx: *mut c_void,
    _db: *mut ffi::sqlite3,
    _name: *const c_char,
    frames: c_int,
) -> c_int {
    // SAFETY: `ctx` is the counter boxed in the `RawConn` that registered this hook, alive
    // while its connection is open (see `count_wal_frames`).
    let cell = unsafe { &*ctx.cast_const().cast::<AtomicI32>() };
    cell.store(frames, Ordering::Relaxed);
    ffi::SQLITE_OK
}

impl Drop for RawConn {
    fn drop(&mut self) {
        for (_, s) in self.stmts.drain() {
            // SAFETY: each cached statement was prepared on this connection and is finalized
            // exactly once, here.
            unsafe { ffi::sqlite3_finalize(s.as_ptr()) };
        }
        // SAFETY: all statements are finalized; the handle is closed once and never used again.
        unsafe { ffi::sqlite3_close(self.db.as_ptr()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_on_a_scratch_file() {
        let dir = std::env::temp_dir().join(format!("qgov-native-{}", crate::random_secret()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        std::fs::File::create(&path).unwrap();
        let mut c = RawConn::open(path.to_str().unwrap()).unwrap();
        c.exec("CREATE TABLE t (a INTEGER, b REAL, c TEXT)").unwrap();
        c.exec("BEGIN IMMEDIATE").unwrap();
        assert!(c.in_transaction());
        for i in 0..3 {
            c.run(
                "INSERT INTO t (a, b, c) VALUES (?1, ?2, ?3)",
                &[V::I(Some(i)), V::R(None), V::T(Some(format!("x{i}")))],
            )
            .unwrap();
        }
        c.exec("COMMIT").unwrap();
        let r = c.row("SELECT COUNT(*), MAX(c), MAX(b) FROM t", &[], 3).unwrap();
        assert_eq!(r, Some(vec![Out::Int(3), Out::Text("x2".into()), Out::Null]));
        assert!(c.run("INSERT INTO nope VALUES (1)", &[]).is_err());
        assert_eq!(c.row("SELECT c FROM t WHERE a = ?1", &[V::I(Some(7))], 1).unwrap(), None);
        let mut seen = Vec::new();
        c.each("SELECT a, c FROM t WHERE a >= ?1 ORDER BY a", &[V::I(Some(1))], |r| seen.push((r.get(0), r.get(1))))
            .unwrap();
        assert_eq!(seen, [(Out::Int(1), Out::Text("x1".into())), (Out::Int(2), Out::Text("x2".into()))]);
        assert!(c.each("SELECT nope FROM t", &[], |_| ()).is_err());
        drop(c);
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn wal_frames_are_counted_and_left_for_another_connection_to_checkpoint() {
        let dir = std::env::temp_dir().join(format!("qgov-native-{}", crate::random_secret()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("w.db");
        std::fs::File::create(&path).unwrap();
        let path = path.to_str().unwrap();
        let mut c = RawConn::open(path).unwrap();
        c.exec("PRAGMA journal_mode = WAL").unwrap();
        // An automatic checkpoint every 10 frames, which counting replaces.
        c.exec("PRAGMA wal_autocheckpoint = 10").unwrap();
        c.count_wal_frames();
        assert_eq!(c.wal_frames(), 0);
        c.exec("CREATE TABLE t (a INTEGER, b TEXT)").unwrap();
        let mut after = Vec::new();
        for round in 0..3 {
            c.exec("BEGIN IMMEDIATE").unwrap();
            for i in 0..100 {
                c.run(
                    "INSERT INTO t (a, b) VALUES (?1, ?2)",
                    &[V::I(Some(round * 100 + i)), V::T(Some("x".repeat(500)))],
                )
                .unwrap();
            }
            c.exec("COMMIT").unwrap();
            after.push(c.wal_frames());
        }
        // Not checkpointed: the WAL only grew (an automatic checkpoint would have let the
        // next commit start it over).
        assert!(after[0] > 10 && after[0] < after[1] && after[1] < after[2], "{after:?}");
        let mut other = RawConn::open(path).unwrap();
        assert_eq!(other.checkpoint().unwrap(), Some((after[2], after[2])));
        // Everything is in the database now, so the next commit starts the WAL over.
        c.exec("BEGIN IMMEDIATE").unwrap();
        c.run("INSERT INTO t (a, b) VALUES (1, 'y')", &[]).unwrap();
        c.exec("COMMIT").unwrap();
        assert!(c.wal_frames() < after[0], "{} frames", c.wal_frames());
        drop((c, other));
        std::fs::remove_dir_all(dir).ok();
    }
}
