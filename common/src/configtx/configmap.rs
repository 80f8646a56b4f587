//! A config tree flattened into one map of elements keyed by kind and path, and back.
//!
//! This is how Fabric compares a config with a read or write set: every group, value and
//! policy becomes one entry (`[Value] /Channel/Orderer/BatchSize` → the `ConfigValue`).
//! A group entry stands for the group's own version and mod_policy *and* for the list of
//! its members; the members themselves are separate entries. Rebuilding a tree walks the
//! members named by each group entry, so replacing a group entry by one that names fewer
//! members removes them.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use weft_proto::common::{ConfigGroup, ConfigPolicy, ConfigValue};

use super::ConfigTxError;

/// The path of the root group: the update's read and write sets are rooted here too.
pub(crate) const ROOT_PATH: &str = "/Channel";

/// The longest allowed key (group, value or policy name).
const MAX_KEY_LEN: usize = 249;

/// With this value present, Fabric fills empty mod_policies with `Admins` when it
/// rebuilds a config (an upgrade of v1.0 configs it still performs).
const ORDERER_CAPABILITIES_PATH: &str = "/Channel/Orderer/Capabilities";

/// The mod_policy given to elements without one by that upgrade.
const UPGRADE_MOD_POLICY: &str = "Admins";

/// What kind of element an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Group,
    Value,
    Policy,
}

/// An element's identity: its kind and its full path (`/Channel/Application/Org1`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    pub(crate) kind: Kind,
    pub(crate) path: String,
}

impl Key {
    fn new(kind: Kind, path: impl Into<String>) -> Self {
        Self {
            kind,
            path: path.into(),
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Group => "[Group]",
            Kind::Value => "[Value]",
            Kind::Policy => "[Policy]",
        };
        write!(f, "{kind} {}", self.path)
    }
}

/// A borrowed config element.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Element<'a> {
    Group(&'a ConfigGroup),
    Value(&'a ConfigValue),
    Policy(&'a ConfigPolicy),
}

/// One entry of a config map.
#[derive(Debug, Clone)]
pub(crate) struct Item<'a> {
    pub(crate) element: Element<'a>,
    /// The group a relative mod_policy name resolves in: a group's own path, or the
    /// path of the group holding a value or policy.
    pub(crate) policy_base: String,
}

impl Item<'_> {
    pub(crate) fn version(&self) -> u64 {
        match self.element {
            Element::Group(g) => g.version,
            Element::Value(v) => v.version,
            Element::Policy(p) => p.version,
        }
    }

    pub(crate) fn mod_policy(&self) -> &str {
        match self.element {
            Element::Group(g) => &g.mod_policy,
            Element::Value(v) => &v.mod_policy,
            Element::Policy(p) => &p.mod_policy,
        }
    }

    /// The absolute path of the policy guarding changes to this element: an absolute
    /// mod_policy as is, a relative one under [`Item::policy_base`]; `None` without one.
    pub(crate) fn mod_policy_path(&self) -> Option<String> {
        let name = self.mod_policy();
        if name.is_empty() {
            None
        } else if name.starts_with('/') {
            Some(name.to_owned())
        } else {
            Some(format!("{}/{name}", self.policy_base))
        }
    }
}

/// Every element of a tree, keyed by kind and path.
pub(crate) type ConfigMap<'a> = BTreeMap<Key, Item<'a>>;

/// Flattens the tree rooted at `root` (mapped to `/Channel`, whatever the update calls
/// it); no tree gives an empty map. Every key must be a legal config ID.
pub(crate) fn map_config(root: Option<&ConfigGroup>) -> Result<ConfigMap<'_>, ConfigTxError> {
    let mut map = ConfigMap::new();
    if let Some(root) = root {
        add_group(&mut map, ROOT_PATH.to_owned(), root)?;
    }
    Ok(map)
}

fn add_group<'a>(
    map: &mut ConfigMap<'a>,
    path: String,
    group: &'a ConfigGroup,
) -> Result<(), ConfigTxError> {
    for (name, child) in &group.groups {
        let child_path = child_path(&path, name, Kind::Group)?;
        add_group(map, child_path, child)?;
    }
    for (name, value) in &group.values {
        let key = Key::new(Kind::Value, child_path(&path, name, Kind::Value)?);
        map.insert(key, item(Element::Value(value), &path));
    }
    for (name, policy) in &group.policies {
        let key = Key::new(Kind::Policy, child_path(&path, name, Kind::Policy)?);
        map.insert(key, item(Element::Policy(policy), &path));
    }
    map.insert(
        Key::new(Kind::Group, path.clone()),
        item(Element::Group(group), &path),
    );
    Ok(())
}

fn item<'a>(element: Element<'a>, policy_base: &str) -> Item<'a> {
    Item {
        element,
        policy_base: policy_base.to_owned(),
    }
}

/// `parent/name`, after checking that `name` is a legal config ID.
fn child_path(parent: &str, name: &str, kind: Kind) -> Result<String, ConfigTxError> {
    let path = format!("{parent}/{name}");
    validate_config_id(name).map_err(|reason| ConfigTxError::InvalidKey {
        path: Key::new(kind, path.clone()).to_string(),
        reason,
    })?;
    Ok(path)
}

/// Fabric's rule for group, value and policy names: 1 to 249 characters of
/// `[a-zA-Z0-9.-]`, and neither `.` nor `..`.
pub(crate) fn validate_config_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("cannot be empty".to_owned());
    }
    if id.len() > MAX_KEY_LEN {
        return Err(format!("cannot be longer than {MAX_KEY_LEN}"));
    }
    if id == "." || id == ".." {
        return Err(format!("name {id:?} is not allowed"));
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        return Err(format!("{id:?} contains illegal characters"));
    }
    Ok(())
}

/// Rebuilds the tree rooted at `/Channel` from a map: each group takes its version and
/// mod_policy from its own entry and its members from their entries, as listed by it.
pub(crate) fn rebuild(map: &ConfigMap<'_>) -> Result<ConfigGroup, ConfigTxError> {
    let upgrade = map.contains_key(&Key::new(Kind::Value, ORDERER_CAPABILITIES_PATH));
    rebuild_group(ROOT_PATH, map, upgrade)
}

fn rebuild_group(
    path: &str,
    map: &ConfigMap<'_>,
    upgrade: bool,
) -> Result<ConfigGroup, ConfigTxError> {
    let Some(Element::Group(group)) = map
        .get(&Key::new(Kind::Group, path))
        .map(|item| item.element)
    else {
        return Err(missing(Kind::Group, path));
    };

    let mut groups = HashMap::with_capacity(group.groups.len());
    for name in group.groups.keys() {
        let child = rebuild_group(&format!("{path}/{name}"), map, upgrade)?;
        groups.insert(name.clone(), child);
    }
    let mut values = HashMap::with_capacity(group.values.len());
    for name in group.values.keys() {
        let child_path = format!("{path}/{name}");
        let Some(Element::Value(value)) = map
            .get(&Key::new(Kind::Value, child_path.as_str()))
            .map(|item| item.element)
        else {
            return Err(missing(Kind::Value, &child_path));
        };
        values.insert(name.clone(), value.clone());
    }
    let mut policies = HashMap::with_capacity(group.policies.len());
    for name in group.policies.keys() {
        let child_path = format!("{path}/{name}");
        let Some(Element::Policy(policy)) = map
            .get(&Key::new(Kind::Policy, child_path.as_str()))
            .map(|item| item.element)
        else {
            return Err(missing(Kind::Policy, &child_path));
        };
        policies.insert(name.clone(), policy.clone());
    }

    let mut rebuilt = ConfigGroup {
        version: group.version,
        groups,
        values,
        policies,
        mod_policy: group.mod_policy.clone(),
    };
    if upgrade {
        fill_empty_mod_policies(&mut rebuilt);
    }
    Ok(rebuilt)
}

/// Fabric's v1.0-config upgrade: the group's own, its values' and its policies' empty
/// mod_policies become `Admins` (subgroups are handled by their own rebuild).
fn fill_empty_mod_policies(group: &mut ConfigGroup) {
    let fill = |mod_policy: &mut String| {
        if mod_policy.is_empty() {
            *mod_policy = UPGRADE_MOD_POLICY.to_owned();
        }
    };
    fill(&mut group.mod_policy);
    group
        .values
        .values_mut()
        .for_each(|v| fill(&mut v.mod_policy));
    group
        .policies
        .values_mut()
        .for_each(|p| fill(&mut p.mod_policy));
}

fn missing(kind: Kind, path: &str) -> ConfigTxError {
    ConfigTxError::Malformed(format!("{} is missing", Key::new(kind, path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_ids_follow_fabric() {
        for good in ["Org1MSP", "a", "org-1.example.com", "V2-0"] {
            assert_eq!(validate_config_id(good), Ok(()), "{good}");
        }
        for bad in ["", ".", "..", "Org 1", "V2_0", "a/b", &"x".repeat(250)] {
            assert!(validate_config_id(bad).is_err(), "{bad}");
        }
        assert_eq!(validate_config_id(&"x".repeat(249)), Ok(()));
    }

    #[test]
    fn map_and_rebuild_round_trip() {
        let mut org = ConfigGroup {
            version: 2,
            mod_policy: "Admins".into(),
            ..Default::default()
        };
        org.values.insert(
            "MSP".into(),
            ConfigValue {
                version: 1,
                value: b"msp".to_vec(),
                mod_policy: "Admins".into(),
            },
        );
        org.policies.insert(
            "Admins".into(),
            ConfigPolicy {
                version: 0,
                policy: None,
                mod_policy: "/Channel/Admins".into(),
            },
        );
        let mut root = ConfigGroup::default();
        root.groups.insert("Org1".into(), org);

        let map = map_config(Some(&root)).unwrap();
        let keys: Vec<String> = map.keys().map(Key::to_string).collect();
        assert_eq!(
            keys,
            [
                "[Group] /Channel",
                "[Group] /Channel/Org1",
                "[Value] /Channel/Org1/MSP",
                "[Policy] /Channel/Org1/Admins",
            ]
        );
        let org_item = &map[&Key::new(Kind::Group, "/Channel/Org1")];
        assert_eq!(org_item.mod_policy_path().unwrap(), "/Channel/Org1/Admins");
        let msp = &map[&Key::new(Kind::Value, "/Channel/Org1/MSP")];
        assert_eq!(msp.mod_policy_path().unwrap(), "/Channel/Org1/Admins");
        let admins = &map[&Key::new(Kind::Policy, "/Channel/Org1/Admins")];
        assert_eq!(admins.mod_policy_path().unwrap(), "/Channel/Admins");
        let root_item = &map[&Key::new(Kind::Group, "/Channel")];
        assert_eq!(root_item.mod_policy_path(), None);

        assert_eq!(rebuild(&map).unwrap(), root);
        assert!(map_config(None).unwrap().is_empty());
    }

    #[test]
    fn illegal_keys_are_refused() {
        let mut root = ConfigGroup::default();
        root.values.insert("Bad Key".into(), ConfigValue::default());
        assert_eq!(
            map_config(Some(&root)).unwrap_err(),
            ConfigTxError::InvalidKey {
                path: "[Value] /Channel/Bad Key".into(),
                reason: "\"Bad Key\" contains illegal characters".into()
            }
        );
    }

    #[test]
    fn rebuild_fails_on_a_member_without_entry() {
        let mut root = ConfigGroup::default();
        root.groups.insert("Orderer".into(), ConfigGroup::default());
        let mut map = map_config(Some(&root)).unwrap();
        map.remove(&Key::new(Kind::Group, "/Channel/Orderer"));
        assert_eq!(
            rebuild(&map).unwrap_err(),
            ConfigTxError::Malformed("[Group] /Channel/Orderer is missing".into())
        );
    }

    #[test]
    fn orderer_capabilities_trigger_the_mod_policy_upgrade() {
        let mut orderer = ConfigGroup::default();
        orderer
            .values
            .insert("Capabilities".into(), ConfigValue::default());
        let mut root = ConfigGroup::default();
        root.policies
            .insert("Admins".into(), ConfigPolicy::default());
        root.groups.insert("Orderer".into(), orderer);
        let rebuilt = rebuild(&map_config(Some(&root)).unwrap()).unwrap();
        assert_eq!(rebuilt.mod_policy, "Admins");
        assert_eq!(rebuilt.policies["Admins"].mod_policy, "Admins");
        assert_eq!(rebuilt.groups["Orderer"].mod_policy, "Admins");
        assert_eq!(
            rebuilt.groups["Orderer"].values["Capabilities"].mod_policy,
            "Admins"
        );

        // Without the value, nothing changes.
        root.groups.clear();
        let rebuilt = rebuild(&map_config(Some(&root)).unwrap()).unwrap();
        assert_eq!(rebuilt.mod_policy, "");
    }
}
