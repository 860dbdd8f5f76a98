//! Reading whole capability lists: GetCapability answers a page at a time; these follow
//! `moreData` to the end, each page starting past the last, so a misbehaving TPM cannot make
//! them loop.

use super::Tpm;
use crate::command::GetCapability;
use crate::error::{Error, Result};
use crate::wire::{
    AlgProperty, Capability, CapabilityData, CommandAttributes, CommandCode, Handle, PropertyTag,
    TaggedProperty, WireError, MAX_CAP_ALGS, MAX_CAP_CC, MAX_CAP_HANDLES, MAX_TPM_PROPERTIES,
};

/// Upper bound on pages, whatever the TPM says about more data.
const MAX_PAGES: usize = 64;

/// The low 24 bits of a session handle: its slot, shared by the loaded (0x02) and saved
/// (0x03) views of the same session.
const SESSION_INDEX_MASK: u32 = 0x00FF_FFFF;

/// What one capability list looks like to the pager.
struct Pager<T> {
    capability: Capability,
    /// The property to ask for first.
    first: u32,
    /// The position (in `key` terms) of `first`.
    first_key: u32,
    per_page: u32,
    /// The items of one answer, or `None` if the TPM answered with another capability.
    items: fn(CapabilityData) -> Option<Vec<T>>,
    /// An item's position; positions must ascend.
    key: Box<dyn Fn(&T) -> u32>,
    /// Whether an item belongs to the list asked for.
    wanted: Box<dyn Fn(&T) -> bool>,
    /// The property to ask for after position `k`, or `None` at the end of the range.
    next: Box<dyn Fn(u32) -> Option<u32>>,
}

impl Tpm {
    fn page_all<T: Copy>(&self, p: Pager<T>) -> Result<Vec<T>> {
        let mut out: Vec<T> = Vec::new();
        let mut property = p.first;
        let mut floor = p.first_key;
        for _ in 0..MAX_PAGES {
            let rsp = self.run(&GetCapability {
                capability: p.capability,
                property,
                property_count: p.per_page,
            })?;
            let answered = rsp.capability_data.capability();
            let Some(items) = (p.items)(rsp.capability_data) else {
                // Not a caller mistake: the response does not answer the question asked.
                return Err(Error::Malformed {
                    command: CommandCode::GET_CAPABILITY,
                    source: WireError::BadValue {
                        what: "capability in the answer (another one was asked for)",
                        value: answered.0,
                    },
                });
            };
            // A TPM lists items in ascending order, but a resource manager may not (Linux
            // numbers its virtual transient handles down from 0x80FFFFFF): take each new item
            // once, in the order given, and go on after the highest.
            let page_start = out.len();
            let mut highest = None;
            for item in items {
                let k = (p.key)(&item);
                let repeated = out[page_start..].iter().any(|o| (p.key)(o) == k);
                if (p.wanted)(&item) && k >= floor && !repeated {
                    out.push(item);
                    highest = highest.max(Some(k));
                }
            }
            match highest.and_then(|k| (p.next)(k).map(|n| (k, n))) {
                Some((k, n)) if rsp.more_data => {
                    property = n;
                    // Earlier pages hold only items below the floor, so none can come back.
                    floor = k.saturating_add(1);
                }
                _ => break,
            }
        }
        Ok(out)
    }

    /// Every handle of the type of `first`, from `first` on, in the order listed (a resource
    /// manager may list its virtual handles in any order). For the session ranges the TPM
    /// lists saved sessions with the HMAC prefix (0x02) whatever their type, so sessions are
    /// ordered and matched by their low 24 bits.
    pub fn handles(&self, first: Handle) -> Result<Vec<Handle>> {
        let sessions = first.is_session();
        let ty = first.0 >> 24;
        let key: Box<dyn Fn(&Handle) -> u32> = if sessions {
            Box::new(|h: &Handle| h.0 & SESSION_INDEX_MASK)
        } else {
            Box::new(|h: &Handle| h.0)
        };
        let base = first.0 & !SESSION_INDEX_MASK;
        self.page_all(Pager {
            capability: Capability::HANDLES,
            first: first.0,
            first_key: if sessions {
                first.0 & SESSION_INDEX_MASK
            } else {
                first.0
            },
            per_page: MAX_CAP_HANDLES as u32,
            items: |d| match d {
                CapabilityData::Handles(l) => Some(l.iter().copied().collect()),
                _ => None,
            },
            key,
            wanted: Box::new(move |h: &Handle| {
                if sessions {
                    h.is_session()
                } else {
                    h.0 >> 24 == ty
                }
            }),
            next: Box::new(move |k| {
                if sessions {
                    (k < SESSION_INDEX_MASK).then(|| base | (k + 1))
                } else {
                    (k & SESSION_INDEX_MASK < SESSION_INDEX_MASK).then(|| k + 1)
                }
            }),
        })
    }

    /// Every TPM property from `first` (TPM_PT_FIXED or TPM_PT_VAR) to the end of its group.
    pub fn properties(&self, first: PropertyTag) -> Result<Vec<TaggedProperty>> {
        let group = first.0 & !0xFF;
        self.page_all(Pager {
            capability: Capability::TPM_PROPERTIES,
            first: first.0,
            first_key: first.0,
            per_page: MAX_TPM_PROPERTIES as u32,
            items: |d| match d {
                CapabilityData::TpmProperties(l) => Some(l.iter().copied().collect()),
                _ => None,
            },
            key: Box::new(|p: &TaggedProperty| p.property.0),
            wanted: Box::new(move |p: &TaggedProperty| p.property.0 & !0xFF == group),
            next: Box::new(move |k| ((k + 1) & !0xFF == group).then_some(k + 1)),
        })
    }

    /// Every algorithm the TPM implements, with its attributes.
    pub fn algorithms(&self) -> Result<Vec<AlgProperty>> {
        self.page_all(Pager {
            capability: Capability::ALGS,
            first: 0,
            first_key: 0,
            per_page: MAX_CAP_ALGS as u32,
            items: |d| match d {
                CapabilityData::Algorithms(l) => Some(l.iter().copied().collect()),
                _ => None,
            },
            key: Box::new(|p: &AlgProperty| u32::from(p.alg.0)),
            wanted: Box::new(|_| true),
            next: Box::new(|k| (k < 0xFFFF).then_some(k + 1)),
        })
    }

    /// Every command the TPM implements, as TPMA_CC.
    pub fn commands(&self) -> Result<Vec<CommandAttributes>> {
        self.page_all(Pager {
            capability: Capability::COMMANDS,
            first: 0,
            first_key: 0,
            per_page: MAX_CAP_CC as u32,
            items: |d| match d {
                CapabilityData::Commands(l) => Some(l.iter().copied().collect()),
                _ => None,
            },
            key: Box::new(|c: &CommandAttributes| command_code(*c)),
            wanted: Box::new(|_| true),
            next: Box::new(|k| k.checked_add(1)),
        })
    }
}

/// The command code a TPMA_CC describes: its index, with the vendor bit.
pub fn command_code(c: CommandAttributes) -> u32 {
    const VENDOR: u32 = 1 << 29;
    c.command_index() | (c.bits() & VENDOR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::{Transport, TransportError};
    use crate::wire::{HandleList, Marshal, Reader, Writer};

    /// Answers GetCapability(HANDLES) with two handles per page from a fixed list, the way a
    /// TPM does — or, with `stuck`, always the same page with moreData set.
    struct Pages {
        handles: Vec<u32>,
        stuck: bool,
        asked: usize,
        per_page: usize,
    }

    impl Transport for Pages {
        fn transact(&mut self, cmd: &[u8], rsp: &mut Vec<u8>) -> Result<(), TransportError> {
            self.asked += 1;
            let mut r = Reader::new(&cmd[10..]);
            let _cap = r.u32().unwrap();
            let from = r.u32().unwrap();
            let page: Vec<Handle> = if self.stuck {
                let n = self.per_page;
                self.handles.iter().take(n).map(|&h| Handle(h)).collect()
            } else {
                self.handles
                    .iter()
                    .filter(|&&h| h >= from)
                    .take(self.per_page)
                    .map(|&h| Handle(h))
                    .collect()
            };
            let left = self.handles.iter().filter(|&&h| h >= from).count();
            let more = self.stuck || left > self.per_page;
            rsp.clear();
            let mut w = Writer::new(rsp);
            w.u16(0x8001);
            w.u32(0);
            w.u32(0);
            more.marshal(&mut w);
            CapabilityData::Handles(HandleList::new(page).unwrap()).marshal(&mut w);
            let n = w.len() as u32;
            w.patch_u32(2, n);
            Ok(())
        }

        fn describe(&self) -> String {
            "pages".into()
        }
    }

    fn tpm(handles: &[u32], stuck: bool) -> Tpm {
        let t = Tpm::new(Box::new(Pages {
            handles: handles.to_vec(),
            stuck,
            asked: 0,
            per_page: 2,
        }));
        t.set_registry(None);
        t
    }

    #[test]
    fn follows_more_data_across_pages() {
        let all = [
            0x8000_0000,
            0x8000_0001,
            0x8000_0005,
            0x8000_0007,
            0x8000_0009,
        ];
        let got = tpm(&all, false).handles(Handle(0x8000_0000)).unwrap();
        assert_eq!(got.iter().map(|h| h.0).collect::<Vec<_>>(), all);
    }

    #[test]
    fn a_resource_manager_listing_downwards_is_followed() {
        // Linux's resource manager: virtual handles counting down, in one answer.
        let listed = [0x80FF_FFFF, 0x80FF_FFFE, 0x80FF_FFFD];
        let t = Tpm::new(Box::new(Pages {
            handles: listed.to_vec(),
            stuck: false,
            asked: 0,
            per_page: 8,
        }));
        t.set_registry(None);
        let got = t.handles(Handle(0x8000_0000)).unwrap();
        assert_eq!(got.iter().map(|h| h.0).collect::<Vec<_>>(), listed);
    }

    #[test]
    fn a_tpm_repeating_itself_cannot_make_it_loop() {
        let got = tpm(&[0x8000_0000, 0x8000_0001], true)
            .handles(Handle(0x8000_0000))
            .unwrap();
        assert_eq!(got.len(), 2, "the repeated page adds nothing");
    }

    #[test]
    fn an_answer_about_another_capability_is_a_malformed_response() {
        // `Pages` answers every question with a handle list.
        let err = tpm(&[0x8000_0000], false).algorithms().unwrap_err();
        assert!(
            matches!(
                err,
                Error::Malformed {
                    command: CommandCode::GET_CAPABILITY,
                    source: WireError::BadValue { value, .. },
                } if value == Capability::HANDLES.0
            ),
            "{err:?}"
        );
    }
}
