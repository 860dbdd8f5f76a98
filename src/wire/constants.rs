//! TPM constants (TPM_ALG_ID, TPM_CC, TPM_ST, TPM_SE, TPM_HT, TPM_RH, TPM_PT, TPM_CAP) with
//! their specification names. Each is a newtype over its wire integer so that values the
//! library does not know are kept and shown in hex instead of being rejected.

/// Marshal/Unmarshal for a newtype over a wire integer: the integer's own encoding. Internal:
/// `tpm_enum!` and `tpm_attributes!` use it.
macro_rules! int_newtype_codec {
    ($name:ident, $int:ty) => {
        impl $crate::wire::Marshal for $name {
            fn marshal(&self, w: &mut $crate::wire::Writer<'_>) {
                $crate::wire::Marshal::marshal(&self.0, w)
            }
        }

        impl $crate::wire::Unmarshal for $name {
            fn unmarshal(
                r: &mut $crate::wire::Reader<'_>,
            ) -> Result<Self, $crate::wire::WireError> {
                Ok($name(<$int as $crate::wire::Unmarshal>::unmarshal(r)?))
            }
        }
    };
}

/// Declares a newtype over an integer with named constants. `Debug`/`Display` print the spec
/// name when known and the hex value otherwise. Each constant's documentation starts with its
/// specification name and value. Internal to the crate: the types it declares are public, the
/// macro is not.
macro_rules! tpm_enum {
    ($(#[$m:meta])* $vis:vis struct $name:ident($int:ty) { $($(#[$cm:meta])* $c:ident = $v:expr => $s:literal,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        $vis struct $name(pub $int);

        #[allow(dead_code)]
        impl $name {
            $(
                #[doc = concat!("`", $s, "` (", stringify!($v), ").")]
                $(#[$cm])*
                pub const $c: $name = $name($v);
            )*

            /// The specification's name for this value, if it is one the library knows.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $(v if v == $v => Some($s),)*
                    _ => None,
                }
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                core::fmt::Display::fmt(self, f)
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, "0x{:0width$x}", self.0, width = 2 * core::mem::size_of::<$int>()),
                }
            }
        }

        impl From<$int> for $name {
            fn from(v: $int) -> Self { $name(v) }
        }

        $crate::wire::constants::int_newtype_codec!($name, $int);
    };
}

pub(crate) use {int_newtype_codec, tpm_enum};

tpm_enum! {
    /// TPM_ALG_ID
    pub struct AlgId(u16) {
        ERROR = 0x0000 => "TPM_ALG_ERROR",
        RSA = 0x0001 => "TPM_ALG_RSA",
        TDES = 0x0003 => "TPM_ALG_TDES",
        SHA1 = 0x0004 => "TPM_ALG_SHA1",
        HMAC = 0x0005 => "TPM_ALG_HMAC",
        AES = 0x0006 => "TPM_ALG_AES",
        MGF1 = 0x0007 => "TPM_ALG_MGF1",
        KEYEDHASH = 0x0008 => "TPM_ALG_KEYEDHASH",
        XOR = 0x000A => "TPM_ALG_XOR",
        SHA256 = 0x000B => "TPM_ALG_SHA256",
        SHA384 = 0x000C => "TPM_ALG_SHA384",
        SHA512 = 0x000D => "TPM_ALG_SHA512",
        NULL = 0x0010 => "TPM_ALG_NULL",
        SM3_256 = 0x0012 => "TPM_ALG_SM3_256",
        SM4 = 0x0013 => "TPM_ALG_SM4",
        RSASSA = 0x0014 => "TPM_ALG_RSASSA",
        RSAES = 0x0015 => "TPM_ALG_RSAES",
        RSAPSS = 0x0016 => "TPM_ALG_RSAPSS",
        OAEP = 0x0017 => "TPM_ALG_OAEP",
        ECDSA = 0x0018 => "TPM_ALG_ECDSA",
        ECDH = 0x0019 => "TPM_ALG_ECDH",
        ECDAA = 0x001A => "TPM_ALG_ECDAA",
        SM2 = 0x001B => "TPM_ALG_SM2",
        ECSCHNORR = 0x001C => "TPM_ALG_ECSCHNORR",
        ECMQV = 0x001D => "TPM_ALG_ECMQV",
        KDF1_SP800_56A = 0x0020 => "TPM_ALG_KDF1_SP800_56A",
        KDF2 = 0x0021 => "TPM_ALG_KDF2",
        KDF1_SP800_108 = 0x0022 => "TPM_ALG_KDF1_SP800_108",
        ECC = 0x0023 => "TPM_ALG_ECC",
        SYMCIPHER = 0x0025 => "TPM_ALG_SYMCIPHER",
        CAMELLIA = 0x0026 => "TPM_ALG_CAMELLIA",
        SHA3_256 = 0x0027 => "TPM_ALG_SHA3_256",
        SHA3_384 = 0x0028 => "TPM_ALG_SHA3_384",
        SHA3_512 = 0x0029 => "TPM_ALG_SHA3_512",
        CTR = 0x0040 => "TPM_ALG_CTR",
        OFB = 0x0041 => "TPM_ALG_OFB",
        CBC = 0x0042 => "TPM_ALG_CBC",
        CFB = 0x0043 => "TPM_ALG_CFB",
        ECB = 0x0044 => "TPM_ALG_ECB",
    }
}

tpm_enum! {
    /// TPM_ST
    pub struct StructureTag(u16) {
        RSP_COMMAND = 0x00C4 => "TPM_ST_RSP_COMMAND",
        NULL = 0x8000 => "TPM_ST_NULL",
        NO_SESSIONS = 0x8001 => "TPM_ST_NO_SESSIONS",
        SESSIONS = 0x8002 => "TPM_ST_SESSIONS",
        ATTEST_NV = 0x8014 => "TPM_ST_ATTEST_NV",
        ATTEST_COMMAND_AUDIT = 0x8015 => "TPM_ST_ATTEST_COMMAND_AUDIT",
        ATTEST_SESSION_AUDIT = 0x8016 => "TPM_ST_ATTEST_SESSION_AUDIT",
        ATTEST_CERTIFY = 0x8017 => "TPM_ST_ATTEST_CERTIFY",
        ATTEST_QUOTE = 0x8018 => "TPM_ST_ATTEST_QUOTE",
        ATTEST_TIME = 0x8019 => "TPM_ST_ATTEST_TIME",
        ATTEST_CREATION = 0x801A => "TPM_ST_ATTEST_CREATION",
        ATTEST_NV_DIGEST = 0x801C => "TPM_ST_ATTEST_NV_DIGEST",
        CREATION = 0x8021 => "TPM_ST_CREATION",
        VERIFIED = 0x8022 => "TPM_ST_VERIFIED",
        AUTH_SECRET = 0x8023 => "TPM_ST_AUTH_SECRET",
        HASHCHECK = 0x8024 => "TPM_ST_HASHCHECK",
        AUTH_SIGNED = 0x8025 => "TPM_ST_AUTH_SIGNED",
    }
}

tpm_enum! {
    /// TPM_SE
    pub struct SessionType(u8) {
        HMAC = 0x00 => "TPM_SE_HMAC",
        POLICY = 0x01 => "TPM_SE_POLICY",
        TRIAL = 0x03 => "TPM_SE_TRIAL",
    }
}

impl SessionType {
    /// The session type as tpm2-tools and this crate's registry and command line spell it:
    /// `hmac`, `policy`, `trial` (`unknown` for any other value).
    pub fn label(self) -> &'static str {
        match self {
            SessionType::HMAC => "hmac",
            SessionType::POLICY => "policy",
            SessionType::TRIAL => "trial",
            _ => "unknown",
        }
    }

    /// The session type [`SessionType::label`] spells `label` (not `unknown`).
    pub fn from_label(label: &str) -> Option<SessionType> {
        [SessionType::HMAC, SessionType::POLICY, SessionType::TRIAL]
            .into_iter()
            .find(|t| t.label() == label)
    }
}

tpm_enum! {
    /// TPM_SU
    pub struct StartupType(u16) {
        CLEAR = 0x0000 => "TPM_SU_CLEAR",
        STATE = 0x0001 => "TPM_SU_STATE",
    }
}

tpm_enum! {
    /// TPM_CC
    pub struct CommandCode(u32) {
        NV_UNDEFINE_SPACE_SPECIAL = 0x11F => "TPM_CC_NV_UndefineSpaceSpecial",
        EVICT_CONTROL = 0x120 => "TPM_CC_EvictControl",
        HIERARCHY_CONTROL = 0x121 => "TPM_CC_HierarchyControl",
        NV_UNDEFINE_SPACE = 0x122 => "TPM_CC_NV_UndefineSpace",
        CHANGE_EPS = 0x124 => "TPM_CC_ChangeEPS",
        CHANGE_PPS = 0x125 => "TPM_CC_ChangePPS",
        CLEAR = 0x126 => "TPM_CC_Clear",
        CLEAR_CONTROL = 0x127 => "TPM_CC_ClearControl",
        CLOCK_SET = 0x128 => "TPM_CC_ClockSet",
        HIERARCHY_CHANGE_AUTH = 0x129 => "TPM_CC_HierarchyChangeAuth",
        NV_DEFINE_SPACE = 0x12A => "TPM_CC_NV_DefineSpace",
        PCR_ALLOCATE = 0x12B => "TPM_CC_PCR_Allocate",
        PCR_SET_AUTH_POLICY = 0x12C => "TPM_CC_PCR_SetAuthPolicy",
        PP_COMMANDS = 0x12D => "TPM_CC_PP_Commands",
        SET_PRIMARY_POLICY = 0x12E => "TPM_CC_SetPrimaryPolicy",
        FIELD_UPGRADE_START = 0x12F => "TPM_CC_FieldUpgradeStart",
        CLOCK_RATE_ADJUST = 0x130 => "TPM_CC_ClockRateAdjust",
        CREATE_PRIMARY = 0x131 => "TPM_CC_CreatePrimary",
        NV_GLOBAL_WRITE_LOCK = 0x132 => "TPM_CC_NV_GlobalWriteLock",
        GET_COMMAND_AUDIT_DIGEST = 0x133 => "TPM_CC_GetCommandAuditDigest",
        NV_INCREMENT = 0x134 => "TPM_CC_NV_Increment",
        NV_SET_BITS = 0x135 => "TPM_CC_NV_SetBits",
        NV_EXTEND = 0x136 => "TPM_CC_NV_Extend",
        NV_WRITE = 0x137 => "TPM_CC_NV_Write",
        NV_WRITE_LOCK = 0x138 => "TPM_CC_NV_WriteLock",
        DICTIONARY_ATTACK_LOCK_RESET = 0x139 => "TPM_CC_DictionaryAttackLockReset",
        DICTIONARY_ATTACK_PARAMETERS = 0x13A => "TPM_CC_DictionaryAttackParameters",
        NV_CHANGE_AUTH = 0x13B => "TPM_CC_NV_ChangeAuth",
        PCR_EVENT = 0x13C => "TPM_CC_PCR_Event",
        PCR_RESET = 0x13D => "TPM_CC_PCR_Reset",
        SEQUENCE_COMPLETE = 0x13E => "TPM_CC_SequenceComplete",
        SET_ALGORITHM_SET = 0x13F => "TPM_CC_SetAlgorithmSet",
        SET_COMMAND_CODE_AUDIT_STATUS = 0x140 => "TPM_CC_SetCommandCodeAuditStatus",
        FIELD_UPGRADE_DATA = 0x141 => "TPM_CC_FieldUpgradeData",
        INCREMENTAL_SELF_TEST = 0x142 => "TPM_CC_IncrementalSelfTest",
        SELF_TEST = 0x143 => "TPM_CC_SelfTest",
        STARTUP = 0x144 => "TPM_CC_Startup",
        SHUTDOWN = 0x145 => "TPM_CC_Shutdown",
        STIR_RANDOM = 0x146 => "TPM_CC_StirRandom",
        ACTIVATE_CREDENTIAL = 0x147 => "TPM_CC_ActivateCredential",
        CERTIFY = 0x148 => "TPM_CC_Certify",
        POLICY_NV = 0x149 => "TPM_CC_PolicyNV",
        CERTIFY_CREATION = 0x14A => "TPM_CC_CertifyCreation",
        DUPLICATE = 0x14B => "TPM_CC_Duplicate",
        GET_TIME = 0x14C => "TPM_CC_GetTime",
        GET_SESSION_AUDIT_DIGEST = 0x14D => "TPM_CC_GetSessionAuditDigest",
        NV_READ = 0x14E => "TPM_CC_NV_Read",
        NV_READ_LOCK = 0x14F => "TPM_CC_NV_ReadLock",
        OBJECT_CHANGE_AUTH = 0x150 => "TPM_CC_ObjectChangeAuth",
        POLICY_SECRET = 0x151 => "TPM_CC_PolicySecret",
        REWRAP = 0x152 => "TPM_CC_Rewrap",
        CREATE = 0x153 => "TPM_CC_Create",
        ECDH_ZGEN = 0x154 => "TPM_CC_ECDH_ZGen",
        HMAC = 0x155 => "TPM_CC_HMAC",
        IMPORT = 0x156 => "TPM_CC_Import",
        LOAD = 0x157 => "TPM_CC_Load",
        QUOTE = 0x158 => "TPM_CC_Quote",
        RSA_DECRYPT = 0x159 => "TPM_CC_RSA_Decrypt",
        HMAC_START = 0x15B => "TPM_CC_HMAC_Start",
        SEQUENCE_UPDATE = 0x15C => "TPM_CC_SequenceUpdate",
        SIGN = 0x15D => "TPM_CC_Sign",
        UNSEAL = 0x15E => "TPM_CC_Unseal",
        POLICY_SIGNED = 0x160 => "TPM_CC_PolicySigned",
        CONTEXT_LOAD = 0x161 => "TPM_CC_ContextLoad",
        CONTEXT_SAVE = 0x162 => "TPM_CC_ContextSave",
        ECDH_KEY_GEN = 0x163 => "TPM_CC_ECDH_KeyGen",
        ENCRYPT_DECRYPT = 0x164 => "TPM_CC_EncryptDecrypt",
        FLUSH_CONTEXT = 0x165 => "TPM_CC_FlushContext",
        LOAD_EXTERNAL = 0x167 => "TPM_CC_LoadExternal",
        MAKE_CREDENTIAL = 0x168 => "TPM_CC_MakeCredential",
        NV_READ_PUBLIC = 0x169 => "TPM_CC_NV_ReadPublic",
        POLICY_AUTHORIZE = 0x16A => "TPM_CC_PolicyAuthorize",
        POLICY_AUTH_VALUE = 0x16B => "TPM_CC_PolicyAuthValue",
        POLICY_COMMAND_CODE = 0x16C => "TPM_CC_PolicyCommandCode",
        POLICY_COUNTER_TIMER = 0x16D => "TPM_CC_PolicyCounterTimer",
        POLICY_CP_HASH = 0x16E => "TPM_CC_PolicyCpHash",
        POLICY_LOCALITY = 0x16F => "TPM_CC_PolicyLocality",
        POLICY_NAME_HASH = 0x170 => "TPM_CC_PolicyNameHash",
        POLICY_OR = 0x171 => "TPM_CC_PolicyOR",
        POLICY_TICKET = 0x172 => "TPM_CC_PolicyTicket",
        READ_PUBLIC = 0x173 => "TPM_CC_ReadPublic",
        RSA_ENCRYPT = 0x174 => "TPM_CC_RSA_Encrypt",
        START_AUTH_SESSION = 0x176 => "TPM_CC_StartAuthSession",
        VERIFY_SIGNATURE = 0x177 => "TPM_CC_VerifySignature",
        ECC_PARAMETERS = 0x178 => "TPM_CC_ECC_Parameters",
        FIRMWARE_READ = 0x179 => "TPM_CC_FirmwareRead",
        GET_CAPABILITY = 0x17A => "TPM_CC_GetCapability",
        GET_RANDOM = 0x17B => "TPM_CC_GetRandom",
        GET_TEST_RESULT = 0x17C => "TPM_CC_GetTestResult",
        HASH = 0x17D => "TPM_CC_Hash",
        PCR_READ = 0x17E => "TPM_CC_PCR_Read",
        POLICY_PCR = 0x17F => "TPM_CC_PolicyPCR",
        POLICY_RESTART = 0x180 => "TPM_CC_PolicyRestart",
        READ_CLOCK = 0x181 => "TPM_CC_ReadClock",
        PCR_EXTEND = 0x182 => "TPM_CC_PCR_Extend",
        PCR_SET_AUTH_VALUE = 0x183 => "TPM_CC_PCR_SetAuthValue",
        NV_CERTIFY = 0x184 => "TPM_CC_NV_Certify",
        EVENT_SEQUENCE_COMPLETE = 0x185 => "TPM_CC_EventSequenceComplete",
        HASH_SEQUENCE_START = 0x186 => "TPM_CC_HashSequenceStart",
        POLICY_PHYSICAL_PRESENCE = 0x187 => "TPM_CC_PolicyPhysicalPresence",
        POLICY_DUPLICATION_SELECT = 0x188 => "TPM_CC_PolicyDuplicationSelect",
        POLICY_GET_DIGEST = 0x189 => "TPM_CC_PolicyGetDigest",
        TEST_PARMS = 0x18A => "TPM_CC_TestParms",
        COMMIT = 0x18B => "TPM_CC_Commit",
        POLICY_PASSWORD = 0x18C => "TPM_CC_PolicyPassword",
        ZGEN_2PHASE = 0x18D => "TPM_CC_ZGen_2Phase",
        EC_EPHEMERAL = 0x18E => "TPM_CC_EC_Ephemeral",
        POLICY_NV_WRITTEN = 0x18F => "TPM_CC_PolicyNvWritten",
        POLICY_TEMPLATE = 0x190 => "TPM_CC_PolicyTemplate",
        CREATE_LOADED = 0x191 => "TPM_CC_CreateLoaded",
        POLICY_AUTHORIZE_NV = 0x192 => "TPM_CC_PolicyAuthorizeNV",
        ENCRYPT_DECRYPT2 = 0x193 => "TPM_CC_EncryptDecrypt2",
        AC_GET_CAPABILITY = 0x194 => "TPM_CC_AC_GetCapability",
        AC_SEND = 0x195 => "TPM_CC_AC_Send",
        POLICY_AC_SEND_SELECT = 0x196 => "TPM_CC_Policy_AC_SendSelect",
        CERTIFY_X509 = 0x197 => "TPM_CC_CertifyX509",
        ACT_SET_TIMEOUT = 0x198 => "TPM_CC_ACT_SetTimeout",
    }
}

tpm_enum! {
    /// A TPM handle (TPMI_DH_*). The permanent handles carry their TPM_RH / TPM_RS names.
    pub struct Handle(u32) {
        RH_SRK = 0x4000_0000 => "TPM_RH_SRK",
        RH_OWNER = 0x4000_0001 => "TPM_RH_OWNER",
        RH_REVOKE = 0x4000_0002 => "TPM_RH_REVOKE",
        RH_TRANSPORT = 0x4000_0003 => "TPM_RH_TRANSPORT",
        RH_OPERATOR = 0x4000_0004 => "TPM_RH_OPERATOR",
        RH_ADMIN = 0x4000_0005 => "TPM_RH_ADMIN",
        RH_EK = 0x4000_0006 => "TPM_RH_EK",
        RH_NULL = 0x4000_0007 => "TPM_RH_NULL",
        RH_UNASSIGNED = 0x4000_0008 => "TPM_RH_UNASSIGNED",
        RS_PW = 0x4000_0009 => "TPM_RS_PW",
        RH_LOCKOUT = 0x4000_000A => "TPM_RH_LOCKOUT",
        RH_ENDORSEMENT = 0x4000_000B => "TPM_RH_ENDORSEMENT",
        RH_PLATFORM = 0x4000_000C => "TPM_RH_PLATFORM",
        RH_PLATFORM_NV = 0x4000_000D => "TPM_RH_PLATFORM_NV",
    }
}

tpm_enum! {
    /// TPM_HT: the most significant byte of a handle.
    pub struct HandleType(u8) {
        PCR = 0x00 => "TPM_HT_PCR",
        NV_INDEX = 0x01 => "TPM_HT_NV_INDEX",
        HMAC_SESSION = 0x02 => "TPM_HT_HMAC_SESSION",
        POLICY_SESSION = 0x03 => "TPM_HT_POLICY_SESSION",
        PERMANENT = 0x40 => "TPM_HT_PERMANENT",
        TRANSIENT = 0x80 => "TPM_HT_TRANSIENT",
        PERSISTENT = 0x81 => "TPM_HT_PERSISTENT",
        AC = 0x90 => "TPM_HT_AC",
    }
}

impl Handle {
    /// The handle's type: its most significant byte (TPM_HT).
    pub fn handle_type(self) -> HandleType {
        HandleType((self.0 >> 24) as u8)
    }

    /// Sessions (HMAC or policy).
    pub fn is_session(self) -> bool {
        matches!(
            self.handle_type(),
            HandleType::HMAC_SESSION | HandleType::POLICY_SESSION
        )
    }

    /// Handles whose name is the handle itself (TPM 2.0 Part 1, 16 "Names"): everything but
    /// NV indices and loaded or persistent objects.
    pub fn name_is_handle(self) -> bool {
        !matches!(
            self.handle_type(),
            HandleType::NV_INDEX | HandleType::TRANSIENT | HandleType::PERSISTENT
        )
    }
}

tpm_enum! {
    /// TPM_CAP: which kind of information TPM2_GetCapability returns.
    pub struct Capability(u32) {
        ALGS = 0x0000_0000 => "TPM_CAP_ALGS",
        HANDLES = 0x0000_0001 => "TPM_CAP_HANDLES",
        COMMANDS = 0x0000_0002 => "TPM_CAP_COMMANDS",
        PP_COMMANDS = 0x0000_0003 => "TPM_CAP_PP_COMMANDS",
        AUDIT_COMMANDS = 0x0000_0004 => "TPM_CAP_AUDIT_COMMANDS",
        PCRS = 0x0000_0005 => "TPM_CAP_PCRS",
        TPM_PROPERTIES = 0x0000_0006 => "TPM_CAP_TPM_PROPERTIES",
        PCR_PROPERTIES = 0x0000_0007 => "TPM_CAP_PCR_PROPERTIES",
        ECC_CURVES = 0x0000_0008 => "TPM_CAP_ECC_CURVES",
        AUTH_POLICIES = 0x0000_0009 => "TPM_CAP_AUTH_POLICIES",
        ACT = 0x0000_000A => "TPM_CAP_ACT",
        VENDOR_PROPERTY = 0x0000_0100 => "TPM_CAP_VENDOR_PROPERTY",
    }
}

tpm_enum! {
    /// TPM_PT: a TPM property reported by TPM_CAP_TPM_PROPERTIES. Fixed properties start at
    /// PT_FIXED (0x100), variable ones at PT_VAR (0x200).
    pub struct PropertyTag(u32) {
        NONE = 0x000 => "TPM_PT_NONE",
        FAMILY_INDICATOR = 0x100 => "TPM_PT_FAMILY_INDICATOR",
        LEVEL = 0x101 => "TPM_PT_LEVEL",
        REVISION = 0x102 => "TPM_PT_REVISION",
        DAY_OF_YEAR = 0x103 => "TPM_PT_DAY_OF_YEAR",
        YEAR = 0x104 => "TPM_PT_YEAR",
        MANUFACTURER = 0x105 => "TPM_PT_MANUFACTURER",
        VENDOR_STRING_1 = 0x106 => "TPM_PT_VENDOR_STRING_1",
        VENDOR_STRING_2 = 0x107 => "TPM_PT_VENDOR_STRING_2",
        VENDOR_STRING_3 = 0x108 => "TPM_PT_VENDOR_STRING_3",
        VENDOR_STRING_4 = 0x109 => "TPM_PT_VENDOR_STRING_4",
        VENDOR_TPM_TYPE = 0x10A => "TPM_PT_VENDOR_TPM_TYPE",
        FIRMWARE_VERSION_1 = 0x10B => "TPM_PT_FIRMWARE_VERSION_1",
        FIRMWARE_VERSION_2 = 0x10C => "TPM_PT_FIRMWARE_VERSION_2",
        INPUT_BUFFER = 0x10D => "TPM_PT_INPUT_BUFFER",
        HR_TRANSIENT_MIN = 0x10E => "TPM_PT_HR_TRANSIENT_MIN",
        HR_PERSISTENT_MIN = 0x10F => "TPM_PT_HR_PERSISTENT_MIN",
        HR_LOADED_MIN = 0x110 => "TPM_PT_HR_LOADED_MIN",
        ACTIVE_SESSIONS_MAX = 0x111 => "TPM_PT_ACTIVE_SESSIONS_MAX",
        PCR_COUNT = 0x112 => "TPM_PT_PCR_COUNT",
        PCR_SELECT_MIN = 0x113 => "TPM_PT_PCR_SELECT_MIN",
        CONTEXT_GAP_MAX = 0x114 => "TPM_PT_CONTEXT_GAP_MAX",
        NV_COUNTERS_MAX = 0x116 => "TPM_PT_NV_COUNTERS_MAX",
        NV_INDEX_MAX = 0x117 => "TPM_PT_NV_INDEX_MAX",
        MEMORY = 0x118 => "TPM_PT_MEMORY",
        CLOCK_UPDATE = 0x119 => "TPM_PT_CLOCK_UPDATE",
        CONTEXT_HASH = 0x11A => "TPM_PT_CONTEXT_HASH",
        CONTEXT_SYM = 0x11B => "TPM_PT_CONTEXT_SYM",
        CONTEXT_SYM_SIZE = 0x11C => "TPM_PT_CONTEXT_SYM_SIZE",
        ORDERLY_COUNT = 0x11D => "TPM_PT_ORDERLY_COUNT",
        MAX_COMMAND_SIZE = 0x11E => "TPM_PT_MAX_COMMAND_SIZE",
        MAX_RESPONSE_SIZE = 0x11F => "TPM_PT_MAX_RESPONSE_SIZE",
        MAX_DIGEST = 0x120 => "TPM_PT_MAX_DIGEST",
        MAX_OBJECT_CONTEXT = 0x121 => "TPM_PT_MAX_OBJECT_CONTEXT",
        MAX_SESSION_CONTEXT = 0x122 => "TPM_PT_MAX_SESSION_CONTEXT",
        PS_FAMILY_INDICATOR = 0x123 => "TPM_PT_PS_FAMILY_INDICATOR",
        PS_LEVEL = 0x124 => "TPM_PT_PS_LEVEL",
        PS_REVISION = 0x125 => "TPM_PT_PS_REVISION",
        PS_DAY_OF_YEAR = 0x126 => "TPM_PT_PS_DAY_OF_YEAR",
        PS_YEAR = 0x127 => "TPM_PT_PS_YEAR",
        SPLIT_MAX = 0x128 => "TPM_PT_SPLIT_MAX",
        TOTAL_COMMANDS = 0x129 => "TPM_PT_TOTAL_COMMANDS",
        LIBRARY_COMMANDS = 0x12A => "TPM_PT_LIBRARY_COMMANDS",
        VENDOR_COMMANDS = 0x12B => "TPM_PT_VENDOR_COMMANDS",
        NV_BUFFER_MAX = 0x12C => "TPM_PT_NV_BUFFER_MAX",
        MODES = 0x12D => "TPM_PT_MODES",
        MAX_CAP_BUFFER = 0x12E => "TPM_PT_MAX_CAP_BUFFER",
        PERMANENT = 0x200 => "TPM_PT_PERMANENT",
        STARTUP_CLEAR = 0x201 => "TPM_PT_STARTUP_CLEAR",
        HR_NV_INDEX = 0x202 => "TPM_PT_HR_NV_INDEX",
        HR_LOADED = 0x203 => "TPM_PT_HR_LOADED",
        HR_LOADED_AVAIL = 0x204 => "TPM_PT_HR_LOADED_AVAIL",
        HR_ACTIVE = 0x205 => "TPM_PT_HR_ACTIVE",
        HR_ACTIVE_AVAIL = 0x206 => "TPM_PT_HR_ACTIVE_AVAIL",
        HR_TRANSIENT_AVAIL = 0x207 => "TPM_PT_HR_TRANSIENT_AVAIL",
        HR_PERSISTENT = 0x208 => "TPM_PT_HR_PERSISTENT",
        HR_PERSISTENT_AVAIL = 0x209 => "TPM_PT_HR_PERSISTENT_AVAIL",
        NV_COUNTERS = 0x20A => "TPM_PT_NV_COUNTERS",
        NV_COUNTERS_AVAIL = 0x20B => "TPM_PT_NV_COUNTERS_AVAIL",
        ALGORITHM_SET = 0x20C => "TPM_PT_ALGORITHM_SET",
        LOADED_CURVES = 0x20D => "TPM_PT_LOADED_CURVES",
        LOCKOUT_COUNTER = 0x20E => "TPM_PT_LOCKOUT_COUNTER",
        MAX_AUTH_FAIL = 0x20F => "TPM_PT_MAX_AUTH_FAIL",
        LOCKOUT_INTERVAL = 0x210 => "TPM_PT_LOCKOUT_INTERVAL",
        LOCKOUT_RECOVERY = 0x211 => "TPM_PT_LOCKOUT_RECOVERY",
        NV_WRITE_RECOVERY = 0x212 => "TPM_PT_NV_WRITE_RECOVERY",
        AUDIT_COUNTER_0 = 0x213 => "TPM_PT_AUDIT_COUNTER_0",
        AUDIT_COUNTER_1 = 0x214 => "TPM_PT_AUDIT_COUNTER_1",
    }
}

impl PropertyTag {
    /// PT_FIXED: the first fixed (manufacturer-set) property.
    pub const PT_FIXED: PropertyTag = PropertyTag(0x100);
    /// PT_VAR: the first variable (state-dependent) property.
    pub const PT_VAR: PropertyTag = PropertyTag(0x200);
}

tpm_enum! {
    /// TPM_PT_PCR: a PCR property reported by TPM_CAP_PCR_PROPERTIES.
    pub struct PcrPropertyTag(u32) {
        SAVE = 0x00 => "TPM_PT_PCR_SAVE",
        EXTEND_L0 = 0x01 => "TPM_PT_PCR_EXTEND_L0",
        RESET_L0 = 0x02 => "TPM_PT_PCR_RESET_L0",
        EXTEND_L1 = 0x03 => "TPM_PT_PCR_EXTEND_L1",
        RESET_L1 = 0x04 => "TPM_PT_PCR_RESET_L1",
        EXTEND_L2 = 0x05 => "TPM_PT_PCR_EXTEND_L2",
        RESET_L2 = 0x06 => "TPM_PT_PCR_RESET_L2",
        EXTEND_L3 = 0x07 => "TPM_PT_PCR_EXTEND_L3",
        RESET_L3 = 0x08 => "TPM_PT_PCR_RESET_L3",
        EXTEND_L4 = 0x09 => "TPM_PT_PCR_EXTEND_L4",
        RESET_L4 = 0x0A => "TPM_PT_PCR_RESET_L4",
        NO_INCREMENT = 0x11 => "TPM_PT_PCR_NO_INCREMENT",
        DRTM_RESET = 0x12 => "TPM_PT_PCR_DRTM_RESET",
        POLICY = 0x13 => "TPM_PT_PCR_POLICY",
        AUTH = 0x14 => "TPM_PT_PCR_AUTH",
    }
}

tpm_enum! {
    /// TPM_ECC_CURVE
    pub struct EccCurve(u16) {
        NONE = 0x0000 => "TPM_ECC_NONE",
        NIST_P192 = 0x0001 => "TPM_ECC_NIST_P192",
        NIST_P224 = 0x0002 => "TPM_ECC_NIST_P224",
        NIST_P256 = 0x0003 => "TPM_ECC_NIST_P256",
        NIST_P384 = 0x0004 => "TPM_ECC_NIST_P384",
        NIST_P521 = 0x0005 => "TPM_ECC_NIST_P521",
        BN_P256 = 0x0010 => "TPM_ECC_BN_P256",
        BN_P638 = 0x0011 => "TPM_ECC_BN_P638",
        SM2_P256 = 0x0020 => "TPM_ECC_SM2_P256",
    }
}

tpm_enum! {
    /// TPM_RC base codes (format-zero errors at RC_VER1 = 0x100, format-one errors at
    /// RC_FMT1 = 0x080, warnings at RC_WARN = 0x900). A response code from the TPM may carry
    /// handle/session/parameter numbers and a software layer on top of these: decode it with
    /// [`crate::wire::ResponseCode`].
    pub struct TpmRc(u32) {
        SUCCESS = 0x000 => "TPM_RC_SUCCESS",
        BAD_TAG = 0x01E => "TPM_RC_BAD_TAG",
        INITIALIZE = 0x100 => "TPM_RC_INITIALIZE",
        FAILURE = 0x101 => "TPM_RC_FAILURE",
        SEQUENCE = 0x103 => "TPM_RC_SEQUENCE",
        PRIVATE = 0x10B => "TPM_RC_PRIVATE",
        HMAC = 0x119 => "TPM_RC_HMAC",
        DISABLED = 0x120 => "TPM_RC_DISABLED",
        EXCLUSIVE = 0x121 => "TPM_RC_EXCLUSIVE",
        AUTH_TYPE = 0x124 => "TPM_RC_AUTH_TYPE",
        AUTH_MISSING = 0x125 => "TPM_RC_AUTH_MISSING",
        POLICY = 0x126 => "TPM_RC_POLICY",
        PCR = 0x127 => "TPM_RC_PCR",
        PCR_CHANGED = 0x128 => "TPM_RC_PCR_CHANGED",
        UPGRADE = 0x12D => "TPM_RC_UPGRADE",
        TOO_MANY_CONTEXTS = 0x12E => "TPM_RC_TOO_MANY_CONTEXTS",
        AUTH_UNAVAILABLE = 0x12F => "TPM_RC_AUTH_UNAVAILABLE",
        REBOOT = 0x130 => "TPM_RC_REBOOT",
        UNBALANCED = 0x131 => "TPM_RC_UNBALANCED",
        COMMAND_SIZE = 0x142 => "TPM_RC_COMMAND_SIZE",
        COMMAND_CODE = 0x143 => "TPM_RC_COMMAND_CODE",
        AUTHSIZE = 0x144 => "TPM_RC_AUTHSIZE",
        AUTH_CONTEXT = 0x145 => "TPM_RC_AUTH_CONTEXT",
        NV_RANGE = 0x146 => "TPM_RC_NV_RANGE",
        NV_SIZE = 0x147 => "TPM_RC_NV_SIZE",
        NV_LOCKED = 0x148 => "TPM_RC_NV_LOCKED",
        NV_AUTHORIZATION = 0x149 => "TPM_RC_NV_AUTHORIZATION",
        NV_UNINITIALIZED = 0x14A => "TPM_RC_NV_UNINITIALIZED",
        NV_SPACE = 0x14B => "TPM_RC_NV_SPACE",
        NV_DEFINED = 0x14C => "TPM_RC_NV_DEFINED",
        BAD_CONTEXT = 0x150 => "TPM_RC_BAD_CONTEXT",
        CPHASH = 0x151 => "TPM_RC_CPHASH",
        PARENT = 0x152 => "TPM_RC_PARENT",
        NEEDS_TEST = 0x153 => "TPM_RC_NEEDS_TEST",
        NO_RESULT = 0x154 => "TPM_RC_NO_RESULT",
        SENSITIVE = 0x155 => "TPM_RC_SENSITIVE",
        ASYMMETRIC = 0x081 => "TPM_RC_ASYMMETRIC",
        ATTRIBUTES = 0x082 => "TPM_RC_ATTRIBUTES",
        HASH = 0x083 => "TPM_RC_HASH",
        VALUE = 0x084 => "TPM_RC_VALUE",
        HIERARCHY = 0x085 => "TPM_RC_HIERARCHY",
        KEY_SIZE = 0x087 => "TPM_RC_KEY_SIZE",
        MGF = 0x088 => "TPM_RC_MGF",
        MODE = 0x089 => "TPM_RC_MODE",
        TYPE = 0x08A => "TPM_RC_TYPE",
        HANDLE = 0x08B => "TPM_RC_HANDLE",
        KDF = 0x08C => "TPM_RC_KDF",
        RANGE = 0x08D => "TPM_RC_RANGE",
        AUTH_FAIL = 0x08E => "TPM_RC_AUTH_FAIL",
        NONCE = 0x08F => "TPM_RC_NONCE",
        PP = 0x090 => "TPM_RC_PP",
        SCHEME = 0x092 => "TPM_RC_SCHEME",
        SIZE = 0x095 => "TPM_RC_SIZE",
        SYMMETRIC = 0x096 => "TPM_RC_SYMMETRIC",
        TAG = 0x097 => "TPM_RC_TAG",
        SELECTOR = 0x098 => "TPM_RC_SELECTOR",
        INSUFFICIENT = 0x09A => "TPM_RC_INSUFFICIENT",
        SIGNATURE = 0x09B => "TPM_RC_SIGNATURE",
        KEY = 0x09C => "TPM_RC_KEY",
        POLICY_FAIL = 0x09D => "TPM_RC_POLICY_FAIL",
        INTEGRITY = 0x09F => "TPM_RC_INTEGRITY",
        TICKET = 0x0A0 => "TPM_RC_TICKET",
        RESERVED_BITS = 0x0A1 => "TPM_RC_RESERVED_BITS",
        BAD_AUTH = 0x0A2 => "TPM_RC_BAD_AUTH",
        EXPIRED = 0x0A3 => "TPM_RC_EXPIRED",
        POLICY_CC = 0x0A4 => "TPM_RC_POLICY_CC",
        BINDING = 0x0A5 => "TPM_RC_BINDING",
        CURVE = 0x0A6 => "TPM_RC_CURVE",
        ECC_POINT = 0x0A7 => "TPM_RC_ECC_POINT",
        FW_LIMITED = 0x0A8 => "TPM_RC_FW_LIMITED",
        SVN_LIMITED = 0x0A9 => "TPM_RC_SVN_LIMITED",
        CONTEXT_GAP = 0x901 => "TPM_RC_CONTEXT_GAP",
        OBJECT_MEMORY = 0x902 => "TPM_RC_OBJECT_MEMORY",
        SESSION_MEMORY = 0x903 => "TPM_RC_SESSION_MEMORY",
        MEMORY = 0x904 => "TPM_RC_MEMORY",
        SESSION_HANDLES = 0x905 => "TPM_RC_SESSION_HANDLES",
        OBJECT_HANDLES = 0x906 => "TPM_RC_OBJECT_HANDLES",
        LOCALITY = 0x907 => "TPM_RC_LOCALITY",
        YIELDED = 0x908 => "TPM_RC_YIELDED",
        CANCELED = 0x909 => "TPM_RC_CANCELED",
        TESTING = 0x90A => "TPM_RC_TESTING",
        REFERENCE_H0 = 0x910 => "TPM_RC_REFERENCE_H0",
        REFERENCE_H1 = 0x911 => "TPM_RC_REFERENCE_H1",
        REFERENCE_H2 = 0x912 => "TPM_RC_REFERENCE_H2",
        REFERENCE_H3 = 0x913 => "TPM_RC_REFERENCE_H3",
        REFERENCE_H4 = 0x914 => "TPM_RC_REFERENCE_H4",
        REFERENCE_H5 = 0x915 => "TPM_RC_REFERENCE_H5",
        REFERENCE_H6 = 0x916 => "TPM_RC_REFERENCE_H6",
        REFERENCE_S0 = 0x918 => "TPM_RC_REFERENCE_S0",
        REFERENCE_S1 = 0x919 => "TPM_RC_REFERENCE_S1",
        REFERENCE_S2 = 0x91A => "TPM_RC_REFERENCE_S2",
        REFERENCE_S3 = 0x91B => "TPM_RC_REFERENCE_S3",
        REFERENCE_S4 = 0x91C => "TPM_RC_REFERENCE_S4",
        REFERENCE_S5 = 0x91D => "TPM_RC_REFERENCE_S5",
        REFERENCE_S6 = 0x91E => "TPM_RC_REFERENCE_S6",
        NV_RATE = 0x920 => "TPM_RC_NV_RATE",
        LOCKOUT = 0x921 => "TPM_RC_LOCKOUT",
        RETRY = 0x922 => "TPM_RC_RETRY",
        NV_UNAVAILABLE = 0x923 => "TPM_RC_NV_UNAVAILABLE",
        NOT_USED = 0x97F => "TPM_RC_NOT_USED",
    }
}

#[cfg(test)]
mod tests {
    use super::SessionType;

    #[test]
    fn session_type_labels_read_back() {
        for t in [SessionType::HMAC, SessionType::POLICY, SessionType::TRIAL] {
            assert_eq!(SessionType::from_label(t.label()), Some(t));
        }
        assert_eq!(SessionType(2).label(), "unknown");
        assert_eq!(SessionType::from_label("unknown"), None);
        assert_eq!(
            SessionType::from_label("HMAC"),
            None,
            "spelled as records spell it"
        );
    }
}
