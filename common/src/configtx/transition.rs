//! Which changes between two valid configs are allowed: Fabric's `Bundle.ValidateNew`
//! (sections kept, orgs keep their MSP IDs, consensus type fixed) and the orderer's
//! maintenance filter (consensus-type migration and maintenance mode rules).

use weft_proto::common::ConfigUpdate;

use super::ConfigTxError;
use crate::channelconfig::{ChannelConfig, ConsensusState, keys};

/// Channel capabilities under which the consensus type may change (Fabric's channel
/// `ConsensusTypeMigration`).
const CHANNEL_MIGRATION: &[&str] = &["V1_4_2", "V1_4_3", "V2_0"];
/// Orderer capabilities enabling maintenance mode and migration (Fabric's orderer
/// `ConsensusTypeMigration`).
const ORDERER_MIGRATION: &[&str] = &["V1_4_2", "V2_0"];

/// Checks that going from `current` to `next` through `update` is allowed.
pub(crate) fn check_transition(
    current: &ChannelConfig,
    next: &ChannelConfig,
    update: &ConfigUpdate,
) -> Result<(), ConfigTxError> {
    validate_new(current, next)?;
    check_maintenance(current, next, update)
}

fn forbidden(reason: String) -> ConfigTxError {
    ConfigTxError::ForbiddenChange(reason)
}

fn any_of(names: &[&str], has: impl Fn(&str) -> bool) -> bool {
    names.iter().any(|n| has(n))
}

/// Fabric's `Bundle.ValidateNew`.
fn validate_new(current: &ChannelConfig, next: &ChannelConfig) -> Result<(), ConfigTxError> {
    if let Some(orderer) = current.orderer() {
        let Some(next_orderer) = next.orderer() else {
            return Err(forbidden(
                "current config has an orderer section, but the new config does not".into(),
            ));
        };
        let migration = any_of(CHANNEL_MIGRATION, |n| current.capabilities().contains(n));
        let (from, to) = (orderer.consensus.name(), next_orderer.consensus.name());
        if !migration && from != to {
            return Err(forbidden(format!(
                "attempted to change consensus type from {from} to {to}"
            )));
        }
        for (name, org) in &orderer.organizations {
            if let Some(next_org) = next_orderer.organizations.get(name)
                && next_org.msp_id != org.msp_id
            {
                return Err(forbidden(format!(
                    "orderer org {name} attempted to change MSP ID from {} to {}",
                    org.msp_id, next_org.msp_id
                )));
            }
        }
    }
    if let Some(application) = current.application() {
        let Some(next_application) = next.application() else {
            return Err(forbidden(
                "current config has an application section, but the new config does not".into(),
            ));
        };
        for (name, org) in &application.organizations {
            if let Some(next_org) = next_application.organizations.get(name)
                && next_org.msp_id != org.msp_id
            {
                return Err(forbidden(format!(
                    "application org {name} attempted to change MSP ID from {} to {}",
                    org.msp_id, next_org.msp_id
                )));
            }
        }
    }
    Ok(())
}

/// The orderer's maintenance filter (`msgprocessor.MaintenanceFilter.inspect`).
fn check_maintenance(
    current: &ChannelConfig,
    next: &ChannelConfig,
    update: &ConfigUpdate,
) -> Result<(), ConfigTxError> {
    let (Some(orderer), Some(next_orderer)) = (current.orderer(), next.orderer()) else {
        // Without an orderer section there is nothing to inspect (validate_new already
        // refused dropping one).
        return Ok(());
    };
    let (from, to) = (orderer.consensus.name(), next_orderer.consensus.name());
    let (state, next_state) = (orderer.state, next_orderer.state);

    if !any_of(ORDERER_MIGRATION, |n| orderer.capabilities.contains(n)) {
        if next_state != ConsensusState::Normal {
            return Err(forbidden(format!(
                "next config attempted to change ConsensusType.State to {next_state:?}, but capability is disabled"
            )));
        }
        if from != to {
            return Err(forbidden(format!(
                "next config attempted to change ConsensusType.Type from {from} to {to}, but capability is disabled"
            )));
        }
        return Ok(());
    }

    // Entering or leaving maintenance mode comes with no other change.
    if state != next_state {
        consensus_type_change_only(update)?;
        if from != to {
            return Err(forbidden(format!(
                "attempted to change ConsensusType.Type from {from} to {to}, but ConsensusType.State is changing from {state:?} to {next_state:?}"
            )));
        }
        if orderer.consensus_metadata != next_orderer.consensus_metadata {
            return Err(forbidden(format!(
                "attempted to change ConsensusType.Metadata, but ConsensusType.State is changing from {state:?} to {next_state:?}"
            )));
        }
    }

    // The type changes only while in maintenance mode, before and after. Every type
    // our config parser accepts (etcdraft, solo, kafka) is a permitted target in Fabric.
    if from != to {
        if state == ConsensusState::Normal {
            return Err(forbidden(format!(
                "attempted to change consensus type from {from} to {to}, but current config ConsensusType.State is not in maintenance mode"
            )));
        }
        if next_state == ConsensusState::Normal {
            return Err(forbidden(format!(
                "attempted to change consensus type from {from} to {to}, but next config ConsensusType.State is not in maintenance mode"
            )));
        }
    }
    Ok(())
}

/// The update touches nothing but `/Channel/Orderer/ConsensusType`.
fn consensus_type_change_only(update: &ConfigUpdate) -> Result<(), ConfigTxError> {
    let Some(write_set) = update.write_set.as_ref() else {
        return Err(forbidden("config update contains no changes".into()));
    };
    if write_set.groups.is_empty() {
        return Err(forbidden("config update contains no changes".into()));
    }
    if !write_set.values.is_empty() {
        return Err(forbidden(format!(
            "config update contains changes to values in group {}",
            keys::CHANNEL_GROUP
        )));
    }
    if write_set.groups.len() > 1 {
        return Err(forbidden(
            "config update contains changes to more than one group".into(),
        ));
    }
    let Some(orderer) = write_set.groups.get(keys::ORDERER_GROUP) else {
        return Err(forbidden(format!(
            "update does not contain the {} group",
            keys::ORDERER_GROUP
        )));
    };
    if !orderer.groups.is_empty() {
        return Err(forbidden(format!(
            "config update contains changes to groups within the {} group",
            keys::ORDERER_GROUP
        )));
    }
    if !orderer.values.contains_key(keys::CONSENSUS_TYPE) {
        return Err(forbidden(format!(
            "config update does not contain the {} value",
            keys::CONSENSUS_TYPE
        )));
    }
    if orderer.values.len() > 1 {
        return Err(forbidden(format!(
            "config update contains more than just the {} value in the {} group",
            keys::CONSENSUS_TYPE,
            keys::ORDERER_GROUP
        )));
    }
    Ok(())
}
