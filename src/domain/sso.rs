//! Single sign-on rules: which role a person gets from their provider's groups,
//! what we learnt about them from a verified ID token, and why a sign-in is refused.

use super::Role;

/// How groups named by the provider become roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleMapping {
    /// The role of a new account, and of anyone in none of the groups below when
    /// groups are mapped.
    pub default_role: Role,
    /// The ID-token claim holding the groups; `None`: roles are managed in Firebreak.
    pub groups_claim: Option<String>,
    pub admin_groups: Vec<String>,
    pub responder_groups: Vec<String>,
}

impl RoleMapping {
    /// The role these groups give, when groups are mapped at all. A missing claim
    /// counts as no groups: providers leave it out when someone is in none.
    pub fn role_for(&self, groups: &[String]) -> Option<Role> {
        self.groups_claim.as_ref()?;
        let member = |wanted: &[String]| groups.iter().any(|g| wanted.iter().any(|w| w == g));
        Some(if member(&self.admin_groups) {
            Role::Admin
        } else if member(&self.responder_groups) {
            Role::Responder
        } else {
            self.default_role
        })
    }

    /// The groups in a claim's JSON value: a list of strings, or one string.
    pub fn groups_in(value: Option<&serde_json::Value>) -> Vec<String> {
        match value {
            Some(serde_json::Value::Array(items)) => {
                items.iter().filter_map(|v| v.as_str()).map(str::to_owned).collect()
            }
            Some(serde_json::Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        }
    }
}

/// Whether the provider vouches for the email address: the standard `email_verified`,
/// else Entra ID's `xms_edov` (email domain owner verified; Entra sends no
/// `email_verified`). Anything else, or nothing, is "not verified".
pub fn email_verified(standard: Option<bool>, xms_edov: Option<&serde_json::Value>) -> bool {
    match (standard, xms_edov) {
        (Some(verified), _) => verified,
        (None, Some(serde_json::Value::Bool(b))) => *b,
        (None, Some(serde_json::Value::String(s))) => s == "1" || s.eq_ignore_ascii_case("true"),
        (None, Some(serde_json::Value::Number(n))) => n.as_u64() == Some(1),
        _ => false,
    }
}

/// A person as a provider vouched for them in an ID token that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderIdentity {
    pub issuer: String,
    pub subject: String,
    /// Lower-cased.
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub groups: Vec<String>,
}

/// Why a sign-in through the provider was refused. Each has a code for the audit
/// log and a message for the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsoRefusal {
    /// The provider could not be reached or answered nonsense.
    ProviderUnreachable,
    /// The person (or the provider) declined at the provider.
    ConsentDenied,
    /// The provider answered the sign-in request with another error (misconfiguration).
    ProviderError,
    /// The callback did not belong to a sign-in started in this browser, or was used already.
    UnknownState,
    /// The ID token failed a check (signature, issuer, audience, expiry, nonce...).
    TokenRejected,
    /// No account yet and no verified email to create or link one.
    EmailUnverified,
    /// The account is disabled in Firebreak.
    AccountDisabled,
    /// The email belongs to an account linked to another identity at the provider.
    LinkedElsewhere,
}

impl SsoRefusal {
    pub fn code(self) -> &'static str {
        match self {
            SsoRefusal::ProviderUnreachable => "provider_unreachable",
            SsoRefusal::ConsentDenied => "consent_denied",
            SsoRefusal::ProviderError => "provider_error",
            SsoRefusal::UnknownState => "unknown_state",
            SsoRefusal::TokenRejected => "token_rejected",
            SsoRefusal::EmailUnverified => "email_unverified",
            SsoRefusal::AccountDisabled => "account_disabled",
            SsoRefusal::LinkedElsewhere => "linked_elsewhere",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            SsoRefusal::ProviderUnreachable => "The identity provider cannot be reached",
            SsoRefusal::ConsentDenied => "Sign-in was cancelled at the identity provider",
            SsoRefusal::ProviderError => "The identity provider refused the sign-in request",
            SsoRefusal::UnknownState => "This sign-in link has expired or was already used",
            SsoRefusal::TokenRejected => "The identity provider's answer failed a security check",
            SsoRefusal::EmailUnverified => "Your email address is not verified",
            SsoRefusal::AccountDisabled => "Your account is disabled",
            SsoRefusal::LinkedElsewhere => "This email belongs to another sign-in",
        }
    }

    /// What the person can do about it.
    pub fn advice(self) -> &'static str {
        match self {
            SsoRefusal::ProviderUnreachable => {
                "Try again in a minute. If it keeps happening, tell your Firebreak admin: \
                 the provider may be down or misconfigured."
            }
            SsoRefusal::ConsentDenied => {
                "Firebreak needs your permission to read your name and email address. \
                 Start again and allow access, or ask your admin why access was refused."
            }
            SsoRefusal::ProviderError => {
                "Tell your Firebreak admin: the provider and Firebreak may be set up differently \
                 (client id, redirect URL, scopes). The audit log has the provider's message."
            }
            SsoRefusal::UnknownState => {
                "Sign-ins must be finished within 10 minutes, in the browser that started them. Start again."
            }
            SsoRefusal::TokenRejected => {
                "Nothing was changed and you are not signed in. Start again; if it happens again, \
                 tell your Firebreak admin (the audit log says which check failed)."
            }
            SsoRefusal::EmailUnverified => {
                "Firebreak creates accounts only for verified email addresses. Verify your email \
                 address with your identity provider, or ask an admin to add you."
            }
            SsoRefusal::AccountDisabled => "An admin disabled your Firebreak account. Ask them to enable it.",
            SsoRefusal::LinkedElsewhere => {
                "The Firebreak account with your email address signs in with another identity. \
                 Ask an admin to sort it out."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(claim: Option<&str>) -> RoleMapping {
        RoleMapping {
            default_role: Role::Viewer,
            groups_claim: claim.map(str::to_owned),
            admin_groups: vec!["sre-leads".into()],
            responder_groups: vec!["on-call".into(), "SRE".into()],
        }
    }

    fn groups(gs: &[&str]) -> Vec<String> {
        gs.iter().map(|g| (*g).to_owned()).collect()
    }

    #[test]
    fn without_a_groups_claim_roles_are_left_alone() {
        assert_eq!(mapping(None).role_for(&groups(&["sre-leads"])), None);
    }

    #[test]
    fn the_most_powerful_matching_group_wins() {
        let m = mapping(Some("groups"));
        assert_eq!(m.role_for(&groups(&["on-call", "sre-leads"])), Some(Role::Admin));
        assert_eq!(m.role_for(&groups(&["SRE"])), Some(Role::Responder));
        assert_eq!(m.role_for(&groups(&["sre"])), Some(Role::Viewer), "group names are case-sensitive");
        assert_eq!(m.role_for(&[]), Some(Role::Viewer), "no groups: the default role");
    }

    #[test]
    fn an_email_is_verified_only_when_the_provider_says_so() {
        use serde_json::json;
        assert!(email_verified(Some(true), None));
        assert!(!email_verified(Some(false), Some(&json!(true))), "the standard claim wins");
        assert!(!email_verified(None, None));
        assert!(email_verified(None, Some(&json!(true))));
        assert!(email_verified(None, Some(&json!("1"))));
        assert!(!email_verified(None, Some(&json!("no"))));
    }

    #[test]
    fn a_claim_may_be_a_list_or_one_string() {
        let list = serde_json::json!(["a", 3, "b"]);
        assert_eq!(RoleMapping::groups_in(Some(&list)), groups(&["a", "b"]));
        assert_eq!(RoleMapping::groups_in(Some(&serde_json::json!("a"))), groups(&["a"]));
        assert!(RoleMapping::groups_in(Some(&serde_json::json!({"a": 1}))).is_empty());
        assert!(RoleMapping::groups_in(None).is_empty());
    }
}
