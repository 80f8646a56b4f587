//! Reading a process's local configuration the way Fabric's viper-based loaders do
//! (`core.yaml` + `CORE_*` for the peer, `orderer.yaml` + `ORDERER_*` for the orderer).
//!
//! The pieces, used by `weft_peer::config` and `weft_orderer::config`:
//! - [`find_config_file`]: `FABRIC_CFG_PATH`, else `.` then `/etc/hyperledger/fabric`;
//! - [`read_yaml_file`] / [`parse_yaml`]: YAML into a tree whose mapping keys are
//!   lower-cased, so a serde layer with lower-case field names matches keys without
//!   regard to case (viper's behaviour);
//! - [`apply_env_overrides`]: `PREFIX_` + key path upper-cased with `.` → `_`, applied to
//!   a list of known keys (the only way to know where the `_` were dots);
//! - [`Checker`]: leaf conversions (Go booleans, Go durations, ports, lists written
//!   `[a,b]`, byte sizes, paths relative to the config directory) that record every
//!   problem instead of stopping at the first one;
//! - [`null_as_default`] and [`Leaf`] for the permissive serde layer.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use serde_yaml::{Mapping, Value};

use crate::channelconfig::parse_go_duration;

/// The variable naming the directory that holds the configuration files.
pub const FABRIC_CFG_PATH: &str = "FABRIC_CFG_PATH";
/// The directory Fabric searches last.
pub const DEFAULT_CONFIG_DIR: &str = "/etc/hyperledger/fabric";

/// One leaf of the raw tree: absent, or any YAML value (converted by a [`Checker`]).
pub type Leaf = Option<Value>;

/// One problem found while validating a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The key, in Fabric's spelling (`General.TLS.Certificate`, `peer.tls.cert.file`).
    pub key: String,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.reason)
    }
}

/// The problems joined with `; `, for error messages.
pub fn join_problems(problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why a configuration file could not be turned into a tree.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The configuration file could not be read.
    #[error("cannot read configuration file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The configuration file is not YAML of the expected shape.
    #[error("cannot parse configuration file {}: {source}", path.display())]
    Parse {
        /// The file (or `<inline>` for YAML given as text).
        path: PathBuf,
        /// The parser's complaint.
        source: serde_yaml::Error,
    },
}

/// Fabric's search for `<name>.yaml` / `<name>.yml`: when `fabric_cfg_path` (the value
/// of `FABRIC_CFG_PATH`) is set and non-empty, only in that directory, as Fabric does;
/// otherwise in `.`, then `/etc/hyperledger/fabric`. `None` when no file is found (Weft
/// then runs on defaults and the environment, where Fabric would refuse to start).
pub fn find_config_file(name: &str, fabric_cfg_path: Option<&Path>) -> Option<PathBuf> {
    let dirs: Vec<PathBuf> = match fabric_cfg_path.filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => vec![dir.to_owned()],
        None => vec![PathBuf::from("."), PathBuf::from(DEFAULT_CONFIG_DIR)],
    };
    dirs.iter().find_map(|dir| {
        ["yaml", "yml"]
            .iter()
            .map(|ext| dir.join(format!("{name}.{ext}")))
            .find(|p| p.is_file())
    })
}

/// [`find_config_file`] with `FABRIC_CFG_PATH` read from the process environment.
pub fn find_config_file_from_env(name: &str) -> Option<PathBuf> {
    let cfg_path = std::env::var_os(FABRIC_CFG_PATH).map(PathBuf::from);
    find_config_file(name, cfg_path.as_deref())
}

/// Reads and parses a YAML file into a tree with lower-cased keys.
pub fn read_yaml_file(path: &Path) -> Result<Value, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_yaml(&text, path)
}

/// Parses YAML text into a tree with lower-cased keys; an empty document is an empty
/// mapping. `path` only names the source in errors.
pub fn parse_yaml(text: &str, path: &Path) -> Result<Value, LoadError> {
    let value: Value = serde_yaml::from_str(text).map_err(|source| LoadError::Parse {
        path: path.to_owned(),
        source,
    })?;
    Ok(match value {
        Value::Null => Value::Mapping(Mapping::new()),
        other => lowercase_keys(other),
    })
}

/// An empty tree (no configuration file).
pub fn empty_tree() -> Value {
    Value::Mapping(Mapping::new())
}

/// Deserializes the (overridden) tree into a raw serde layer; `file` names the source in
/// errors (`<inline>` without one).
pub fn deserialize_tree<T: serde::de::DeserializeOwned>(
    tree: Value,
    file: Option<&Path>,
) -> Result<T, LoadError> {
    T::deserialize(tree).map_err(|source| LoadError::Parse {
        path: file.map_or_else(|| PathBuf::from("<inline>"), Path::to_owned),
        source,
    })
}

/// Lower-cases every mapping key, recursively (into sequences too), so keys match
/// without regard to case.
fn lowercase_keys(value: Value) -> Value {
    match value {
        Value::Mapping(map) => Value::Mapping(
            map.into_iter()
                .map(|(k, v)| {
                    let k = match k {
                        Value::String(s) => Value::String(s.to_lowercase()),
                        other => other,
                    };
                    (k, lowercase_keys(v))
                })
                .collect(),
        ),
        Value::Sequence(items) => Value::Sequence(items.into_iter().map(lowercase_keys).collect()),
        Value::Tagged(tagged) => lowercase_keys(tagged.value),
        other => other,
    }
}

/// The environment variable overriding `key` under `prefix` (`ORDERER`,
/// `General.TLS.Enabled` → `ORDERER_GENERAL_TLS_ENABLED`; `CORE`, `peer.tls.enabled` →
/// `CORE_PEER_TLS_ENABLED`).
pub fn env_var_name(prefix: &str, key: &str) -> String {
    format!("{prefix}_{}", key.replace('.', "_").to_uppercase())
}

/// Sets every key of `known_keys` whose variable (see [`env_var_name`]) is present and
/// non-empty in `env` to that variable's text. Names compare case-insensitively; an
/// exactly upper-case name wins over other spellings. Variables that are not known keys
/// are ignored.
pub fn apply_env_overrides<I, K, V>(tree: &mut Value, prefix: &str, known_keys: &[&str], env: I)
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let wanted = format!("{}_", prefix.to_uppercase());
    let mut vars: HashMap<String, (bool, String)> = HashMap::new();
    for (name, value) in env {
        let (name, value) = (name.as_ref(), value.as_ref());
        if value.is_empty() {
            continue;
        }
        let upper = name.to_uppercase();
        if !upper.starts_with(&wanted) {
            continue;
        }
        let exact = upper == name;
        match vars.get(&upper) {
            Some((true, _)) if !exact => {}
            _ => {
                vars.insert(upper, (exact, value.to_owned()));
            }
        }
    }
    for key in known_keys {
        if let Some((_, value)) = vars.get(&env_var_name(prefix, key)) {
            set_path(tree, key, Value::String(value.clone()));
        }
    }
}

/// Sets the leaf at the dotted `key` (matched lower-cased), creating sections.
pub fn set_path(tree: &mut Value, key: &str, value: Value) {
    let segments: Vec<String> = key.split('.').map(str::to_lowercase).collect();
    let mut node = tree;
    for (i, segment) in segments.iter().enumerate() {
        if !node.is_mapping() {
            *node = Value::Mapping(Mapping::new());
        }
        let Value::Mapping(map) = node else { return };
        let k = Value::String(segment.clone());
        if i + 1 == segments.len() {
            map.insert(k, value);
            return;
        }
        node = map.entry(k).or_insert(Value::Null);
    }
}

/// Serde helper: a section that is absent or `null` deserializes as its default.
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The text of a scalar (string, number, boolean); `None` for sequences and mappings.
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Go's `strconv.ParseBool`.
pub fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Splits Fabric's list text: `[a, b]` → ["a", "b"]; `a` → ["a"]; empty items dropped.
pub fn split_list(text: &str) -> Vec<String> {
    let text = text.trim();
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Fabric's byte sizes: digits, optional spaces, then k/m/g (any case) with an optional
/// b; or digits alone.
pub fn parse_byte_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, rest) = text.split_at(digits_end);
    let n: u64 = digits.parse().ok()?;
    let unit = rest.trim_start().to_ascii_lowercase();
    let shift = match unit.strip_suffix('b').unwrap_or(&unit) {
        "" if unit.is_empty() => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        _ => return None,
    };
    n.checked_mul(1u64 << shift)
}

/// `host:port`, bracketing IPv6 hosts.
pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Splits `host:port` (IPv6 hosts in brackets) as Go's `net.SplitHostPort`; the port
/// must be a number. `None` when the text is not of that form.
pub fn split_host_port(address: &str) -> Option<(&str, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let port = port.parse::<u16>().ok()?;
    let host = match host.strip_prefix('[') {
        Some(inner) => inner.strip_suffix(']')?,
        None if host.contains(':') => return None,
        None => host,
    };
    Some((host, port))
}

/// Leaf conversions that record problems instead of failing fast. Keys are given in
/// Fabric's spelling for the messages.
#[derive(Debug)]
pub struct Checker<'a> {
    base_dir: Option<&'a Path>,
    problems: Vec<ConfigProblem>,
}

impl<'a> Checker<'a> {
    /// A checker resolving relative paths against `base_dir` (the config file's
    /// directory; without one they stay relative to the working directory).
    pub fn new(base_dir: Option<&'a Path>) -> Self {
        Self {
            base_dir,
            problems: Vec::new(),
        }
    }

    /// Records a problem with `key`.
    pub fn problem(&mut self, key: &str, reason: impl Into<String>) {
        self.problems.push(ConfigProblem {
            key: key.to_owned(),
            reason: reason.into(),
        });
    }

    /// The problems recorded so far.
    pub fn problems(&self) -> &[ConfigProblem] {
        &self.problems
    }

    /// `Ok(value)` when no problem was recorded, else every problem.
    pub fn finish<T>(self, value: T) -> Result<T, Vec<ConfigProblem>> {
        if self.problems.is_empty() {
            Ok(value)
        } else {
            Err(self.problems)
        }
    }

    /// A string, trimmed; `None` when absent, null or empty.
    pub fn string(&mut self, key: &str, leaf: &Leaf) -> Option<String> {
        match leaf {
            None | Some(Value::Null) => None,
            Some(v) => match scalar_text(v) {
                Some(s) if s.trim().is_empty() => None,
                Some(s) => Some(s.trim().to_owned()),
                None => {
                    self.problem(key, "must be a single value");
                    None
                }
            },
        }
    }

    /// A string, or `default` when absent or empty.
    pub fn string_or(&mut self, key: &str, leaf: &Leaf, default: &str) -> String {
        self.string(key, leaf).unwrap_or_else(|| default.to_owned())
    }

    /// A path, resolved against the base directory; `None` when absent or empty.
    pub fn path(&mut self, key: &str, leaf: &Leaf) -> Option<PathBuf> {
        self.string(key, leaf).map(|s| self.resolve(&s))
    }

    /// A path, or `default` (resolved too) when absent or empty.
    pub fn path_or(&mut self, key: &str, leaf: &Leaf, default: &str) -> PathBuf {
        self.path(key, leaf)
            .unwrap_or_else(|| self.resolve(default))
    }

    /// `path` joined to the base directory when relative.
    pub fn resolve(&self, path: &str) -> PathBuf {
        let p = PathBuf::from(path);
        match self.base_dir {
            Some(base) if p.is_relative() => base.join(p),
            _ => p,
        }
    }

    /// Go's `strconv.ParseBool`, plus YAML booleans and numbers (non-zero is true).
    pub fn bool_or(&mut self, key: &str, leaf: &Leaf, default: bool) -> bool {
        match leaf {
            None | Some(Value::Null) => default,
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
            Some(v) => match scalar_text(v).as_deref().map(str::trim) {
                Some("") => default,
                Some(text) => parse_go_bool(text).unwrap_or_else(|| {
                    self.problem(key, format!("{text:?} is not a boolean"));
                    default
                }),
                None => {
                    self.problem(key, "must be a boolean");
                    default
                }
            },
        }
    }

    /// A non-negative integer; `None` when absent or empty.
    pub fn integer(&mut self, key: &str, leaf: &Leaf) -> Option<u64> {
        let text = self.string(key, leaf)?;
        match text.parse::<u64>() {
            Ok(n) => Some(n),
            Err(_) => {
                self.problem(key, format!("{text:?} is not a non-negative integer"));
                None
            }
        }
    }

    /// A count; absent, empty or 0 gives `default`.
    pub fn count_or(&mut self, key: &str, leaf: &Leaf, default: usize) -> usize {
        match self.integer(key, leaf) {
            None | Some(0) => default,
            Some(n) => usize::try_from(n).unwrap_or(default),
        }
    }

    /// A port; absent, empty or 0 gives `None`.
    pub fn port(&mut self, key: &str, leaf: &Leaf) -> Option<u16> {
        let n = self.integer(key, leaf)?;
        match u16::try_from(n) {
            Ok(0) => None,
            Ok(port) => Some(port),
            Err(_) => {
                self.problem(key, format!("port {n} is out of range"));
                None
            }
        }
    }

    /// A positive size bounded by Go's int32 (gRPC message sizes); 0 or absent: default.
    pub fn msg_size(&mut self, key: &str, leaf: &Leaf, default: usize) -> usize {
        match self.integer(key, leaf) {
            None | Some(0) => default,
            Some(n) if n > i32::MAX as u64 => {
                self.problem(key, format!("{n} exceeds {}", i32::MAX));
                default
            }
            Some(n) => usize::try_from(n).unwrap_or(default),
        }
    }

    /// A Go duration ("5s", "1m30s"); a bare number counts nanoseconds, as in Go.
    pub fn duration(&mut self, key: &str, leaf: &Leaf) -> Option<Duration> {
        if let Some(Value::Number(n)) = leaf {
            return match n.as_u64() {
                Some(nanos) => Some(Duration::from_nanos(nanos)),
                None => {
                    self.problem(key, format!("{n} is not a valid duration"));
                    None
                }
            };
        }
        let text = self.string(key, leaf)?;
        match parse_go_duration(&text) {
            Ok(d) => Some(d),
            Err(e) => {
                self.problem(key, e.to_string());
                None
            }
        }
    }

    /// A duration; absent, empty or zero gives `default`.
    pub fn duration_or(&mut self, key: &str, leaf: &Leaf, default: Duration) -> Duration {
        match self.duration(key, leaf) {
            None => default,
            Some(d) if d.is_zero() => default,
            Some(d) => d,
        }
    }

    /// A list: a YAML sequence, or text `[a, b]` (items trimmed), or a single item.
    /// `None` when absent or null, so callers can tell "unset" from "empty".
    pub fn list_opt(&mut self, key: &str, leaf: &Leaf) -> Option<Vec<String>> {
        match leaf {
            None | Some(Value::Null) => None,
            Some(Value::Sequence(items)) => {
                let mut out = Vec::new();
                for item in items {
                    match item {
                        Value::Null => {}
                        v => match scalar_text(v) {
                            Some(s) if s.trim().is_empty() => {}
                            Some(s) => out.push(s.trim().to_owned()),
                            None => self.problem(key, "list items must be single values"),
                        },
                    }
                }
                Some(out)
            }
            Some(v) => match scalar_text(v) {
                Some(text) => Some(split_list(&text)),
                None => {
                    self.problem(key, "must be a list");
                    Some(Vec::new())
                }
            },
        }
    }

    /// [`Checker::list_opt`], empty when unset.
    pub fn list(&mut self, key: &str, leaf: &Leaf) -> Vec<String> {
        self.list_opt(key, leaf).unwrap_or_default()
    }

    /// A list of paths, each resolved.
    pub fn paths(&mut self, key: &str, leaf: &Leaf) -> Vec<PathBuf> {
        self.list(key, leaf)
            .iter()
            .map(|s| self.resolve(s))
            .collect()
    }

    /// A byte size: a number, or `<n> [K|M|G][B]` (binary multiples, as Fabric), at most
    /// `u32::MAX`.
    pub fn byte_size(&mut self, key: &str, leaf: &Leaf) -> Option<usize> {
        let text = self.string(key, leaf)?;
        match parse_byte_size(&text) {
            Some(n) if n <= u64::from(u32::MAX) => usize::try_from(n).ok(),
            Some(_) => {
                self.problem(key, format!("{text:?} overflows uint32"));
                None
            }
            None => {
                self.problem(key, format!("{text:?} is not a byte size (e.g. 1 MB)"));
                None
            }
        }
    }

    /// A `host:port` address, or `default` when absent or empty.
    pub fn listen_address(&mut self, key: &str, leaf: &Leaf, default: &str) -> String {
        let address = self.string_or(key, leaf, default);
        self.check_host_port(key, &address);
        address
    }

    /// Records a problem unless `address` is of the form `host:port`.
    pub fn check_host_port(&mut self, key: &str, address: &str) {
        if split_host_port(address).is_none() {
            self.problem(key, format!("{address:?} is not of the form host:port"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_only_known_keys_case_insensitively() {
        let mut tree = parse_yaml("Peer:\n  ID: a\n", Path::new("x")).expect("yaml");
        let env = [
            ("CORE_PEER_ID", "b"),
            ("core_peer_networkid", "net"),
            ("CORE_PEER_TLS_ENABLED", ""),
            ("CORE_UNKNOWN", "x"),
            ("ORDERER_GENERAL_LISTENPORT", "1"),
        ];
        apply_env_overrides(
            &mut tree,
            "CORE",
            &["peer.id", "peer.networkId", "peer.tls.enabled"],
            env,
        );
        let expected =
            parse_yaml("peer:\n  id: b\n  networkid: net\n", Path::new("x")).expect("yaml");
        assert_eq!(tree, expected);
    }

    #[test]
    fn exact_upper_case_name_wins() {
        let mut tree = empty_tree();
        let env = [("CORE_PEER_ID", "upper"), ("core_peer_id", "lower")];
        apply_env_overrides(&mut tree, "CORE", &["peer.id"], env);
        let mut expected = empty_tree();
        set_path(&mut expected, "peer.id", Value::String("upper".into()));
        assert_eq!(tree, expected);
    }

    #[test]
    fn set_path_replaces_scalars_by_sections() {
        let mut tree = parse_yaml("peer: 5\n", Path::new("x")).expect("yaml");
        set_path(&mut tree, "peer.tls.enabled", Value::String("true".into()));
        let expected =
            parse_yaml("peer:\n  tls:\n    enabled: 'true'\n", Path::new("x")).expect("yaml");
        assert_eq!(tree, expected);
    }

    #[test]
    fn host_port_split_like_go() {
        assert_eq!(split_host_port("0.0.0.0:7051"), Some(("0.0.0.0", 7051)));
        assert_eq!(split_host_port("[::1]:7051"), Some(("::1", 7051)));
        assert_eq!(split_host_port("peer0:7051"), Some(("peer0", 7051)));
        assert_eq!(split_host_port(":7051"), Some(("", 7051)));
        assert_eq!(split_host_port("::1:7051"), None);
        assert_eq!(split_host_port("localhost"), None);
        assert_eq!(split_host_port("localhost:port"), None);
        assert_eq!(join_host_port("::1", 7051), "[::1]:7051");
    }

    #[test]
    fn checker_collects_problems() {
        let mut c = Checker::new(Some(Path::new("/cfg")));
        let text = |s: &str| Some(Value::String(s.into()));
        assert!(c.bool_or("a", &text("T"), false));
        assert!(!c.bool_or("b", &text("maybe"), false));
        assert_eq!(
            c.duration("c", &text("1m30s")),
            Some(Duration::from_secs(90))
        );
        assert_eq!(c.duration("d", &text("soon")), None);
        assert_eq!(
            c.path("e", &text("tls/ca.crt")),
            Some(PathBuf::from("/cfg/tls/ca.crt"))
        );
        assert_eq!(c.path("f", &text("/abs")), Some(PathBuf::from("/abs")));
        assert_eq!(c.list_opt("g", &None), None);
        assert_eq!(c.list("h", &text("[x, y]")), vec!["x", "y"]);
        assert_eq!(c.port("i", &text("70000")), None);
        let keys: Vec<String> = c
            .finish(())
            .expect_err("problems")
            .into_iter()
            .map(|p| p.key)
            .collect();
        assert_eq!(keys, vec!["b", "d", "i"]);
    }

    #[test]
    fn fabric_cfg_path_is_the_only_directory_when_set() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(find_config_file("core", Some(dir.path())), None);
        std::fs::write(dir.path().join("core.yml"), "peer:\n").expect("write");
        assert_eq!(
            find_config_file("core", Some(dir.path())),
            Some(dir.path().join("core.yml"))
        );
        std::fs::write(dir.path().join("core.yaml"), "peer:\n").expect("write");
        assert_eq!(
            find_config_file("core", Some(dir.path())),
            Some(dir.path().join("core.yaml"))
        );
    }
}
