use std::sync::Arc;

use object_store::local::LocalFileSystem;

use super::*;

async fn open(dir: &std::path::Path) -> Catalog {
    let store = Arc::new(LocalFileSystem::new_with_prefix(dir).expect("store"));
    Catalog::open(
        store,
        CatalogConfig {
            prefix: Path::from("catalog"),
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
    };
    let mut bytes = record::encode(&rec);
    assert_eq!(record::decode("x", &bytes).expect("decodes"), rec);
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let err = record::decode("catalog/log/0.rec", &bytes).expect_err("corrupt");
    assert!(err.to_string().contains("catalog/log/0.rec"), "{err}");
    assert!(err.to_string().contains("checksum mismatch"), "{err}");
    assert!(record::decode("x", &bytes[..10]).is_err());
}

#[tokio::test]
async fn buckets_and_schemas_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let id = {
        let cat = open(dir.path()).await;
        let b = cat
            .resolve_bucket_for_write("db", "")
            .await
            .expect("bucket");
        assert_eq!(b.name, "db/autogen");
        let again = cat
            .resolve_bucket_for_write("db", "autogen")
            .await
            .expect("bucket");
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
    let b2 = cat
        .resolve_bucket_for_write("other", "rp")
        .await
        .expect("bucket");
    assert_ne!(b2.id, id);
}

#[tokio::test]
async fn corrupt_record_is_a_loud_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let cat = open(dir.path()).await;
        cat.resolve_bucket_for_write("db", "rp")
            .await
            .expect("bucket");
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
