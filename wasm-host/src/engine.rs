//! The wasmtime engine for chaincode: configuration, module validation and loading, the
//! on-disk cache of compiled modules, counters, and the epoch ticker.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::{
    Config, Engine, ExternType, FuncType, InstanceAllocationStrategy, Linker, Module,
    PoolingAllocationConfig, ValType, WasmFeatures,
};

use crate::abi::{ABI_MARKER_PREFIX, ABI_MARKER_V1, IMPORT_MODULE, MEMORY_EXPORT, RUN_EXPORT};
use crate::error::WasmError;
use crate::host::{self, HostState};
use crate::shim::WasmChaincode;

/// Largest `.wasm` the engine accepts.
pub const MAX_MODULE_BYTES: usize = 4 * 1024 * 1024;
/// Largest table a module may declare.
pub const MAX_TABLE_ELEMENTS: usize = 20_000;
/// Interval of the epoch ticker.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Engine-wide limits and allocation strategy.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Concurrent instances the pooling allocator reserves (default 256).
    pub max_instances: u32,
    /// Linear memory cap per instance (default 64 MiB).
    pub max_memory_bytes: usize,
    /// Native stack available to wasm (default 512 KiB).
    pub max_wasm_stack: usize,
    /// Cap on one request, response or event crossing the ABI (default 4 MiB).
    pub max_message_bytes: usize,
    /// Use the pooling allocator (default true); falls back to on-demand allocation with a
    /// warning if the pool cannot be reserved.
    pub pooling: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            max_instances: 256,
            max_memory_bytes: 64 * 1024 * 1024,
            max_wasm_stack: 512 * 1024,
            max_message_bytes: 4 * 1024 * 1024,
            pooling: true,
        }
    }
}

/// Counters of an engine (all chaincodes loaded by it).
#[derive(Debug, Default)]
pub struct WasmStats {
    /// Instances created (one per transaction).
    pub instantiations: AtomicU64,
    /// Transactions answered with COMPLETED.
    pub completed: AtomicU64,
    /// Transactions answered with ERROR.
    pub failed: AtomicU64,
    /// Total fuel consumed by guests.
    pub fuel_consumed: AtomicU64,
}

impl WasmStats {
    /// Instances created.
    pub fn instantiations(&self) -> u64 {
        self.instantiations.load(Ordering::Relaxed)
    }
    /// Transactions answered with COMPLETED.
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }
    /// Transactions answered with ERROR.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
    /// Total fuel consumed.
    pub fn fuel_consumed(&self) -> u64 {
        self.fuel_consumed.load(Ordering::Relaxed)
    }
}

/// How [`WasmEngine::load_cached`] obtained the module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadKind {
    /// Compiled from the `.wasm` (and written to the cache).
    Compiled,
    /// Deserialized from a verified cache file.
    FromCache,
}

/// The chaincode engine: one wasmtime `Engine` and `Linker`, an epoch ticker thread and
/// counters. Cheap to clone.
#[derive(Clone)]
pub struct WasmEngine {
    pub(crate) inner: Arc<EngineInner>,
}

pub(crate) struct EngineInner {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<HostState>,
    pub(crate) config: EngineConfig,
    pub(crate) stats: WasmStats,
    pub(crate) pooled: bool,
    _ticker: Ticker,
}

impl fmt::Debug for WasmEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WasmEngine")
            .field("config", &self.inner.config)
            .field("pooled", &self.inner.pooled)
            .field("stats", &self.inner.stats)
            .finish_non_exhaustive()
    }
}

struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    fn start(engine: Engine) -> Result<Self, WasmError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("weft-wasm-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::park_timeout(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .map_err(|e| WasmError::Engine(format!("cannot start the epoch ticker: {e}")))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

fn base_config(config: &EngineConfig) -> Config {
    let mut c = Config::new();
    c.consume_fuel(true)
        .epoch_interruption(true)
        .cranelift_nan_canonicalization(true)
        .wasm_simd(false)
        .wasm_relaxed_simd(false)
        .wasm_memory64(false)
        .wasm_multi_memory(false)
        .wasm_gc(false)
        .wasm_features(WasmFeatures::THREADS, false)
        .wasm_features(WasmFeatures::EXCEPTIONS, false)
        .wasm_features(WasmFeatures::LEGACY_EXCEPTIONS, false)
        .wasm_features(WasmFeatures::COMPONENT_MODEL, false)
        .wasm_bulk_memory(true)
        .wasm_multi_value(true)
        .max_wasm_stack(config.max_wasm_stack)
        .async_stack_size(config.max_wasm_stack.saturating_add(2 * 1024 * 1024));
    c
}

fn pooling_strategy(config: &EngineConfig) -> InstanceAllocationStrategy {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_core_instances(config.max_instances)
        .total_memories(config.max_instances)
        .total_tables(config.max_instances)
        .total_stacks(config.max_instances)
        .max_memories_per_module(1)
        .max_tables_per_module(1)
        .table_elements(MAX_TABLE_ELEMENTS)
        .max_memory_size(config.max_memory_bytes);
    InstanceAllocationStrategy::Pooling(pool)
}

impl WasmEngine {
    /// Builds the engine (pooling allocator unless disabled or unavailable) and starts
    /// its epoch ticker.
    pub fn new(config: EngineConfig) -> Result<Self, WasmError> {
        let mut pooled = false;
        let mut engine = None;
        if config.pooling {
            let mut c = base_config(&config);
            c.allocation_strategy(pooling_strategy(&config));
            match Engine::new(&c) {
                Ok(e) => {
                    engine = Some(e);
                    pooled = true;
                }
                Err(e) => tracing::warn!(
                    error = %e,
                    "cannot reserve the wasm instance pool; falling back to on-demand allocation"
                ),
            }
        }
        let engine = match engine {
            Some(e) => e,
            None => Engine::new(&base_config(&config))
                .map_err(|e| WasmError::Engine(format!("{e:#}")))?,
        };
        let linker = host::linker(&engine).map_err(|e| WasmError::Engine(format!("{e:#}")))?;
        let ticker = Ticker::start(engine.clone())?;
        Ok(Self {
            inner: Arc::new(EngineInner {
                engine,
                linker,
                config,
                stats: WasmStats::default(),
                pooled,
                _ticker: ticker,
            }),
        })
    }

    /// The engine's configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Whether the pooling allocator is in use.
    pub fn is_pooled(&self) -> bool {
        self.inner.pooled
    }

    /// The engine's counters.
    pub fn stats(&self) -> &WasmStats {
        &self.inner.stats
    }

    /// Validates the module (exports `memory`, exactly one `fabric_abi_v*` marker and it is
    /// v1, `fabric_run: () -> i32`; only `fabric.*` imports with the right signatures;
    /// size ≤ 4 MiB; one memory, one table ≤ 20 000 elements) and compiles it.
    pub fn load(&self, wasm: &[u8]) -> Result<WasmChaincode, WasmError> {
        check_size(wasm)?;
        let module = Module::new(&self.inner.engine, wasm).map_err(compile_error)?;
        self.finish_load(module)
    }

    /// Like [`WasmEngine::load`], with the compiled artifact cached in `cache_dir` as
    /// `<package_id with ':' → '.'>-<16 hex of the engine's compatibility hash>.cwasm`
    /// plus a `.cwasm.sha256` file holding the SHA-256 of the source `.wasm` and of the
    /// `.cwasm`. A file that does not verify is recompiled and rewritten, never loaded.
    /// Failing to write the cache only logs a warning.
    pub fn load_cached(
        &self,
        cache_dir: &Path,
        package_id: &str,
        wasm: &[u8],
    ) -> Result<(WasmChaincode, LoadKind), WasmError> {
        check_size(wasm)?;
        let wasm_hash = hex::encode(Sha256::digest(wasm));
        let path = self.cache_path(cache_dir, package_id);
        let sidecar = sidecar_path(&path);
        if let Some(module) = self.try_load_from_cache(&path, &sidecar, &wasm_hash) {
            let chaincode = self.finish_load(module)?;
            return Ok((chaincode, LoadKind::FromCache));
        }
        let module = Module::new(&self.inner.engine, wasm).map_err(compile_error)?;
        // Validate before writing anything to the cache.
        validate(&module, &self.inner.config)?;
        match module.serialize() {
            Ok(compiled) => {
                if let Err(e) = write_cache(cache_dir, &path, &sidecar, &wasm_hash, &compiled) {
                    tracing::warn!(path = %path.display(), error = %e, "cannot write the chaincode cache");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot serialize the compiled chaincode"),
        }
        Ok((self.finish_load(module)?, LoadKind::Compiled))
    }

    fn cache_path(&self, cache_dir: &Path, package_id: &str) -> PathBuf {
        let name: String = package_id
            .chars()
            .map(|c| match c {
                ':' => '.',
                c if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' => c,
                _ => '_',
            })
            .collect();
        let mut hasher = ShaHasher(Sha256::new());
        self.inner
            .engine
            .precompile_compatibility_hash()
            .hash(&mut hasher);
        let compat = hasher.0.finalize();
        cache_dir.join(format!("{name}-{}.cwasm", hex::encode(&compat[..8])))
    }

    fn try_load_from_cache(&self, path: &Path, sidecar: &Path, wasm_hash: &str) -> Option<Module> {
        let recorded = std::fs::read_to_string(sidecar).ok()?;
        let mut lines = recorded.lines();
        let (want_wasm, want_cwasm) = (lines.next()?, lines.next()?);
        if want_wasm != format!("wasm {wasm_hash}") {
            tracing::info!(path = %path.display(), "cached chaincode is for another .wasm; recompiling");
            return None;
        }
        let bytes = std::fs::read(path).ok()?;
        if want_cwasm != format!("cwasm {}", hex::encode(Sha256::digest(&bytes))) {
            tracing::warn!(path = %path.display(), "cached chaincode does not match its checksum; recompiling");
            return None;
        }
        match deserialize_verified_file(&self.inner.engine, path) {
            Ok(module) => Some(module),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot load cached chaincode; recompiling");
                None
            }
        }
    }

    fn finish_load(&self, module: Module) -> Result<WasmChaincode, WasmError> {
        validate(&module, &self.inner.config)?;
        let pre = self
            .inner
            .linker
            .instantiate_pre(&module)
            .map_err(|e| WasmError::InvalidModule(format!("{e:#}")))?;
        Ok(WasmChaincode::new(self.clone(), module, pre))
    }
}

struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

fn sidecar_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".sha256");
    PathBuf::from(s)
}

fn write_atomically(dir: &Path, target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let file_name = target
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp-{}-{n}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    if let Err(e) = std::fs::rename(&tmp, target) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}

fn write_cache(
    dir: &Path,
    path: &Path,
    sidecar: &Path,
    wasm_hash: &str,
    compiled: &[u8],
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    // The sidecar goes first: a crash between the two writes leaves a mismatch, which
    // recompiles rather than loads.
    let record = format!(
        "wasm {wasm_hash}\ncwasm {}\n",
        hex::encode(Sha256::digest(compiled))
    );
    write_atomically(dir, sidecar, record.as_bytes())?;
    write_atomically(dir, path, compiled)
}

/// Loads a cached `.cwasm` after its checksum has been verified.
#[allow(unsafe_code)]
fn deserialize_verified_file(engine: &Engine, path: &Path) -> wasmtime::Result<Module> {
    // SAFETY: the file is only ever written by `write_cache` above, from the output of
    // `Engine::precompile_module` of an engine with this same configuration: its name
    // carries the engine's `precompile_compatibility_hash`, and the caller has just
    // checked that the file's SHA-256 matches the one recorded when it was written (and
    // that it was compiled from this very `.wasm`). wasmtime additionally rejects
    // artifacts of another version or configuration. The cache directory is private to
    // the peer; a concurrent writer other than us is outside the threat model.
    unsafe { Module::deserialize_file(engine, path) }
}

/// Classifies a `Module::new` failure: the pooling allocator checks the module's memory
/// and table against its limits at compile time; those are invalid modules, not compiler
/// failures.
fn compile_error(e: wasmtime::Error) -> WasmError {
    let text = format!("{e:#}");
    if text.contains("pooling allocator") {
        WasmError::InvalidModule(text)
    } else {
        WasmError::Compile(text)
    }
}

fn check_size(wasm: &[u8]) -> Result<(), WasmError> {
    if wasm.len() > MAX_MODULE_BYTES {
        return Err(WasmError::ModuleTooLarge {
            size: wasm.len(),
            max: MAX_MODULE_BYTES,
        });
    }
    Ok(())
}

fn sig(ty: &FuncType) -> String {
    let list = |it: &mut dyn Iterator<Item = ValType>| {
        it.map(|v| match v {
            ValType::I32 => "i32".to_owned(),
            ValType::I64 => "i64".to_owned(),
            ValType::F32 => "f32".to_owned(),
            ValType::F64 => "f64".to_owned(),
            ValType::V128 => "v128".to_owned(),
            ValType::Ref(r) => r.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
    };
    format!(
        "({}) -> ({})",
        list(&mut ty.params()),
        list(&mut ty.results())
    )
}

fn has_sig(ty: &FuncType, params: &[ValType], results: &[ValType]) -> bool {
    ty.params().len() == params.len()
        && ty.results().len() == results.len()
        && ty.params().zip(params).all(|(a, b)| ValType::eq(&a, b))
        && ty.results().zip(results).all(|(a, b)| ValType::eq(&a, b))
}

fn expected_sig(params: &[ValType], results: &[ValType]) -> String {
    let names = |v: &[ValType]| {
        v.iter()
            .map(|t| {
                if matches!(t, ValType::I64) {
                    "i64"
                } else {
                    "i32"
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("({}) -> ({})", names(params), names(results))
}

/// Checks a compiled module against the ABI and the engine's limits.
pub(crate) fn validate(module: &Module, config: &EngineConfig) -> Result<(), WasmError> {
    use ValType::{I32, I64};
    let invalid = |m: String| Err(WasmError::InvalidModule(m));

    for import in module.imports() {
        let (m, name) = (import.module(), import.name());
        let forbidden = || WasmError::ForbiddenImport {
            module: m.to_owned(),
            name: name.to_owned(),
        };
        if m != IMPORT_MODULE {
            return Err(forbidden());
        }
        let (params, results): (&[ValType], &[ValType]) = match name {
            "call" => (&[I32, I32, I32, I32, I32], &[I64]),
            "take" => (&[I32], &[I32]),
            "complete" => (&[I32, I32, I32, I32], &[I32]),
            "log" => (&[I32, I32, I32], &[]),
            _ => return Err(forbidden()),
        };
        match import.ty() {
            ExternType::Func(ty) if has_sig(&ty, params, results) => {}
            ExternType::Func(ty) => {
                return invalid(format!(
                    "imports {m}.{name} with signature {}, expected {}",
                    sig(&ty),
                    expected_sig(params, results)
                ));
            }
            _ => return invalid(format!("imports {m}.{name} as a non-function")),
        }
    }

    let mut markers = Vec::new();
    let mut run = None;
    let mut memory = None;
    for export in module.exports() {
        let name = export.name();
        if name.starts_with(ABI_MARKER_PREFIX) {
            markers.push((name.to_owned(), export.ty()));
        } else if name == RUN_EXPORT {
            run = Some(export.ty());
        } else if name == MEMORY_EXPORT {
            memory = Some(export.ty());
        }
    }
    match markers.as_slice() {
        [] => {
            return invalid(format!(
                "missing export {ABI_MARKER_V1} (the ABI version marker)"
            ));
        }
        [(name, ty)] => {
            if name != ABI_MARKER_V1 {
                return invalid(format!(
                    "exports {name}, but this host implements only {ABI_MARKER_V1}"
                ));
            }
            match ty {
                ExternType::Func(f) if has_sig(f, &[], &[]) => {}
                _ => {
                    return invalid(format!(
                        "export {ABI_MARKER_V1} must be a function () -> ()"
                    ));
                }
            }
        }
        several => {
            let names: Vec<&str> = several.iter().map(|(n, _)| n.as_str()).collect();
            return invalid(format!(
                "exports several ABI markers ({}); exactly one is allowed",
                names.join(", ")
            ));
        }
    }
    match run {
        None => return invalid(format!("missing export {RUN_EXPORT}")),
        Some(ExternType::Func(f)) if has_sig(&f, &[], &[I32]) => {}
        Some(ExternType::Func(f)) => {
            return invalid(format!(
                "export {RUN_EXPORT} has signature {}, expected () -> (i32)",
                sig(&f)
            ));
        }
        Some(_) => return invalid(format!("export {RUN_EXPORT} must be a function")),
    }
    match memory {
        None => return invalid(format!("missing export {MEMORY_EXPORT}")),
        Some(ExternType::Memory(m)) if !m.is_64() && !m.is_shared() => {}
        Some(_) => {
            return invalid(format!(
                "export {MEMORY_EXPORT} must be a 32-bit unshared memory"
            ));
        }
    }

    let resources = module.resources_required();
    if resources.num_memories > 1 {
        return invalid(format!(
            "declares {} memories; at most 1 is allowed",
            resources.num_memories
        ));
    }
    if resources.num_tables > 1 {
        return invalid(format!(
            "declares {} tables; at most 1 is allowed",
            resources.num_tables
        ));
    }
    if let Some(n) = resources.max_initial_table_size
        && n > MAX_TABLE_ELEMENTS as u64
    {
        return invalid(format!(
            "declares a table of {n} elements; at most {MAX_TABLE_ELEMENTS} are allowed"
        ));
    }
    // In 64 KiB wasm pages (custom page sizes are disabled).
    if let Some(pages) = resources.max_initial_memory_size
        && pages.saturating_mul(65_536) > config.max_memory_bytes as u64
    {
        let n = pages.saturating_mul(65_536);
        return invalid(format!(
            "declares an initial memory of {n} bytes; the limit is {} bytes",
            config.max_memory_bytes
        ));
    }
    Ok(())
}
