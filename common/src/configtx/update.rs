//! Authorizing a config update against the current config and computing the next one.

use std::collections::BTreeMap;

use prost::Message;
use weft_proto::common::{Config, ConfigUpdate, ConfigUpdateEnvelope};

use super::configmap::{self, ConfigMap, Item, Key, map_config, rebuild};
use super::{ConfigTxError, signed_data};
use crate::policy::{PolicyError, PolicyManager, valid_identities};

/// Checks `update_env` against `current` (Fabric's `authorizeUpdate`) and returns the next
/// config: `current` with the update's changes, sequence + 1.
///
/// 1. The `ConfigUpdate` decodes and names `channel_id`.
/// 2. Every read-set element exists at the version read.
/// 3. The delta is every write-set element whose version differs from the read set's
///    (or that the read set lacks); it must not be empty.
/// 4. Each delta element has a well-formed mod_policy; a new element has version 0 and
///    needs no signatures of its own (its parent group's change is authorized instead); a
///    changed element has exactly its current version + 1 and the signatures satisfy the
///    *current* element's mod_policy.
/// 5. The next tree is the current map overlaid with the delta, rebuilt from the root.
///
/// Returns the next config and the decoded update.
pub(crate) fn apply_update(
    current: &Config,
    channel_id: &str,
    update_env: &ConfigUpdateEnvelope,
    policies: &PolicyManager,
) -> Result<(Config, ConfigUpdate), ConfigTxError> {
    let root = current.channel_group.as_ref().ok_or_else(|| {
        ConfigTxError::Malformed("the current config has no channel group".into())
    })?;
    let existing = map_config(Some(root))?;

    let update = ConfigUpdate::decode(update_env.config_update.as_slice())
        .map_err(|e| ConfigTxError::Malformed(format!("cannot decode ConfigUpdate: {e}")))?;
    if update.channel_id != channel_id {
        return Err(ConfigTxError::ChannelMismatch {
            expected: channel_id.to_owned(),
            found: update.channel_id,
        });
    }

    let read_set = map_config(update.read_set.as_ref())?;
    verify_read_set(&read_set, &existing)?;
    let write_set = map_config(update.write_set.as_ref())?;
    let delta: BTreeMap<&Key, &Item<'_>> = write_set
        .iter()
        .filter(|(key, written)| {
            read_set
                .get(*key)
                .is_none_or(|read| read.version() != written.version())
        })
        .collect();

    let signed = signed_data(update_env)?;
    if delta.is_empty() {
        return Err(ConfigTxError::NoChanges);
    }
    let signers = valid_identities(&signed, policies.msp_manager());
    for (key, item) in &delta {
        verify_change(key, item, &existing, |policy_path| {
            let policy = policies
                .get(policy_path)
                .ok_or_else(|| "no such policy".to_owned())?;
            policy.evaluate_identities(&signers).map_err(|e| match e {
                PolicyError::NotSatisfied { detail, .. } => detail,
                other => other.to_string(),
            })
        })?;
    }

    let mut next = existing;
    next.extend(delta.into_iter().map(|(k, v)| (k.clone(), v.clone())));
    let channel_group = rebuild(&next)?;
    let next = Config {
        sequence: current.sequence + 1,
        channel_group: Some(channel_group),
    };
    Ok((next, update))
}

/// Every element read must exist at the version read.
fn verify_read_set(
    read_set: &ConfigMap<'_>,
    existing: &ConfigMap<'_>,
) -> Result<(), ConfigTxError> {
    for (key, read) in read_set {
        let current = existing.get(key).map(Item::version);
        if current != Some(read.version()) {
            return Err(ConfigTxError::ReadSetMismatch {
                path: key.to_string(),
                expected: read.version(),
                current,
            });
        }
    }
    Ok(())
}

/// Checks one element of the delta; `authorize` evaluates a policy path against the
/// update's signatures.
fn verify_change(
    key: &Key,
    item: &Item<'_>,
    existing: &ConfigMap<'_>,
    authorize: impl Fn(&str) -> Result<(), String>,
) -> Result<(), ConfigTxError> {
    validate_mod_policy(item.mod_policy()).map_err(|reason| ConfigTxError::InvalidModPolicy {
        path: key.to_string(),
        reason,
    })?;
    let Some(current) = existing.get(key) else {
        return if item.version() == 0 {
            Ok(())
        } else {
            Err(ConfigTxError::VersionSkip {
                path: key.to_string(),
                proposed: item.version(),
                current: None,
            })
        };
    };
    if item.version() != current.version() + 1 {
        return Err(ConfigTxError::VersionSkip {
            path: key.to_string(),
            proposed: item.version(),
            current: Some(current.version()),
        });
    }
    let policy = current.mod_policy_path().unwrap_or_default();
    if policy.is_empty() {
        return Err(ConfigTxError::PolicyNotSatisfied {
            path: key.to_string(),
            policy,
            reason: "the element has no mod_policy".into(),
        });
    }
    authorize(&policy).map_err(|reason| ConfigTxError::PolicyNotSatisfied {
        path: key.to_string(),
        policy,
        reason,
    })
}

/// A mod_policy is a policy name or path whose every segment is a legal config ID.
fn validate_mod_policy(mod_policy: &str) -> Result<(), String> {
    if mod_policy.is_empty() {
        return Err("mod_policy not set".into());
    }
    let relative = mod_policy.strip_prefix('/').unwrap_or(mod_policy);
    for (i, segment) in relative.split('/').enumerate() {
        configmap::validate_config_id(segment)
            .map_err(|e| format!("path element {i} of {mod_policy:?}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mod_policies_are_names_or_paths() {
        for good in ["Admins", "/Channel/Orderer/Admins", "Org1/Admins"] {
            assert_eq!(validate_mod_policy(good), Ok(()), "{good}");
        }
        for bad in ["", "/", "Channel//Admins", "Ad mins", "/Channel/"] {
            assert!(validate_mod_policy(bad).is_err(), "{bad}");
        }
    }
}
