//! TPM2_GetCapability data: TPMS_CAPABILITY_DATA and the lists its union carries.

use super::pcr::{HashValue, PcrSelect, PcrSelectionList};
use super::structures::{
    bad_selector, list_entry, plain_struct_codec, AlgorithmAttributes, CommandAttributes, TpmList,
};
use super::{
    AlgId, Capability, CommandCode, EccCurve, Handle, Marshal, PcrPropertyTag, PropertyTag, Reader,
    Unmarshal, WireError, Writer,
};

/// MAX_CAP_DATA: MAX_CAP_BUFFER (1024) less the capability and count fields. The list maxima
/// below are how many entries of each kind fit in it, as the specification defines them.
pub const MAX_CAP_DATA: usize = 1024 - 4 - 4;
/// MAX_CAP_HANDLES: handles per TPML_HANDLE (4 bytes each).
pub const MAX_CAP_HANDLES: usize = MAX_CAP_DATA / 4;
/// MAX_CAP_CC: command codes or TPMA_CCs per TPML_CC / TPML_CCA (4 bytes each).
pub const MAX_CAP_CC: usize = MAX_CAP_DATA / 4;
/// MAX_CAP_ALGS: entries per TPML_ALG_PROPERTY (6 bytes each).
pub const MAX_CAP_ALGS: usize = MAX_CAP_DATA / 6;
/// MAX_TPM_PROPERTIES: entries per TPML_TAGGED_TPM_PROPERTY (8 bytes each).
pub const MAX_TPM_PROPERTIES: usize = MAX_CAP_DATA / 8;
/// MAX_PCR_PROPERTIES: entries per TPML_TAGGED_PCR_PROPERTY.
pub const MAX_PCR_PROPERTIES: usize = MAX_CAP_DATA / 8;
/// MAX_ECC_CURVES: entries per TPML_ECC_CURVE (2 bytes each).
pub const MAX_ECC_CURVES: usize = MAX_CAP_DATA / 2;
/// MAX_TAGGED_POLICIES: entries per TPML_TAGGED_POLICY (a handle and a SHA-512 TPMT_HA each).
pub const MAX_TAGGED_POLICIES: usize = MAX_CAP_DATA / (4 + 2 + 64);

/// TPMS_ALG_PROPERTY
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AlgProperty {
    /// The algorithm.
    pub alg: AlgId,
    /// What kind of algorithm it is (TPMA_ALGORITHM: asymmetric, symmetric, hash, signing, ...).
    pub properties: AlgorithmAttributes,
}

/// TPMS_TAGGED_PROPERTY
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TaggedProperty {
    /// Which property (TPM_PT).
    pub property: PropertyTag,
    /// Its value; what it means depends on the property (a count, four ASCII characters, a bit
    /// field, ...).
    pub value: u32,
}

/// TPMS_TAGGED_PCR_SELECT
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TaggedPcrSelect {
    /// The PCR property (TPM_PT_PCR).
    pub tag: PcrPropertyTag,
    /// The PCRs that have it.
    pub select: PcrSelect,
}

/// TPMS_TAGGED_POLICY
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaggedPolicy {
    /// The permanent handle the policy belongs to (a hierarchy or lockout).
    pub handle: Handle,
    /// Its authorization policy, with its hash algorithm.
    pub policy_hash: HashValue,
}

plain_struct_codec!(AlgProperty {
    alg: AlgId,
    properties: AlgorithmAttributes
});
plain_struct_codec!(TaggedProperty {
    property: PropertyTag,
    value: u32
});
plain_struct_codec!(TaggedPcrSelect {
    tag: PcrPropertyTag,
    select: PcrSelect
});
plain_struct_codec!(TaggedPolicy {
    handle: Handle,
    policy_hash: HashValue
});

/// TPML_ALG_PROPERTY
pub type AlgPropertyList = TpmList<AlgProperty, MAX_CAP_ALGS>;
/// TPML_HANDLE
pub type HandleList = TpmList<Handle, MAX_CAP_HANDLES>;
/// TPML_CC
pub type CommandCodeList = TpmList<CommandCode, MAX_CAP_CC>;
/// TPML_CCA
pub type CommandAttributesList = TpmList<CommandAttributes, MAX_CAP_CC>;
/// TPML_TAGGED_TPM_PROPERTY
pub type TaggedPropertyList = TpmList<TaggedProperty, MAX_TPM_PROPERTIES>;
/// TPML_TAGGED_PCR_PROPERTY
pub type TaggedPcrPropertyList = TpmList<TaggedPcrSelect, MAX_PCR_PROPERTIES>;
/// TPML_ECC_CURVE
pub type EccCurveList = TpmList<EccCurve, MAX_ECC_CURVES>;
/// TPML_TAGGED_POLICY
pub type TaggedPolicyList = TpmList<TaggedPolicy, MAX_TAGGED_POLICIES>;
list_entry!(
    AlgProperty => "TPML_ALG_PROPERTY",
    Handle => "TPML_HANDLE",
    CommandCode => "TPML_CC",
    CommandAttributes => "TPML_CCA",
    TaggedProperty => "TPML_TAGGED_TPM_PROPERTY",
    TaggedPcrSelect => "TPML_TAGGED_PCR_PROPERTY",
    EccCurve => "TPML_ECC_CURVE",
    TaggedPolicy => "TPML_TAGGED_POLICY",
);

/// TPMS_CAPABILITY_DATA: the capability selector and its TPMU_CAPABILITIES arm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CapabilityData {
    /// TPM_CAP_ALGS: the implemented algorithms and their attributes.
    Algorithms(AlgPropertyList),
    /// TPM_CAP_HANDLES: handles of one type (loaded objects, sessions, NV indices, ...).
    Handles(HandleList),
    /// TPM_CAP_COMMANDS: the implemented commands, as TPMA_CC.
    Commands(CommandAttributesList),
    /// TPM_CAP_PP_COMMANDS: commands that need physical presence.
    PpCommands(CommandCodeList),
    /// TPM_CAP_AUDIT_COMMANDS: commands in the command audit list.
    AuditCommands(CommandCodeList),
    /// TPM_CAP_PCRS: the allocated PCR banks.
    Pcrs(PcrSelectionList),
    /// TPM_CAP_TPM_PROPERTIES: fixed and variable TPM properties (TPM_PT).
    TpmProperties(TaggedPropertyList),
    /// TPM_CAP_PCR_PROPERTIES: which PCRs have which properties (TPM_PT_PCR).
    PcrProperties(TaggedPcrPropertyList),
    /// TPM_CAP_ECC_CURVES: the implemented curves.
    EccCurves(EccCurveList),
    /// TPM_CAP_AUTH_POLICIES: the authorization policies of the permanent handles.
    AuthPolicies(TaggedPolicyList),
}

impl CapabilityData {
    /// The TPM_CAP selector of this arm.
    pub fn capability(&self) -> Capability {
        match self {
            CapabilityData::Algorithms(_) => Capability::ALGS,
            CapabilityData::Handles(_) => Capability::HANDLES,
            CapabilityData::Commands(_) => Capability::COMMANDS,
            CapabilityData::PpCommands(_) => Capability::PP_COMMANDS,
            CapabilityData::AuditCommands(_) => Capability::AUDIT_COMMANDS,
            CapabilityData::Pcrs(_) => Capability::PCRS,
            CapabilityData::TpmProperties(_) => Capability::TPM_PROPERTIES,
            CapabilityData::PcrProperties(_) => Capability::PCR_PROPERTIES,
            CapabilityData::EccCurves(_) => Capability::ECC_CURVES,
            CapabilityData::AuthPolicies(_) => Capability::AUTH_POLICIES,
        }
    }

    /// The value of a TPM property, if this is TPM_CAP_TPM_PROPERTIES data that has it.
    pub fn property(&self, property: PropertyTag) -> Option<u32> {
        match self {
            CapabilityData::TpmProperties(list) => list
                .iter()
                .find(|p| p.property == property)
                .map(|p| p.value),
            _ => None,
        }
    }
}

impl Marshal for CapabilityData {
    fn marshal(&self, w: &mut Writer<'_>) {
        self.capability().marshal(w);
        match self {
            CapabilityData::Algorithms(l) => l.marshal(w),
            CapabilityData::Handles(l) => l.marshal(w),
            CapabilityData::Commands(l) => l.marshal(w),
            CapabilityData::PpCommands(l) | CapabilityData::AuditCommands(l) => l.marshal(w),
            CapabilityData::Pcrs(l) => l.marshal(w),
            CapabilityData::TpmProperties(l) => l.marshal(w),
            CapabilityData::PcrProperties(l) => l.marshal(w),
            CapabilityData::EccCurves(l) => l.marshal(w),
            CapabilityData::AuthPolicies(l) => l.marshal(w),
        }
    }
}

impl Unmarshal for CapabilityData {
    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(match Capability::unmarshal(r)? {
            Capability::ALGS => CapabilityData::Algorithms(Unmarshal::unmarshal(r)?),
            Capability::HANDLES => CapabilityData::Handles(Unmarshal::unmarshal(r)?),
            Capability::COMMANDS => CapabilityData::Commands(Unmarshal::unmarshal(r)?),
            Capability::PP_COMMANDS => CapabilityData::PpCommands(Unmarshal::unmarshal(r)?),
            Capability::AUDIT_COMMANDS => CapabilityData::AuditCommands(Unmarshal::unmarshal(r)?),
            Capability::PCRS => CapabilityData::Pcrs(Unmarshal::unmarshal(r)?),
            Capability::TPM_PROPERTIES => CapabilityData::TpmProperties(Unmarshal::unmarshal(r)?),
            Capability::PCR_PROPERTIES => CapabilityData::PcrProperties(Unmarshal::unmarshal(r)?),
            Capability::ECC_CURVES => CapabilityData::EccCurves(Unmarshal::unmarshal(r)?),
            Capability::AUTH_POLICIES => CapabilityData::AuthPolicies(Unmarshal::unmarshal(r)?),
            other => return Err(bad_selector("TPMS_CAPABILITY_DATA capability", other.0)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An oversized count is reported with the TPM structure's name, not a Rust type path.
    #[test]
    fn list_errors_name_the_tpm_structure() {
        use crate::wire::{DigestList, DigestValues, PcrSelectionList};
        fn check<L: Unmarshal>(tpml: &str) {
            let e = L::from_bytes(&u32::MAX.to_be_bytes())
                .err()
                .unwrap()
                .to_string();
            assert!(e.contains(tpml) && !e.contains("::"), "{tpml}: {e}");
        }
        check::<AlgPropertyList>("TPML_ALG_PROPERTY");
        check::<HandleList>("TPML_HANDLE");
        check::<CommandCodeList>("TPML_CC");
        check::<CommandAttributesList>("TPML_CCA");
        check::<TaggedPropertyList>("TPML_TAGGED_TPM_PROPERTY");
        check::<TaggedPcrPropertyList>("TPML_TAGGED_PCR_PROPERTY");
        check::<EccCurveList>("TPML_ECC_CURVE");
        check::<TaggedPolicyList>("TPML_TAGGED_POLICY");
        check::<PcrSelectionList>("TPML_PCR_SELECTION");
        check::<DigestList>("TPML_DIGEST");
        check::<DigestValues>("TPML_DIGEST_VALUES");
        // Building one too long says the same.
        let e = HandleList::new(vec![Handle(0); MAX_CAP_HANDLES + 1])
            .unwrap_err()
            .to_string();
        assert!(e.contains("TPML_HANDLE") && !e.contains("::"), "{e}");
    }

    #[test]
    fn handles_capability_layout() {
        let data = CapabilityData::Handles(
            HandleList::new(vec![Handle(0x8000_0000), Handle(0x8100_0001)]).unwrap(),
        );
        let bytes = data.to_bytes();
        assert_eq!(
            bytes,
            [0, 0, 0, 1, 0, 0, 0, 2, 0x80, 0, 0, 0, 0x81, 0, 0, 1]
        );
        assert_eq!(CapabilityData::from_bytes(&bytes).unwrap(), data);
    }

    #[test]
    fn property_lookup_and_bounds() {
        let props = TaggedPropertyList::new(vec![TaggedProperty {
            property: PropertyTag::HR_LOADED_AVAIL,
            value: 3,
        }])
        .unwrap();
        let data = CapabilityData::TpmProperties(props);
        assert_eq!(data.property(PropertyTag::HR_LOADED_AVAIL), Some(3));
        assert_eq!(data.property(PropertyTag::HR_ACTIVE_AVAIL), None);
        // 255 handles is one more than fits in a capability buffer.
        let mut bytes = vec![0, 0, 0, 1, 0, 0, 0, 255];
        bytes.extend([0u8; 4 * 255]);
        assert!(matches!(
            CapabilityData::from_bytes(&bytes),
            Err(WireError::TooMany {
                count: 255,
                max: 254,
                ..
            })
        ));
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Reads a GetCapability response frame: moreData, then the capability data.
    fn parse_response(frame: &[u8]) -> (bool, CapabilityData) {
        let parsed = crate::wire::ResponseFrame::parse(frame, 0).unwrap();
        assert_eq!(parsed.code, 0);
        let mut r = Reader::new(parsed.parameters);
        let more = bool::unmarshal(&mut r).unwrap();
        let data = CapabilityData::unmarshal(&mut r).unwrap();
        r.finish().unwrap();
        (more, data)
    }

    // Responses recorded from swtpm 0.7.1 (libtpms) to TPM2_GetCapability.
    const SWTPM_PT_VAR: &str = "8001000000bb000000000000000006000000150000020000000400000002018000000f000002020000000100000203000000000000020400000003000002050000000000000206000000400000020700000001000002080000000000000209000000410000020a000000010000020b000000190000020c000000000000020d000000080000020e000000000000020f0000000300000210000003e800000211000003e8000002120000000000000213000000000000021400000000";
    const SWTPM_TRANSIENT_HANDLES: &str = "80010000001b000000000000000001000000028000000080000001";
    const SWTPM_PCRS: &str =
        "80010000002b00000000000000000500000004000403ffffff000b03ffffff000c03ffffff000d03ffffff";

    #[test]
    fn swtpm_variable_properties() {
        let frame = hex(SWTPM_PT_VAR);
        let (more, data) = parse_response(&frame);
        assert!(!more);
        let CapabilityData::TpmProperties(ref list) = data else {
            panic!("{data:?}");
        };
        assert_eq!(list.len(), 21);
        assert_eq!(data.property(PropertyTag::HR_LOADED_AVAIL), Some(3));
        assert_eq!(data.property(PropertyTag::HR_ACTIVE_AVAIL), Some(0x40));
        assert_eq!(data.property(PropertyTag::MAX_AUTH_FAIL), Some(3));
        assert_eq!(data.property(PropertyTag::LOCKOUT_INTERVAL), Some(1000));
        assert_eq!(data.property(PropertyTag::LOCKOUT_COUNTER), Some(0));
        let mut again = vec![0];
        data.marshal(&mut Writer::new(&mut again));
        assert_eq!(again, &frame[10..]);
    }

    #[test]
    fn swtpm_handles_and_pcr_banks() {
        let (_, handles) = parse_response(&hex(SWTPM_TRANSIENT_HANDLES));
        assert_eq!(
            handles,
            CapabilityData::Handles(
                HandleList::new(vec![Handle(0x8000_0000), Handle(0x8000_0001)]).unwrap()
            )
        );
        let (_, pcrs) = parse_response(&hex(SWTPM_PCRS));
        let CapabilityData::Pcrs(banks) = pcrs else {
            panic!("{pcrs:?}");
        };
        let algs: Vec<AlgId> = banks.iter().map(|b| b.hash).collect();
        assert_eq!(
            algs,
            [AlgId::SHA1, AlgId::SHA256, AlgId::SHA384, AlgId::SHA512]
        );
        assert!(banks.iter().all(|b| b.select.pcrs().eq(0..24)));
    }

    #[test]
    fn unknown_capability_is_an_error() {
        assert!(matches!(
            CapabilityData::from_bytes(&[0, 0, 0, 0x0A, 0, 0, 0, 0]),
            Err(WireError::BadValue { value: 0x0A, .. })
        ));
    }
}
