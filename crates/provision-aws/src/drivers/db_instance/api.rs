//! The RDS calls for an instance, each naming its operation when it fails.
//!
//! The master password only ever passes through here, from the request's secrets straight into
//! the SDK call; it is never part of a message, and AWS errors about it do not echo it.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_rds::types::{DbInstance, Filter};
use aws_sdk_rds::Client;

use super::config::InstanceConfig;
use super::tags;
use crate::drivers::DriverError;

/// The most values one DescribeDBInstances filter takes.
const FILTER_BATCH: usize = 100;
pub(super) const NOT_FOUND: &str = "DBInstanceNotFound";

/// The instances among `identifiers` that exist, by identifier: one request per 100 identifiers.
pub(super) async fn describe_many(
    rds: &Client,
    identifiers: &[String],
) -> Result<BTreeMap<String, DbInstance>, DriverError> {
    let batches = crate::concurrency::in_batches(identifiers, FILTER_BATCH, |batch| async move {
        let filter = Filter::builder().name("db-instance-id").set_values(Some(batch.to_vec())).build();
        let mut pages = rds.describe_db_instances().filters(filter).into_paginator().send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| crate::aws_error("DescribeDBInstances", error))?;
            found.extend(page.db_instances().iter().cloned());
        }
        Ok::<_, DriverError>(found)
    })
    .await;
    let mut found = BTreeMap::new();
    for batch in batches {
        for instance in batch? {
            if let Some(identifier) = instance.db_instance_identifier() {
                found.insert(identifier.to_string(), instance.clone());
            }
        }
    }
    Ok(found)
}

/// One instance, `None` when it does not exist.
pub(super) async fn describe(rds: &Client, identifier: &str) -> Result<Option<DbInstance>, DriverError> {
    match rds.describe_db_instances().db_instance_identifier(identifier).send().await {
        Ok(output) => Ok(output.db_instances().first().cloned()),
        Err(error) => {
            let error = crate::aws_error("DescribeDBInstances", error);
            if error.code_is(NOT_FOUND) {
                Ok(None)
            } else {
                Err(error)
            }
        }
    }
}

/// CreateDBInstance with every field of the stack; `password` is `None` when RDS manages it.
pub(super) async fn create(
    rds: &Client,
    config: &InstanceConfig,
    all_tags: &BTreeMap<String, String>,
    password: Option<&str>,
) -> Result<DbInstance, DriverError> {
    let security_groups = (!config.security_groups.is_empty()).then(|| config.security_groups.clone());
    let output = rds
        .create_db_instance()
        .db_instance_identifier(&config.identifier)
        .engine(&config.engine)
        .set_engine_version(config.engine_version.clone())
        .db_instance_class(&config.instance_class)
        .allocated_storage(config.allocated_storage)
        .set_max_allocated_storage(config.max_allocated_storage)
        .storage_encrypted(config.storage_encrypted)
        .set_db_name(config.db_name.clone())
        .master_username(&config.username)
        .set_master_user_password(password.map(str::to_string))
        .set_manage_master_user_password(config.manage_password.then_some(true))
        .multi_az(config.multi_az)
        .set_db_subnet_group_name(config.subnet_group.clone())
        .set_vpc_security_group_ids(security_groups)
        .publicly_accessible(config.publicly_accessible)
        .backup_retention_period(config.backup_retention_days)
        .deletion_protection(config.deletion_protection)
        .set_port(config.port)
        .set_tags(Some(tags::to_rds(all_tags)))
        .copy_tags_to_snapshot(true)
        .send()
        .await
        .map_err(|error| crate::aws_error("CreateDBInstance", error))?;
    output.db_instance.ok_or_else(|| DriverError::invalid("CreateDBInstance returned no instance"))
}

/// ModifyDBInstance with only the `changed` fields; `None` when none of them is an instance setting
/// (tags, `skip_final_snapshot` and `apply_immediately` are not).
pub(super) async fn modify(
    rds: &Client,
    identifier: &str,
    config: &InstanceConfig,
    changed: &BTreeSet<&str>,
    password: Option<&str>,
) -> Result<Option<DbInstance>, DriverError> {
    let mut request = rds.modify_db_instance().db_instance_identifier(identifier);
    let mut any = false;
    let mut set = |field: &str| {
        let wanted = changed.contains(field);
        any |= wanted;
        wanted
    };
    if set("instance_class") {
        request = request.db_instance_class(&config.instance_class);
    }
    if set("allocated_storage") {
        request = request.allocated_storage(config.allocated_storage);
    }
    if set("max_allocated_storage") {
        // 0 switches storage autoscaling off.
        request = request.max_allocated_storage(config.max_allocated_storage.unwrap_or(0));
    }
    if set("engine_version") {
        if let Some(version) = &config.engine_version {
            // The stack names the version it wants; a major upgrade needs saying so explicitly.
            request = request.engine_version(version).allow_major_version_upgrade(true);
        }
    }
    if set("password") {
        request = request.set_master_user_password(password.map(str::to_string));
    }
    if set("manage_password") {
        request = request.manage_master_user_password(config.manage_password);
        if !config.manage_password {
            request = request.set_master_user_password(password.map(str::to_string));
        }
    }
    if set("multi_az") {
        request = request.multi_az(config.multi_az);
    }
    if set("subnet_group") {
        request = request.set_db_subnet_group_name(config.subnet_group.clone());
    }
    // RDS keeps at least one security group: an empty list leaves the current ones in place.
    if set("security_groups") && !config.security_groups.is_empty() {
        request = request.set_vpc_security_group_ids(Some(config.security_groups.clone()));
    }
    if set("publicly_accessible") {
        request = request.publicly_accessible(config.publicly_accessible);
    }
    if set("backup_retention_days") {
        request = request.backup_retention_period(config.backup_retention_days);
    }
    if set("deletion_protection") {
        request = request.deletion_protection(config.deletion_protection);
    }
    if set("port") {
        request = request.set_db_port_number(config.port);
    }
    if !any {
        return Ok(None);
    }
    let output = request
        .apply_immediately(config.apply_immediately)
        .send()
        .await
        .map_err(|error| crate::aws_error("ModifyDBInstance", error))
        .map_err(|error| {
            if error.code_is("InvalidDBInstanceState") {
                error.with_hint("RDS is still busy with the instance; run `provision apply` again once it is available")
            } else {
                error
            }
        })?;
    output.db_instance.map(Some).ok_or_else(|| DriverError::invalid("ModifyDBInstance returned no instance"))
}

/// DeleteDBInstance, taking a final snapshot under `final_snapshot` unless it is `None`.
/// An instance that is already gone counts as deleted.
pub(super) async fn delete(rds: &Client, identifier: &str, final_snapshot: Option<String>) -> Result<(), DriverError> {
    let outcome = rds
        .delete_db_instance()
        .db_instance_identifier(identifier)
        .skip_final_snapshot(final_snapshot.is_none())
        .set_final_db_snapshot_identifier(final_snapshot)
        .send()
        .await
        .map_err(|error| crate::aws_error("DeleteDBInstance", error));
    match outcome {
        Ok(_) => Ok(()),
        Err(error) if error.code_is(NOT_FOUND) => Ok(()),
        Err(error) => Err(error),
    }
}
