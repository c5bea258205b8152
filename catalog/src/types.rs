//! What the catalog names: ids, buckets, DBRP mappings, and tokens with their permissions.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A bucket's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BucketId(pub u64);

impl fmt::Display for BucketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // InfluxDB ids are 16 hex digits; keep the habit.
        write!(f, "{:016x}", self.0)
    }
}

/// A DBRP mapping's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DbrpId(pub u64);

impl fmt::Display for DbrpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// A token's id (not the token itself, which is never stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TokenId(pub u64);

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Permission {
    /// Everything: read and write every bucket, create buckets, mappings and tokens.
    All,
    /// Read one bucket.
    Read(BucketId),
    /// Write one bucket.
    Write(BucketId),
}

/// A token as the catalog knows it: never the secret, only who it is and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Id.
    pub id: TokenId,
    /// What it is for.
    pub description: String,
    /// What it may do.
    pub permissions: Vec<Permission>,
}

impl Token {
    /// Whether it may do everything (create buckets and mappings on the fly, manage tokens).
    pub fn is_operator(&self) -> bool {
        self.permissions.contains(&Permission::All)
    }

    /// Whether it may write to `bucket`.
    pub fn can_write(&self, bucket: BucketId) -> bool {
        self.is_operator() || self.permissions.contains(&Permission::Write(bucket))
    }

    /// Whether it may read `bucket`: a write permission alone does not (1.x: a write-only
    /// user's query "requires READ").
    pub fn can_read(&self, bucket: BucketId) -> bool {
        self.is_operator() || self.permissions.contains(&Permission::Read(bucket))
    }
}

/// A v1 database + retention policy → bucket mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dbrp {
    /// Id (virtual mappings have none).
    pub id: Option<DbrpId>,
    /// v1 database.
    pub database: String,
    /// v1 retention policy.
    pub retention_policy: String,
    /// Target bucket.
    pub bucket: BucketId,
    /// Whether it is the database's default retention policy.
    pub default: bool,
    /// True for a mapping implied by a bucket's name (`db/rp`, or `db` for `autogen`) rather
    /// than stored.
    pub is_virtual: bool,
}

/// A bucket: where points live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// Id.
    pub id: BucketId,
    /// Name, e.g. `telegraf/autogen`.
    pub name: String,
    /// Retention period in nanoseconds; `None` keeps data forever.
    pub retention_ns: Option<i64>,
    /// When it was created (ns since the epoch); `None` for buckets of builds that did not
    /// record it.
    pub created_ns: Option<i64>,
}
