//! Gateway keys and the admin token: generation, hashing, and reading them off requests.

use axum::http::{header, HeaderMap};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::HashMap;
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

/// How many recently verified keys each thread remembers: a few clients' worth.
const REMEMBERED_KEYS: usize = 4;

thread_local! {
    static VERIFIED: RefCell<KeyMemo> = RefCell::new(KeyMemo::default());
}

/// Finds the gateway key `presented` is, in `keys` (indexed by hash).
///
/// Hashing is 3,600 instructions, 5% of what a proxied request costs the gateway, and
/// a client sends the same key with every request. So each thread remembers the keys
/// it recently found valid with their hashes, and a request presenting one of them is
/// looked up without hashing. The lookup itself always goes through `keys`, so a key
/// revoked or expired since is refused as before. Only keys that were valid are
/// remembered: a client trying keys cannot fill the memo, and nothing in it is a guess.
/// (The process holds the providers' keys in memory anyway; what is at rest stays hashed.)
pub fn find_key<'a, V>(keys: &'a HashMap<KeyHash, V>, presented: &str) -> Option<&'a V> {
    VERIFIED.with_borrow_mut(|memo| {
        if let Some(slot) = memo.slot_of(presented.as_bytes()) {
            let found = memo.entries[slot]
                .as_ref()
                .and_then(|(_, hash)| keys.get(hash));
            if found.is_none() {
                memo.entries[slot] = None;
            }
            return found;
        }
        let hash = hash_key(presented);
        let found = keys.get(&hash);
        if found.is_some() {
            memo.remember(presented.as_bytes(), hash);
        }
        found
    })
}

/// Keys found valid lately, with their hashes; the oldest makes way for a new one.
#[derive(Default)]
struct KeyMemo {
    entries: [Option<(Box<[u8]>, KeyHash)>; REMEMBERED_KEYS],
    next: usize,
}

impl KeyMemo {
    /// Where `presented` is remembered. Every entry is compared in full, in time that
    /// does not depend on how much of a remembered key a presented one matches.
    fn slot_of(&self, presented: &[u8]) -> Option<usize> {
        let mut slot = None;
        for (i, entry) in self.entries.iter().enumerate() {
            if let Some((key, _)) = entry {
                if constant_time_eq(key, presented) {
                    slot = Some(i);
                }
            }
        }
        slot
    }

    fn remember(&mut self, presented: &[u8], hash: KeyHash) {
        self.entries[self.next] = Some((presented.into(), hash));
        self.next = (self.next + 1) % REMEMBERED_KEYS;
    }
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

    fn keys_of(secrets: &[&str]) -> HashMap<KeyHash, String> {
        secrets
            .iter()
            .map(|s| (hash_key(s), s.to_string()))
            .collect()
    }

    fn remembered() -> usize {
        VERIFIED.with_borrow(|m| m.entries.iter().flatten().count())
    }

    #[test]
    fn found_keys_are_remembered_and_still_looked_up_in_the_current_keys() {
        let mut keys = keys_of(&["sy-one", "sy-two"]);
        assert_eq!(
            find_key(&keys, "sy-one").map(String::as_str),
            Some("sy-one")
        );
        assert_eq!(remembered(), 1);
        // Found again from the memo, and a key one letter off is not taken for it.
        assert_eq!(
            find_key(&keys, "sy-one").map(String::as_str),
            Some("sy-one")
        );
        assert_eq!(find_key(&keys, "sy-onf"), None);
        assert_eq!(find_key(&keys, "sy-on"), None);
        assert_eq!(
            remembered(),
            1,
            "keys that were not found are not remembered"
        );
        // Revoked since: refused, and forgotten.
        keys.remove(&hash_key("sy-one"));
        assert_eq!(find_key(&keys, "sy-one"), None);
        assert_eq!(remembered(), 0);
        assert_eq!(
            find_key(&keys, "sy-two").map(String::as_str),
            Some("sy-two")
        );
    }

    #[test]
    fn the_memo_keeps_the_latest_keys_and_lets_the_oldest_go() {
        let secrets: Vec<String> = (0..REMEMBERED_KEYS + 2)
            .map(|i| format!("sy-{i}"))
            .collect();
        let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let keys = keys_of(&refs);
        for s in &refs {
            assert_eq!(find_key(&keys, s).map(String::as_str), Some(*s));
        }
        assert_eq!(remembered(), REMEMBERED_KEYS);
        let memo_has = |s: &str| VERIFIED.with_borrow(|m| m.slot_of(s.as_bytes()).is_some());
        assert!(!memo_has(refs[0]) && !memo_has(refs[1]));
        assert!(refs[2..].iter().all(|s| memo_has(s)));
        // A key that fell out is still found, by its hash.
        assert_eq!(find_key(&keys, refs[0]).map(String::as_str), Some(refs[0]));
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
