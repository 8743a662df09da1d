//! Gateway keys and the admin token: generation, hashing, and reading them off requests.

use axum::http::{header, HeaderMap};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;
use switchyard_store::KeyHash;

/// Every gateway key starts with this, so users (and secret scanners) recognise one.
pub const GATEWAY_KEY_PREFIX: &str = "sy-";
/// Name of the file in the data directory holding the admin token.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

/// A freshly made gateway key: the secret is shown once and never stored.
pub struct NewGatewayKey {
    pub secret: String,
    pub prefix: String,
    pub hash: KeyHash,
}

fn random_hex(bytes: usize) -> Result<String, getrandom::Error> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)?;
    Ok(hex::encode(buf))
}

pub fn generate_gateway_key() -> Result<NewGatewayKey, getrandom::Error> {
    let secret = format!("{GATEWAY_KEY_PREFIX}{}", random_hex(24)?);
    let prefix = secret[..GATEWAY_KEY_PREFIX.len() + 8].to_string();
    let hash = hash_key(&secret);
    Ok(NewGatewayKey {
        secret,
        prefix,
        hash,
    })
}

/// Keys are 192 random bits, so a plain SHA-256 is enough to store them safely.
pub fn hash_key(secret: &str) -> KeyHash {
    Sha256::digest(secret.as_bytes()).into()
}

/// The key a client presented: `x-api-key` (Anthropic style) or `Authorization: Bearer`.
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        let v = v.trim();
        if !v.is_empty() {
            return Some(v);
        }
    }
    bearer_token(headers)
}

pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() {
        Some(token.trim())
    } else {
        None
    }
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Reads the admin token from the data directory, creating it (owner-only) on first start.
pub fn load_or_create_admin_token(data_dir: &Path) -> std::io::Result<String> {
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(data_dir)?;
    let token = format!("sya-{}", random_hex(32).map_err(std::io::Error::other)?);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path)?;
    file.write_all(token.as_bytes())?;
    file.write_all(b"\n")?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn keys_are_prefixed_unique_and_hash_stably() {
        let a = generate_gateway_key().unwrap();
        let b = generate_gateway_key().unwrap();
        assert!(a.secret.starts_with("sy-") && a.secret.len() == 51);
        assert!(a.secret.starts_with(&a.prefix));
        assert_ne!(a.secret, b.secret);
        assert_eq!(hash_key(&a.secret), a.hash);
    }

    #[test]
    fn presented_key_reads_both_header_styles() {
        let mut h = HeaderMap::new();
        assert_eq!(presented_key(&h), None);
        h.insert("authorization", HeaderValue::from_static("Bearer sy-abc"));
        assert_eq!(presented_key(&h), Some("sy-abc"));
        h.insert("x-api-key", HeaderValue::from_static("sy-xyz"));
        assert_eq!(presented_key(&h), Some("sy-xyz"));
    }

    #[test]
    fn admin_token_is_created_once_with_owner_only_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create_admin_token(dir.path()).unwrap();
        let second = load_or_create_admin_token(dir.path()).unwrap();
        assert_eq!(first, second);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(ADMIN_TOKEN_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(constant_time_eq(first.as_bytes(), second.as_bytes()));
        assert!(!constant_time_eq(b"abc", b"abd"));
    }
}
