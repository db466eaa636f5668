//! The `Examples:` every command's `--help` ends with: the commands people actually type.

pub const PROVISION: &str = "\
Examples:
  provision init --template static-site   start a project from an example stack
  provision validate                      check stack.toml offline
  provision plan                          see what apply would change
  provision apply                         make AWS match stack.toml (asks first)
  provision -f infra/shop.toml destroy    delete everything another stack file made";

pub const VALIDATE: &str = "\
Examples:
  provision validate
  provision -f stacks/webapp.toml validate --var image_tag=v2";

pub const PLAN: &str = "\
Examples:
  provision plan                              read AWS, show what apply would do
  provision plan --refresh=false              offline: from the state alone
  provision plan --out release.plan           save it for `provision apply release.plan`
  provision plan --json | jq '.summary'
  provision plan --detailed-exitcode          exit 2 when there are changes (CI)";

pub const APPLY: &str = "\
Examples:
  provision apply                             show the plan, ask, apply
  provision apply --auto-approve --json       in CI: NDJSON events on stdout
  provision apply --var image_tag=v2          deploy a new version
  provision apply --target ecs_service.api    only this and what it needs
  provision apply release.plan                exactly what `plan --out` saved";

pub const DESTROY: &str = "\
Examples:
  provision destroy                           show what goes, ask, delete
  provision destroy --auto-approve --json     in CI
  provision destroy --target s3_bucket.logs   one resource (and what uses it)
  provision destroy --sweep                   also what the state lost track of";

pub const IMPORT: &str = "\
Examples:
  provision import s3_bucket.site my-existing-bucket
  provision import --generate imported.toml s3_bucket.site=my-bucket iam_role.app=my-role";

pub const OUTPUT: &str = "\
Examples:
  provision output
  provision output site_url
  provision output --json | jq -r '.site_url'";

pub const STATE: &str = "\
Examples:
  provision state list
  provision state show s3_bucket.site
  provision state rm s3_bucket.site           forget it; it stays in AWS
  provision state pull > backup.json
  provision state orphans                     tagged with the stack, unknown to the state";

pub const STATE_LIST: &str = "\
Examples:
  provision state list";

pub const STATE_SHOW: &str = "\
Examples:
  provision state show ecs_service.api";

pub const STATE_RM: &str = "\
Examples:
  provision state rm s3_bucket.site           the bucket stays in AWS; import adopts it again";

pub const STATE_PULL: &str = "\
Examples:
  provision state pull > backup.json";

pub const STATE_PUSH: &str = "\
Examples:
  provision state push fixed.json";

pub const STATE_ORPHANS: &str = "\
Examples:
  provision state orphans
  provision destroy --sweep                   delete them instead";

pub const GRAPH: &str = "\
Examples:
  provision graph | dot -Tsvg > graph.svg";

pub const SCHEMA: &str = "\
Examples:
  provision schema > stack.schema.json        for taplo / VS Code
  provision schema --markdown > docs/resources.md";

pub const INIT: &str = "\
Examples:
  provision init                              the static-site template, named after this folder
  provision init --template api-service --name shop-api
  provision -f infra.toml init --template webapp";

pub const COMPLETIONS: &str = "\
Examples:
  provision completions bash > ~/.local/share/bash-completion/completions/provision
  provision completions zsh > \"${fpath[1]}/_provision\"
  provision completions fish > ~/.config/fish/completions/provision.fish";

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    fn check(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
        let help = command.get_after_help().map(|h| h.to_string()).unwrap_or_default();
        if !help.starts_with("Examples:\n  provision") {
            missing.push(path.to_string());
        }
        for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
            check(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }

    #[test]
    fn every_command_shows_an_example() {
        let mut missing = Vec::new();
        check(&super::super::Cli::command(), "provision", &mut missing);
        assert!(missing.is_empty(), "commands whose --help has no `Examples:`: {missing:?}");
    }
}
