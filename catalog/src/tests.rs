use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::ObjectStore;

use super::*;

async fn open(dir: &std::path::Path) -> Catalog {
    let store = Arc::new(LocalFileSystem::new_with_prefix(dir).expect("store"));
    Catalog::open(
        store,
        CatalogConfig {
            prefix: Path::from("catalog"),
            snapshot_every: 256,
        },
    )
    .await
    .expect("open")
}

#[test]
fn record_roundtrip_and_corruption() {
    let rec = Record::CreateBucket {
        id: BucketId(7),
        name: "db/rp".into(),
        retention_ns: Some(5),
        created_ns: Some(1),
    };
    let mut bytes = record::encode(&rec);
    assert_eq!(record::decode::<Record>("x", &bytes).expect("decodes"), rec);
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let err = record::decode::<Record>("catalog/log/0.rec", &bytes).expect_err("corrupt");
    assert!(err.to_string().contains("catalog/log/0.rec"), "{err}");
    assert!(err.to_string().contains("checksum mismatch"), "{err}");
    assert!(record::decode::<Record>("x", &bytes[..10]).is_err());
}

#[tokio::test]
async fn buckets_and_schemas_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let id = {
        let cat = open(dir.path()).await;
        let b = cat.resolve_v1("db", "", true).await.expect("bucket");
        assert_eq!(b.name, "db/autogen");
        let again = cat.resolve_v1("db", "autogen", true).await.expect("bucket");
        assert_eq!(again.id, b.id);
        let schema = cat
            .add_columns(
                b.id,
                "cpu",
                vec![
                    ("host".into(), ColumnType::Tag),
                    ("v".into(), ColumnType::Field(FieldType::Float)),
                ],
            )
            .await
            .expect("columns");
        assert_eq!(
            schema.column("v"),
            Some(ColumnType::Field(FieldType::Float))
        );
        // first type wins
        let schema = cat
            .add_columns(
                b.id,
                "cpu",
                vec![("v".into(), ColumnType::Field(FieldType::Integer))],
            )
            .await
            .expect("columns");
        assert_eq!(
            schema.column("v"),
            Some(ColumnType::Field(FieldType::Float))
        );
        b.id
    };
    let cat = open(dir.path()).await;
    assert_eq!(cat.buckets().len(), 1);
    assert_eq!(cat.table(id, "cpu").column("host"), Some(ColumnType::Tag));
    // a new bucket after reopen gets a fresh id
    let b2 = cat.resolve_v1("other", "rp", true).await.expect("bucket");
    assert_ne!(b2.id, id);
}

#[tokio::test]
async fn corrupt_record_is_a_loud_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let cat = open(dir.path()).await;
        cat.resolve_v1("db", "rp", true).await.expect("bucket");
    }
    let rec = dir.path().join("catalog/log/00000000000000000000.rec");
    let mut bytes = std::fs::read(&rec).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(&rec, bytes).expect("write");
    let store = Arc::new(LocalFileSystem::new_with_prefix(dir.path()).expect("store"));
    let err = Catalog::open(
        store,
        CatalogConfig {
            prefix: Path::from("catalog"),
            snapshot_every: 256,
        },
    )
    .await
    .expect_err("must refuse");
    assert!(
        err.to_string().contains("00000000000000000000.rec"),
        "{err}"
    );
}

#[test]
fn name_rules() {
    assert!(validate_part("telegraf").is_ok());
    assert!(validate_part("").is_err());
    assert!(validate_part("a/b").is_err());
    assert!(validate_part("a\nb").is_err());
    assert!(validate_part(&"x".repeat(256)).is_err());
}

#[tokio::test]
async fn dbrp_resolution_follows_the_spec_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cat = open(dir.path()).await;
    // 5: unknown database, no right to create
    assert!(matches!(
        cat.resolve_v1("db", "", false).await,
        Err(CatalogError::DatabaseNotFound { .. })
    ));
    // 3: a bucket named exactly `db` serves rp autogen (and the empty rp)
    let plain = cat.create_bucket("db", None).await.expect("bucket");
    assert_eq!(
        cat.resolve_v1("db", "", false).await.expect("resolves").id,
        plain.id
    );
    assert_eq!(
        cat.resolve_v1("db", "autogen", false)
            .await
            .expect("resolves")
            .id,
        plain.id
    );
    // 5': the database is known but not that rp
    assert!(matches!(
        cat.resolve_v1("db", "weekly", false).await,
        Err(CatalogError::RetentionPolicyNotFound { .. })
    ));
    // 2: a bucket named `db/rp`
    let weekly = cat.create_bucket("db/weekly", None).await.expect("bucket");
    assert_eq!(
        cat.resolve_v1("db", "weekly", false)
            .await
            .expect("resolves")
            .id,
        weekly.id
    );
    // 1: an explicit mapping wins over names
    let other = cat.create_bucket("elsewhere", None).await.expect("bucket");
    cat.create_dbrp("db", "weekly", other.id, false)
        .await
        .expect("dbrp");
    assert_eq!(
        cat.resolve_v1("db", "weekly", false)
            .await
            .expect("resolves")
            .id,
        other.id
    );
    // a default mapping changes what the empty rp means
    let d = cat
        .create_dbrp("db", "autogen", plain.id, false)
        .await
        .expect("dbrp");
    cat.set_dbrp_default(d.id.expect("stored"), true)
        .await
        .expect("default");
    assert_eq!(
        cat.resolve_v1("db", "", false).await.expect("resolves").id,
        plain.id
    );
    // 4: creation makes bucket db2/rp and a default mapping
    let created = cat.resolve_v1("db2", "", true).await.expect("created");
    assert_eq!(created.name, "db2/autogen");
    let m: Vec<_> = cat
        .dbrps()
        .into_iter()
        .filter(|d| d.database == "db2")
        .collect();
    assert_eq!(m.len(), 1);
    assert!(m[0].default && !m[0].is_virtual);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_writes_create_one_bucket_and_one_mapping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cat = Arc::new(open(dir.path()).await);
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let cat = Arc::clone(&cat);
        tasks.push(tokio::spawn(async move {
            cat.resolve_v1("race", "", true).await.expect("resolves").id
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.expect("task"));
    }
    ids.dedup();
    assert_eq!(ids.len(), 1);
    assert_eq!(cat.buckets().len(), 1);
    assert_eq!(cat.dbrps().iter().filter(|d| !d.is_virtual).count(), 1);
}

#[tokio::test]
async fn tokens_are_stored_as_hashes_and_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (id, secret) = {
        let cat = open(dir.path()).await;
        let (token, secret) = cat
            .create_token("ops", vec![Permission::All], None)
            .await
            .expect("token");
        assert!(secret.starts_with("strata_") && secret.len() > 40);
        let (_, fixed) = cat
            .create_token("ci", vec![Permission::All], Some("fixed-secret"))
            .await
            .expect("token");
        assert_eq!(fixed, "fixed-secret");
        assert!(cat
            .create_token("dup", vec![], Some("fixed-secret"))
            .await
            .is_err());
        (token.id, secret)
    };
    // the secret is nowhere on disk
    for entry in std::fs::read_dir(dir.path().join("catalog/log")).expect("log") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&secret) && !text.contains("fixed-secret"));
    }
    let cat = open(dir.path()).await;
    assert_eq!(cat.authenticate(&secret).map(|t| t.id), Some(id));
    assert!(cat.authenticate("fixed-secret").is_some());
    assert!(
        cat.authenticate("user:fixed-secret").is_some(),
        "1.8 compat user:password"
    );
    assert!(cat.authenticate("wrong").is_none());
    cat.delete_token(id).await.expect("delete");
    assert!(cat.authenticate(&secret).is_none());
}

#[tokio::test]
async fn write_permission_is_per_bucket() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cat = open(dir.path()).await;
    let a = cat.create_bucket("a", None).await.expect("bucket");
    let b = cat.create_bucket("b", None).await.expect("bucket");
    let (t, _) = cat
        .create_token("a only", vec![Permission::Write(a.id)], None)
        .await
        .expect("token");
    assert!(t.can_write(a.id) && !t.can_write(b.id) && !t.is_operator());
}

/// A catalog written by the first released record format still loads: the fixture under
/// `catalog/tests/fixtures/v1` was written by this build's first version and is never rewritten.
#[tokio::test]
async fn old_format_fixture_loads() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1");
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&fixture, dir.path());
    let cat = open(dir.path()).await;
    let bucket = cat
        .bucket_by_name("telegraf/autogen")
        .expect("bucket from fixture");
    assert_eq!(
        cat.table(bucket.id, "cpu").column("usage_idle"),
        Some(ColumnType::Field(FieldType::Float))
    );
    assert_eq!(
        cat.table(bucket.id, "cpu").column("host"),
        Some(ColumnType::Tag)
    );
    assert!(cat
        .authenticate("fixture-operator-token")
        .is_some_and(|t| t.is_operator()));
    assert_eq!(
        cat.resolve_v1("telegraf", "", false)
            .await
            .expect("mapped")
            .id,
        bucket.id
    );
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).expect("fixture dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[tokio::test]
async fn snapshot_plus_log_replays_to_the_same_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = || -> Arc<dyn ObjectStore> {
        Arc::new(LocalFileSystem::new_with_prefix(dir.path()).expect("store"))
    };
    let cfg = || CatalogConfig {
        prefix: Path::from("catalog"),
        snapshot_every: 4,
    };
    let (token_secret, expected_buckets, expected_dbrps) = {
        let cat = Catalog::open(store(), cfg()).await.expect("open");
        let (_, secret) = cat
            .create_token("t", vec![Permission::All], None)
            .await
            .expect("token");
        for i in 0..5 {
            let b = cat
                .resolve_v1(&format!("db{i}"), "", true)
                .await
                .expect("bucket");
            cat.add_columns(
                b.id,
                "m",
                vec![("v".into(), ColumnType::Field(FieldType::Integer))],
            )
            .await
            .expect("cols");
        }
        (secret, cat.buckets(), cat.dbrps())
    };
    let snaps: Vec<_> = std::fs::read_dir(dir.path().join("catalog/snapshot"))
        .expect("snapshots")
        .collect();
    assert!(!snaps.is_empty());
    let logs = std::fs::read_dir(dir.path().join("catalog/log"))
        .expect("log")
        .count();
    assert!(
        logs < 4,
        "records covered by a snapshot are deleted ({logs} left)"
    );
    let cat = Catalog::open(store(), cfg()).await.expect("reopen");
    assert_eq!(cat.buckets(), expected_buckets);
    assert_eq!(cat.dbrps(), expected_dbrps);
    assert!(cat.authenticate(&token_secret).is_some());
    let b = cat.bucket_by_name("db3/autogen").expect("bucket");
    assert_eq!(
        cat.table(b.id, "m").column("v"),
        Some(ColumnType::Field(FieldType::Integer))
    );
    // and it keeps going: new ids do not collide
    let n = cat.resolve_v1("new", "", true).await.expect("bucket");
    assert!(expected_buckets.iter().all(|b| b.id != n.id));
}

#[tokio::test]
async fn a_second_process_on_the_same_data_dir_fails_loudly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = open(dir.path()).await;
    let second = open(dir.path()).await;
    first.resolve_v1("a", "", true).await.expect("first writer");
    // The second catalog's next record number is taken: its change must fail, not interleave.
    let err = second
        .resolve_v1("b", "", true)
        .await
        .expect_err("must fail");
    assert!(
        matches!(err, CatalogError::ConcurrentWriter { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("another strata process"), "{err}");
}
