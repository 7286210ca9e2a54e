//! Who is calling: bearer tokens for the API, session cookies for the console, CSRF
//! tokens for console forms, and login throttling.

use crate::AppState;
use crate::problem::ApiError;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use qgov_domain::Role;
use qgov_store::{Actor, SessionInfo, User};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Name of the console session cookie.
pub const SESSION_COOKIE: &str = "qgov_session";

/// An API caller authenticated by `Authorization: Bearer <token>`.
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub user: User,
    pub token_id: i64,
}

impl ApiCaller {
    pub fn actor(&self) -> Actor {
        Actor(format!("user:{} (token {})", self.user.username, self.token_id))
    }
    pub fn role(&self) -> Role {
        self.user.role
    }
    /// Refuse unless the caller may edit registers (admin, regulator).
    pub fn require_editor(&self) -> Result<(), ApiError> {
        if self.user.role.can_edit_registers() {
            Ok(())
        } else {
            Err(ApiError::Forbidden("this action needs an admin or regulator account"))
        }
    }
    /// Refuse unless the caller is an admin.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.user.role.is_admin() { Ok(()) } else { Err(ApiError::Forbidden("this action needs an admin account")) }
    }
    /// Refuse unless the caller may read every record (admin, regulator, inspector).
    pub fn require_reader(&self) -> Result<(), ApiError> {
        if self.user.role.can_read_all() {
            Ok(())
        } else {
            Err(ApiError::Forbidden("enterprise accounts may read only their own records"))
        }
    }
    /// The entity an enterprise account is confined to (`None` for staff).
    pub fn own_entity(&self) -> Option<i64> {
        (self.user.role == Role::Enterprise).then(|| self.user.entity_id.unwrap_or(-1))
    }
}

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else { return Err(ApiError::Unauthorized) };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or(ApiError::Unauthorized)?;
        match state.store.user_by_token(token).await? {
            Some((user, token_id)) => Ok(ApiCaller { user, token_id }),
            None => Err(ApiError::Unauthorized),
        }
    }
}

/// The value of one cookie from the request.
pub fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A console visitor: logged in or not.
#[derive(Debug, Clone)]
pub struct Visitor {
    pub session: Option<SessionInfo>,
}

impl Visitor {
    pub fn user(&self) -> Option<&User> {
        self.session.as_ref().map(|s| &s.user)
    }
    pub fn csrf(&self) -> &str {
        self.session.as_ref().map(|s| s.csrf_token.as_str()).unwrap_or("")
    }
    /// Constant-time comparison of a submitted CSRF token with the session's.
    pub fn csrf_ok(&self, submitted: &str) -> bool {
        let Some(s) = &self.session else { return false };
        let (a, b) = (s.csrf_token.as_bytes(), submitted.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let session = match cookie(parts, SESSION_COOKIE) {
            Some(secret) => state.store.session(secret).await?,
            None => None,
        };
        Ok(Visitor { session })
    }
}

/// Failed-login counter per (client address, username): after `MAX_FAILURES` within
/// `WINDOW` further attempts are refused until the window has passed.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<(IpAddr, String), (u32, Instant)>>,
}

const MAX_FAILURES: u32 = 5;
const WINDOW: Duration = Duration::from_secs(15 * 60);

impl LoginThrottle {
    /// `Err(seconds to wait)` when this client must not try this username now.
    pub fn check(&self, ip: IpAddr, username: &str) -> Result<(), u64> {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let key = (ip, username.to_owned());
        if let Some((n, since)) = map.get(&key).copied() {
            if since.elapsed() >= WINDOW {
                map.remove(&key);
            } else if n >= MAX_FAILURES {
                return Err((WINDOW - since.elapsed()).as_secs().max(1));
            }
        }
        Ok(())
    }
    pub fn failed(&self, ip: IpAddr, username: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (_, since)| since.elapsed() < WINDOW);
        }
        let e = map.entry((ip, username.to_owned())).or_insert((0, Instant::now()));
        e.0 += 1;
    }
    pub fn succeeded(&self, ip: IpAddr, username: &str) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(&(ip, username.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn throttle_blocks_after_five_failures_per_user_and_address() {
        let t = LoginThrottle::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            assert!(t.check(ip, "a").is_ok());
            t.failed(ip, "a");
        }
        assert!(t.check(ip, "a").is_err());
        assert!(t.check(ip, "b").is_ok());
        assert!(t.check("10.0.0.1".parse().unwrap(), "a").is_ok());
    }
}
