//! Users, roles, sessions and API keys: the storage side of access control. The SQL is the same
//! for both dialects (sqlx's SQLite driver reads `$n` placeholders too), written once in
//! `accounts_engine!`.

use auditrail_model::{Account, Permission, Projects, Role, User};
use chrono::{DateTime, Utc};

use crate::StorageError;

/// Session tokens start with this, API keys with `atr_`: a leaked string says what it is.
pub(crate) const SESSION_PREFIX: &str = "ats_";

/// What signing in checks a password against.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

/// What one sign-in attempt may do, decided (and counted) before its password is checked, so
/// that guesses sent in parallel cannot all slip in before the count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInAttempt {
    /// The account is locked for this client network: refuse without checking.
    Locked,
    /// Check the password. `last`: if it is wrong, the account is now locked for this network.
    Allowed { last: bool },
}

/// A session as found by its token. Expired sessions are returned too, so the caller can
/// record the expiry before ending it.
#[derive(Debug, Clone)]
pub struct Session {
    pub account: Account,
    pub expires_at: DateTime<Utc>,
}

/// `id, email, role, projects, deactivated_at`
pub(crate) type UserRow = (String, String, String, Option<String>, Option<i64>);

/// A stored project list. Written only through `Projects::to_list`; one that does not parse
/// (edited by hand, say) refuses the request rather than falling back to every project.
pub(crate) fn stored_projects(whose: &str, raw: Option<&str>) -> Result<Projects, StorageError> {
    let unreadable =
        |why: String| StorageError::Unreadable(format!("the project list of {whose}: {why}"));
    // Only NULL means every project: a blank list was not written by the app.
    let Some(raw) = raw else { return Ok(Projects::All) };
    match Projects::parse(raw).map_err(|e| unreadable(e.to_string()))? {
        Projects::All => Err(unreadable("blank".into())),
        only => Ok(only),
    }
}

pub(crate) fn stored_permissions(whose: &str, raw: &str) -> Result<Vec<Permission>, StorageError> {
    Permission::parse_list(raw)
        .map_err(|e| StorageError::Unreadable(format!("the permissions of {whose}: {e}")))
}

pub(crate) fn user_from_row(
    (id, email, role, projects, deactivated_at): UserRow,
) -> Result<User, StorageError> {
    let projects = stored_projects(&format!("user {id}"), projects.as_deref())?;
    Ok(User { id, email, role, projects, active: deactivated_at.is_none() })
}

pub(crate) fn role_from_row(
    (name, permissions, builtin): (String, String, i64),
) -> Result<Role, StorageError> {
    let permissions = stored_permissions(&format!("role {name}"), &permissions)?;
    Ok(Role { name, permissions, builtin: builtin != 0 })
}

pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub(crate) fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// Implements the account methods on `$store` (which has `pool` and `writer` fields, and `begin_write` and
/// `record_in` from `store_engine!`).
macro_rules! accounts_engine {
    ($store:ident, $db:ty) => {
        use auditrail_model::{Account, Permission, Role, User};

        use crate::accounts::{
            Credentials, Session, SignInAttempt, UserRow, from_micros, micros, role_from_row,
            stored_permissions, user_from_row,
        };
        use crate::api_keys::ApiKeyRow;
        use auditrail_model::{ApiKey, Scope};

        use crate::NewApiKey;

        const USER_COLUMNS: &str = "id, email, role, projects, deactivated_at";

        /// True when a unique constraint refused the write.
        fn is_conflict(err: &sqlx::Error) -> bool {
            matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
        }

        /// Refuses a change that would leave users but nobody able to manage them.
        async fn ensure_a_manager(tx: &mut Transaction<'static, $db>) -> Result<(), StorageError> {
            let (users, managers): (i64, i64) = sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM users u \
                 JOIN roles r ON r.name = u.role WHERE u.deactivated_at IS NULL \
                 AND (',' || r.permissions || ',') LIKE '%,users.manage,%')",
            )
            .fetch_one(&mut **tx)
            .await?;
            if users > 0 && managers == 0 {
                return Err(StorageError::Invalid(
                    "at least one active user must keep the users.manage permission".into(),
                ));
            }
            Ok(())
        }

        async fn role_exists(
            tx: &mut Transaction<'static, $db>,
            name: &str,
        ) -> Result<bool, StorageError> {
            let found: Option<(String,)> = sqlx::query_as("SELECT name FROM roles WHERE name = $1")
                .bind(name)
                .fetch_optional(&mut **tx)
                .await?;
            Ok(found.is_some())
        }

        /// Commits a change with its records, or, when it changed nothing (no such key, user
        /// or session), rolls back and records nothing. `true` when it changed something.
        async fn commit_if_changed(
            mut tx: Transaction<'static, $db>,
            changed: bool,
            records: &[auditrail_model::NewEvent],
        ) -> Result<bool, StorageError> {
            if !changed {
                return Ok(false);
            }
            record_in(&mut tx, records).await?;
            tx.commit().await?;
            Ok(true)
        }

        /// The deployment's signing key, made on the first open; when several servers start
        /// at once, the first insert wins and all read that one.
        async fn load_signing_key(
            pool: &sqlx::Pool<$db>,
        ) -> Result<crate::secret::SigningKey, StorageError> {
            sqlx::query(
                "INSERT INTO server_secrets (name, value) VALUES ('signing', $1) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(crate::secret::generate(""))
            .execute(pool)
            .await?;
            let (value,): (String,) =
                sqlx::query_as("SELECT value FROM server_secrets WHERE name = 'signing'")
                    .fetch_one(pool)
                    .await?;
            let key = hex::decode(&value)
                .map_err(|_| StorageError::Unreadable("the stored signing key".into()))?;
            Ok(crate::secret::SigningKey(key.into()))
        }

        impl $store {
            pub fn signing_key(&self) -> &[u8] {
                &self.signing_key.0
            }

            pub async fn insert_api_key(
                &self,
                key: &NewApiKey,
                now: DateTime<Utc>,
                records: &[auditrail_model::NewEvent],
            ) -> Result<(), StorageError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO api_keys (id, name, secret_hash, created_at, scopes, projects) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&key.key.id)
                .bind(&key.key.name)
                .bind(crate::secret::hash(&key.secret))
                .bind(micros(now))
                .bind(Scope::join(&key.key.scopes))
                .bind(key.key.projects.to_list())
                .execute(&mut *tx)
                .await?;
                record_in(&mut tx, records).await?;
                tx.commit().await?;
                Ok(())
            }

            pub async fn find_api_key(&self, hash: &str) -> Result<Option<ApiKey>, StorageError> {
                let row: Option<ApiKeyRow> = sqlx::query_as(
                    "SELECT id, name, scopes, projects, revoked_at FROM api_keys \
                     WHERE revoked_at IS NULL AND secret_hash = $1",
                )
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?;
                row.map(crate::api_keys::from_row).transpose()
            }

            pub async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StorageError> {
                let rows: Vec<ApiKeyRow> = sqlx::query_as(
                    "SELECT id, name, scopes, projects, revoked_at FROM api_keys \
                     ORDER BY created_at, id",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(crate::api_keys::from_row).collect()
            }

            pub async fn revoke_api_key(
                &self,
                id: &str,
                now: DateTime<Utc>,
                records: &[auditrail_model::NewEvent],
            ) -> Result<bool, StorageError> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query(
                    "UPDATE api_keys SET revoked_at = $1 WHERE revoked_at IS NULL AND id = $2",
                )
                .bind(micros(now))
                .bind(id)
                .execute(&mut *tx)
                .await?;
                commit_if_changed(tx, done.rows_affected() == 1, records).await
            }

            pub async fn roles(&self) -> Result<Vec<Role>, StorageError> {
                let rows: Vec<(String, String, i64)> = sqlx::query_as(
                    "SELECT name, permissions, builtin FROM roles ORDER BY builtin DESC, name",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(role_from_row).collect()
            }

            pub async fn save_role(
                &self,
                name: &str,
                permissions: &[Permission],
                now: DateTime<Utc>,
                records: &[auditrail_model::NewEvent],
            ) -> Result<(), StorageError> {
                let mut tx = self.begin_write().await?;
                let saved = sqlx::query(
                    "INSERT INTO roles (name, permissions, builtin, created_at) \
                     VALUES ($1, $2, 0, $3) ON CONFLICT (name) DO UPDATE \
                     SET permissions = excluded.permissions WHERE roles.builtin = 0",
                )
                .bind(name)
                .bind(Permission::join(permissions))
                .bind(micros(now))
                .execute(&mut *tx)
                .await?;
                if saved.rows_affected() == 0 {
                    return Err(StorageError::Invalid(format!(
                        "{name} is a built-in role and cannot be changed"
                    )));
                }
                ensure_a_manager(&mut tx).await?;
                record_in(&mut tx, records).await?;
                tx.commit().await?;
                Ok(())
            }

            /// `false` when no such role exists.
            pub async fn delete_role(
                &self,
                name: &str,
                records: &[auditrail_model::NewEvent],
            ) -> Result<bool, StorageError> {
                let mut tx = self.begin_write().await?;
                let role: Option<(i64,)> =
                    sqlx::query_as("SELECT builtin FROM roles WHERE name = $1")
                        .bind(name)
                        .fetch_optional(&mut *tx)
                        .await?;
                match role {
                    None => return Ok(false),
                    Some((builtin,)) if builtin != 0 => {
                        return Err(StorageError::Invalid(format!(
                            "{name} is a built-in role and cannot be deleted"
                        )));
                    }
                    Some(_) => {}
                }
                let (holders,): (i64,) =
                    sqlx::query_as("SELECT COUNT(*) FROM users WHERE role = $1")
                        .bind(name)
                        .fetch_one(&mut *tx)
                        .await?;
                if holders > 0 {
                    return Err(StorageError::Conflict(format!(
                        "{holders} user(s) still have the role {name}; give them another role first"
                    )));
                }
                sqlx::query("DELETE FROM roles WHERE name = $1").bind(name).execute(&mut *tx).await?;
                record_in(&mut tx, records).await?;
                tx.commit().await?;
                Ok(true)
            }

            pub async fn insert_user(
                &self,
                user: &User,
                password_hash: &str,
                now: DateTime<Utc>,
                records: &[auditrail_model::NewEvent],
            ) -> Result<(), StorageError> {
                let mut tx = self.begin_write().await?;
                if !role_exists(&mut tx, &user.role).await? {
                    return Err(StorageError::Invalid(format!("there is no role {}", user.role)));
                }
                sqlx::query(
                    "INSERT INTO users (id, email, role, projects, password_hash, created_at, \
                     deactivated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&user.id)
                .bind(&user.email)
                .bind(&user.role)
                .bind(user.projects.to_list())
                .bind(password_hash)
                .bind(micros(now))
                .bind((!user.active).then_some(micros(now)))
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    if is_conflict(&e) {
                        StorageError::Conflict(format!("a user with email {} exists", user.email))
                    } else {
                        e.into()
                    }
                })?;
                record_in(&mut tx, records).await?;
                tx.commit().await?;
                Ok(())
            }

            pub async fn users(&self) -> Result<Vec<User>, StorageError> {
                let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY email");
                let rows: Vec<UserRow> =
                    sqlx::query_as(AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
                rows.into_iter().map(user_from_row).collect()
            }

            pub async fn user(&self, id: &str) -> Result<Option<User>, StorageError> {
                let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
                let row: Option<UserRow> = sqlx::query_as(AssertSqlSafe(sql))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(user_from_row).transpose()
            }

            pub async fn credentials(&self, email: &str) -> Result<Option<Credentials>, StorageError> {
                let row: Option<(String, String, String, Option<String>, Option<i64>, String)> =
                    sqlx::query_as(
                        "SELECT id, email, role, projects, deactivated_at, password_hash \
                         FROM users WHERE email = $1",
                    )
                    .bind(email)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|(id, email, role, projects, deactivated, password_hash)| {
                    Ok(Credentials {
                        user: user_from_row((id, email, role, projects, deactivated))?,
                        password_hash,
                    })
                })
                .transpose()
            }

            /// Changes role, projects and whether the user may sign in. Deactivating ends the
            /// user's sessions in the same transaction.
            pub async fn update_user(
                &self,
                user: &User,
                now: DateTime<Utc>,
                records: &[auditrail_model::NewEvent],
            ) -> Result<bool, StorageError> {
                let mut tx = self.begin_write().await?;
                if !role_exists(&mut tx, &user.role).await? {
                    return Err(StorageError::Invalid(format!("there is no role {}", user.role)));
                }
                let done = sqlx::query(
                    "UPDATE users SET role = $1, projects = $2, deactivated_at = CASE \
                     WHEN $3 = 1 THEN NULL ELSE COALESCE(deactivated_at, $4) END WHERE id = $5",
                )
                .bind(&user.role)
                .bind(user.projects.to_list())
                .bind(i64::from(user.active))
                .bind(micros(now))
                .bind(&user.id)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                if !user.active {
                    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                        .bind(&user.id)
                        .execute(&mut *tx)
                        .await?;
                }
                ensure_a_manager(&mut tx).await?;
                record_in(&mut tx, records).await?;
                tx.commit().await?;
                Ok(true)
            }

            /// Sets a new password hash, lifts any lock and ends the user's sessions.
            pub async fn set_password(
                &self,
                id: &str,
                password_hash: &str,
                records: &[auditrail_model::NewEvent],
            ) -> Result<bool, StorageError> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                    .bind(password_hash)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM sign_in_failures WHERE user_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                commit_if_changed(tx, done.rows_affected() == 1, records).await
            }

            pub async fn count_users(&self) -> Result<i64, StorageError> {
                let (n,): (i64,) =
                    sqlx::query_as("SELECT COUNT(*) FROM users").fetch_one(&self.pool).await?;
                Ok(n)
            }

            /// Counts an attempt to sign in as `id` from `network`, in one statement so that
            /// parallel attempts are counted one by one. The `lock_after`th attempt since the
            /// last success locks the account for that network until `now + lock_for`; later
            /// ones are refused until then, and the first after a lock ran out starts afresh.
            pub async fn claim_sign_in_attempt(
                &self,
                id: &str,
                network: &str,
                lock_after: i64,
                now: DateTime<Utc>,
                lock_for: chrono::Duration,
            ) -> Result<SignInAttempt, StorageError> {
                let (failures,): (i64,) = sqlx::query_as(
                    "INSERT INTO sign_in_failures (user_id, network, failures, locked_until) \
                     VALUES ($1, $2, 1, CASE WHEN $3 <= 1 THEN $4 END) \
                     ON CONFLICT (user_id, network) DO UPDATE SET \
                     failures = CASE WHEN sign_in_failures.locked_until <= $5 THEN 1 \
                         ELSE sign_in_failures.failures + 1 END, \
                     locked_until = CASE \
                         WHEN sign_in_failures.locked_until <= $5 \
                             THEN CASE WHEN $3 <= 1 THEN $4 END \
                         WHEN sign_in_failures.locked_until IS NOT NULL \
                             THEN sign_in_failures.locked_until \
                         WHEN sign_in_failures.failures + 1 >= $3 THEN $4 \
                         ELSE NULL END \
                     RETURNING failures",
                )
                .bind(id)
                .bind(network)
                .bind(lock_after)
                .bind(micros(now + lock_for))
                .bind(micros(now))
                .fetch_one(&self.writer)
                .await?;
                Ok(if failures > lock_after {
                    SignInAttempt::Locked
                } else {
                    SignInAttempt::Allowed { last: failures == lock_after }
                })
            }

            /// A right password: the attempts from that network are forgotten.
            pub async fn clear_sign_in_attempts(&self, id: &str, network: &str) -> Result<(), StorageError> {
                sqlx::query("DELETE FROM sign_in_failures WHERE user_id = $1 AND network = $2")
                    .bind(id)
                    .bind(network)
                    .execute(&self.writer)
                    .await?;
                Ok(())
            }

            pub async fn insert_session(
                &self,
                token_hash: &str,
                user_id: &str,
                now: DateTime<Utc>,
                expires_at: DateTime<Utc>,
                records: &[auditrail_model::NewEvent],
            ) -> Result<(), StorageError> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(token_hash)
                .bind(user_id)
                .bind(micros(now))
                .bind(micros(expires_at))
                .execute(&mut *tx)
                .await?;
                record_in(&mut tx, records).await?;
                tx.commit().await?;
                Ok(())
            }

            /// The session with this token hash, if its user is still active.
            pub async fn session(&self, token_hash: &str) -> Result<Option<Session>, StorageError> {
                let row: Option<(String, String, String, Option<String>, Option<i64>, String, i64)> =
                    sqlx::query_as(
                        "SELECT u.id, u.email, u.role, u.projects, u.deactivated_at, \
                         r.permissions, s.expires_at FROM sessions s \
                         JOIN users u ON u.id = s.user_id JOIN roles r ON r.name = u.role \
                         WHERE s.token_hash = $1 AND u.deactivated_at IS NULL",
                    )
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|(id, email, role, projects, deactivated, permissions, expires_at)| {
                    let user = user_from_row((id, email, role, projects, deactivated))?;
                    let permissions = stored_permissions(&format!("role {}", user.role), &permissions)?;
                    Ok(Session { account: Account { user, permissions }, expires_at: from_micros(expires_at) })
                })
                .transpose()
            }

            /// Ends every session past its expiry, with one record per ended session made by
            /// `record` from its user, in one transaction; returns how many ended.
            pub async fn delete_expired_sessions(
                &self,
                now: DateTime<Utc>,
                record: impl Fn(&User) -> Result<auditrail_model::NewEvent, StorageError>,
            ) -> Result<usize, StorageError> {
                let mut tx = self.begin_write().await?;
                let rows: Vec<(String,)> = sqlx::query_as(
                    "DELETE FROM sessions WHERE expires_at <= $1 RETURNING user_id",
                )
                .bind(micros(now))
                .fetch_all(&mut *tx)
                .await?;
                let mut records = Vec::with_capacity(rows.len());
                for (id,) in &rows {
                    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
                    let row: Option<UserRow> =
                        sqlx::query_as(AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *tx).await?;
                    if let Some(row) = row {
                        records.push(record(&user_from_row(row)?)?);
                    }
                }
                record_in(&mut tx, &records).await?;
                tx.commit().await?;
                Ok(rows.len())
            }

            /// `false` when the session had already ended (then nothing is recorded).
            pub async fn delete_session(
                &self,
                token_hash: &str,
                records: &[auditrail_model::NewEvent],
            ) -> Result<bool, StorageError> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                    .bind(token_hash)
                    .execute(&mut *tx)
                    .await?;
                commit_if_changed(tx, done.rows_affected() == 1, records).await
            }
        }
    };
}

pub(crate) use accounts_engine;
