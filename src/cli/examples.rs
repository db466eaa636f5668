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
  provision plan --detailed-exitcode          exit 2 when there are changes (CI)
  provision plan --replace ecs_service.api    replace it although nothing changed
  provision plan --format markdown > plan.md  a pull-request comment: cost, guardrails, destroys first
  provision plan --deny-warnings              fail on a guardrail warning (CI)
  provision plan --exclude ecs_service.worker leave it (and what depends on it) out";

pub const APPLY: &str = "\
Examples:
  provision apply                             show the plan, ask, apply
  provision apply --auto-approve --json       in CI: NDJSON events on stdout
  provision apply --var image_tag=v2          deploy a new version
  provision apply --target ecs_service.api    only this and what it needs
  provision apply release.plan                exactly what `plan --out` saved
  provision apply --keep-drift                refuse to undo changes made outside provision
  provision apply --var env=pr-42 --ttl 72h   a preview environment `sweep --expired` removes later";

pub const DESTROY: &str = "\
Examples:
  provision destroy                           show what goes, ask, delete
  provision destroy --auto-approve --json     in CI
  provision destroy --target s3_bucket.logs   one resource (and what uses it)
  provision destroy --sweep                   also what the state lost track of
  provision destroy --exclude db_instance.main   keep the database (and what it needs)";

pub const SWEEP: &str = "\
Examples:
  provision sweep --expired --prefix shop-pr-                  list expired preview environments, ask, destroy
  provision sweep --expired --prefix shop-pr- --auto-approve   nightly in CI";

pub const IMPORT: &str = "\
Examples:
  provision import s3_bucket.site my-existing-bucket
  provision import --generate imported.toml s3_bucket.site=my-bucket iam_role.app=my-role
  provision import --from-terraform terraform.tfstate            a whole Terraform deployment
  provision import --from-terraform s3://tf-state/app/terraform.tfstate --out app.toml
  provision import --from-cloudformation myapp-test --from-cloudformation myapp-test-api
                                                                  a Copilot environment and service";

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
  provision state pull > backup.json
  provision state pull --serial 41 > before.json   an earlier version (see `state history`)";

pub const STATE_PUSH: &str = "\
Examples:
  provision state push fixed.json
  provision state push --force before.json        roll back to an older version";

pub const STATE_HISTORY: &str = "\
Examples:
  provision state history                       SERIAL  TIME  WHO  OPERATION, newest first
  provision state pull --serial 41              read one of them";

pub const STATE_MIGRATE: &str = "\
Examples:
  provision state migrate --to s3://team-state/shop/prod.json
  provision state migrate --to s3://team-state/shop/prod.json --create-bucket
  provision state migrate --to state/shop.json   back to a local file";

pub const DRIFT: &str = "\
Examples:
  provision drift                               exit 0: none, exit 2: something changed outside provision
  provision drift --json | jq '.drift'
  provision plan --refresh-only                 then `apply --refresh-only` accepts it into the state";

pub const FORCE_UNLOCK: &str = "\
Examples:
  provision force-unlock 3f2a9c1e-7d0b-4e55-9a61-0c2f4b8e9d17   the id the \"locked\" error printed";

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
