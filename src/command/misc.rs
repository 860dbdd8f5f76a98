//! PCR events and resets, the clock, self tests and the random number generator's input, and
//! the object commands TPM2_ObjectChangeAuth and TPM2_CreateLoaded (TPM 2.0 Part 3).

use crate::tpm_command;
use crate::wire::{
    AlgList, Auth, ClockAdjust, DigestValues, Event, MaxBuffer, Name, Private, PublicParms,
    SensitiveData, Template, TimeInfo, Tpm2bPublic, Tpm2bSensitiveCreate, TpmRc,
};

tpm_command! {
    /// TPM2_PCR_Event: hashes `event_data` with every implemented hash and extends each
    /// digest into the PCR's bank of that hash.
    PcrEvent = PCR_EVENT {
        auth_handles: [
            /// The PCR (usually with an empty auth value), or TPM_RH_NULL to only hash.
            pcr_handle,
        ],
        handles: [],
        params: {
            /// The event (TPM2B_EVENT), at most 1024 octets.
            event_data: Event,
        },
    }
    /// TPM2_PCR_Event's response.
    PcrEventResponse {
        handles: [],
        params: {
            /// The digest of `event_data` with each implemented hash (TPML_DIGEST_VALUES).
            digests: DigestValues,
        },
    }
}

tpm_command! {
    /// TPM2_PCR_Reset: sets a resettable PCR (16 and 23 from locality 0 on a PC client TPM)
    /// to zeros in every bank.
    PcrReset = PCR_RESET {
        auth_handles: [
            /// The PCR.
            pcr_handle,
        ],
        handles: [],
        params: {},
    }
    /// TPM2_PCR_Reset's response: nothing.
    PcrResetResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_ReadClock: the TPM's time and clock, unsigned (TPM2_GetTime signs them).
    ReadClock = READ_CLOCK {
        auth_handles: [], handles: [],
        params: {},
    }
    /// TPM2_ReadClock's response.
    ReadClockResponse {
        handles: [],
        params: {
            /// Time since the last TPM Reset or Restart, the clock and its counters
            /// (TPMS_TIME_INFO).
            current_time: TimeInfo,
        },
    }
}

tpm_command! {
    /// TPM2_ClockSet: moves the clock forward (never back: TPM_RC_VALUE).
    ClockSet = CLOCK_SET {
        auth_handles: [
            /// TPM_RH_OWNER or TPM_RH_PLATFORM.
            auth,
        ],
        handles: [],
        params: {
            /// The new clock value, in milliseconds; at least the current one and below
            /// 0xFFFF_0000_0000_0000.
            new_time: u64,
        },
    }
    /// TPM2_ClockSet's response: nothing.
    ClockSetResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_ClockRateAdjust: makes the clock run slightly faster or slower.
    ClockRateAdjust = CLOCK_RATE_ADJUST {
        auth_handles: [
            /// TPM_RH_OWNER or TPM_RH_PLATFORM.
            auth,
        ],
        handles: [],
        params: {
            /// The adjustment (TPM_CLOCK_ADJUST).
            rate_adjust: ClockAdjust,
        },
    }
    /// TPM2_ClockRateAdjust's response: nothing.
    ClockRateAdjustResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_TestParms: whether the TPM supports a set of object parameters; it answers
    /// success, or an error naming what it does not support.
    TestParms = TEST_PARMS {
        auth_handles: [], handles: [],
        params: {
            /// The object type and parameters (TPMT_PUBLIC_PARMS).
            parameters: PublicParms,
        },
    }
    /// TPM2_TestParms's response: nothing.
    TestParmsResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_GetTestResult: the result of the self tests, with vendor data on a failure.
    GetTestResult = GET_TEST_RESULT {
        auth_handles: [], handles: [],
        params: {},
    }
    /// TPM2_GetTestResult's response.
    GetTestResultResponse {
        handles: [],
        params: {
            /// Vendor-specific information about the tests (TPM2B_MAX_BUFFER).
            out_data: MaxBuffer,
            /// TPM_RC_SUCCESS, TPM_RC_NEEDS_TEST, TPM_RC_TESTING or TPM_RC_FAILURE.
            test_result: TpmRc,
        },
    }
}

tpm_command! {
    /// TPM2_IncrementalSelfTest: tests the given algorithms (if not tested yet) and says
    /// which remain untested.
    IncrementalSelfTest = INCREMENTAL_SELF_TEST {
        auth_handles: [], handles: [],
        params: {
            /// The algorithms to test (TPML_ALG).
            to_test: AlgList,
        },
    }
    /// TPM2_IncrementalSelfTest's response.
    IncrementalSelfTestResponse {
        handles: [],
        params: {
            /// Algorithms that still need testing (TPML_ALG).
            to_do_list: AlgList,
        },
    }
}

tpm_command! {
    /// TPM2_StirRandom: adds entropy to the TPM's random number generator.
    StirRandom = STIR_RANDOM {
        auth_handles: [], handles: [],
        params: {
            /// The additional input (TPM2B_SENSITIVE_DATA), at most 128 octets. Encrypt it
            /// with a session.
            in_data: SensitiveData,
        },
    }
    /// TPM2_StirRandom's response: nothing.
    StirRandomResponse { handles: [], params: {} }
}

tpm_command! {
    /// TPM2_ObjectChangeAuth: returns a new private area for a loaded object, with `new_auth`
    /// as its auth value. The loaded object keeps its old auth value (the TPM keys the
    /// response HMAC with it); load the new private area to use the new one.
    ObjectChangeAuth = OBJECT_CHANGE_AUTH {
        auth_handles: [
            /// The object, ADMIN role: its auth value, or a policy with
            /// PolicyCommandCode(TPM_CC_ObjectChangeAuth) when it has adminWithPolicy.
            object_handle,
        ],
        handles: [
            /// Its parent, which the new private area is protected with.
            parent_handle,
        ],
        params: {
            /// The new auth value (TPM2B_AUTH). Encrypt it with a session.
            new_auth: Auth,
        },
    }
    /// TPM2_ObjectChangeAuth's response.
    ObjectChangeAuthResponse {
        handles: [],
        params: {
            /// The private area with the new auth value (TPM2B_PRIVATE), for TPM2_Load with
            /// the object's unchanged public area.
            out_private: Private,
        },
    }
}

tpm_command! {
    /// TPM2_CreateLoaded: creates and loads an object in one command: a primary object under
    /// a hierarchy, an ordinary object under a storage parent, or a derived object under a
    /// derivation parent.
    CreateLoaded = CREATE_LOADED {
        auth_handles: [
            /// A hierarchy (TPM_RH_OWNER, ENDORSEMENT, PLATFORM or NULL), a storage parent or
            /// a derivation parent (TPMI_DH_PARENT+).
            parent_handle,
        ],
        handles: [],
        params: {
            /// The new object's auth value and data (TPM2B_SENSITIVE_CREATE). Encrypt it with
            /// a session.
            in_sensitive: Tpm2bSensitiveCreate,
            /// The public template (TPM2B_TEMPLATE).
            in_public: Template,
        },
    }
    /// TPM2_CreateLoaded's response.
    CreateLoadedResponse {
        handles: [
            /// The loaded object (0x80xxxxxx).
            object_handle,
        ],
        params: {
            /// The private area, protected by the parent (TPM2B_PRIVATE); empty for a
            /// primary object.
            out_private: Private,
            /// The public area, with the unique field filled in (TPM2B_PUBLIC).
            out_public: Tpm2bPublic,
            /// The object's name; check it against `out_public` before trusting it.
            name: Name,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::shape;
    use crate::command::{AuthChange, Command, Entity};
    use crate::wire::{Handle, Marshal, Public};

    #[test]
    fn parameter_encryption_and_handles_follow_part_3() {
        assert_eq!(shape::<PcrEvent>(), (true, false, 1, 0));
        assert_eq!(shape::<PcrReset>(), (false, false, 1, 0));
        assert_eq!(shape::<ReadClock>(), (false, false, 0, 0));
        assert_eq!(shape::<ClockSet>(), (false, false, 1, 0));
        assert_eq!(shape::<ClockRateAdjust>(), (false, false, 1, 0));
        assert_eq!(shape::<TestParms>(), (false, false, 0, 0));
        assert_eq!(shape::<GetTestResult>(), (false, true, 0, 0));
        assert_eq!(shape::<IncrementalSelfTest>(), (false, false, 0, 0));
        assert_eq!(shape::<StirRandom>(), (true, false, 0, 0));
        assert_eq!(shape::<ObjectChangeAuth>(), (true, true, 1, 0));
        assert_eq!(shape::<CreateLoaded>(), (true, true, 1, 1));
    }

    /// Part 3: ObjectChangeAuth does not change the loaded object, so the response HMAC is
    /// keyed with the auth value the command was authorized with.
    #[test]
    fn object_change_auth_leaves_the_loaded_objects_auth() {
        let change = ObjectChangeAuth {
            object_handle: Entity::from_handle(Handle(0x8000_0001)),
            parent_handle: Entity::from_handle(Handle(0x8000_0000)),
            new_auth: Auth::new(b"p4ssw0rd").unwrap(),
        };
        assert!(matches!(change.auth_change(), AuthChange::None));
        assert_eq!(change.handles().len(), 2);
        assert!(!format!("{change:?}").contains("p4ssw0rd"));
    }

    #[test]
    fn create_loaded_marshals_the_template_as_a_sized_public_area() {
        let public = Public::ecc_p256_storage_parent();
        let cmd = CreateLoaded {
            parent_handle: Entity::owner(),
            in_sensitive: Default::default(),
            in_public: Template::from_public(&public).unwrap(),
        };
        let mut params = alloc::vec::Vec::new();
        crate::command::marshal_params(&cmd, &mut params);
        let mut expected = Tpm2bSensitiveCreate::default().to_bytes();
        expected.extend(Tpm2bPublic(public).to_bytes());
        assert_eq!(params, expected);
    }
}
