//! Typed TPM commands. Each command is one declaration (see [`crate::tpm_command!`]): its code, which
//! handles it takes and how many of them need authorization, its parameters, and its
//! response. Nothing here knows about sessions or transports; the client applies sessions
//! generically to the marshalled frame.

mod admin;
mod attest;
mod credential;
mod crypto;
mod defs;
mod duplication;
mod misc;
mod nv;
mod policy;

pub use admin::*;
pub use attest::*;
pub use credential::*;
pub use crypto::*;
pub use defs::*;
pub use duplication::*;
pub use misc::*;
pub use nv::*;
pub use policy::*;

use alloc::vec::Vec;

use crate::wire::{
    Auth, CommandCode, Context, Handle, Marshal, Name, Reader, Unmarshal, WireError, Writer,
};

/// A handle together with its name, which goes into every cpHash. For permanent handles,
/// sessions and PCRs the name is the handle itself; objects and NV indices have a digest name
/// that the caller must know (or read from the TPM and verify).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entity {
    /// Where the entity is in the TPM.
    pub handle: Handle,
    /// Its name (TPM2B_NAME): the 4-byte handle, or nameAlg ‖ digest of its public area.
    pub name: Name,
}

impl Entity {
    /// An entity whose name is its handle (hierarchies, TPM_RH_NULL, sessions, PCRs).
    pub fn from_handle(handle: Handle) -> Self {
        Entity {
            handle,
            // Cannot fail: 4 bytes fit in a name.
            name: Name::new(&handle.0.to_be_bytes()).unwrap_or_default(),
        }
    }

    /// An entity with a digest name the caller already knows. The name is not checked here:
    /// a wrong one makes every HMAC session over it fail at the TPM. Prefer
    /// [`Tpm::read_public`](crate::Tpm::read_public) / `nv_read_public`, which verify it.
    pub fn new(handle: Handle, name: Name) -> Self {
        Entity { handle, name }
    }

    /// TPM_RH_OWNER: the owner (storage) hierarchy.
    pub fn owner() -> Self {
        Self::from_handle(Handle::RH_OWNER)
    }

    /// TPM_RH_NULL: the null hierarchy, or "none" where a handle is optional.
    pub fn null() -> Self {
        Self::from_handle(Handle::RH_NULL)
    }

    /// TPM_RH_ENDORSEMENT: the endorsement hierarchy (also the privacy administrator).
    pub fn endorsement() -> Self {
        Self::from_handle(Handle::RH_ENDORSEMENT)
    }

    /// TPM_RH_PLATFORM: the platform hierarchy, normally owned by firmware.
    pub fn platform() -> Self {
        Self::from_handle(Handle::RH_PLATFORM)
    }

    /// TPM_RH_LOCKOUT: the dictionary-attack lockout authority.
    pub fn lockout() -> Self {
        Self::from_handle(Handle::RH_LOCKOUT)
    }
}

/// The handles of one command, in handle-area order (at most three).
pub struct Handles<'a> {
    list: [Option<&'a Entity>; 3],
}

impl<'a> Handles<'a> {
    /// The handle area of a command; entries after the third are ignored (no TPM command has
    /// more than three handles).
    pub fn new(handles: &[&'a Entity]) -> Self {
        let mut list = [None; 3];
        for (slot, h) in list.iter_mut().zip(handles) {
            *slot = Some(*h);
        }
        Handles { list }
    }

    /// The entities in handle-area order.
    pub fn iter(&self) -> impl Iterator<Item = &'a Entity> + '_ {
        self.list.iter().flatten().copied()
    }

    /// How many handles the command has (0 to 3).
    pub fn len(&self) -> usize {
        self.list.iter().flatten().count()
    }

    /// Whether the command has no handles.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Every command this crate declares, by code: what `tpm2-wire getcap commands` marks as
/// typed. A test keeps it complete.
pub const DECLARED: &[CommandCode] = &[
    Startup::CODE,
    Shutdown::CODE,
    SelfTest::CODE,
    GetRandom::CODE,
    FlushContext::CODE,
    StartAuthSession::CODE,
    PolicyRestart::CODE,
    PolicyPassword::CODE,
    PolicyAuthValue::CODE,
    PolicyCommandCode::CODE,
    PolicyGetDigest::CODE,
    NvRead::CODE,
    NvWrite::CODE,
    NvUndefineSpace::CODE,
    Unseal::CODE,
    HierarchyChangeAuth::CODE,
    DictionaryAttackLockReset::CODE,
    DictionaryAttackParameters::CODE,
    Clear::CODE,
    EvictControl::CODE,
    PolicySecret::CODE,
    GetCapability::CODE,
    PcrRead::CODE,
    PcrExtend::CODE,
    PolicyPcr::CODE,
    ReadPublic::CODE,
    CreatePrimary::CODE,
    Create::CODE,
    Load::CODE,
    NvDefineSpace::CODE,
    NvReadPublic::CODE,
    GetSessionAuditDigest::CODE,
    ContextSave::CODE,
    ContextLoad::CODE,
    NvChangeAuth::CODE,
    NvUndefineSpaceSpecial::CODE,
    MakeCredential::CODE,
    ActivateCredential::CODE,
    Quote::CODE,
    Certify::CODE,
    CertifyCreation::CODE,
    NvCertify::CODE,
    GetTime::CODE,
    Sign::CODE,
    VerifySignature::CODE,
    LoadExternal::CODE,
    Hash::CODE,
    Hmac::CODE,
    HashSequenceStart::CODE,
    HmacStart::CODE,
    SequenceUpdate::CODE,
    SequenceComplete::CODE,
    EventSequenceComplete::CODE,
    EncryptDecrypt::CODE,
    EncryptDecrypt2::CODE,
    RsaEncrypt::CODE,
    RsaDecrypt::CODE,
    EcdhKeyGen::CODE,
    EcdhZGen::CODE,
    NvIncrement::CODE,
    NvExtend::CODE,
    NvSetBits::CODE,
    NvWriteLock::CODE,
    NvReadLock::CODE,
    NvGlobalWriteLock::CODE,
    PcrEvent::CODE,
    PcrReset::CODE,
    ReadClock::CODE,
    ClockSet::CODE,
    ClockRateAdjust::CODE,
    TestParms::CODE,
    GetTestResult::CODE,
    IncrementalSelfTest::CODE,
    StirRandom::CODE,
    ObjectChangeAuth::CODE,
    CreateLoaded::CODE,
    Duplicate::CODE,
    Import::CODE,
    Rewrap::CODE,
    SetCommandCodeAuditStatus::CODE,
    GetCommandAuditDigest::CODE,
    Commit::CODE,
    EcEphemeral::CODE,
    ZGen2Phase::CODE,
    EccParameters::CODE,
    HierarchyControl::CODE,
    ClearControl::CODE,
    SetPrimaryPolicy::CODE,
    ChangeEps::CODE,
    ChangePps::CODE,
    PcrAllocate::CODE,
    PcrSetAuthPolicy::CODE,
    PcrSetAuthValue::CODE,
    PpCommands::CODE,
    SetAlgorithmSet::CODE,
    CertifyX509::CODE,
    PolicyOr::CODE,
    PolicyAuthorize::CODE,
    PolicySigned::CODE,
    PolicyTicket::CODE,
    PolicyLocality::CODE,
    PolicyNv::CODE,
    PolicyCounterTimer::CODE,
    PolicyCpHash::CODE,
    PolicyNameHash::CODE,
    PolicyNvWritten::CODE,
    PolicyTemplate::CODE,
    PolicyAuthorizeNv::CODE,
    PolicyDuplicationSelect::CODE,
    PolicyPhysicalPresence::CODE,
];

/// What a command does to the contexts a connection keeps track of (its sessions), beyond
/// authorizing: declared with the command, so the steward never has to recognise commands by
/// their code or find handles in marshalled parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContextEffect {
    /// Nothing beyond its authorizations.
    None,
    /// Starts a session, which takes a loaded-session slot.
    StartsSession,
    /// Ends the context at this handle (TPM2_FlushContext).
    Flushes(Handle),
    /// Saves the context at this handle out of the TPM (TPM2_ContextSave).
    Saves(Handle),
    /// Loads a saved context that was at this handle (TPM2_ContextLoad).
    Loads(Handle),
}

/// How a command changes the auth value of the entity its first authorization is for. The
/// TPM keys the response HMAC with the value the entity holds once the command has run.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum AuthChange<'a> {
    /// The auth value stays.
    None,
    /// It becomes this value (TPM2_HierarchyChangeAuth, TPM2_NV_ChangeAuth).
    To(&'a Auth),
    /// It becomes empty (the entity is deleted, or its hierarchy cleared).
    Emptied,
}

/// A TPM command: what the client needs to marshal it and to apply sessions by position.
/// Implemented by [`tpm_command!`](crate::tpm_command!) declarations.
pub trait Command {
    /// The command code (TPM_CC) in the command header and in cpHash.
    const CODE: CommandCode;
    /// How many leading handles need an authorization (a password or a session).
    const AUTH_HANDLES: usize;
    /// The first parameter is a TPM2B, so a session may encrypt it (derived from its type).
    const DECRYPT: bool;
    /// What the TPM answers.
    type Response: Response;

    /// The handle area, authorized handles first.
    fn handles(&self) -> Handles<'_>;
    /// Writes the parameter area (everything after the handles and the authorization area),
    /// unencrypted; the client encrypts the first parameter if a session asks it to.
    fn marshal_params(&self, w: &mut Writer<'_>);
    /// What the command does to tracked contexts.
    fn context_effect(&self) -> ContextEffect {
        ContextEffect::None
    }
    /// How the command changes its first authorized entity's auth value.
    fn auth_change(&self) -> AuthChange<'_> {
        AuthChange::None
    }
}

/// A command's response.
pub trait Response: Sized {
    /// Handles returned in the response handle area.
    const HANDLES: usize;
    /// The first parameter is a TPM2B, so a session may encrypt it (derived from its type).
    const ENCRYPT: bool;

    /// Reads the response from its handle area and its (already decrypted) parameter area.
    /// The client refuses a parameter area with bytes left over.
    fn unmarshal(handles: &mut Reader<'_>, params: &mut Reader<'_>) -> Result<Self, WireError>;
    /// The context the response carries out of the TPM (TPM2_ContextSave's).
    fn saved_context(&self) -> Option<&Context> {
        None
    }
}

/// Declares a TPM command and its response: the public way to add a command this crate does
/// not declare, including vendor commands (TPM_CC with the V bit, 0x2000_0000, set).
///
/// The declaration mirrors the command's tables in TPM 2.0 Library Part 3:
///
/// - `Name = CODE` names a [`CommandCode`] constant (`NV_READ` is `CommandCode::NV_READ`);
///   `Name = (expr)` takes any expression of type [`CommandCode`], for vendor codes.
/// - `auth_handles` are the handles that need an authorization (the ones marked `@` in the
///   specification), in order; `handles` are the other handles of the handle area. Both
///   become [`Entity`] fields, because the entity's name goes into cpHash.
/// - `params` are the parameters in order; each type must implement [`Marshal`]. Whether a
///   session may encrypt the first one (the specification's "decrypt" attribute) follows from
///   its type: it may when that type is a TPM2B ([`Marshal::TPM2B`]).
/// - Optional facts, each a function of the command: `context_effect` (a [`ContextEffect`]:
///   starting, flushing, saving or loading a context) and `auth_change` (an [`AuthChange`]: the
///   command changes the auth value of the entity it authorizes).
/// - The response lists the handles the TPM returns in its handle area (as [`Handle`]s) and
///   its parameters (each implementing [`Unmarshal`]; a first TPM2B parameter may be
///   encrypted), and optionally `saved_context: field` for a response carrying a saved
///   context.
///
/// It generates two public structs with one public field per handle and parameter, and
/// implements [`Command`] and [`Response`] for them, so [`Tpm::execute`](crate::Tpm::execute)
/// can apply sessions to them like to any built-in command. Doc comments on the command, the
/// response and every field are kept.
///
/// ```
/// use tpm2_wire::command::{AuthChange, Command, Entity, Response};
/// use tpm2_wire::tpm_command;
/// use tpm2_wire::wire::{Auth, CommandCode, Digest, Handle, MaxNvBuffer};
///
/// tpm_command! {
///     /// TPM2_NV_Read, as declared in this crate.
///     MyNvRead = NV_READ {
///         auth_handles: [
///             /// The index itself or its owner (TPMI_RH_NV_AUTH).
///             auth_handle
///         ],
///         handles: [
///             /// The NV index to read (TPMI_RH_NV_INDEX).
///             nv_index
///         ],
///         params: {
///             /// Octets to read.
///             size: u16,
///             /// Octet offset into the index.
///             offset: u16,
///         },
///     }
///     /// TPM2_NV_Read's response.
///     MyNvReadResponse {
///         handles: [],
///         params: {
///             /// The octets read (TPM2B_MAX_NV_BUFFER).
///             data: MaxNvBuffer,
///         },
///     }
/// }
///
/// tpm_command! {
///     /// A vendor command that sets the auth value of the entity it authorizes.
///     VendorSetAuth = (CommandCode(0x2000_0001)) {
///         auth_handles: [entity],
///         handles: [],
///         params: { new_auth: Auth },
///         auth_change: |c| AuthChange::To(&c.new_auth),
///     }
///     VendorSetAuthResponse { handles: [], params: {} }
/// }
///
/// let read = MyNvRead {
///     auth_handle: Entity::owner(),
///     nv_index: Entity::from_handle(Handle(0x0150_0001)),
///     size: 32,
///     offset: 0,
/// };
/// assert_eq!(read.handles().len(), 2);
/// assert_eq!(<MyNvRead as Command>::AUTH_HANDLES, 1);
/// assert_eq!(MyNvRead::CODE, CommandCode::NV_READ);
/// assert!(!<MyNvRead as Command>::DECRYPT, "two u16s: nothing to encrypt");
/// assert!(<MyNvReadResponse as Response>::ENCRYPT, "a TPM2B comes first");
/// assert!(<VendorSetAuth as Command>::DECRYPT);
/// assert_eq!(VendorSetAuth::CODE.0, 0x2000_0001);
/// ```
#[macro_export]
macro_rules! tpm_command {
    (
        $(#[$doc:meta])*
        $name:ident = $($cc:ident)? $(($code:expr))? {
            auth_handles: [$($(#[$ahm:meta])* $ah:ident),* $(,)?],
            handles: [$($(#[$hm:meta])* $h:ident),* $(,)?],
            params: { $($(#[$pm:meta])* $p:ident : $pt:ty),* $(,)? }
            $(, context_effect: $effect:expr)?
            $(, auth_change: $change:expr)?
            $(,)?
        }
        $(#[$rdoc:meta])*
        $resp:ident {
            handles: [$($(#[$rhm:meta])* $rh:ident),* $(,)?],
            params: { $($(#[$rpm:meta])* $rp:ident : $rpt:ty),* $(,)? }
            $(, saved_context: $saved:ident)?
            $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name {
            $($(#[$ahm])* pub $ah: $crate::command::Entity,)*
            $($(#[$hm])* pub $h: $crate::command::Entity,)*
            $($(#[$pm])* pub $p: $pt,)*
        }

        $(#[$rdoc])*
        #[derive(Clone, Debug)]
        pub struct $resp {
            $($(#[$rhm])* pub $rh: $crate::wire::Handle,)*
            $($(#[$rpm])* pub $rp: $rpt,)*
        }

        impl $crate::command::Command for $name {
            const CODE: $crate::wire::CommandCode =
                $($crate::wire::CommandCode::$cc)? $($code)?;
            const AUTH_HANDLES: usize = <[&str]>::len(&[$(stringify!($ah)),*]);
            const DECRYPT: bool = $crate::__first_is_tpm2b!(Marshal; $($pt),*);
            type Response = $resp;

            fn handles(&self) -> $crate::command::Handles<'_> {
                $crate::command::Handles::new(&[$(&self.$ah,)* $(&self.$h,)*])
            }

            #[allow(unused_variables)]
            fn marshal_params(&self, w: &mut $crate::wire::Writer<'_>) {
                $($crate::wire::Marshal::marshal(&self.$p, w);)*
            }

            $(
                fn context_effect(&self) -> $crate::command::ContextEffect {
                    let effect: fn(&Self) -> $crate::command::ContextEffect = $effect;
                    effect(self)
                }
            )?

            $(
                fn auth_change(&self) -> $crate::command::AuthChange<'_> {
                    let change: for<'c> fn(&'c Self) -> $crate::command::AuthChange<'c> = $change;
                    change(self)
                }
            )?
        }

        impl $crate::command::Response for $resp {
            const HANDLES: usize = <[&str]>::len(&[$(stringify!($rh)),*]);
            const ENCRYPT: bool = $crate::__first_is_tpm2b!(Unmarshal; $($rpt),*);

            #[allow(unused_variables)]
            fn unmarshal(
                handles: &mut $crate::wire::Reader<'_>,
                params: &mut $crate::wire::Reader<'_>,
            ) -> Result<Self, $crate::wire::WireError> {
                Ok($resp {
                    $($rh: <$crate::wire::Handle as $crate::wire::Unmarshal>::unmarshal(handles)?,)*
                    $($rp: <$rpt as $crate::wire::Unmarshal>::unmarshal(params)?,)*
                })
            }

            $(
                fn saved_context(&self) -> Option<&$crate::wire::Context> {
                    Some(&self.$saved)
                }
            )?
        }
    };
}

/// Whether the first of a list of parameter types is a TPM2B (for [`tpm_command!`]).
#[doc(hidden)]
#[macro_export]
macro_rules! __first_is_tpm2b {
    ($trait:ident;) => {
        false
    };
    ($trait:ident; $first:ty $(, $rest:ty)*) => {
        <$first as $crate::wire::$trait>::TPM2B
    };
}

/// A response with nothing in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Empty;

impl Response for Empty {
    const HANDLES: usize = 0;
    const ENCRYPT: bool = false;

    fn unmarshal(_: &mut Reader<'_>, _: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Empty)
    }
}

/// Writes a command's parameters; used by the client and by tests that build frames by hand.
pub fn marshal_params<C: Command>(cmd: &C, out: &mut Vec<u8>) {
    cmd.marshal_params(&mut Writer::new(out))
}

impl Marshal for Entity {
    fn marshal(&self, w: &mut Writer<'_>) {
        self.handle.marshal(w)
    }
}

impl Unmarshal for Entity {
    fn unmarshal(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(Entity::from_handle(Handle::unmarshal(r)?))
    }
}

/// A command's facts as Part 3's tables give them, for the tests of each command file:
/// (first parameter encryptable, first response parameter encryptable, authorized handles,
/// response handles).
#[cfg(test)]
pub(crate) fn shape<C: Command>() -> (bool, bool, usize, usize) {
    (
        C::DECRYPT,
        <C::Response as Response>::ENCRYPT,
        C::AUTH_HANDLES,
        <C::Response as Response>::HANDLES,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{
        Digest, EncryptedSecret, MaxNvBuffer, Nonce, PcrSelectionList, SessionType, Tpm2bEccPoint,
        Tpm2bSensitiveCreate,
    };

    /// A value's wire form is a TPM2B: a u16 size and exactly that many bytes after it.
    fn is_sized<T: Marshal>(value: &T) -> bool {
        let bytes = value.to_bytes();
        bytes.len() >= 2 && usize::from(u16::from_be_bytes([bytes[0], bytes[1]])) == bytes.len() - 2
    }

    #[test]
    fn types_that_say_tpm2b_marshal_as_one_and_others_do_not() {
        fn check<T: Marshal + Unmarshal>(value: T, name: &str) {
            assert_eq!(<T as Marshal>::TPM2B, <T as Unmarshal>::TPM2B, "{name}");
            assert_eq!(<T as Marshal>::TPM2B, is_sized(&value), "{name}");
        }
        check(Digest::new(b"abc").unwrap(), "TPM2B_DIGEST");
        check(Auth::new(b"pw").unwrap(), "TPM2B_AUTH");
        check(Nonce::new(&[1; 16]).unwrap(), "TPM2B_NONCE");
        check(MaxNvBuffer::new(&[7; 100]).unwrap(), "TPM2B_MAX_NV_BUFFER");
        check(EncryptedSecret::empty(), "TPM2B_ENCRYPTED_SECRET");
        check(Tpm2bEccPoint::default(), "TPM2B_ECC_POINT");
        check(Tpm2bSensitiveCreate::default(), "TPM2B_SENSITIVE_CREATE");
        check(Handle(0x8000_0000), "TPM_HANDLE");
        check(SessionType::HMAC, "TPM_SE");
        check(PcrSelectionList::default(), "TPML_PCR_SELECTION");
        check(
            Context {
                sequence: 0x0102,
                saved_handle: Handle(0x0200_0000),
                hierarchy: Handle::RH_NULL,
                context_blob: Default::default(),
            },
            "TPMS_CONTEXT",
        );
    }

    #[test]
    fn every_declaration_is_listed_once() {
        // The declarations, as the command modules spell them: `    Name = CODE {`.
        let sources = [
            include_str!("defs.rs"),
            include_str!("credential.rs"),
            include_str!("attest.rs"),
            include_str!("crypto.rs"),
            include_str!("nv.rs"),
            include_str!("misc.rs"),
            include_str!("admin.rs"),
            include_str!("duplication.rs"),
            include_str!("policy.rs"),
        ];
        let declared: alloc::vec::Vec<&str> = sources
            .iter()
            .flat_map(|s| s.lines())
            .filter_map(|l| {
                let (name, rest) = l.strip_prefix("    ")?.split_once(" = ")?;
                let starts_upper = name.chars().next()?.is_ascii_uppercase();
                (starts_upper && rest.ends_with(" {") && !rest.starts_with('(')).then_some(name)
            })
            .collect();
        let listed = include_str!("mod.rs");
        for name in &declared {
            assert!(
                listed.contains(&alloc::format!("    {name}::CODE,\n")),
                "{name} is declared but not in DECLARED"
            );
        }
        assert_eq!(
            declared.len(),
            DECLARED.len(),
            "DECLARED lists exactly the declarations"
        );
        for (i, code) in DECLARED.iter().enumerate() {
            assert!(!DECLARED[..i].contains(code), "{code} listed twice");
        }
    }

    #[test]
    fn parameter_encryption_follows_part_3() {
        fn flags<C: Command>() -> (bool, bool) {
            (C::DECRYPT, <C::Response as Response>::ENCRYPT)
        }
        // The specification's "decrypt"/"encrypt" columns for commands of each shape.
        assert_eq!(flags::<NvWrite>(), (true, false), "NV_Write");
        assert_eq!(flags::<NvRead>(), (false, true), "NV_Read");
        assert_eq!(flags::<GetRandom>(), (false, true), "GetRandom");
        assert_eq!(flags::<Create>(), (true, true), "Create");
        assert_eq!(flags::<Unseal>(), (false, true), "Unseal");
        assert_eq!(flags::<ContextLoad>(), (false, false), "ContextLoad");
        assert_eq!(flags::<ContextSave>(), (false, false), "ContextSave");
        assert_eq!(
            flags::<HierarchyChangeAuth>(),
            (true, false),
            "HierarchyChangeAuth"
        );
        assert_eq!(flags::<PcrRead>(), (false, false), "PCR_Read");
        assert_eq!(
            flags::<StartAuthSession>(),
            (true, true),
            "StartAuthSession"
        );
    }

    #[test]
    fn auth_changes_are_declared_with_their_commands() {
        let new_auth = Auth::new(b"new").unwrap();
        let change = HierarchyChangeAuth {
            auth_handle: Entity::owner(),
            new_auth: new_auth.clone(),
        };
        assert!(matches!(change.auth_change(), AuthChange::To(a) if a.as_bytes() == b"new"));
        let clear = |h| Clear {
            auth_handle: Entity::from_handle(h),
        };
        assert!(matches!(
            clear(Handle::RH_LOCKOUT).auth_change(),
            AuthChange::Emptied
        ));
        assert!(matches!(
            clear(Handle::RH_PLATFORM).auth_change(),
            AuthChange::None
        ));
        assert!(matches!(
            GetRandom { bytes_requested: 1 }.auth_change(),
            AuthChange::None
        ));
    }
}
