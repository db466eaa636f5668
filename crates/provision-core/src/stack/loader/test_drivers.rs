//! Drivers that have only a schema, for loading stack files in tests: the network a stack owns,
//! and resources placed in it.

use std::sync::Arc;

use async_trait::async_trait;

use crate::address::Address;
use crate::driver::{
    Driver, DriverError, DriverRegistry, ExistingResource, FieldChange, Observed, ProgressSink, ResourceRequest,
    StackInfo,
};
use crate::schema::{Default, FieldKind, FieldSpec, ResourceSchema};

static VPC: ResourceSchema = ResourceSchema {
    type_name: "vpc",
    description: "",
    fields: &[FieldSpec::new("nat", FieldKind::String, "")],
    attributes: &["id", "public_subnet_ids", "private_subnet_ids"],
    taggable: true,
    derived: &[],
    create_before_destroy: false,
};

static BALANCER: ResourceSchema = ResourceSchema {
    type_name: "load_balancer",
    description: "",
    fields: &[
        FieldSpec::new("internal", FieldKind::Bool, "").default(Default::Bool(false)),
        FieldSpec::new("subnets", FieldKind::StringList, "").default(Default::NetworkSubnetIdsUnless("internal")),
    ],
    attributes: &["arn"],
    taggable: true,
    derived: &[],
    create_before_destroy: false,
};

static SERVICE: ResourceSchema = ResourceSchema {
    type_name: "ecs_service",
    description: "",
    fields: &[
        FieldSpec::new("subnets", FieldKind::StringList, "").default(Default::NetworkSubnetIds),
        FieldSpec::new("assign_public_ip", FieldKind::Bool, "").default(Default::InDefaultVpc),
        FieldSpec::new("vpc", FieldKind::String, "").default(Default::NetworkVpcId),
    ],
    attributes: &["arn"],
    taggable: true,
    derived: &[],
    create_before_destroy: false,
};

struct SchemaOnly(&'static ResourceSchema);

fn never() -> DriverError {
    DriverError::invalid("a schema-only test driver makes no calls")
}

#[async_trait]
impl Driver for SchemaOnly {
    fn schema(&self) -> &'static ResourceSchema {
        self.0
    }

    fn intended_id(&self, _request: &ResourceRequest<'_>) -> String {
        String::new()
    }

    async fn read(
        &self,
        _stack: &StackInfo,
        resources: &[ExistingResource<'_>],
    ) -> Vec<Result<Option<Observed>, DriverError>> {
        resources.iter().map(|_| Err(never())).collect()
    }

    async fn create(
        &self,
        _request: &ResourceRequest<'_>,
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        Err(never())
    }

    async fn update(
        &self,
        _prior: &ExistingResource<'_>,
        _request: &ResourceRequest<'_>,
        _changes: &[FieldChange],
        _progress: &dyn ProgressSink,
    ) -> Result<Observed, DriverError> {
        Err(never())
    }

    async fn delete(&self, _resource: &ExistingResource<'_>, _progress: &dyn ProgressSink) -> Result<(), DriverError> {
        Err(never())
    }

    async fn find_interrupted(
        &self,
        _stack: &StackInfo,
        _address: &Address,
        _id: &str,
    ) -> Result<Option<String>, DriverError> {
        Err(never())
    }
}

pub(super) fn registry() -> DriverRegistry {
    DriverRegistry::new(vec![
        Arc::new(SchemaOnly(&VPC)),
        Arc::new(SchemaOnly(&BALANCER)),
        Arc::new(SchemaOnly(&SERVICE)),
    ])
}

/// Loads `text` as a stack file with these drivers; the rendered errors on failure.
pub(super) fn load_text(text: &str, variables: &[(&str, &str)]) -> Result<crate::stack::Stack, String> {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("stack.toml");
    std::fs::write(&path, text).expect("write the stack file");
    let options = crate::stack::LoadOptions {
        variables: variables.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..crate::stack::LoadOptions::default()
    };
    crate::stack::load(&path, &options, &registry()).map_err(|error| error.render(false))
}
