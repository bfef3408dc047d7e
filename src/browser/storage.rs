//! Web Storage by key, as strings. `Memory` keeps nothing: the caller holds the value.

use crate::browser::describe;
use crate::core::config::StorageKind;
use crate::core::error::Error;
use web_sys::Storage;

/// One of the browser's storage areas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// `sessionStorage`.
    Session,
    /// `localStorage`.
    Local,
}

impl Area {
    /// The area for a token-storage choice (`None` for memory).
    pub fn for_tokens(kind: StorageKind) -> Option<Self> {
        match kind {
            StorageKind::Memory => None,
            StorageKind::Session => Some(Self::Session),
            StorageKind::Local => Some(Self::Local),
        }
    }

    fn storage(self) -> Result<Storage, Error> {
        let w = web_sys::window().ok_or(Error::Unsupported { what: "no window" })?;
        let s = match self {
            Self::Session => w.session_storage(),
            Self::Local => w.local_storage(),
        };
        s.map_err(|e| Error::Storage {
            detail: describe(&e),
        })?
        .ok_or(Error::Storage {
            detail: "storage is unavailable".into(),
        })
    }

    /// Reads a key. A storage that cannot be opened reads as empty.
    pub fn get(self, key: &str) -> Option<String> {
        self.storage().ok()?.get_item(key).ok().flatten()
    }

    /// Writes a key.
    pub fn set(self, key: &str, value: &str) -> Result<(), Error> {
        self.storage()?
            .set_item(key, value)
            .map_err(|e| Error::Storage {
                detail: describe(&e),
            })
    }

    /// Removes a key (absent keys are fine).
    pub fn remove(self, key: &str) {
        if let Ok(s) = self.storage() {
            let _ = s.remove_item(key);
        }
    }

    /// All keys that start with `prefix`.
    pub fn keys_with_prefix(self, prefix: &str) -> Vec<String> {
        let Ok(s) = self.storage() else {
            return Vec::new();
        };
        let n = s.length().unwrap_or(0);
        (0..n)
            .filter_map(|i| s.key(i).ok().flatten())
            .filter(|k| k.starts_with(prefix))
            .collect()
    }
}
