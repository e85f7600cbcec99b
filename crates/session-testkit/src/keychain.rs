//! A keychain whose failures a test chooses: keyring-core's in-memory mock store, wrapped so
//! that deleting an entry can be made to fail for as long as the test wants (keyring-core's
//! own mock errors once only), as a locked or broken Secret Service's deletes do.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use keyring_core::api::{CredentialApi, CredentialStoreApi};
use keyring_core::{CredentialStore, Entry, Error, Result};

/// The store; [`FaultyKeychain::store`] is what a `TokenVault` is made over.
pub struct FaultyKeychain {
    inner: Arc<CredentialStore>,
    failing_deletes: Arc<Mutex<HashSet<String>>>,
}

impl FaultyKeychain {
    /// An empty keychain that fails nothing yet.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            inner: keyring_core::mock::Store::new().expect("the mock store"),
            failing_deletes: Arc::default(),
        })
    }

    /// This keychain as keyring-core's store type.
    pub fn store(self: &Arc<Self>) -> Arc<CredentialStore> {
        self.clone()
    }

    /// Whether deleting entry `user` fails from now on.
    pub fn fail_deletes_of(&self, user: &str, fail: bool) {
        let mut failing = self.failing_deletes.lock().unwrap();
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
            failing_deletes: self.failing_deletes.clone(),
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
    failing_deletes: Arc<Mutex<HashSet<String>>>,
}

impl CredentialApi for FaultyCredential {
    fn set_secret(&self, secret: &[u8]) -> Result<()> {
        self.inner.set_secret(secret)
    }

    fn get_secret(&self) -> Result<Vec<u8>> {
        self.inner.get_secret()
    }

    fn delete_credential(&self) -> Result<()> {
        if self.failing_deletes.lock().unwrap().contains(&self.user) {
            return Err(Error::PlatformFailure(
                "the keychain refused to delete the item".into(),
            ));
        }
        self.inner.delete_credential()
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
