//! The five kinds of user and what each may do. Route guards in the web layer ask
//! these questions instead of comparing role names.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A user's role. Anonymous public visitors have no account and so no `Role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Runs the installation: accounts, departments, everything a regulator can do.
    Admin,
    /// Staff of a department / responsible unit: keeps the registers, supervises.
    Regulator,
    /// Law-enforcement inspector: sees the registers, records checks and samples.
    Inspector,
    /// An account bound to one market entity: sees and changes only its own data.
    Enterprise,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Regulator, Role::Inspector, Role::Enterprise];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Regulator => "regulator",
            Role::Inspector => "inspector",
            Role::Enterprise => "enterprise",
        }
    }
    /// May create and change register records of any entity.
    pub fn can_edit_registers(self) -> bool {
        matches!(self, Role::Admin | Role::Regulator)
    }
    /// May read every register record, including non-public fields.
    pub fn can_read_all(self) -> bool {
        matches!(self, Role::Admin | Role::Regulator | Role::Inspector)
    }
    /// May read the audit trail.
    pub fn can_read_audit(self) -> bool {
        matches!(self, Role::Admin | Role::Regulator)
    }
    /// May manage accounts and departments.
    pub fn is_admin(self) -> bool {
        self == Role::Admin
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown role name; lists the valid ones so the user can correct it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: expected one of admin, regulator, inspector, enterprise")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, UnknownRole> {
        Role::ALL.into_iter().find(|r| r.as_str() == s.trim()).ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn round_trip_and_rights() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("root".parse::<Role>().unwrap_err().to_string().contains("regulator"));
        assert!(!Role::Enterprise.can_read_all());
        assert!(!Role::Inspector.can_edit_registers());
        assert!(Role::Regulator.can_edit_registers());
    }
}
