//! The pull-request comment, read back the way a Markdown renderer reads it (pulldown-cmark: CommonMark
//! with GitHub's tables): what a reviewer sees, and that it always fits in a comment.

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
use serde_json::json;

use super::plan_markdown::{render, render_within, COMMENT_LIMIT};
use crate::address::Address;
use crate::cost::{CostChange, PlanCost};
use crate::guardrails::Finding;
use crate::plan::{Action, Change, Plan, Planned, PlannedAction, UndoneChange};

fn plan(actions: Vec<PlannedAction>) -> Plan {
    Plan {
        stack: "shop".into(),
        lineage: None,
        serial: None,
        refreshed: true,
        actions,
        drift: Vec::new(),
        outputs: Default::default(),
        moves: Vec::new(),
        refresh_only: false,
        protection: Vec::new(),
        cost: None,
        findings: Vec::new(),
        undone: Vec::new(),
    }
}

fn known(value: serde_json::Value) -> Option<Planned> {
    Some(Planned::Known(value))
}

fn change(path: &str, before: Option<Planned>, after: Option<Planned>, forces: bool) -> Change {
    Change { path: path.into(), before, after, forces_replacement: forces, hidden: false }
}

/// A plan with one of everything a reviewer must see.
fn review_plan() -> Plan {
    let mut create = PlannedAction::new(
        Address::new("ecs_service", "api"),
        Action::Create,
        vec![change("cpu", None, known(json!(512)), false)],
        vec![],
    );
    create.monthly_cost = Some(CostChange { before: 0, after: 3604 });
    let mut replace = PlannedAction::new(
        Address::new("target_group", "api"),
        Action::Replace,
        vec![change("port", known(json!(8080)), known(json!(9090)), true)],
        vec!["port".into()],
    );
    replace.notes = vec!["traffic | pauses <briefly>".into()];
    let mut delete = PlannedAction::new(Address::new("db_instance", "old"), Action::Delete, vec![], vec![]);
    delete.monthly_cost = Some(CostChange { before: 1241, after: 0 });
    let mut plan = plan(vec![create, delete, replace]);
    plan.cost = Some(PlanCost {
        region: "us-east-1".into(),
        prices_as_of: "2026-12-06".into(),
        priced: true,
        before: 1200,
        after: 6320,
        usage: vec!["data transfer out of AWS".into()],
        unpriced: vec![],
    });
    plan.findings = vec![
        Finding {
            check: "open-port".into(),
            address: Address::new("security_group", "admin"),
            message: "port 22 (SSH) is open to `0.0.0.0/0`".into(),
            why: "anyone can reach it".into(),
            fix: "allow it only from another security group".into(),
            allowed: None,
        },
        Finding {
            check: "no-backups".into(),
            address: Address::new("db_instance", "scratch"),
            message: "the database keeps no automated backups".into(),
            why: "no restore".into(),
            fix: "keep 7 days".into(),
            allowed: Some("rebuilt *nightly* from <prod>".into()),
        },
    ];
    plan.undone = vec![UndoneChange {
        address: Address::new("ecs_service", "api"),
        path: "desired_count".into(),
        outside: known(json!(6)),
        restored: known(json!(3)),
    }];
    plan
}

/// What the comment is made of, as a renderer sees it.
struct Read {
    headings: Vec<String>,
    tables: usize,
    code_blocks: Vec<(String, String)>,
    html: String,
    text: String,
}

fn read(markdown: &str) -> Read {
    let mut read = Read { headings: vec![], tables: 0, code_blocks: vec![], html: String::new(), text: String::new() };
    let (mut heading, mut code): (Option<String>, Option<(String, String)>) = (None, None);
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::End(TagEnd::Heading(_)) => read.headings.extend(heading.take()),
            Event::Start(Tag::Table(_)) => read.tables += 1,
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => code = Some((info.to_string(), String::new())),
            Event::End(TagEnd::CodeBlock) => read.code_blocks.extend(code.take()),
            Event::Html(html) => read.html.push_str(&html),
            // `<br>` in a list item or a cell: a line break as the reader sees it.
            Event::InlineHtml(html) => {
                read.html.push_str(&html);
                read.text.push(' ');
            }
            Event::Text(text) | Event::Code(text) => {
                if let Some((_, body)) = code.as_mut() {
                    body.push_str(&text);
                } else if let Some(heading) = heading.as_mut() {
                    heading.push_str(&text);
                } else {
                    read.text.push_str(&text);
                }
            }
            Event::SoftBreak
            | Event::HardBreak
            | Event::End(TagEnd::Paragraph | TagEnd::Item | TagEnd::TableCell | TagEnd::TableRow) => {
                read.text.push(' ')
            }
            _ => {}
        }
    }
    read
}

#[test]
fn a_comment_leads_with_cost_and_destroys_then_findings_drift_and_the_folded_plan() {
    let plan = review_plan();
    let markdown = render(&plan);
    let read = read(&markdown);
    assert_eq!(
        read.headings,
        vec![
            "provision plan for shop: 1 to add, 0 to change, 1 to replace, 1 to destroy · +$51.20/month · 1 guardrail warning(s)",
            "Destroys and replacements (2)",
            "Guardrails: 1 warning(s), 1 allowed",
            "Changes made outside provision that apply would undo (1)",
        ]
    );
    assert!(
        read.text.contains("Cost: +$51.20/month (from $12.00 to $63.20) Not included, billed by use"),
        "{}",
        read.text
    );
    // Destroys and replacements, and drift, are tables; the forcing field is named.
    assert_eq!(read.tables, 2);
    assert!(markdown.contains("| `-/+` | `target_group.api` | `port` forces replacement"), "{markdown}");
    // Text from the stack file cannot break the table or add markup.
    assert!(markdown.contains("traffic \\| pauses &lt;briefly&gt;"), "{markdown}");
    assert!(read.text.contains("Reason: rebuilt *nightly* from <prod>"), "{}", read.text);
    assert!(
        read.text.contains("Why: anyone can reach it. Fix: allow it only from another security group."),
        "{}",
        read.text
    );
    // The full plan is folded, as plain text.
    assert!(read.html.contains("<details>") && read.html.contains("</details>"), "{}", read.html);
    assert!(read.html.contains("<summary>Full plan (3 action(s))</summary>"), "{}", read.html);
    assert_eq!(read.code_blocks.len(), 1);
    let (info, body) = &read.code_blocks[0];
    assert_eq!(info, "text");
    assert!(body.contains("-/+ target_group.api") && body.contains("+$36.04/mo"), "{body}");
    assert!(body.contains("Cost: +$51.20/month (from $12.00 to $63.20)"), "{body}");
}

/// A plan of `count` creates, each with a few long fields, like a generated stack's first apply.
fn large_plan(count: usize) -> Plan {
    let actions = (0..count)
        .map(|i| {
            let mut action = PlannedAction::new(
                Address::new("log_group", format!("group_{i:04}")),
                if i % 10 == 0 { Action::Delete } else { Action::Create },
                (0..4)
                    .map(|f| {
                        change(
                            &format!("field_{f}"),
                            None,
                            known(json!(format!("/app/{i}/{f}/{}", "x".repeat(40)))),
                            false,
                        )
                    })
                    .collect(),
                vec![],
            );
            action.monthly_cost = Some(CostChange { before: 0, after: 40 });
            action
        })
        .collect();
    let mut plan = plan(actions);
    plan.findings = (0..200)
        .map(|i| Finding {
            check: "open-port".into(),
            address: Address::new("security_group", format!("g{i}")),
            message: "port 22 (SSH) is open to `0.0.0.0/0`".into(),
            why: "anyone can reach it".into(),
            fix: "close it".into(),
            allowed: None,
        })
        .collect();
    plan
}

#[test]
fn a_thousand_resource_plan_fits_in_one_comment_and_says_what_it_cut() {
    let plan = large_plan(1000);
    let full_text = super::plan_text::render(&plan, super::Paint::plain());
    assert!(full_text.len() > COMMENT_LIMIT, "the test plan must be too big to fit: {}", full_text.len());
    let markdown = render(&plan);
    assert!(markdown.chars().count() <= COMMENT_LIMIT, "{} characters", markdown.chars().count());
    assert!(markdown.len() > COMMENT_LIMIT / 2, "the comment uses the room it has: {}", markdown.len());
    let read = read(&markdown);
    // Still well-formed after the cut: the fold closes and the plan is one closed code block.
    assert!(read.html.contains("</details>"));
    assert_eq!(read.code_blocks.len(), 1);
    assert!(read.code_blocks[0].1.contains("more line(s) cut here"));
    assert!(read.text.contains("This comment was cut to fit GitHub's 65536-character limit"), "{}", read.text);
    // Long lists stop at a row limit and say how many more there are.
    assert!(read.text.contains("…and 50 more, listed in the full plan below."), "{}", read.text);
    assert!(read.text.contains("…and 150 more"), "{}", read.text);
}

#[test]
fn every_size_of_plan_stays_under_any_limit_it_is_given() {
    for count in [0, 1, 10, 100, 400, 2000] {
        for limit in [8_000, 20_000, COMMENT_LIMIT] {
            let markdown = render_within(&large_plan(count), limit);
            assert!(markdown.len() <= limit, "{count} actions in {limit}: {}", markdown.len());
            let read = read(&markdown);
            assert!(read.html.contains("</details>"), "{count} actions in {limit}");
        }
    }
}

#[test]
fn a_plan_with_no_changes_says_so() {
    let markdown = render(&plan(vec![]));
    assert_eq!(read(&markdown).headings, vec!["provision plan for shop: no changes"]);
}
