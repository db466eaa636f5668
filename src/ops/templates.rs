//! The example stacks in `stacks/`, built into the binary for `provision init`: each stack file
//! and the files of its upload folder. A unit test checks this list against the folder, so a new
//! example is a template as soon as it is added here.

pub struct Template {
    pub name: &'static str,
    pub description: &'static str,
    pub stack: &'static str,
    /// Files of the upload folder, by their path relative to the stack file.
    pub files: &'static [(&'static str, &'static str)],
}

macro_rules! example {
    ($path:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/stacks/", $path))
    };
}

macro_rules! file {
    ($path:literal) => {
        ($path, example!($path))
    };
}

/// The template `init` uses without `--template`.
pub const DEFAULT: &str = "static-site";

pub const TEMPLATES: &[Template] = &[
    Template {
        name: "static-site",
        description: "a static web site: files in S3, served through CloudFront over HTTPS",
        stack: example!("static-site.toml"),
        files: &[file!("static-site/index.html"), file!("static-site/css/site.css"), file!("static-site/js/app.js")],
    },
    Template {
        name: "api-service",
        description: "an API in containers: ECR, ECS Fargate behind a load balancer, rolling deploys",
        stack: example!("api-service.toml"),
        files: &[],
    },
    Template {
        name: "flask-postgres",
        description: "a Flask app on ECS Fargate with PostgreSQL on RDS",
        stack: example!("flask-postgres.toml"),
        files: &[],
    },
    Template {
        name: "starwars-api",
        description: "a Flask API on ECS Fargate with MySQL on RDS",
        stack: example!("starwars-api.toml"),
        files: &[],
    },
    Template {
        name: "webapp",
        description: "three tiers: a front end on CloudFront, an API on ECS, MySQL on RDS",
        stack: example!("webapp.toml"),
        files: &[file!("webapp/index.html")],
    },
    Template {
        name: "websocket-platform",
        description: "a web client on CloudFront, a websocket server on ECS, MySQL, deploy notifications",
        stack: example!("websocket-platform.toml"),
        files: &[file!("websocket-platform/index.html")],
    },
];

pub fn find(name: &str) -> Option<&'static Template> {
    TEMPLATES.iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files_under(root: &std::path::Path, folder: &std::path::Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(folder).expect("read folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                files_under(root, &path, found);
            } else {
                found.push(path.strip_prefix(root).expect("inside").display().to_string());
            }
        }
    }

    #[test]
    fn every_example_stack_and_file_is_a_template() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("stacks");
        let mut found = Vec::new();
        files_under(&root, &root, &mut found);
        found.sort();
        let mut embedded: Vec<String> = TEMPLATES
            .iter()
            .flat_map(|t| std::iter::once(format!("{}.toml", t.name)).chain(t.files.iter().map(|(p, _)| p.to_string())))
            .collect();
        embedded.sort();
        assert_eq!(embedded, found, "stacks/ and the templates built into `provision init` differ");
        assert!(find(DEFAULT).is_some());
    }
}
