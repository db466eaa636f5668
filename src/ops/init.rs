//! `provision init [--template NAME] [--name NAME]`: a commented starter stack file from one of the
//! example stacks, with its upload folder's files, and the stack named after the project folder.
//! It never overwrites anything: a file already there — or a symbolic link, even one that points
//! nowhere — stops it before anything is written, and each file is created new (`O_EXCL`), so a
//! link planted meanwhile is not followed either.
//!
//! The stack file starts with a `#:schema` directive naming `stack.schema.json`, written beside it
//! (kept if one is there already), so that taplo and VS Code's Even Better TOML complete and check
//! it as it is typed (docs/editors.md).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::templates::{self, Template};

/// The JSON Schema `init` writes beside the stack file, and the directive that points at it.
pub const SCHEMA_FILE: &str = "stack.schema.json";
use provision_core::stack::is_valid_stack_name;

#[derive(Clone, Debug, Default)]
pub struct InitOptions {
    /// Where to write the stack file (`-f`, default `stack.toml`).
    pub file: PathBuf,
    pub template: Option<String>,
    /// The stack's name (default: from the current folder's name).
    pub name: Option<String>,
}

pub fn run(options: &InitOptions) -> Result<u8> {
    let template_name = options.template.as_deref().unwrap_or(templates::DEFAULT);
    let Some(template) = templates::find(template_name) else {
        bail!("unknown template `{template_name}`\n\nhint: the templates are:\n{}", template_list());
    };
    let name = match &options.name {
        Some(name) if is_valid_stack_name(name) => name.clone(),
        Some(name) => bail!(
            "`{name}` is not a valid stack name\n\nhint: use 1 to 28 characters: a lowercase letter, then lowercase letters, digits or `-` (e.g. `{}`)",
            stack_name_from(name)
        ),
        None => {
            let folder = std::env::current_dir().context("cannot read the current folder")?;
            stack_name_from(&folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
        }
    };
    let directory = options.file.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut writes = vec![(options.file.clone(), stack_text(template, &name, &options.file))];
    writes.extend(template.files.iter().map(|(path, contents)| (directory.join(path), contents.to_string())));
    let schema = directory.join(SCHEMA_FILE);
    // `symlink_metadata`, not `exists`: a dangling link does not "exist", but writing to it would
    // create the file it points to.
    let present = |path: &Path| std::fs::symlink_metadata(path).is_ok();
    let write_schema = !present(&schema);
    if let Some((existing, _)) = writes.iter().find(|(path, _)| present(path)) {
        bail!(
            "`{}` already exists; nothing was written\n\nhint: choose another file with `-f FILE`, or move the existing one away",
            existing.display()
        );
    }
    for (path, contents) in &writes {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create `{}`", parent.display()))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        std::io::Write::write_all(&mut file, contents.as_bytes())
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    if write_schema {
        super::schema::write_schema(&schema)?;
    }
    println!("Wrote `{}`: stack `{name}` from the `{}` template.", options.file.display(), template.name);
    if write_schema {
        println!(
            "Wrote `{}`: the stack format, for editors that read `#:schema` (taplo, VS Code's Even Better TOML).",
            schema.display()
        );
    }
    if let Some((first, _)) = template.files.first() {
        let folder = first.split('/').next().unwrap_or(first);
        println!("Wrote {} file(s) to upload in `{}`.", template.files.len(), directory.join(folder).display());
    }
    let flag = file_flag(&options.file);
    println!("\nNext:\n  provision{flag} validate   check it offline\n  provision{flag} plan       see what apply would make\n  provision{flag} apply      make it");
    Ok(0)
}

fn template_list() -> String {
    let width = templates::TEMPLATES.iter().map(|t| t.name.len()).max().unwrap_or(0);
    templates::TEMPLATES
        .iter()
        .map(|t| format!("  {:<width$}  {}", t.name, t.description))
        .collect::<Vec<_>>()
        .join("\n")
}

/// ` -f FILE` unless the file is the default `stack.toml`.
fn file_flag(file: &Path) -> String {
    if file == Path::new("stack.toml") {
        String::new()
    } else {
        format!(" -f {}", file.display())
    }
}

/// The template's stack file with the stack's name, commands that name this file, and a header.
fn stack_text(template: &Template, name: &str, file: &Path) -> String {
    let mut named = false;
    let mut lines = vec![
        format!("#:schema ./{SCHEMA_FILE}"),
        format!("# Written by `provision init --template {}`: a starting point to edit.", template.name),
        "# Every field is described in docs/stack-format.md and docs/resources.md. The line above points".to_string(),
        format!("# editors at the stack format ({SCHEMA_FILE}, from `provision schema`) for completion and checks."),
        "#".to_string(),
    ];
    let example_flag = format!(" -f stacks/{}.toml", template.name);
    let flag = file_flag(file);
    for line in template.stack.lines() {
        if !named && line.starts_with("name = ") {
            named = true;
            lines.push(format!("name = \"{name}\""));
        } else {
            lines.push(line.replace(&example_flag, &flag));
        }
    }
    lines.join("\n") + "\n"
}

/// A valid stack name from any text: `My Site_2` → `my-site-2`.
pub fn stack_name_from(text: &str) -> String {
    let mut name = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            name.push(c);
        } else if !name.ends_with('-') && !name.is_empty() {
            name.push('-');
        }
    }
    let mut name = name.trim_end_matches('-').to_string();
    if name.is_empty() {
        return "my-app".to_string();
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name = format!("app-{name}");
    }
    name.truncate(28);
    name.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_become_valid_stack_names() {
        assert_eq!(stack_name_from("My Site_2"), "my-site-2");
        assert_eq!(stack_name_from("2024 launch"), "app-2024-launch");
        assert_eq!(stack_name_from("--"), "my-app");
        assert_eq!(stack_name_from("Ünïcode—Project!"), "n-code-project");
        let long = stack_name_from("a-really-long-project-folder-name-indeed");
        assert!(long.len() <= 28 && is_valid_stack_name(&long), "{long}");
        for text in ["x", "ABC", "a_b", "9", "ok-name", &"z".repeat(40)] {
            assert!(is_valid_stack_name(&stack_name_from(text)), "{text}");
        }
    }

    #[test]
    fn the_stack_file_is_renamed_and_its_commands_name_the_file() {
        let template = templates::find("static-site").expect("template");
        let text = stack_text(template, "shop", Path::new("stack.toml"));
        assert!(text.starts_with("#:schema ./stack.schema.json\n"), "{text}");
        assert!(text.contains("\nname = \"shop\"\n"), "{text}");
        assert!(!text.contains("name = \"static-site\""), "{text}");
        assert!(text.contains("#   provision plan"), "{text}");
        assert!(!text.contains("stacks/static-site.toml"), "{text}");
        let other = stack_text(template, "shop", Path::new("infra.toml"));
        assert!(other.contains("#   provision -f infra.toml plan"), "{other}");
    }
}
