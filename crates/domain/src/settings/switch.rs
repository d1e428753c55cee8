//! The in-memory billing switch each instance answers from.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// The in-memory copy of the billing switch one instance answers from. Reads are a
/// single atomic load; updates only ever move to a newer settings version, so a slow
/// poll can never overwrite a fresher local write.
#[derive(Debug)]
pub struct BillingSwitch {
    enabled: AtomicBool,
    version: Mutex<i64>,
}

impl BillingSwitch {
    /// A switch seen at `version`.
    pub fn new(enabled: bool, version: i64) -> BillingSwitch {
        BillingSwitch {
            enabled: AtomicBool::new(enabled),
            version: Mutex::new(version),
        }
    }

    /// Whether it is enabled.
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    /// The settings version this copy reflects.
    pub fn version(&self) -> i64 {
        *self.version.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the switch as of `version`; ignored when an equal or newer version was
    /// already recorded with a different reading in between (returns whether applied).
    pub fn observe(&self, enabled: bool, version: i64) -> bool {
        let mut seen = self.version.lock().unwrap_or_else(|p| p.into_inner());
        if version < *seen {
            return false;
        }
        *seen = version;
        self.enabled.store(enabled, Ordering::Release);
        true
    }
}
