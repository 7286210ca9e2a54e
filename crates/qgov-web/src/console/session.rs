//! Signing in and out of the console. A failed login never says whether the user
//! exists; repeated failures per (address, user name) are throttled.

use super::links::safe_back;
use super::{Chrome, OrFail, PageResult, Signed, render};
use crate::AppState;
use crate::auth::SESSION_COOKIE;
use crate::i18n::Tr;
use askama::Template;
use axum::Router;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Form, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

pub fn router() -> Router<AppState> {
    Router::new().route("/console/login", get(login_form).post(login)).route("/console/logout", post(logout))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    c: Chrome,
    t: Tr,
    username: String,
    next: String,
    error: Option<String>,
    /// Pre-session CSRF token (double-submit: also in the `qgov_login_csrf` cookie).
    login_csrf: String,
}

/// Cookie carrying the login form's CSRF token. There is no session before login, so
/// the form and this cookie must carry the same random value (double submit): another
/// site can make a browser post the form but cannot read or set the cookie.
const LOGIN_CSRF_COOKIE: &str = "qgov_login_csrf";

fn login_page(t: Tr, username: String, next: &str, error: Option<String>, login_csrf: &str) -> LoginPage {
    LoginPage {
        c: Chrome::public(t, t.get("login-title"), "/console/login"),
        t,
        username,
        next: safe_back(next).to_owned(),
        error,
        login_csrf: login_csrf.to_owned(),
    }
}

fn login_csrf_cookie(token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{LOGIN_CSRF_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/console/login{secure}")
}

async fn login_form(State(s): State<AppState>, t: Tr, Query(p): Query<HashMap<String, String>>) -> PageResult {
    let next = p.get("next").map(String::as_str).unwrap_or("/console");
    let token = qgov_store::random_secret();
    let mut res = render(StatusCode::OK, &login_page(t, String::new(), next, None, &token));
    if let Ok(v) = login_csrf_cookie(&token, s.config.secure_cookies).parse() {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}

/// Constant-time equality of two tokens.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The client address (the connection's peer; unknown in tests without a socket).
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        Ok(ClientIp(ip))
    }
}

async fn login(
    State(s): State<AppState>,
    t: Tr,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    let cookie_token = cookie_value(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    let form_token = f.get("csrf").map(String::as_str).unwrap_or("");
    if cookie_token.is_empty() || !same_token(&cookie_token, form_token) {
        return Err(super::Failure::bad_csrf(t));
    }
    let username = f.get("username").map(|u| u.trim().to_owned()).unwrap_or_default();
    let password = f.get("password").cloned().unwrap_or_default();
    let next = f.get("next").map(String::as_str).unwrap_or("/console");
    if let Err(secs) = s.throttle.check(ip, &username) {
        let msg = t.arg("login-throttled", "minutes", secs.div_ceil(60));
        let mut res = render(StatusCode::TOO_MANY_REQUESTS, &login_page(t, username, next, Some(msg), &cookie_token));
        res.headers_mut().insert(header::RETRY_AFTER, secs.into());
        return Ok(res);
    }
    let user = if username.is_empty() || password.is_empty() {
        None
    } else {
        s.store.check_password(&username, &password).await.or_fail(t)?
    };
    let Some(user) = user.filter(|u| u.active) else {
        s.throttle.failed(ip, &username);
        return Ok(render(
            StatusCode::UNAUTHORIZED,
            &login_page(t, username, next, Some(t.get("login-failed")), &cookie_token),
        ));
    };
    s.throttle.succeeded(ip, &username);
    let (secret, _) = s.store.create_session(&user).await.or_fail(t)?;
    let secure = if s.config.secure_cookies { "; Secure" } else { "" };
    let cookie = format!("{SESSION_COOKIE}={secret}; HttpOnly; SameSite=Lax; Path=/{secure}");
    let target = match safe_back(next) {
        "/" => "/console",
        other => other,
    };
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(target)).into_response())
}

async fn logout(
    State(s): State<AppState>,
    who: Signed,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> PageResult {
    who.check_csrf(f.get("csrf"))?;
    if let Some(secret) = session_secret(&headers) {
        s.store.delete_session(&secret).await.or_fail(who.t)?;
    }
    let secure = if s.config.secure_cookies { "; Secure" } else { "" };
    let cookie = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0{secure}");
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response())
}

fn session_secret(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, SESSION_COOKIE)
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let (mut parts, _) = axum::http::Request::new(()).into_parts();
    parts.headers = headers.clone();
    crate::auth::cookie(&parts, name).map(str::to_owned)
}
