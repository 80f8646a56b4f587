//! Which chaincodes are connected: one [`Handler`] per chaincode id (a package id, or
//! `name:version` in dev mode), and the launches under way (Fabric's `HandlerRegistry`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::handler::Handler;

/// How a launch ended: `Ok` once the chaincode is ready, `Err(reason)` if it failed.
pub type LaunchOutcome = Option<Result<(), String>>;

/// The connected chaincodes and the launches under way.
#[derive(Debug)]
pub struct HandlerRegistry {
    /// Whether a chaincode may register without the peer launching it (dev mode).
    allow_unsolicited: bool,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Registered and READY sent: usable.
    handlers: HashMap<String, Arc<Handler>>,
    /// Registered, REGISTERED/READY not sent yet: not usable (a TRANSACTION sent now
    /// would reach the chaincode before READY).
    registering: HashMap<String, Arc<Handler>>,
    launching: HashMap<String, watch::Sender<LaunchOutcome>>,
}

/// The state of a launch a caller waits on.
#[derive(Debug)]
pub enum Launching {
    /// This caller must start the chaincode, then wait on the receiver.
    Start(watch::Receiver<LaunchOutcome>),
    /// Someone else is starting it: wait on the receiver.
    Wait(watch::Receiver<LaunchOutcome>),
    /// It is connected and ready.
    Ready(Arc<Handler>),
}

impl HandlerRegistry {
    /// An empty registry; `allow_unsolicited` accepts registrations the peer did not
    /// launch (Fabric's dev mode).
    pub fn new(allow_unsolicited: bool) -> Self {
        Self {
            allow_unsolicited,
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The ready handler of `ccid`, if connected.
    pub fn handler(&self, ccid: &str) -> Option<Arc<Handler>> {
        self.lock().handlers.get(ccid).cloned()
    }

    /// Marks `ccid` as launching unless it is ready or already launching.
    pub fn launching(&self, ccid: &str) -> Launching {
        let mut inner = self.lock();
        if let Some(handler) = inner.handlers.get(ccid) {
            return Launching::Ready(handler.clone());
        }
        if let Some(state) = inner.launching.get(ccid) {
            return Launching::Wait(state.subscribe());
        }
        let (tx, rx) = watch::channel(None);
        inner.launching.insert(ccid.to_owned(), tx);
        if inner.registering.contains_key(ccid) {
            // Registering on its own (dev mode): it becomes ready shortly.
            return Launching::Wait(rx);
        }
        Launching::Start(rx)
    }

    /// Accepts the registration of `handler` under its chaincode id: refused when the id
    /// is already connected, or when the peer is not launching it (outside dev mode). The
    /// handler is not handed out before [`ready`](Self::ready).
    pub fn register(&self, ccid: &str, handler: Arc<Handler>) -> Result<(), String> {
        let mut inner = self.lock();
        if inner.handlers.contains_key(ccid) || inner.registering.contains_key(ccid) {
            return Err(format!("duplicate chaincodeID: {ccid}"));
        }
        if !inner.launching.contains_key(ccid) && !self.allow_unsolicited {
            return Err(format!(
                "peer will not accept external chaincode connection {ccid} (except in dev mode)"
            ));
        }
        inner.registering.insert(ccid.to_owned(), handler);
        Ok(())
    }

    /// The registered chaincode `ccid` was sent READY: its handler becomes usable and
    /// the launch waiters wake.
    pub fn ready(&self, ccid: &str) {
        let mut inner = self.lock();
        if let Some(handler) = inner.registering.remove(ccid) {
            inner.handlers.insert(ccid.to_owned(), handler);
        }
        if let Some(state) = inner.launching.remove(ccid) {
            state.send_replace(Some(Ok(())));
        }
    }

    /// The launch of `ccid` failed: wakes the waiters with `reason`, and forgets the
    /// launch so the next invocation starts over.
    pub fn failed(&self, ccid: &str, reason: String) {
        let mut inner = self.lock();
        if let Some(state) = inner.launching.remove(ccid) {
            state.send_replace(Some(Err(reason)));
        }
    }

    /// The chaincode's stream ended: forgets `handler` (only if it is the one registered
    /// under `ccid`).
    pub fn deregister(&self, ccid: &str, handler: &Arc<Handler>) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        for map in [&mut inner.handlers, &mut inner.registering] {
            if map.get(ccid).is_some_and(|h| Arc::ptr_eq(h, handler)) {
                map.remove(ccid);
            }
        }
    }

    /// The ids of the connected chaincodes.
    pub fn connected(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.lock().handlers.keys().cloned().collect();
        ids.sort();
        ids
    }
}
