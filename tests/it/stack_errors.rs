//! Bad stack files fail before any AWS call, naming file, line and column, with a hint.
//!
//! Each test points the binary at an endpoint where nothing listens: had it called AWS, the error
//! would be a connection failure instead of the stack error asserted here.

use crate::support::Project;

fn plan_fails(stack: &str) -> crate::support::Run {
    Project::new("err", stack).with_unreachable_endpoint().run(&["plan"]).code(1)
}

#[test]
fn malformed_toml_names_line_and_column() {
    let run = plan_fails("[stack]\nname = \"{name}\"\n\n[s3_bucket.site\nversioning = true\n");
    let run = run.stderr_has("stack.toml:4:");
    assert!(run.stderr.contains("invalid TOML"), "{}", run.stderr);
}

#[test]
fn unknown_field_names_line_column_and_suggests_the_right_one() {
    plan_fails("[stack]\nname = \"{name}\"\n\n[s3_bucket.site]\nversionin = true\n")
        .stderr_has("stack.toml:5:1: unknown field `versionin` in `s3_bucket.site`")
        .stderr_has("hint: did you mean `versioning`?");
}

#[test]
fn unknown_reference_names_line_and_column() {
    plan_fails(
        "[stack]\nname = \"{name}\"\n\n[s3_bucket.site]\n\n[cloudfront_distribution.cdn]\norigin_bucket = \"${s3_bucket.sight.name}\"\n",
    )
    .stderr_has("stack.toml:7:18: unknown resource `s3_bucket.sight`")
    .stderr_has("did you mean `s3_bucket.site`?");
}

#[test]
fn unknown_attribute_lists_the_real_ones() {
    plan_fails(
        "[stack]\nname = \"{name}\"\n\n[s3_bucket.site]\n\n[cloudfront_distribution.cdn]\norigin_bucket = \"${s3_bucket.site.nme}\"\n",
    )
    .stderr_has("stack.toml:7:18: `s3_bucket` has no attribute `nme`")
    .stderr_has("`regional_domain_name`");
}

#[test]
fn cycles_show_their_path() {
    plan_fails(
        "[stack]\nname = \"{name}\"\n\n[s3_bucket.a]\ndepends_on = [\"s3_bucket.b\"]\n\n[s3_bucket.b]\ndepends_on = [\"s3_bucket.a\"]\n",
    )
    .stderr_has("dependency cycle: s3_bucket.a -> s3_bucket.b -> s3_bucket.a");
}

#[test]
fn wrong_types_say_what_was_expected() {
    plan_fails("[stack]\nname = \"{name}\"\n\n[s3_bucket.site]\nversioning = \"yes\"\n")
        .stderr_has("stack.toml:5:14: `s3_bucket.site.versioning` must be a boolean, found a string");
}

#[test]
fn unknown_variables_in_var_flags_are_refused() {
    Project::new("err", "[stack]\nname = \"{name}\"\n[variables]\nenv = \"dev\"\n")
        .with_unreachable_endpoint()
        .run(&["plan", "--var", "envv=prod"])
        .code(1)
        .stderr_has("`--var envv=…` names a variable the stack does not declare")
        .stderr_has("did you mean `env`?");
}

#[test]
fn aws_naming_rules_are_checked_offline() {
    plan_fails("[stack]\nname = \"{name}\"\n\n[s3_bucket.site]\nbucket = \"My_Bucket\"\n")
        .stderr_has("stack.toml:5:10: `s3_bucket.site.bucket`");
}

#[test]
fn the_error_output_shows_the_offending_line() {
    let project = Project::new("err", "[stack]\nname = \"{name}\"\n\n[s3_bucket.site]\nversionin = true\n");
    let run = project.run(&["validate"]).code(1);
    insta::assert_snapshot!(run.stderr.replace(&project.stack_name, "[STACK]"));
}

#[test]
fn more_tags_than_aws_allows_are_refused_offline() {
    let tags: Vec<String> = (0..48).map(|i| format!("t{i} = \"v\"")).collect();
    let stack = format!("[stack]\nname = \"{{name}}\"\n\n[s3_bucket.site]\ntags = {{ {} }}\n", tags.join(", "));
    plan_fails(&stack)
        .stderr_has("stack.toml:5:8: `s3_bucket.site` would carry 51 tags")
        .stderr_has("AWS allows 50")
        .stderr_has("remove at least 1 tag(s)");
    Project::new("err", &stack).run(&["validate"]).code(1).stderr_has("would carry 51 tags");
}

#[test]
fn reserved_and_overlong_tags_are_refused_offline() {
    plan_fails(&format!(
        "[stack]\nname = \"{{name}}\"\ntags = {{ \"aws:owner\" = \"me\" }}\n\n[s3_bucket.site]\ntags = {{ team = \"{}\" }}\n",
        "x".repeat(257)
    ))
    .stderr_has("stack.toml:3:10: tag key `aws:owner` uses the `aws:` prefix")
    .stderr_has("the value of tag `team` is 257 characters long");
}

#[test]
fn a_region_that_does_not_exist_is_refused_before_any_call() {
    plan_fails("[stack]\nname = \"{name}\"\nregion = \"mars-north-9\"\n\n[s3_bucket.site]\n")
        .stderr_has("stack.toml:3:10: `[stack] region`: `mars-north-9` is not an AWS region");
    Project::new("err", "[stack]\nname = \"{name}\"\n\n[s3_bucket.site]\n")
        .with_unreachable_endpoint()
        .run(&["--region", "us-est-1", "plan"])
        .code(1)
        .stderr_has("`us-est-1` is not an AWS region");
}

#[test]
fn a_missing_upload_folder_is_found_before_any_call() {
    let project = Project::new("err", "[stack]\nname = \"{name}\"\n\n[s3_bucket.site]\nupload = \"public\"\n")
        .with_unreachable_endpoint();
    let run = project.run(&["plan"]).code(1).stderr_has("`upload` folder `public` does not exist");
    assert!(!run.stderr.contains("dispatch failure") && !run.stderr.contains("connect"), "{}", run.stderr);
}
