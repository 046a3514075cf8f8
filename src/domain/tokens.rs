//! Random tokens and secrets, made one way everywhere: session and CSRF
//! tokens, acknowledge and subscription links, API tokens, webhook secrets,
//! message ids. Each is `n` bytes from the operating system's generator
//! (through `rand`'s thread-local CSPRNG), written as URL-safe base64 or hex.

use base64::Engine;
use rand::RngCore;

fn random(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// `n` random bytes as URL-safe base64 without padding (32 bytes: 43 characters).
pub fn url_safe(n: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random(n))
}

/// `n` random bytes as lower-case hex (2·n characters).
pub fn hex(n: usize) -> String {
    random(n).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_the_promised_length_and_alphabet_and_differ() {
        let t = url_safe(32);
        assert_eq!(t.len(), 43);
        assert!(t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        let h = hex(16);
        assert_eq!(h.len(), 32);
        assert!(h.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(url_safe(32), url_safe(32));
        assert_ne!(hex(16), hex(16));
    }
}
