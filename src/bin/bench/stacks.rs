//! The generated stacks the benchmark runs.

/// Buckets in a tree of dependencies, with every tenth resource a CloudFront distribution in front
/// of one of them: references, defaults and the graph all get exercised.
pub fn tree(name: &str, size: usize) -> String {
    let mut text = format!("[stack]\nname = \"{name}\"\ntags = {{ purpose = \"benchmark\" }}\n\n");
    for i in 0..size {
        if i % 10 == 9 && std::env::var_os("PROVISION_BENCH_BUCKETS_ONLY").is_none() {
            text.push_str(&format!(
                "[cloudfront_distribution.cdn{i}]\norigin_bucket = \"${{s3_bucket.b{}.name}}\"\nwait = false\n\n",
                i - 1
            ));
        } else if i == 0 {
            text.push_str("[s3_bucket.b0]\nversioning = true\n\n");
        } else {
            let parent = (i - 1) / 2;
            let parent = if parent % 10 == 9 { parent - 1 } else { parent };
            text.push_str(&format!(
                "[s3_bucket.b{i}]\ntags = {{ index = \"{i}\" }}\ndepends_on = [\"s3_bucket.b{parent}\"]\n\n"
            ));
        }
    }
    text.push_str("[outputs]\nfirst_bucket = \"${s3_bucket.b0.name}\"\n");
    text
}

/// Eight types in turn (security groups in the `[network]` VPC, each distribution in front of the
/// bucket before it): what a refresh of a real stack reads, at scale.
pub fn mixed(name: &str, size: usize) -> String {
    let mut text =
        format!("[stack]\nname = \"{name}\"\ntags = {{ purpose = \"benchmark\" }}\n\n[network]\nvpc = \"default\"\n\n");
    for i in 0..size {
        let resource = match i % 8 {
            0 => format!("[s3_bucket.r{i}]\ntags = {{ index = \"{i}\" }}\n"),
            1 => format!(
                "[cloudfront_distribution.r{i}]\norigin_bucket = \"${{s3_bucket.r{}.name}}\"\nwait = false\n",
                i - 1
            ),
            2 => format!("[iam_role.r{i}]\nservice = \"ecs-tasks.amazonaws.com\"\n"),
            3 => format!("[log_group.r{i}]\nretention_days = 7\n"),
            4 => format!("[ecr_repository.r{i}]\nforce_destroy = true\n"),
            5 => format!("[security_group.r{i}]\ningress = [{{ port = 443, cidr = \"0.0.0.0/0\" }}]\n"),
            6 => format!("[ecs_cluster.r{i}]\n"),
            _ => format!("[secret.r{i}]\ngenerate = {{ length = 24 }}\nrecovery_days = 0\n"),
        };
        text.push_str(&resource);
        text.push('\n');
    }
    text
}

/// Independent buckets (no references, no `depends_on`), each with its own tags: what an apply
/// can do all at once.
pub fn independent(name: &str, size: usize) -> String {
    let mut text = format!("[stack]\nname = \"{name}\"\ntags = {{ purpose = \"benchmark\" }}\n\n");
    for i in 0..size {
        text.push_str(&format!("[s3_bucket.b{i}]\ntags = {{ index = \"{i}\" }}\n\n"));
    }
    text
}

/// The static site: a private bucket with three files, served by a distribution. The same as
/// `stacks/static-site.toml` with `wait = true` (the default), so the apply reads the distribution
/// back until it is deployed.
pub fn static_site(name: &str, bucket: &str) -> String {
    format!(
        "[stack]\nname = \"{name}\"\n\n[s3_bucket.site]\nbucket = \"{bucket}\"\nupload = \"site\"\nforce_destroy = true\n\n[cloudfront_distribution.cdn]\norigin_bucket = \"${{s3_bucket.site.name}}\"\ndefault_root_object = \"index.html\"\n"
    )
}

/// The three files of the static site.
pub const SITE_FILES: [(&str, &str); 3] = [
    (
        "index.html",
        "<!doctype html><title>bench</title><link rel=stylesheet href=site.css><script src=app.js></script>",
    ),
    ("site.css", "body { font-family: sans-serif; }"),
    ("app.js", "console.log('hello');"),
];
