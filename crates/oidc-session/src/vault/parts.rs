//! Entries that fit every platform's keychain. Windows Credential Manager holds at most 2,560
//! bytes per credential, and an Okta session (two JWTs of about a kilobyte each) is larger: a
//! value longer than [`MAX_ENTRY_BYTES`] is split into numbered parts, and its own entry holds
//! only a manifest naming them. Parts are named after one of two generations, the other one
//! than the value they replace, and the manifest is written last, so a crash in the middle of
//! a write leaves the previous value whole. Deleting the entry alone ends the value (parts
//! are nothing without it); its parts go with [`TokenVault::delete_value`], which finds them
//! without reading the entry first.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{TokenVault, VaultError};
use crate::secret::Sensitive;

/// The most bytes one keychain entry holds (below Windows' 2,560).
pub const MAX_ENTRY_BYTES: usize = 2048;
/// The generations of parts: a write uses the one its predecessor did not.
const GENERATIONS: std::ops::RangeInclusive<u64> = 1..=2;
/// How many times a read starts over when writes keep replacing the value under it.
const MAX_READS: usize = 3;

/// What an entry holds in place of a value that was split.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    /// How many parts.
    parts: usize,
    /// Which of the two generations of parts: 1 or 2.
    generation: u64,
}

impl Manifest {
    /// The manifest `bytes` are, if they are one (a value is never a bare manifest).
    fn of(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }

    /// The entry names of the parts.
    fn part_names(&self, user: &str) -> impl Iterator<Item = String> + '_ {
        let user = user.to_owned();
        (1..=self.parts).map(move |index| format!("{user}.{}.{index}", self.generation))
    }
}

impl TokenVault {
    /// Writes `value` as `user`'s entry, split into parts if it is long; the parts of the value
    /// it replaces go once the new one is in place.
    pub(super) fn write_value(&self, user: &str, value: &[u8]) -> Result<(), VaultError> {
        let previous = self.manifest(user)?;
        if value.len() <= MAX_ENTRY_BYTES {
            self.entry(user)?.set_secret(value)?;
        } else {
            let manifest = Manifest {
                parts: value.len().div_ceil(MAX_ENTRY_BYTES),
                generation: previous
                    .as_ref()
                    .map_or(1, |previous| GENERATIONS.end() + 1 - previous.generation),
            };
            for (name, part) in manifest.part_names(user).zip(value.chunks(MAX_ENTRY_BYTES)) {
                self.entry(&name)?.set_secret(part)?;
            }
            let manifest = serde_json::to_vec(&manifest).expect("a manifest serializes");
            self.entry(user)?.set_secret(&manifest)?;
        }
        // The new value is in place: old parts that fail to go are only litter, which the next
        // delete of the value takes (it finds every part).
        if let Some(previous) = previous {
            if let Err(error) = self.delete_parts(user, &previous) {
                tracing::warn!(%error, "could not delete the parts of a replaced value");
            }
        }
        Ok(())
    }

    /// `user`'s value, joined from its parts; `None` when there is none. A part missing because
    /// a write replaced the value meanwhile (its manifest changed) makes it read again.
    pub(super) fn read_value(&self, user: &str) -> Result<Option<Sensitive<Vec<u8>>>, VaultError> {
        let mut head = self.read_entry(user)?;
        for _ in 0..MAX_READS {
            let Some(current) = head else {
                return Ok(None);
            };
            let Some(manifest) = Manifest::of(current.expose()) else {
                return Ok(Some(current));
            };
            match self.read_parts(user, &manifest)? {
                Some(value) => return Ok(Some(value)),
                None => {
                    head = self.read_entry(user)?;
                    if head.as_ref().map(Sensitive::expose) == Some(current.expose()) {
                        return Err(VaultError::Corrupt);
                    }
                }
            }
        }
        Err(VaultError::Corrupt)
    }

    /// The parts `manifest` names, joined; `None` if one is missing.
    fn read_parts(
        &self,
        user: &str,
        manifest: &Manifest,
    ) -> Result<Option<Sensitive<Vec<u8>>>, VaultError> {
        // Zeroized if a part is missing; handed over whole otherwise.
        let mut value = Zeroizing::new(Vec::with_capacity(manifest.parts * MAX_ENTRY_BYTES));
        for name in manifest.part_names(user) {
            let Some(part) = self.read_entry(&name)? else {
                return Ok(None);
            };
            value.extend_from_slice(part.expose());
        }
        Ok(Some(Sensitive::new(std::mem::take(&mut *value))))
    }

    /// Deletes `user`'s entry first (the value is gone from then on), then any part of either
    /// generation.
    pub(super) fn delete_value(&self, user: &str) -> Result<(), VaultError> {
        self.delete_entry(user)?;
        for generation in GENERATIONS {
            for index in 1.. {
                if !self.delete_if_present(&format!("{user}.{generation}.{index}"))? {
                    break;
                }
            }
        }
        Ok(())
    }

    /// The manifest in `user`'s entry, if it holds one.
    fn manifest(&self, user: &str) -> Result<Option<Manifest>, VaultError> {
        Ok(self
            .read_entry(user)?
            .and_then(|head| Manifest::of(head.expose())))
    }

    fn delete_parts(&self, user: &str, manifest: &Manifest) -> Result<(), VaultError> {
        manifest
            .part_names(user)
            .try_for_each(|name| self.delete_entry(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(vault: &TokenVault, names: &[&str]) -> Vec<bool> {
        names
            .iter()
            .map(|name| vault.read_entry(name).unwrap().is_some())
            .collect()
    }

    #[test]
    fn a_long_value_is_split_joined_replaced_and_wiped_whole() {
        let vault = TokenVault::mock();
        let long: Vec<u8> = (0..5000u32).map(|byte| (byte % 251) as u8).collect();
        vault.write_value("session", &long).unwrap();
        assert_eq!(
            entries(
                &vault,
                &["session.1.1", "session.1.2", "session.1.3", "session.1.4"]
            ),
            [true, true, true, false]
        );
        assert!(vault
            .read_entry("session.1.3")
            .unwrap()
            .is_some_and(|part| part.expose().len() == 5000 - 2 * MAX_ENTRY_BYTES));
        assert_eq!(
            vault.read_value("session").unwrap().unwrap().expose(),
            &long
        );

        // Replaced by another long value: a new generation, the old parts gone.
        let longer = [long.clone(), long.clone()].concat();
        vault.write_value("session", &longer).unwrap();
        assert_eq!(
            vault.read_value("session").unwrap().unwrap().expose(),
            &longer
        );
        assert_eq!(
            entries(&vault, &["session.1.1", "session.2.5"]),
            [false, true]
        );

        // Replaced by a short one: no parts left.
        vault.write_value("session", b"short").unwrap();
        assert_eq!(
            vault.read_value("session").unwrap().unwrap().expose(),
            b"short"
        );
        assert_eq!(
            entries(&vault, &["session.2.1", "session.2.5"]),
            [false, false]
        );

        vault.write_value("session", &long).unwrap();
        vault.delete_value("session").unwrap();
        assert!(vault.read_value("session").unwrap().is_none());
        assert_eq!(
            entries(&vault, &["session.1.1", "session.1.3"]),
            [false, false]
        );
        vault.delete_value("session").unwrap();
    }

    #[test]
    fn the_entry_alone_ends_a_value_and_a_delete_finds_its_parts() {
        let vault = TokenVault::mock();
        vault.write_value("session", &[1; 5000]).unwrap();
        vault.write_value("session", &[2; 5000]).unwrap();
        vault.delete_entry("session").unwrap();
        assert!(vault.read_value("session").unwrap().is_none());
        assert_eq!(
            entries(&vault, &["session.2.1", "session.2.3"]),
            [true, true]
        );
        vault.delete_value("session").unwrap();
        assert_eq!(
            entries(
                &vault,
                &["session.1.1", "session.2.1", "session.2.2", "session.2.3"]
            ),
            [false, false, false, false]
        );
    }

    #[test]
    fn a_missing_part_makes_the_value_unreadable() {
        let vault = TokenVault::mock();
        vault.write_value("session", &[7; 3000]).unwrap();
        vault.delete_entry("session.1.2").unwrap();
        assert!(matches!(
            vault.read_value("session"),
            Err(VaultError::Corrupt)
        ));
    }
}
