//! A keychain whose failures and limits a test chooses: keyring-core's in-memory mock store,
//! wrapped so that deleting an entry can be made to fail for as long as the test wants
//! (keyring-core's own mock errors once only), as a locked or broken Secret Service's deletes
//! do, and so that an entry can be limited in size, as Windows Credential Manager limits it.

use std::any::Any;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use keyring_core::api::{CredentialApi, CredentialStoreApi};
use keyring_core::{CredentialStore, Entry, Error, Result};

/// The store; [`FaultyKeychain::store`] is what a `TokenVault` is made over.
pub struct FaultyKeychain {
    inner: Arc<CredentialStore>,
    state: Arc<Mutex<KeychainState>>,
}

/// What the wrapper adds to the mock store.
#[derive(Debug, Default)]
struct KeychainState {
    failing_deletes: HashSet<String>,
    max_entry_bytes: Option<usize>,
    /// The size of each entry's secret, by entry name.
    sizes: BTreeMap<String, usize>,
}

impl FaultyKeychain {
    /// An empty keychain that fails nothing yet and takes entries of any size.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            inner: keyring_core::mock::Store::new().expect("the mock store"),
            state: Arc::default(),
        })
    }

    /// An empty keychain that refuses, as too long, any entry over `max_entry_bytes`.
    pub fn with_entry_limit(max_entry_bytes: usize) -> Arc<Self> {
        let keychain = Self::new();
        keychain.state.lock().unwrap().max_entry_bytes = Some(max_entry_bytes);
        keychain
    }

    /// The entries it holds, by name, with the size of each.
    pub fn entries(&self) -> BTreeMap<String, usize> {
        self.state.lock().unwrap().sizes.clone()
    }

    /// This keychain as keyring-core's store type.
    pub fn store(self: &Arc<Self>) -> Arc<CredentialStore> {
        self.clone()
    }

    /// Whether deleting entry `user` fails from now on.
    pub fn fail_deletes_of(&self, user: &str, fail: bool) {
        let failing = &mut self.state.lock().unwrap().failing_deletes;
        if fail {
            failing.insert(user.to_owned());
        } else {
            failing.remove(user);
        }
    }
}

impl CredentialStoreApi for FaultyKeychain {
    fn vendor(&self) -> String {
        "session-testkit faulty keychain".to_owned()
    }

    fn id(&self) -> String {
        self.inner.id()
    }

    fn build(
        &self,
        service: &str,
        user: &str,
        modifiers: Option<&HashMap<&str, &str>>,
    ) -> Result<Entry> {
        let inner = self.inner.build(service, user, modifiers)?;
        Ok(Entry::new_with_credential(Arc::new(FaultyCredential {
            inner,
            user: user.to_owned(),
            state: self.state.clone(),
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[derive(Debug)]
struct FaultyCredential {
    inner: Entry,
    user: String,
    state: Arc<Mutex<KeychainState>>,
}

impl CredentialApi for FaultyCredential {
    fn set_secret(&self, secret: &[u8]) -> Result<()> {
        let mut state = self.state.lock().unwrap();
        if let Some(limit) = state.max_entry_bytes.filter(|limit| secret.len() > *limit) {
            return Err(Error::TooLong("secret".to_owned(), limit as u32));
        }
        self.inner.set_secret(secret)?;
        state.sizes.insert(self.user.clone(), secret.len());
        Ok(())
    }

    fn get_secret(&self) -> Result<Vec<u8>> {
        self.inner.get_secret()
    }

    fn delete_credential(&self) -> Result<()> {
        let mut state = self.state.lock().unwrap();
        if state.failing_deletes.contains(&self.user) {
            return Err(Error::PlatformFailure(
                "the keychain refused to delete the item".into(),
            ));
        }
        self.inner.delete_credential()?;
        state.sizes.remove(&self.user);
        Ok(())
    }

    fn get_credential(&self) -> Result<Option<Arc<keyring_core::Credential>>> {
        // A wrapper: `None` hands this credential back, once the item is known to exist.
        self.inner.get_credential().map(|_| None)
    }

    fn get_specifiers(&self) -> Option<(String, String)> {
        self.inner.get_specifiers()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
