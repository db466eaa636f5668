//! Integration tests: the real `provision` binary against the local AWS emulator (moto), one test
//! binary so the AWS SDK crates link once. See `support` for the harness.

mod support;

mod adoption;
mod aws_as_it_behaves;
mod aws_profile;
mod ci_workflow;
mod cli_commands;
mod cli_ux;
mod containers;
mod database;
mod destroy_from_state;
mod digest;
mod domain;
mod drivers_through_the_profile;
mod example_stacks;
mod fuzz;
mod interrupt;
mod kill;
mod listener_rules;
mod logs_and_secrets;
mod lost_answers;
mod moving_in;
mod moving_in_cfn_network;
mod moving_in_network;
mod network;
mod notify;
mod preview;
mod redis;
mod releases;
mod renames_and_drift;
mod review;
mod schema;
mod security;
mod stack_errors;
mod static_site;
mod team_state;
mod team_state_faults;
mod throttling;
mod webapp;
