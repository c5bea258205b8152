//! Tokens: creation, deletion and authentication. Only SHA-256(pepper ‖ secret) is stored; the
//! pepper is 32 random bytes, recorded once before the first token is created.

use crate::hex::encode_hex;
use crate::{Catalog, CatalogError, Permission, Record, Result, Token, TokenId};

impl Catalog {
    /// Every token (without secrets).
    pub fn tokens(&self) -> Vec<Token> {
        self.state.read().tokens.values().cloned().collect()
    }

    /// Creates a token. `value` sets the secret (for `--admin-token`); otherwise a random one is
    /// generated. The secret is returned once and only its peppered hash is stored.
    pub async fn create_token(
        &self,
        description: &str,
        permissions: Vec<Permission>,
        value: Option<&str>,
    ) -> Result<(Token, String)> {
        let _guard = self.write_lock.lock().await;
        self.ensure_pepper().await?;
        let secret = match value {
            Some(v) if !v.is_empty() => v.to_owned(),
            Some(_) => {
                return Err(CatalogError::InvalidName {
                    name: String::new(),
                    rule: "a token must not be empty",
                })
            }
            None => format!("strata_{}", encode_hex(&random_bytes::<32>()?)),
        };
        let hash = self.hash_token(&secret);
        if let Some(existing) = self.state.read().token_hashes.get(&hash) {
            return Err(CatalogError::Conflict(format!(
                "that token already exists (id {existing})"
            )));
        }
        let id = TokenId(self.state.read().next_token.max(1));
        self.commit(Record::CreateToken {
            id,
            description: description.to_owned(),
            permissions,
            hash,
        })
        .await?;
        let token = self.state.read().tokens.get(&id).cloned();
        token.map(|t| (t, secret)).ok_or(CatalogError::NotFound {
            kind: "token",
            id: id.to_string(),
        })
    }

    /// Deletes a token.
    pub async fn delete_token(&self, id: TokenId) -> Result<()> {
        let _guard = self.write_lock.lock().await;
        if !self.state.read().tokens.contains_key(&id) {
            return Err(CatalogError::NotFound {
                kind: "token",
                id: id.to_string(),
            });
        }
        self.commit(Record::DeleteToken { id }).await
    }

    /// The token a presented secret belongs to. As InfluxDB 1.8's v2-compatibility mode, a
    /// `user:password` string that is not itself a token is tried by its password part.
    pub fn authenticate(&self, presented: &str) -> Option<Token> {
        let state = self.state.read();
        let lookup = |secret: &str| {
            let hash = hash_with(state.pepper.as_deref()?, secret);
            let id = state.token_hashes.get(&hash)?;
            state.tokens.get(id).cloned()
        };
        lookup(presented).or_else(|| presented.split_once(':').and_then(|(_, p)| lookup(p)))
    }

    async fn ensure_pepper(&self) -> Result<()> {
        // Caller holds write_lock.
        if self.state.read().pepper.is_some() {
            return Ok(());
        }
        self.commit(Record::Init {
            pepper: encode_hex(&random_bytes::<32>()?),
        })
        .await
    }

    fn hash_token(&self, secret: &str) -> String {
        hash_with(
            self.state.read().pepper.as_deref().unwrap_or_default(),
            secret,
        )
    }
}

fn hash_with(pepper: &[u8], secret: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(pepper);
    h.update(secret.as_bytes());
    encode_hex(&h.finalize())
}

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| CatalogError::Corrupt {
        path: "getrandom".into(),
        reason: format!("no randomness available: {e}"),
    })?;
    Ok(buf)
}
