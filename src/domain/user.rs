//! People who use Firebreak: their role and the parsed values of their profile.

use std::fmt;
use std::str::FromStr;

/// What a signed-in person may do. Ordered from least to most powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Reads incidents, post-mortems and reports.
    Viewer,
    /// Runs incidents: declares, takes roles, writes the timeline.
    Responder,
    /// Everything, including managing users.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Responder, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Responder => "responder",
            Role::Viewer => "viewer",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Admin",
            Role::Responder => "Responder",
            Role::Viewer => "Viewer",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Role::Admin => "everything, including managing users",
            Role::Responder => "declares and runs incidents",
            Role::Viewer => "reads incidents and reports",
        }
    }

    /// Whether someone holding `self` may do what needs `required`.
    pub fn allows(self, required: Role) -> bool {
        self >= required
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" => Ok(Role::Admin),
            "responder" => Ok(Role::Responder),
            "viewer" => Ok(Role::Viewer),
            _ => Err("Choose admin, responder or viewer.".to_owned()),
        }
    }
}

/// An email address, trimmed and lower-cased so that comparisons are
/// case-insensitive. Deliberately lenient: one `@`, something on each side,
/// a dot in the domain, no spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("Enter an email address.".into());
        }
        if s.len() > 254 {
            return Err("That email address is too long.".into());
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err("Enter an email address like name@example.com.".into());
        };
        let ok = !local.is_empty()
            && !domain.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !s.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>');
        if !ok {
            return Err("Enter an email address like name@example.com.".into());
        }
        Ok(EmailAddress(s.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name shown beside everything a person does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(input: &str) -> Result<Self, String> {
        let s = input.trim();
        if s.is_empty() {
            return Err("Enter a name.".into());
        }
        if s.chars().count() > Self::MAX_CHARS {
            return Err(format!("Keep the name under {} characters.", Self::MAX_CHARS));
        }
        if s.chars().any(char::is_control) {
            return Err("The name cannot contain control characters.".into());
        }
        Ok(DisplayName(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password someone is choosing. Length is what matters (NIST 800-63B):
/// at least 10 characters, at most 1,000 so hashing stays cheap.
pub struct NewPassword(String);

impl NewPassword {
    pub const MIN_CHARS: usize = 10;
    pub const MAX_CHARS: usize = 1000;

    pub fn parse(input: &str) -> Result<Self, String> {
        let n = input.chars().count();
        if n < Self::MIN_CHARS {
            return Err(format!("Use at least {} characters; a few words make a good password.", Self::MIN_CHARS));
        }
        if n > Self::MAX_CHARS {
            return Err(format!("Use at most {} characters.", Self::MAX_CHARS));
        }
        Ok(NewPassword(input.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

/// An IANA time zone name such as `Europe/Berlin`; times are stored in UTC
/// and shown in the viewer's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZoneName(chrono_tz::Tz);

impl TimeZoneName {
    pub fn parse(input: &str) -> Result<Self, String> {
        input
            .trim()
            .parse::<chrono_tz::Tz>()
            .map(TimeZoneName)
            .map_err(|_| "Choose a time zone from the list, e.g. Europe/Berlin or UTC.".into())
    }

    pub fn tz(self) -> chrono_tz::Tz {
        self.0
    }

    pub fn as_str(self) -> &'static str {
        self.0.name()
    }

    /// Every zone name a person can choose, sorted.
    pub fn all_names() -> Vec<&'static str> {
        let mut names: Vec<&'static str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
        names.sort_unstable();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_allow_what_is_below_them() {
        assert!(Role::Admin.allows(Role::Responder));
        assert!(Role::Responder.allows(Role::Viewer));
        assert!(Role::Responder.allows(Role::Responder));
        assert!(!Role::Viewer.allows(Role::Responder));
        assert!(!Role::Responder.allows(Role::Admin));
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("owner".parse::<Role>().is_err());
    }

    #[test]
    fn email_addresses_are_trimmed_and_lower_cased() {
        let e = EmailAddress::parse("  Ada.Lovelace@Example.COM ").expect("valid");
        assert_eq!(e.as_str(), "ada.lovelace@example.com");
    }

    #[test]
    fn malformed_email_addresses_are_refused() {
        for bad in ["", "ada", "ada@", "@example.com", "ada@example", "a da@example.com", "a@b@c.com", "ada@.com"] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn display_names_must_be_present_and_short() {
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse(&"x".repeat(101)).is_err());
        assert_eq!(DisplayName::parse(" Ada ").expect("valid").as_str(), "Ada");
    }

    #[test]
    fn passwords_need_ten_characters() {
        assert!(NewPassword::parse("short").is_err());
        assert!(NewPassword::parse("correct horse").is_ok());
        assert_eq!(format!("{:?}", NewPassword::parse("correct horse").expect("valid")), "NewPassword(***)");
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(TimeZoneName::parse("Europe/Berlin").expect("valid").as_str(), "Europe/Berlin");
        assert!(TimeZoneName::parse("Mars/Olympus").is_err());
        assert!(TimeZoneName::all_names().contains(&"UTC"));
    }
}
