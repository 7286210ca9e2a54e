//! The real server on a free port over a fresh database, shared by the API test binaries.
#![allow(dead_code)]

use qgov_domain::{Role, UnifiedCreditCode};
use qgov_store::{Actor, Engine, NewUser, Store, testing};

/// A running server; dropping it shuts the server down.
pub struct App {
    pub base: String,
    pub store: Store,
    pub http: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}
impl Drop for App {
    fn drop(&mut self) {
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
    }
}

pub async fn spawn(engine: Engine) -> App {
    let url = testing::fresh_database(engine).await;
    let store = Store::connect(&url).await.unwrap();
    let app = qgov_web::Application::bind("127.0.0.1:0", store.clone(), qgov_web::Config::default()).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run(async move {
        let _ = rx.await;
    }));
    App { base, store, http: reqwest::Client::new(), shutdown: Some(tx) }
}

pub fn code(body: &str) -> String {
    UnifiedCreditCode::compose("91120116", body).unwrap().to_string()
}

impl App {
    pub async fn token(&self, username: &str, role: Role, entity_id: Option<i64>) -> String {
        // Staff belong to a department (the seeded 区市场监管局 is id 1).
        let department_id = matches!(role, Role::Regulator | Role::Inspector).then_some(1);
        let user = self
            .store
            .create_user(
                &Actor::system(),
                &NewUser { username: username.into(), password: "password-123".into(), role, department_id, entity_id },
            )
            .await
            .unwrap();
        self.store.create_token(&Actor::system(), user.id, "test").await.unwrap().1
    }
}

/// Reads one HTTP/1.1 request from `conn` (head, then a body of Content-Length bytes; 10 s at
/// most), answers `200 OK` and returns the head and the body: a webhook subscriber's side.
pub fn answer_one_request(mut conn: std::net::TcpStream) -> (String, String) {
    use std::io::{Read, Write};
    conn.set_nonblocking(false).unwrap();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = conn.read(&mut buf).unwrap();
        assert!(n > 0, "delivery closed early");
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length: ").map(|v| v.trim().parse().unwrap())
                })
                .unwrap();
            if body.len() >= len {
                conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").unwrap();
                return (head.to_owned(), body.to_owned());
            }
        }
    }
}
