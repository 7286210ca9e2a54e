//! Accounts: users with argon2 password hashes, bearer API tokens and console
//! sessions. Secrets (tokens, session ids) are stored only as SHA-256 hashes.

use crate::audit::WriteTx;
use crate::{Actor, Result, Store, StoreError, now, on_unique, random_secret, secret_hash};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use qgov_domain::{FieldErrors, Role};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

/// A user account (never carries the password hash out of the store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: i64,
    pub username: String,
    #[schema(value_type = String, example = "regulator")]
    pub role: Role,
    /// The department / responsible unit of a regulator or inspector.
    pub department_id: Option<i64>,
    /// The market entity an enterprise account is bound to.
    pub entity_id: Option<i64>,
    pub active: bool,
    pub created_at: String,
}

/// What is needed to create an account.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub role: Role,
    pub department_id: Option<i64>,
    pub entity_id: Option<i64>,
}

/// An API token as listed (the secret itself is shown once, at creation).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// A live console session.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub user: User,
    pub csrf_token: String,
}

const USER_COLS: &str = "u.id, u.username, u.role, u.department_id, u.entity_id, u.active, u.created_at";
/// Console sessions last 12 hours.
const SESSION_HOURS: i64 = 12;

fn user_from_row(row: &AnyRow) -> Result<User> {
    let role: String = row.try_get("role")?;
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        role: role.parse().map_err(|e: qgov_domain::role::UnknownRole| sqlx::Error::Decode(e.into()))?,
        department_id: row.try_get("department_id")?,
        entity_id: row.try_get("entity_id")?,
        active: row.try_get::<i64, _>("active")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

fn hash_password(password: &str) -> String {
    let mut bytes = [0u8; 16];
    rand::fill(&mut bytes);
    let salt = SaltString::encode_b64(&bytes).expect("16 bytes is a valid salt length");
    Argon2::default().hash_password(password.as_bytes(), &salt).expect("argon2 with default parameters").to_string()
}

impl Store {
    /// Create an account. Enterprise accounts must name their entity; regulators and
    /// inspectors may name their department.
    pub async fn create_user(&self, actor: &Actor, new: &NewUser) -> Result<User> {
        let mut errs = FieldErrors::new();
        if new.username.trim().is_empty() || new.username.len() > 60 {
            errs.push("username", "required", "must be 1 to 60 characters");
        }
        if new.password.chars().count() < 8 {
            errs.push("password", "too-short", "must be at least 8 characters");
        }
        match new.role {
            Role::Enterprise if new.entity_id.is_none() => {
                errs.push("enterprise", "required", "an enterprise account must be bound to a market entity")
            }
            Role::Regulator | Role::Inspector if new.department_id.is_none() => errs.push(
                "department",
                "required",
                "a regulator or inspector belongs to a department / responsible unit",
            ),
            Role::Admin | Role::Regulator | Role::Inspector if new.entity_id.is_some() => {
                errs.push("enterprise", "not-allowed", "only enterprise accounts are bound to a market entity")
            }
            _ => {}
        }
        if !errs.is_empty() {
            return Err(StoreError::Invalid(errs));
        }
        let hash = hash_password(&new.password);
        let mut w = WriteTx::begin(self).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (username, password_hash, role, department_id, entity_id, active, created_at) \
             VALUES ($1, $2, $3, $4, $5, 1, $6) RETURNING id",
        )
        .bind(new.username.trim())
        .bind(&hash)
        .bind(new.role.as_str())
        .bind(new.department_id)
        .bind(new.entity_id)
        .bind(now())
        .fetch_one(&mut *w.tx)
        .await
        .map_err(|e| on_unique(e, "username", &new.username))?;
        let user = fetch_user(&mut *w.tx, id).await?;
        w.audit(actor, "user.create", "user", &id.to_string(), &(), &user).await?;
        w.commit().await?;
        Ok(user)
    }

    pub async fn user_by_id(&self, id: i64) -> Result<User> {
        fetch_user(&self.pool, id).await
    }

    pub async fn user_by_username(&self, username: &str) -> Result<User> {
        let row = sqlx::query(dyn_sql!("SELECT {USER_COLS} FROM users u WHERE u.username = $1"))
            .bind(username)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        user_from_row(&row)
    }

    /// Check a password. `None` for an unknown user, a wrong password or an inactive
    /// account (the caller cannot tell which, by design).
    pub async fn check_password(&self, username: &str, password: &str) -> Result<Option<User>> {
        let row = sqlx::query(dyn_sql!("SELECT {USER_COLS}, u.password_hash FROM users u WHERE u.username = $1"))
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            // Spend the same time as a real check so timing does not reveal usernames.
            let dummy = DUMMY_HASH.get_or_init(|| hash_password("qgov-timing-equaliser"));
            if let Ok(h) = PasswordHash::new(dummy) {
                let _ = Argon2::default().verify_password(password.as_bytes(), &h);
            }
            return Ok(None);
        };
        let stored: String = row.try_get("password_hash")?;
        let ok = PasswordHash::new(&stored)
            .map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
            .unwrap_or(false);
        let user = user_from_row(&row)?;
        Ok((ok && user.active).then_some(user))
    }

    /// Create a bearer token for `user_id`; returns the listing and the secret, which
    /// is shown once and stored only hashed.
    pub async fn create_token(&self, actor: &Actor, user_id: i64, name: &str) -> Result<(ApiToken, String)> {
        let secret = format!("qgov_{}", random_secret());
        let mut w = WriteTx::begin(self).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO api_tokens (user_id, token_hash, name, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(user_id)
        .bind(secret_hash(&secret))
        .bind(name)
        .bind(now())
        .fetch_one(&mut *w.tx)
        .await?;
        let token = fetch_token(&mut *w.tx, id).await?;
        w.audit(actor, "token.create", "user", &user_id.to_string(), &(), &token).await?;
        w.commit().await?;
        Ok((token, secret))
    }

    /// The active user behind a bearer token, if the token is known and not revoked.
    pub async fn user_by_token(&self, secret: &str) -> Result<Option<(User, i64)>> {
        let row = sqlx::query(dyn_sql!(
            "SELECT {USER_COLS}, t.id AS token_id FROM api_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.active = 1"
        ))
        .bind(secret_hash(secret))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((user_from_row(&r)?, r.try_get("token_id")?))).transpose()
    }

    pub async fn list_tokens(&self, user_id: i64) -> Result<Vec<ApiToken>> {
        let rows =
            sqlx::query("SELECT id, name, created_at, revoked_at FROM api_tokens WHERE user_id = $1 ORDER BY id")
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(token_from_row).collect()
    }

    /// Revoke one of `user_id`'s tokens.
    pub async fn revoke_token(&self, actor: &Actor, user_id: i64, token_id: i64) -> Result<ApiToken> {
        let mut w = WriteTx::begin(self).await?;
        let n =
            sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL")
                .bind(now())
                .bind(token_id)
                .bind(user_id)
                .execute(&mut *w.tx)
                .await?
                .rows_affected();
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        let token = fetch_token(&mut *w.tx, token_id).await?;
        w.audit(actor, "token.revoke", "user", &user_id.to_string(), &(), &token).await?;
        w.commit().await?;
        Ok(token)
    }

    /// Open a console session; returns the session secret (for the cookie).
    pub async fn create_session(&self, user: &User) -> Result<(String, SessionInfo)> {
        let secret = random_secret();
        let csrf = random_secret();
        let created = time::OffsetDateTime::now_utc();
        let expires = created + time::Duration::hours(SESSION_HOURS);
        let fmt = &time::format_description::well_known::Rfc3339;
        let mut w = WriteTx::begin(self).await?;
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(secret_hash(&secret))
        .bind(user.id)
        .bind(&csrf)
        .bind(now())
        .bind(expires.format(fmt).unwrap_or_default())
        .execute(&mut *w.tx)
        .await?;
        w.audit(&Actor::user(&user.username), "session.login", "user", &user.id.to_string(), &(), &()).await?;
        w.commit().await?;
        Ok((secret, SessionInfo { user: user.clone(), csrf_token: csrf }))
    }

    /// The live session behind a cookie secret.
    pub async fn session(&self, secret: &str) -> Result<Option<SessionInfo>> {
        let row = sqlx::query(dyn_sql!(
            "SELECT {USER_COLS}, s.csrf_token, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id_hash = $1 AND u.active = 1"
        ))
        .bind(secret_hash(secret))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let expires: String = row.try_get("expires_at")?;
        let fmt = &time::format_description::well_known::Rfc3339;
        let live =
            time::OffsetDateTime::parse(&expires, fmt).map(|e| e > time::OffsetDateTime::now_utc()).unwrap_or(false);
        if !live {
            return Ok(None);
        }
        Ok(Some(SessionInfo { user: user_from_row(&row)?, csrf_token: row.try_get("csrf_token")? }))
    }

    /// End a session (logout).
    pub async fn delete_session(&self, secret: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(secret_hash(secret)).execute(&self.pool).await?;
        Ok(())
    }

    /// Activate or deactivate an account. A deactivated account cannot sign in, and its
    /// sessions and tokens stop working at once (every check joins on `active`).
    pub async fn set_user_active(&self, actor: &Actor, user_id: i64, active: bool) -> Result<User> {
        let mut w = WriteTx::begin(self).await?;
        let before = fetch_user(&mut *w.tx, user_id).await?;
        sqlx::query("UPDATE users SET active = $1 WHERE id = $2")
            .bind(i64::from(active))
            .bind(user_id)
            .execute(&mut *w.tx)
            .await?;
        if !active {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(&mut *w.tx).await?;
        }
        let after = fetch_user(&mut *w.tx, user_id).await?;
        let action = if active { "user.activate" } else { "user.deactivate" };
        w.audit(actor, action, "user", &user_id.to_string(), &before, &after).await?;
        w.commit().await?;
        Ok(after)
    }

    /// All users, for the admin console.
    pub async fn list_users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query(dyn_sql!("SELECT {USER_COLS} FROM users u ORDER BY u.id")).fetch_all(&self.pool).await?;
        rows.iter().map(user_from_row).collect()
    }
}

/// A real argon2 hash, verified against when the user is unknown.
static DUMMY_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

async fn fetch_user<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(e: E, id: i64) -> Result<User> {
    let row = sqlx::query(dyn_sql!("SELECT {USER_COLS} FROM users u WHERE u.id = $1"))
        .bind(id)
        .fetch_optional(e)
        .await?
        .ok_or(StoreError::NotFound)?;
    user_from_row(&row)
}

fn token_from_row(row: &AnyRow) -> Result<ApiToken> {
    Ok(ApiToken {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        created_at: row.try_get("created_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

async fn fetch_token<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(e: E, id: i64) -> Result<ApiToken> {
    let row = sqlx::query("SELECT id, name, created_at, revoked_at FROM api_tokens WHERE id = $1")
        .bind(id)
        .fetch_one(e)
        .await?;
    token_from_row(&row)
}
