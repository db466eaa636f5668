//! The bucket's offline logic: names, configuration, what a sync sends and what a change touches.

use super::*;

#[test]
fn bucket_names_follow_the_s3_rules() {
    assert!(check_bucket_name("shop-dev-site").is_ok());
    assert!(check_bucket_name("My_Bucket").unwrap_err().contains("lowercase"));
    assert!(check_bucket_name("ab").unwrap_err().contains("3 to 63"));
    assert!(check_bucket_name("-abc").unwrap_err().contains("begin and end"));
    assert!(check_bucket_name("192.168.1.1").unwrap_err().contains("IP address"));
}

fn stack(directory: &std::path::Path) -> StackInfo {
    StackInfo { name: "shop".into(), region: "eu-west-1".into(), directory: directory.to_path_buf(), lineage: None }
}

fn inputs(json: Json) -> JsonMap {
    json.as_object().cloned().expect("an object")
}

fn manifest(pairs: &[(&str, &str)]) -> Manifest {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn prepare_adds_the_files_of_the_upload_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("site/css")).expect("mkdir");
    std::fs::write(dir.path().join("site/index.html"), "hello").expect("write");
    std::fs::write(dir.path().join("site/css/a.css"), "").expect("write");
    let mut inputs = inputs(serde_json::json!({ "bucket": "b", "upload": "site" }));

    BucketDriver.prepare(&stack(dir.path()), &mut inputs).expect("prepare");

    assert_eq!(
        inputs["files"],
        serde_json::json!({
            "css/a.css": "d41d8cd98f00b204e9800998ecf8427e",
            "index.html": "5d41402abc4b2a76b9719d911017c592",
        })
    );
}

#[test]
fn prepare_without_upload_adds_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut inputs = inputs(serde_json::json!({ "bucket": "b", "versioning": false }));
    BucketDriver.prepare(&stack(dir.path()), &mut inputs).expect("prepare");
    assert!(!inputs.contains_key("files"));
}

#[test]
fn prepare_rejects_a_missing_upload_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut inputs = inputs(serde_json::json!({ "bucket": "b", "upload": "dist" }));

    let error = BucketDriver.prepare(&stack(dir.path()), &mut inputs).expect_err("missing folder");

    assert_eq!(error.message, "`upload` folder `dist` does not exist");
    assert!(error.hint.expect("a hint").contains("relative to the folder holding the stack file"));
}

#[test]
fn planned_attributes_follow_name_region_and_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let planned = BucketDriver.planned_attributes(
        &stack(dir.path()),
        &inputs(serde_json::json!({ "bucket": "shop-site", "files": { "b": "2", "a": "1" } })),
    );
    assert_eq!(planned["name"], "shop-site");
    assert_eq!(planned["arn"], "arn:aws:s3:::shop-site");
    assert_eq!(planned["regional_domain_name"], "shop-site.s3.eu-west-1.amazonaws.com");
    assert_eq!(planned["content_hash"], manifest::content_hash([("a", "1"), ("b", "2")]));
    // The same files read back from S3 give the same hash.
    let observed = observed("shop-site", "eu-west-1", Some(&manifest(&[("a", "1"), ("b", "2")])));
    assert_eq!(observed.attributes, planned);

    let without_upload =
        BucketDriver.planned_attributes(&stack(dir.path()), &inputs(serde_json::json!({ "bucket": "x" })));
    assert_eq!(without_upload["content_hash"], "");
}

#[test]
fn sync_uploads_new_and_changed_files_and_removes_the_rest() {
    let prior = manifest(&[("same", "1"), ("changed", "2"), ("gone", "3")]);
    let next = manifest(&[("same", "1"), ("changed", "22"), ("new", "4")]);
    assert_eq!(
        sync_plan(&prior, &next),
        SyncPlan { upload: vec!["changed".into(), "new".into()], remove: vec!["gone".into()] }
    );
}

#[test]
fn read_back_tags_leave_out_provision_tags() {
    let tags: std::collections::BTreeMap<String, String> =
        [("provision:stack", "shop"), ("provision:address", "s3_bucket.site"), ("team", "web")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    assert_eq!(user_tags(&tags), serde_json::json!({ "team": "web" }));
}

#[test]
fn changes_are_grouped_by_top_level_field() {
    assert_eq!(top_level_field("files.index.html"), "files");
    assert_eq!(top_level_field("tags"), "tags");
    assert_eq!(top_level_field("versioning"), "versioning");
}
