//! Computing the minimal `ConfigUpdate` between two configs (configtxlator's
//! `compute_update`), and signing one.

use std::collections::HashMap;

use weft_proto::common::{Config, ConfigGroup, ConfigPolicy, ConfigUpdate, ConfigValue};

use super::ConfigTxError;

/// The `ConfigUpdate` turning `original` into `updated` on channel `channel_id`, with
/// minimal read and write sets, exactly as Fabric's `configtxlator compute_update`:
///
/// - an unchanged element appears nowhere, unless its group's membership or mod_policy
///   changes: then every kept member is listed in both sets at its current version;
/// - a changed value or policy is written at its version + 1 with the updated content;
/// - a group whose members or mod_policy change is read at its version and written at
///   version + 1; a group with only deeper changes is read and written at its version;
/// - new elements are written at version 0; removed ones are simply not listed.
///
/// Versions in `updated` are ignored. Fails with [`ConfigTxError::NoChanges`] if the two
/// trees do not differ.
pub fn compute_update(
    original: &Config,
    updated: &Config,
    channel_id: &str,
) -> Result<ConfigUpdate, ConfigTxError> {
    let missing =
        |which: &str| ConfigTxError::Malformed(format!("the {which} config has no channel group"));
    let original = original
        .channel_group
        .as_ref()
        .ok_or_else(|| missing("original"))?;
    let updated = updated
        .channel_group
        .as_ref()
        .ok_or_else(|| missing("updated"))?;
    let diff = group_update(original, updated);
    if !diff.changed {
        return Err(ConfigTxError::NoChanges);
    }
    Ok(ConfigUpdate {
        channel_id: channel_id.to_owned(),
        read_set: Some(diff.read),
        write_set: Some(diff.write),
        isolated_data: HashMap::new(),
    })
}

/// The read and write sets of one group.
struct GroupDiff {
    read: ConfigGroup,
    write: ConfigGroup,
    changed: bool,
}

fn group_update(original: &ConfigGroup, updated: &ConfigGroup) -> GroupDiff {
    let mut policies = leaf_update(&original.policies, &updated.policies);
    let mut values = leaf_update(&original.values, &updated.values);
    let mut groups = groups_update(&original.groups, &updated.groups);
    let members_changed = policies.members_changed
        || values.members_changed
        || groups.members_changed
        || original.mod_policy != updated.mod_policy;

    if !members_changed {
        let changed = !(policies.write.is_empty()
            && values.write.is_empty()
            && groups.read.is_empty()
            && groups.write.is_empty());
        let stub = |policies, values, groups| ConfigGroup {
            version: original.version,
            policies,
            values,
            groups,
            mod_policy: String::new(),
        };
        if !changed {
            return GroupDiff {
                read: stub(HashMap::new(), HashMap::new(), HashMap::new()),
                write: stub(HashMap::new(), HashMap::new(), HashMap::new()),
                changed: false,
            };
        }
        return GroupDiff {
            read: stub(HashMap::new(), HashMap::new(), groups.read),
            write: stub(policies.write, values.write, groups.write),
            changed: true,
        };
    }

    // The membership changes: the kept members are read and written as they are.
    let mut read_policies = HashMap::new();
    let mut read_values = HashMap::new();
    for (name, same) in policies.same {
        read_policies.insert(name.clone(), same.clone());
        policies.write.insert(name, same);
    }
    for (name, same) in values.same {
        read_values.insert(name.clone(), same.clone());
        values.write.insert(name, same);
    }
    for (name, same) in groups.same {
        groups.read.insert(name.clone(), same.clone());
        groups.write.insert(name, same);
    }
    GroupDiff {
        read: ConfigGroup {
            version: original.version,
            policies: read_policies,
            values: read_values,
            groups: groups.read,
            mod_policy: String::new(),
        },
        write: ConfigGroup {
            version: original.version + 1,
            policies: policies.write,
            values: values.write,
            groups: groups.write,
            mod_policy: updated.mod_policy.clone(),
        },
        changed: true,
    }
}

/// What changed among the subgroups of a group.
struct GroupsDiff {
    read: HashMap<String, ConfigGroup>,
    write: HashMap<String, ConfigGroup>,
    same: HashMap<String, ConfigGroup>,
    members_changed: bool,
}

fn groups_update(
    original: &HashMap<String, ConfigGroup>,
    updated: &HashMap<String, ConfigGroup>,
) -> GroupsDiff {
    let mut diff = GroupsDiff {
        read: HashMap::new(),
        write: HashMap::new(),
        same: HashMap::new(),
        members_changed: false,
    };
    for (name, original_group) in original {
        let Some(updated_group) = updated.get(name) else {
            diff.members_changed = true;
            continue;
        };
        let group = group_update(original_group, updated_group);
        if group.changed {
            diff.read.insert(name.clone(), group.read);
            diff.write.insert(name.clone(), group.write);
        } else {
            diff.same.insert(name.clone(), group.read);
        }
    }
    for (name, updated_group) in updated {
        if original.contains_key(name) {
            continue;
        }
        diff.members_changed = true;
        let group = group_update(&ConfigGroup::default(), updated_group);
        diff.write.insert(
            name.clone(),
            ConfigGroup {
                version: 0,
                mod_policy: updated_group.mod_policy.clone(),
                ..group.write
            },
        );
    }
    diff
}

/// A value or a policy: the leaves of the config tree.
trait Leaf: Sized {
    fn version(&self) -> u64;
    /// Same mod_policy and same content (versions aside).
    fn same_content(&self, other: &Self) -> bool;
    /// This leaf's mod_policy and content at `version`.
    fn at_version(&self, version: u64) -> Self;
    /// A leaf with only a version (how unchanged leaves are listed).
    fn stub(version: u64) -> Self;
}

impl Leaf for ConfigValue {
    fn version(&self) -> u64 {
        self.version
    }

    fn same_content(&self, other: &Self) -> bool {
        self.mod_policy == other.mod_policy && self.value == other.value
    }

    fn at_version(&self, version: u64) -> Self {
        ConfigValue {
            version,
            ..self.clone()
        }
    }

    fn stub(version: u64) -> Self {
        ConfigValue {
            version,
            ..Default::default()
        }
    }
}

impl Leaf for ConfigPolicy {
    fn version(&self) -> u64 {
        self.version
    }

    fn same_content(&self, other: &Self) -> bool {
        self.mod_policy == other.mod_policy && self.policy == other.policy
    }

    fn at_version(&self, version: u64) -> Self {
        ConfigPolicy {
            version,
            ..self.clone()
        }
    }

    fn stub(version: u64) -> Self {
        ConfigPolicy {
            version,
            ..Default::default()
        }
    }
}

/// What changed among the values (or policies) of a group.
struct LeafDiff<T> {
    write: HashMap<String, T>,
    same: HashMap<String, T>,
    members_changed: bool,
}

fn leaf_update<T: Leaf>(
    original: &HashMap<String, T>,
    updated: &HashMap<String, T>,
) -> LeafDiff<T> {
    let mut diff = LeafDiff {
        write: HashMap::new(),
        same: HashMap::new(),
        members_changed: false,
    };
    for (name, original_leaf) in original {
        match updated.get(name) {
            None => diff.members_changed = true,
            Some(updated_leaf) if original_leaf.same_content(updated_leaf) => {
                diff.same
                    .insert(name.clone(), T::stub(original_leaf.version()));
            }
            Some(updated_leaf) => {
                diff.write.insert(
                    name.clone(),
                    updated_leaf.at_version(original_leaf.version() + 1),
                );
            }
        }
    }
    for (name, updated_leaf) in updated {
        if !original.contains_key(name) {
            diff.members_changed = true;
            diff.write.insert(name.clone(), updated_leaf.at_version(0));
        }
    }
    diff
}
