//! The round trip of arbitrary wire values, shared by `tests/arbitrary_roundtrip.rs` (stable,
//! part of the test suite) and the `wire_roundtrip` fuzz target: the first input byte picks a
//! type, the rest builds an arbitrary value of it, which must marshal, read back equal and
//! re-marshal to the same bytes. Any failure panics with the value and its bytes.

use core::fmt::Debug;

use arbitrary::{Arbitrary, Unstructured};
use tpm2_wire::wire::*;

/// One case: builds a value from the input and checks its round trip.
pub type Case = for<'a> fn(&mut Unstructured<'a>);

/// The value an `Arbitrary` impl produced. The impls never fail (a short input yields zeros
/// and empty buffers), so a failure is a value the type's own constructors refused.
fn value<'a, T: Arbitrary<'a>>(u: &mut Unstructured<'a>) -> T {
    T::arbitrary(u).unwrap_or_else(|e| panic!("no arbitrary {}: {e}", core::any::type_name::<T>()))
}

/// A type with its own Marshal and Unmarshal.
fn owned<T>(u: &mut Unstructured<'_>)
where
    T: for<'a> Arbitrary<'a> + Marshal + Unmarshal + PartialEq + Debug,
{
    let v: T = value(u);
    let bytes = v.to_bytes();
    let back = T::from_bytes(&bytes).unwrap_or_else(|e| {
        panic!("{v:?} marshals to {bytes:02x?}, which does not read back: {e}")
    });
    assert_eq!(back, v, "{bytes:02x?} reads back as another value");
    assert_eq!(back.to_bytes(), bytes, "{v:?} re-marshals differently");
}

/// A TPM2B view: its size and bytes, read back with the largest bound.
fn tpm2b_ref(u: &mut Unstructured<'_>) {
    let v: Tpm2bRef<'_> = value(u);
    let mut bytes = (v.0.len() as u16).to_be_bytes().to_vec();
    bytes.extend_from_slice(v.0);
    let mut r = Reader::new(&bytes);
    let back = Tpm2bRef::read(&mut r, u16::MAX as usize).expect("a TPM2B reads back");
    assert!(back == v && r.is_empty(), "{v:?}");
}

/// The borrowed TPMS_AUTH_COMMAND marshals to what the owned one reads.
fn auth_command_ref(u: &mut Unstructured<'_>) {
    let v: AuthCommandRef<'_> = value(u);
    let bytes = v.to_bytes();
    let back = AuthCommand::from_bytes(&bytes)
        .unwrap_or_else(|e| panic!("{v:?} marshals to {bytes:02x?}, unreadable: {e}"));
    assert_eq!(back.session_handle, v.session_handle);
    assert_eq!(back.nonce.as_bytes(), v.nonce);
    assert_eq!(back.attributes, v.attributes);
    assert_eq!(back.hmac.as_bytes(), v.hmac);
    assert_eq!(back.to_bytes(), bytes);
}

fn auth_response_ref(u: &mut Unstructured<'_>) {
    let v: AuthResponseRef<'_> = value(u);
    let bytes = v.to_bytes();
    let mut r = Reader::new(&bytes);
    let back = AuthResponseRef::read(&mut r)
        .unwrap_or_else(|e| panic!("{v:?} marshals to {bytes:02x?}, unreadable: {e}"));
    assert!(back == v && r.is_empty(), "{v:?} reads back as {back:?}");
}

fn header(u: &mut Unstructured<'_>) {
    let v: Header = value(u);
    let mut bytes = v.tag.get().to_be_bytes().to_vec();
    bytes.extend(v.size.get().to_be_bytes());
    bytes.extend(v.code.get().to_be_bytes());
    let back = Header::parse(&bytes).expect("ten bytes are a header");
    assert_eq!(
        (back.tag(), back.size(), back.code.get()),
        (v.tag(), v.size(), v.code.get())
    );
}

/// A response frame assembled from its areas splits back into the same areas.
fn response_frame(u: &mut Unstructured<'_>) {
    let v: ResponseFrame<'_> = value(u);
    let mut bytes = Vec::new();
    let mut w = Writer::new(&mut bytes);
    v.tag.marshal(&mut w);
    let size_at = w.placeholder_u32();
    w.u32(v.code);
    // An error response is the header alone, whatever its tag.
    if v.code == 0 {
        w.bytes(v.handles);
        if v.tag == StructureTag::SESSIONS {
            w.u32(v.parameters.len() as u32);
        }
        w.bytes(v.parameters);
        for a in v.auths.iter().take(v.auth_count).flatten() {
            a.marshal(&mut w);
        }
    }
    let total = w.len() as u32;
    w.patch_u32(size_at, total);
    let back = ResponseFrame::parse(&bytes, v.handles.len() / 4)
        .unwrap_or_else(|e| panic!("{v:?} assembles to {bytes:02x?}, unreadable: {e}"));
    assert_eq!(
        (back.tag, back.code, back.handles, back.parameters),
        (v.tag, v.code, v.handles, v.parameters),
        "{bytes:02x?}"
    );
    assert_eq!(back.auth_count, v.auth_count);
    assert_eq!(back.auths, v.auths);
    // The ranges name the same bytes, so a caller can decrypt the parameters in place.
    assert_eq!(&bytes[back.handles_range()], back.handles, "{bytes:02x?}");
    assert_eq!(
        &bytes[back.parameters_range()],
        back.parameters,
        "{bytes:02x?}"
    );
}

macro_rules! cases {
    ($($name:literal => $case:expr,)*) => {
        /// Every case, by the name of the type it builds.
        pub const CASES: &[(&str, Case)] = &[$(($name, $case),)*];
    };
}

cases! {
    // Integers with names, and attribute bit fields.
    "AlgId" => owned::<AlgId>,
    "StructureTag" => owned::<StructureTag>,
    "SessionType" => owned::<SessionType>,
    "StartupType" => owned::<StartupType>,
    "CommandCode" => owned::<CommandCode>,
    "Handle" => owned::<Handle>,
    "HandleType" => owned::<HandleType>,
    "Capability" => owned::<Capability>,
    "PropertyTag" => owned::<PropertyTag>,
    "PcrPropertyTag" => owned::<PcrPropertyTag>,
    "EccCurve" => owned::<EccCurve>,
    "TpmRc" => owned::<TpmRc>,
    "NvType" => owned::<NvType>,
    "RcLayer" => owned::<RcLayer>,
    "ObjectAttributes" => owned::<ObjectAttributes>,
    "NvAttributes" => owned::<NvAttributes>,
    "AlgorithmAttributes" => owned::<AlgorithmAttributes>,
    "CommandAttributes" => owned::<CommandAttributes>,
    "LocalityAttributes" => owned::<LocalityAttributes>,
    "SessionAttributes" => owned::<SessionAttributes>,
    // TPM2B buffers of every capacity, plain and secret.
    "Digest" => owned::<Digest>,
    "Nonce" => owned::<Nonce>,
    "Data" => owned::<Data>,
    "Name" => owned::<Name>,
    "EccParameter" => owned::<EccParameter>,
    "Timeout" => owned::<Timeout>,
    "PublicKeyRsa" => owned::<PublicKeyRsa>,
    "EncryptedSecret" => owned::<EncryptedSecret>,
    "Event" => owned::<Event>,
    "CreationData" => owned::<CreationData>,
    "MaxNvBuffer" => owned::<MaxNvBuffer>,
    "MaxBuffer" => owned::<MaxBuffer>,
    "Attest" => owned::<Attest>,
    "ContextData" => owned::<ContextData>,
    "Private" => owned::<Private>,
    "Auth" => owned::<Auth>,
    "SeedValue" => owned::<SeedValue>,
    "SensitiveData" => owned::<SensitiveData>,
    "PrivateKeyRsa" => owned::<PrivateKeyRsa>,
    "EccPrivateKey" => owned::<EccPrivateKey>,
    "SymKey" => owned::<SymKey>,
    "Tpm2bRef" => tpm2b_ref,
    // PCR selections, tagged hashes and lists.
    "PcrSelect" => owned::<PcrSelect>,
    "PcrSelection" => owned::<PcrSelection>,
    "HashValue" => owned::<HashValue>,
    "PcrSelectionList" => owned::<PcrSelectionList>,
    "DigestList" => owned::<DigestList>,
    "DigestValues" => owned::<DigestValues>,
    // Symmetric definitions and schemes.
    "SymDef" => owned::<SymDef>,
    "SymDefObject" => owned::<SymDefObject>,
    "RsaScheme" => owned::<RsaScheme>,
    "EccScheme" => owned::<EccScheme>,
    "KdfScheme" => owned::<KdfScheme>,
    "SigScheme" => owned::<SigScheme>,
    "KeyedHashScheme" => owned::<KeyedHashScheme>,
    // Objects, NV indices, contexts, tickets.
    "EccPoint" => owned::<EccPoint>,
    "Tpm2bEccPoint" => owned::<Tpm2bEccPoint>,
    "RsaParms" => owned::<RsaParms>,
    "EccParms" => owned::<EccParms>,
    "Public" => owned::<Public>,
    "Tpm2bPublic" => owned::<Tpm2bPublic>,
    "CreationDataInfo" => owned::<CreationDataInfo>,
    "SensitiveCreate" => owned::<SensitiveCreate>,
    "Tpm2bSensitiveCreate" => owned::<Tpm2bSensitiveCreate>,
    "Sensitive" => owned::<Sensitive>,
    "Tpm2bSensitive" => owned::<Tpm2bSensitive>,
    "OptionalSensitive" => owned::<OptionalSensitive>,
    "NvPublic" => owned::<NvPublic>,
    "Tpm2bNvPublic" => owned::<Tpm2bNvPublic>,
    "Context" => owned::<Context>,
    "Ticket" => owned::<Ticket>,
    "IdObject" => owned::<IdObject>,
    // Attestation and signatures.
    "ClockInfo" => owned::<ClockInfo>,
    "CertifyInfo" => owned::<CertifyInfo>,
    "CreationInfo" => owned::<CreationInfo>,
    "QuoteInfo" => owned::<QuoteInfo>,
    "CommandAuditInfo" => owned::<CommandAuditInfo>,
    "SessionAuditInfo" => owned::<SessionAuditInfo>,
    "TimeInfo" => owned::<TimeInfo>,
    "TimeAttestInfo" => owned::<TimeAttestInfo>,
    "NvCertifyInfo" => owned::<NvCertifyInfo>,
    "NvDigestCertifyInfo" => owned::<NvDigestCertifyInfo>,
    "Attestation" => owned::<Attestation>,
    "RsaSignature" => owned::<RsaSignature>,
    "EccSignature" => owned::<EccSignature>,
    "Signature" => owned::<Signature>,
    // Command parameters.
    "Iv" => owned::<Iv>,
    "SecretBuffer" => owned::<SecretBuffer>,
    "RsaMessage" => owned::<RsaMessage>,
    "AlgList" => owned::<AlgList>,
    "EccSharedPoint" => owned::<EccSharedPoint>,
    "PublicParms" => owned::<PublicParms>,
    "ClockAdjust" => owned::<ClockAdjust>,
    "ArithmeticOp" => owned::<ArithmeticOp>,
    "Template" => owned::<Template>,
    "WrapperKey" => owned::<WrapperKey>,
    "AlgorithmDetailEcc" => owned::<AlgorithmDetailEcc>,
    // Capability data.
    "AlgProperty" => owned::<AlgProperty>,
    "TaggedProperty" => owned::<TaggedProperty>,
    "TaggedPcrSelect" => owned::<TaggedPcrSelect>,
    "TaggedPolicy" => owned::<TaggedPolicy>,
    "AlgPropertyList" => owned::<AlgPropertyList>,
    "HandleList" => owned::<HandleList>,
    "CommandCodeList" => owned::<CommandCodeList>,
    "CommandAttributesList" => owned::<CommandAttributesList>,
    "TaggedPropertyList" => owned::<TaggedPropertyList>,
    "TaggedPcrPropertyList" => owned::<TaggedPcrPropertyList>,
    "EccCurveList" => owned::<EccCurveList>,
    "TaggedPolicyList" => owned::<TaggedPolicyList>,
    "CapabilityData" => owned::<CapabilityData>,
    // Frames.
    "Header" => header,
    "AuthCommand" => owned::<AuthCommand>,
    "AuthCommandRef" => auth_command_ref,
    "AuthResponseRef" => auth_response_ref,
    "ResponseFrame" => response_frame,
}

/// Runs the case the first byte picks on the rest; returns its name (`None` for no input).
pub fn round_trip(data: &[u8]) -> Option<&'static str> {
    let (&selector, rest) = data.split_first()?;
    let (name, case) = CASES[usize::from(selector) % CASES.len()];
    case(&mut Unstructured::new(rest));
    Some(name)
}
