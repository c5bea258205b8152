//! The catalog's in-memory state, and how records and snapshots build it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::hex::{decode_hex, encode_hex};
use crate::{Bucket, BucketId, DbrpId, Record, Snapshot, TableSchema, Token, TokenId};

/// An explicit DBRP mapping as held in memory (its id is the key it is stored under).
#[derive(Debug)]
pub(crate) struct StoredDbrp {
    pub(crate) database: String,
    pub(crate) retention_policy: String,
    pub(crate) bucket: BucketId,
    pub(crate) default: bool,
}

/// Everything the catalog knows, rebuilt at open from the latest snapshot and the log after it.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) buckets: BTreeMap<BucketId, Bucket>,
    pub(crate) by_name: HashMap<String, BucketId>,
    pub(crate) tables: HashMap<(BucketId, String), Arc<TableSchema>>,
    pub(crate) dbrps: BTreeMap<DbrpId, StoredDbrp>,
    pub(crate) tokens: BTreeMap<TokenId, Token>,
    pub(crate) token_hashes: HashMap<String, TokenId>,
    pub(crate) pepper: Option<Vec<u8>>,
    pub(crate) next_bucket: u64,
    pub(crate) next_dbrp: u64,
    pub(crate) next_token: u64,
    pub(crate) next_record: u64,
}

impl State {
    pub(crate) fn apply(&mut self, record: Record) {
        match record {
            Record::CreateBucket {
                id,
                name,
                retention_ns,
                created_ns,
            } => {
                self.next_bucket = self.next_bucket.max(id.0 + 1);
                self.insert_bucket(Bucket {
                    id,
                    name,
                    retention_ns,
                    created_ns,
                });
            }
            Record::AddColumns {
                bucket,
                measurement,
                columns,
            } => {
                let table = self.tables.entry((bucket, measurement)).or_default();
                let mut schema = TableSchema::clone(table);
                for (name, ty) in columns {
                    schema.columns.entry(name).or_insert(ty);
                }
                *table = Arc::new(schema);
            }
            Record::Init { pepper } => {
                self.pepper = decode_hex(&pepper);
            }
            Record::UpdateBucket { id, retention_ns } => {
                if let Some(b) = self.buckets.get_mut(&id) {
                    b.retention_ns = retention_ns;
                }
            }
            Record::DeleteBucket { id } => {
                if let Some(b) = self.buckets.remove(&id) {
                    self.by_name.remove(&b.name);
                }
                self.tables.retain(|(bucket, _), _| *bucket != id);
                self.dbrps.retain(|_, d| d.bucket != id);
            }
            Record::CreateDbrp {
                id,
                database,
                retention_policy,
                bucket,
                default,
            } => {
                self.next_dbrp = self.next_dbrp.max(id.0 + 1);
                if default {
                    self.clear_defaults(&database);
                }
                self.insert_dbrp(id, database, retention_policy, bucket, default);
            }
            Record::SetDbrpDefault { id, default } => {
                let db = self.dbrps.get(&id).map(|d| d.database.clone());
                if let (Some(db), true) = (db, default) {
                    self.clear_defaults(&db);
                }
                if let Some(d) = self.dbrps.get_mut(&id) {
                    d.default = default;
                }
            }
            Record::DeleteDbrp { id } => {
                self.dbrps.remove(&id);
            }
            Record::CreateToken {
                id,
                description,
                permissions,
                hash,
            } => {
                self.next_token = self.next_token.max(id.0 + 1);
                self.insert_token(
                    Token {
                        id,
                        description,
                        permissions,
                    },
                    hash,
                );
            }
            Record::DeleteToken { id } => {
                self.tokens.remove(&id);
                self.token_hashes.retain(|_, t| *t != id);
            }
        }
    }

    pub(crate) fn to_snapshot(&self, through: u64) -> Snapshot {
        let hash_of: HashMap<TokenId, &String> =
            self.token_hashes.iter().map(|(h, id)| (*id, h)).collect();
        Snapshot {
            through,
            pepper: self.pepper.as_deref().map(encode_hex),
            buckets: self
                .buckets
                .values()
                .map(|b| (b.id, b.name.clone(), b.retention_ns, b.created_ns))
                .collect(),
            dbrps: self
                .dbrps
                .iter()
                .map(|(id, d)| {
                    (
                        *id,
                        d.database.clone(),
                        d.retention_policy.clone(),
                        d.bucket,
                        d.default,
                    )
                })
                .collect(),
            tokens: self
                .tokens
                .values()
                .filter_map(|t| {
                    Some((
                        t.id,
                        t.description.clone(),
                        t.permissions.clone(),
                        (*hash_of.get(&t.id)?).clone(),
                    ))
                })
                .collect(),
            tables: self
                .tables
                .iter()
                .map(|((b, m), t)| {
                    (
                        *b,
                        m.clone(),
                        t.columns().map(|(n, ty)| (n.to_owned(), ty)).collect(),
                    )
                })
                .collect(),
            next: (self.next_bucket, self.next_dbrp, self.next_token),
        }
    }

    pub(crate) fn from_snapshot(s: Snapshot) -> State {
        let mut state = State {
            pepper: s.pepper.as_deref().and_then(decode_hex),
            next_bucket: s.next.0,
            next_dbrp: s.next.1,
            next_token: s.next.2,
            next_record: s.through + 1,
            ..State::default()
        };
        for (id, name, retention_ns, created_ns) in s.buckets {
            state.insert_bucket(Bucket {
                id,
                name,
                retention_ns,
                created_ns,
            });
        }
        for (id, database, retention_policy, bucket, default) in s.dbrps {
            state.insert_dbrp(id, database, retention_policy, bucket, default);
        }
        for (id, description, permissions, hash) in s.tokens {
            state.insert_token(
                Token {
                    id,
                    description,
                    permissions,
                },
                hash,
            );
        }
        for (bucket, measurement, columns) in s.tables {
            state.tables.insert(
                (bucket, measurement),
                Arc::new(TableSchema {
                    columns: columns.into_iter().collect(),
                }),
            );
        }
        state
    }

    /// Adds a bucket and its name; the one place both maps change, for replay and snapshot alike.
    fn insert_bucket(&mut self, bucket: Bucket) {
        self.by_name.insert(bucket.name.clone(), bucket.id);
        self.buckets.insert(bucket.id, bucket);
    }

    /// Adds a token and its hash, for replay and snapshot alike.
    fn insert_token(&mut self, token: Token, hash: String) {
        self.token_hashes.insert(hash, token.id);
        self.tokens.insert(token.id, token);
    }

    /// Adds an explicit mapping as given; clearing the database's other defaults is the caller's
    /// business (a record asks for it, a snapshot is already consistent).
    fn insert_dbrp(
        &mut self,
        id: DbrpId,
        database: String,
        retention_policy: String,
        bucket: BucketId,
        default: bool,
    ) {
        self.dbrps.insert(
            id,
            StoredDbrp {
                database,
                retention_policy,
                bucket,
                default,
            },
        );
    }

    fn clear_defaults(&mut self, database: &str) {
        for d in self.dbrps.values_mut() {
            if d.database == database {
                d.default = false;
            }
        }
    }
}
