//! Reading a CloudFormation stack for `provision import --from-cloudformation`: its resources
//! (`ListStackResources`, every page) and its template (`GetTemplate`), as JSON whatever format the
//! template was written in. Only reads: the stack is never changed.
//!
//! YAML templates (AWS Copilot writes YAML) use CloudFormation's short forms of the intrinsic
//! functions (`!Ref X`, `!GetAtt A.B`, `!Sub …`); they are turned into their JSON forms
//! (`{"Ref": "X"}`, `{"Fn::GetAtt": ["A", "B"]}`, `{"Fn::Sub": …}`) so one reader serves both.

use aws_sdk_cloudformation::Client;
use serde_json::{json, Value as Json};

use crate::context::AwsContext;
use provision_core::driver::DriverError;

/// One resource of a stack, as `ListStackResources` lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct StackResource {
    pub logical_id: String,
    /// The resource's name, id or ARN, depending on its type (as `Ref` answers for most types).
    pub physical_id: String,
    /// `AWS::S3::Bucket` …
    pub resource_type: String,
    /// `CREATE_COMPLETE`, `UPDATE_COMPLETE` …
    pub status: String,
}

fn client(aws: &AwsContext) -> Client {
    Client::new(aws.sdk_config())
}

/// Every resource of `stack` (a name or stack id).
pub async fn stack_resources(aws: &AwsContext, stack: &str) -> Result<Vec<StackResource>, DriverError> {
    let mut pages = client(aws).list_stack_resources().stack_name(stack).into_paginator().send();
    let mut resources = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| crate::aws_error("ListStackResources", error))?;
        for summary in page.stack_resource_summaries() {
            resources.push(StackResource {
                logical_id: summary.logical_resource_id().unwrap_or_default().to_string(),
                physical_id: summary.physical_resource_id().unwrap_or_default().to_string(),
                resource_type: summary.resource_type().unwrap_or_default().to_string(),
                status: summary.resource_status().map(|s| s.as_str().to_string()).unwrap_or_default(),
            });
        }
    }
    Ok(resources)
}

/// The stack's template as JSON.
pub async fn template(aws: &AwsContext, stack: &str) -> Result<Json, DriverError> {
    let answer = client(aws)
        .get_template()
        .stack_name(stack)
        .send()
        .await
        .map_err(|error| crate::aws_error("GetTemplate", error))?;
    let body = answer.template_body().unwrap_or("{}");
    template_json(body)
        .map_err(|problem| DriverError::invalid(format!("the template of stack `{stack}` cannot be read: {problem}")))
}

/// A template's text (JSON or YAML) as JSON.
pub fn template_json(body: &str) -> Result<Json, String> {
    if let Ok(json) = serde_json::from_str::<Json>(body) {
        return Ok(json);
    }
    let yaml: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(body).map_err(|error| format!("neither JSON nor YAML ({error})"))?;
    Ok(from_yaml(yaml))
}

fn from_yaml(value: serde_yaml_ng::Value) -> Json {
    use serde_yaml_ng::Value as Yaml;
    match value {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                json!(i)
            } else {
                n.as_f64().map_or(Json::Null, |f| json!(f))
            }
        }
        Yaml::String(s) => Json::String(s),
        Yaml::Sequence(items) => Json::Array(items.into_iter().map(from_yaml).collect()),
        Yaml::Mapping(map) => Json::Object(
            map.into_iter()
                .map(|(key, value)| {
                    let key = match key {
                        Yaml::String(s) => s,
                        other => serde_yaml_ng::to_string(&other).unwrap_or_default().trim().to_string(),
                    };
                    (key, from_yaml(value))
                })
                .collect(),
        ),
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = from_yaml(tagged.value);
            match name {
                "Ref" | "Condition" => json!({ name: inner }),
                "GetAtt" => match inner {
                    Json::String(text) => {
                        let (resource, attribute) = text.split_once('.').unwrap_or((&text, ""));
                        json!({ "Fn::GetAtt": [resource, attribute] })
                    }
                    other => json!({ "Fn::GetAtt": other }),
                },
                other => json!({ format!("Fn::{other}"): inner }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_short_forms_read_as_their_json_forms() {
        let body = "Resources:\n  Service:\n    Type: AWS::ECS::Service\n    Properties:\n      Cluster: !Ref Cluster\n      Role: !GetAtt Role.Arn\n      Name: !Sub '${AWS::StackName}-svc'\n      Count: 2\n";
        let template = template_json(body).expect("YAML");
        let properties = &template["Resources"]["Service"]["Properties"];
        assert_eq!(properties["Cluster"], json!({"Ref": "Cluster"}));
        assert_eq!(properties["Role"], json!({"Fn::GetAtt": ["Role", "Arn"]}));
        assert_eq!(properties["Name"], json!({"Fn::Sub": "${AWS::StackName}-svc"}));
        assert_eq!(properties["Count"], json!(2));
        assert_eq!(template_json(r#"{"Resources": {}}"#).unwrap(), json!({"Resources": {}}));
    }
}
