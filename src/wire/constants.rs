//! TPM constants (TPM_ALG_ID, TPM_CC, TPM_ST, TPM_SE, TPM_HT, TPM_RH, TPM_PT, TPM_CAP) with
//! their specification names. Each is a newtype over its wire integer so that values the
//! library does not know are kept and shown in hex instead of being rejected.

/// Declares a newtype over an integer with named constants. `Debug`/`Display` print the spec
/// name when known and the hex value otherwise.
#[macro_export]
macro_rules! tpm_enum {
    ($(#[$m:meta])* $vis:vis struct $name:ident($int:ty) { $($(#[$cm:meta])* $c:ident = $v:expr => $s:literal,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        $vis struct $name(pub $int);

        #[allow(dead_code)]
        impl $name {
            $($(#[$cm])* pub const $c: $name = $name($v);)*

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

        impl $crate::wire::Marshal for $name {
            fn marshal(&self, w: &mut $crate::wire::Writer<'_>) {
                $crate::wire::Marshal::marshal(&self.0, w)
            }
        }

        impl $crate::wire::Unmarshal for $name {
            fn unmarshal(r: &mut $crate::wire::Reader<'_>) -> Result<Self, $crate::wire::WireError> {
                Ok($name(<$int as $crate::wire::Unmarshal>::unmarshal(r)?))
            }
        }
    };
}

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
