//! Where the engine's objects live ([`Layout`]), and how a client-chosen name becomes a path
//! segment.
//!
//! A measurement name is anything line protocol can carry (up to a 65,535-byte key, any
//! UTF-8), but a file system takes names of at most 255 bytes and object stores have their
//! own limits, so a name never becomes an unbounded path segment. A name whose
//! percent-encoding (`object_store`'s, the one the store sees) is at most
//! [`DIR_NAME_MAX`] bytes is used as it is, so `buckets/*/cpu/*/*.parquet` keeps working
//! for DuckDB and pyarrow users; a longer one becomes a readable prefix of at most
//! [`PREFIX_MAX`] encoded bytes, `~`, and 16 hex digits of its SHA-256. `~` is always
//! percent-encoded inside a name, so the two forms never meet. The directory is a hint for
//! people: the manifests name every file with its measurement, and every file carries the real
//! name in its Parquet key-value metadata ([`MEASUREMENT_KEY`]).

use object_store::path::{Path, PathPart};
use sha2::{Digest, Sha256};

use catalog::BucketId;

/// The longest measurement directory name, in bytes.
pub(crate) const DIR_NAME_MAX: usize = 64;
/// The longest readable prefix of a shortened measurement directory name, in bytes.
pub(crate) const PREFIX_MAX: usize = 40;
/// The Parquet key-value metadata key that holds a file's measurement name.
pub const MEASUREMENT_KEY: &str = "strata.measurement";

/// The directory segment of a measurement, encoded as the store sees it (see the module docs).
pub fn measurement_dir(name: &str) -> String {
    let whole = PathPart::from(name);
    if whole.as_ref().len() <= DIR_NAME_MAX {
        return whole.as_ref().to_owned();
    }
    let mut cut = 0;
    let mut encoded = 0;
    for (i, c) in name.char_indices() {
        let mut buf = [0u8; 4];
        // `.` alone encodes as `%2E`; inside a longer segment it stays `.`.
        let len = match c {
            '.' => 1,
            c => PathPart::from(&*c.encode_utf8(&mut buf)).as_ref().len(),
        };
        if encoded + len > PREFIX_MAX {
            break;
        }
        encoded += len;
        cut = i + c.len_utf8();
    }
    let mut dir = PathPart::from(name.get(..cut).unwrap_or_default())
        .as_ref()
        .to_owned();
    dir.push('~');
    for b in Sha256::digest(name.as_bytes()).iter().take(8) {
        dir.push_str(&format!("{b:02x}"));
    }
    dir
}

/// Every place the engine and the catalog keep state: one object-store root holding the
/// catalog, the Parquet files and the manifests, and the WAL directory on local disk (it is
/// fsync'd, so never on the object store). Callers name locations through it, never by
/// spelling prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    root: Path,
    wal_dir: std::path::PathBuf,
}

impl Layout {
    /// Everything under `root` in the object store (empty: the store's root), the WAL in
    /// `wal_dir`.
    pub fn new(root: Path, wal_dir: std::path::PathBuf) -> Self {
        Layout { root, wal_dir }
    }

    /// The catalog's log and snapshots.
    pub fn catalog(&self) -> Path {
        self.root.clone().join("catalog")
    }

    /// Parquet files: `buckets/{bucket id}/{measurement dir}/{YYYY-MM-DD}/{file}.parquet`.
    pub fn buckets(&self) -> Path {
        self.root.clone().join("buckets")
    }

    /// Flush and removal records (see `manifest`).
    pub fn manifests(&self) -> Path {
        self.root.clone().join("manifest")
    }

    /// WAL segments and spares.
    pub fn wal_dir(&self) -> &std::path::Path {
        &self.wal_dir
    }

    /// Where a Parquet file of `bucket`/`measurement` for the UTC date `date` lives.
    pub(crate) fn file(&self, bucket: BucketId, measurement: &str, date: &str, file: &str) -> Path {
        let dir = measurement_dir(measurement);
        // `dir` is already encoded: `parse` takes it as it is (it only refuses `/`, control
        // characters, `.` and `..`, none of which an encoded name holds).
        let part = PathPart::parse(&dir).unwrap_or_else(|_| PathPart::from(dir.as_str()));
        self.buckets()
            .join(bucket.to_string().as_str())
            .join(part)
            .join(date)
            .join(file)
    }

    /// The flush record covering WAL segments up to `wal_through`.
    pub(crate) fn flush_record(&self, wal_through: u64) -> Path {
        self.manifests()
            .join(format!("{wal_through:020}.json").as_str())
    }

    /// A removal record written at `ns`.
    pub(crate) fn removal_record(&self, ns: i64) -> Path {
        self.manifests()
            .join(format!("removed-{ns:020}.json").as_str())
    }
}

/// The object path a manifest's path string names. It is stored encoded (as `Path` prints):
/// `Path::from` would encode it again and name another object.
pub(crate) fn object_path(stored: &str) -> Path {
    Path::parse(stored).unwrap_or_else(|_| Path::from(stored))
}

/// A name as logs show it: at most 100 bytes, cut on a character boundary.
pub fn short_name(name: &str) -> std::borrow::Cow<'_, str> {
    const MAX: usize = 100;
    if name.len() <= MAX {
        return name.into();
    }
    let mut cut = MAX;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{}… ({} bytes)",
        name.get(..cut).unwrap_or_default(),
        name.len()
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_stay_readable() {
        assert_eq!(measurement_dir("cpu"), "cpu");
        assert_eq!(measurement_dir("win_perf_counters"), "win_perf_counters");
        assert_eq!(measurement_dir("a b,c=d"), "a b,c=d");
        assert_eq!(measurement_dir("."), "%2E");
        assert_eq!(measurement_dir(".."), "%2E%2E");
        assert_eq!(measurement_dir("a/b"), "a%2Fb");
        assert_eq!(measurement_dir("~"), "%7E");
        assert_eq!(
            measurement_dir(&"x".repeat(DIR_NAME_MAX)),
            "x".repeat(DIR_NAME_MAX)
        );
    }

    #[test]
    fn long_names_are_bounded_and_distinct() {
        let long = "m".repeat(300);
        let dir = measurement_dir(&long);
        assert_eq!(dir.len(), PREFIX_MAX + 17);
        assert!(dir.starts_with(&"m".repeat(PREFIX_MAX)));
        assert_ne!(dir, measurement_dir(&"m".repeat(301)));
        // Multi-byte names: the prefix ends on a character boundary, encoded.
        let hangul = "한".repeat(70);
        let dir = measurement_dir(&hangul);
        assert!(dir.len() <= PREFIX_MAX + 17, "{dir}");
        assert!(dir.starts_with("%ED%95%9C"), "{dir}");
        let dots = ".".repeat(100);
        assert_eq!(
            &measurement_dir(&dots)[..PREFIX_MAX],
            ".".repeat(PREFIX_MAX)
        );
        // Every character class at the limit of a key.
        for name in ["/".repeat(65_535), "%".repeat(30_000), "é".repeat(30_000)] {
            let dir = measurement_dir(&name);
            assert!(dir.len() <= DIR_NAME_MAX, "{}", dir.len());
            assert!(PathPart::parse(&dir).is_ok());
        }
    }

    #[test]
    fn paths_have_bounded_segments() {
        let layout = Layout::new(Path::from("root"), "wal".into());
        let p = layout.file(
            BucketId(7),
            &"/..%~".repeat(1000),
            "2024-01-01",
            "f.parquet",
        );
        assert_eq!(p.parts().count(), 6);
        assert!(p.parts().all(|s| s.as_ref().len() <= DIR_NAME_MAX));
        assert_eq!(Path::parse(p.as_ref()).ok(), Some(p.clone()));
    }
}
