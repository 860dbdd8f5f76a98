//! The hash, HMAC, symmetric and asymmetric commands against swtpm, each checked against a
//! host implementation of the same algorithm (sha1/sha2/hmac, aes/cfb-mode, rsa, p256), with
//! parameter encryption under salted sessions where the command allows it.

mod command_fixtures;
mod common;

use aes::cipher::{AsyncStreamCipher, BlockDecrypt, BlockEncrypt, KeyInit, KeyIvInit};
use aes::Aes128;
use command_fixtures::*;
use common::*;
use rand_core::OsRng;
use rsa::{BigUint, Oaep, Pkcs1v15Encrypt, RsaPublicKey};
use tpm2_wire::command::{
    EcdhKeyGen, EcdhZGen, EncryptDecrypt, EncryptDecrypt2, Entity, EventSequenceComplete,
    GetTestResult, HashSequenceStart, Hmac, HmacStart, PcrReset, RsaDecrypt, RsaEncrypt,
    SequenceComplete, SequenceCompleteResponse, SequenceUpdate,
};
use tpm2_wire::crypto::HashAlg;
use tpm2_wire::session::engine::SessionSlot;
use tpm2_wire::wire::{
    AlgId, Auth, Data, EccParameter, EccPoint, Handle, Iv, MaxBuffer, Name, PublicKey,
    PublicKeyRsa, RsaMessage, RsaScheme, SecretBuffer, StructureTag, Tpm2bEccPoint, TpmRc,
};
use tpm2_wire::{Error, Tpm};

/// A sequence object: no public area, so its name is the empty buffer.
fn sequence(handle: Handle) -> Entity {
    Entity::new(handle, Name::empty())
}

fn update(tpm: &Tpm, seq: &Entity, chunk: &[u8], slot: SessionSlot<'_>) -> tpm2_wire::Result<()> {
    tpm.execute(
        &SequenceUpdate {
            sequence_handle: seq.clone(),
            buffer: MaxBuffer::new(chunk).unwrap(),
        },
        &mut [slot],
    )
    .map(drop)
}

/// TPM2_SequenceComplete of `seq` with its `last` octets, for the owner hierarchy.
fn complete(
    tpm: &Tpm,
    seq: &Entity,
    last: &[u8],
    slot: SessionSlot<'_>,
) -> SequenceCompleteResponse {
    tpm.execute(
        &SequenceComplete {
            sequence_handle: seq.clone(),
            buffer: MaxBuffer::new(last).unwrap(),
            hierarchy: Handle::RH_OWNER,
        },
        &mut [slot],
    )
    .expect("SequenceComplete")
}

/// The sequence is gone once completed: the TPM says the command's first handle refers to
/// no loaded object (TPM_RC_REFERENCE_H0).
#[track_caller]
fn assert_sequence_gone(tpm: &Tpm, seq: &Entity, auth: &Auth) {
    assert_tpm_error(
        update(tpm, seq, b"more", SessionSlot::Password(auth)),
        TpmRc::REFERENCE_H0,
    );
}

#[test]
fn hash_sequences_equal_host_digests_over_many_updates() {
    let (_sim, tpm) = swtpm();
    let mut s = salted_session(&tpm);
    let data = random_bytes(3000);
    let (body, last) = data.split_at(2900);
    let seq_auth = pw("sequence auth");
    for hash in HASHES {
        // The sequence's auth value goes in encrypted.
        let start = tpm
            .execute(
                &HashSequenceStart {
                    auth: seq_auth.clone(),
                    hash_alg: hash.alg_id(),
                },
                &mut [s.extra()],
            )
            .expect("HashSequenceStart");
        let seq = sequence(start.sequence_handle);
        // 1000-byte updates, alternately by password and by the salted session (which
        // encrypts the data).
        for (i, chunk) in body.chunks(1000).enumerate() {
            let slot = if i % 2 == 0 {
                SessionSlot::Password(&seq_auth)
            } else {
                s.auth(&seq_auth)
            };
            update(&tpm, &seq, chunk, slot).expect("SequenceUpdate");
        }
        let done = complete(&tpm, &seq, last, s.auth(&seq_auth));
        assert_eq!(
            done.result.as_bytes(),
            host_hash(hash.alg_id(), &data),
            "{hash:?}"
        );
        // The data did not start with TPM_GENERATED_VALUE: a real ticket from the owner
        // hierarchy.
        assert_eq!(done.validation.tag, StructureTag::HASHCHECK);
        assert_eq!(done.validation.hierarchy, Handle::RH_OWNER);
        assert!(!done.validation.digest.is_empty());
        assert_sequence_gone(&tpm, &seq, &seq_auth);
    }
    // A wrong auth value for a sequence is refused (and the sequence survives it).
    let start = tpm
        .run(&HashSequenceStart {
            auth: seq_auth.clone(),
            hash_alg: AlgId::SHA256,
        })
        .unwrap();
    let seq = sequence(start.sequence_handle);
    let wrong = pw("not the sequence auth");
    let refused = update(&tpm, &seq, b"x", SessionSlot::Password(&wrong));
    assert!(
        matches!(&refused, Err(Error::Tpm { rc, .. }) if rc.is_auth_fail()),
        "{refused:?}"
    );
    update(&tpm, &seq, b"x", SessionSlot::Password(&seq_auth)).unwrap();
    let done = tpm
        .execute(
            &SequenceComplete {
                sequence_handle: seq.clone(),
                buffer: MaxBuffer::empty(),
                hierarchy: Handle::RH_NULL,
            },
            &mut [SessionSlot::Password(&seq_auth)],
        )
        .unwrap();
    assert_eq!(done.result.as_bytes(), host_hash(AlgId::SHA256, b"x"));
    assert_eq!(done.validation.hierarchy, Handle::RH_NULL);
    assert!(done.validation.digest.is_empty(), "a NULL ticket");
    reset_lockout(&tpm);
}

#[test]
fn hmac_and_hmac_sequences_equal_host_hmac() {
    let (_sim, tpm) = swtpm();
    let mut s = salted_session(&tpm);
    let owner = Auth::empty();
    let data = random_bytes(2500);
    let key_auth = pw("hmac key");
    let seq_auth = pw("hmac sequence");
    for hash in HASHES {
        let key = random_bytes(hash.digest_size());
        // The key bytes go to the TPM encrypted by the salted session.
        let (k, _, _) = create_loaded(
            &tpm,
            &Entity::owner(),
            &mut [SessionSlot::Password(&owner), s.extra()],
            &hmac_key_template(hash.alg_id()),
            &key_auth,
            &key,
        );
        let one = tpm
            .execute(
                &Hmac {
                    handle: k.clone(),
                    buffer: MaxBuffer::new(&data[..1024]).unwrap(),
                    hash_alg: AlgId::NULL,
                },
                &mut [s.auth(&key_auth)],
            )
            .expect("HMAC");
        assert_eq!(
            one.out_hmac.as_bytes(),
            host_hmac(hash, &key, &data[..1024]),
            "{hash:?}"
        );

        let start = tpm
            .execute(
                &HmacStart {
                    handle: k.clone(),
                    auth: seq_auth.clone(),
                    hash_alg: hash.alg_id(),
                },
                &mut [s.auth(&key_auth)],
            )
            .expect("HMAC_Start");
        let seq = sequence(start.sequence_handle);
        let (body, last) = data.split_at(2400);
        for chunk in body.chunks(800) {
            update(&tpm, &seq, chunk, s.auth(&seq_auth)).expect("SequenceUpdate");
        }
        let done = complete(&tpm, &seq, last, s.auth(&seq_auth));
        assert_eq!(
            done.result.as_bytes(),
            host_hmac(hash, &key, &data),
            "{hash:?}"
        );
        // HMAC sequences get no hash-check ticket.
        assert_eq!(done.validation.hierarchy, Handle::RH_NULL);
        assert_sequence_gone(&tpm, &seq, &seq_auth);

        // The key hashes with its own algorithm only.
        let other = if hash == HashAlg::Sha1 {
            AlgId::SHA256
        } else {
            AlgId::SHA1
        };
        assert_tpm_error(
            tpm.execute(
                &Hmac {
                    handle: k.clone(),
                    buffer: MaxBuffer::new(b"x").unwrap(),
                    hash_alg: other,
                },
                &mut [SessionSlot::Password(&key_auth)],
            ),
            TpmRc::VALUE,
        );
        flush(&tpm, k.handle);
    }
    assert_only_session_loaded(&tpm, s.handle());
}

/// Event sequences hash with every implemented hash and extend the PCR in each allocated
/// bank; the PCR and the sequence are authorized by two different sessions.
#[test]
fn event_sequence_extends_a_pcr_under_two_sessions() {
    let (_sim, tpm) = swtpm();
    let pcr = Entity::from_handle(Handle(16));
    let empty = Auth::empty();
    tpm.execute(
        &PcrReset {
            pcr_handle: pcr.clone(),
        },
        &mut [SessionSlot::Password(&empty)],
    )
    .expect("PCR_Reset");
    let mut salted = salted_session(&tpm);
    let mut plain =
        tpm2_wire::client::Session::start(&tpm, &tpm2_wire::client::SessionOptions::hmac())
            .unwrap();
    assert_ne!(salted.handle(), plain.handle());

    let seq_auth = pw("event");
    let start = tpm
        .run(&HashSequenceStart {
            auth: seq_auth.clone(),
            hash_alg: AlgId::NULL,
        })
        .expect("an event sequence");
    let seq = sequence(start.sequence_handle);
    let data = random_bytes(2100);
    for chunk in data[..2000].chunks(1000) {
        update(&tpm, &seq, chunk, plain.auth(&seq_auth)).unwrap();
    }
    // The salted session authorizes the PCR and encrypts the last chunk; the other one
    // authorizes the sequence.
    let done = tpm
        .execute(
            &EventSequenceComplete {
                pcr_handle: pcr.clone(),
                sequence_handle: seq.clone(),
                buffer: MaxBuffer::new(&data[2000..]).unwrap(),
            },
            &mut [salted.auth(&empty), plain.auth(&seq_auth)],
        )
        .expect("EventSequenceComplete");
    check_event_digests(&tpm, 16, &done.results, &data);
    assert_sequence_gone(&tpm, &seq, &seq_auth);
}

// ---- Symmetric ----

fn cfb(key: &[u8], iv: &[u8], data: &[u8], decrypt: bool) -> Vec<u8> {
    let mut out = data.to_vec();
    if decrypt {
        cfb_mode::Decryptor::<Aes128>::new_from_slices(key, iv)
            .unwrap()
            .decrypt(&mut out);
    } else {
        cfb_mode::Encryptor::<Aes128>::new_from_slices(key, iv)
            .unwrap()
            .encrypt(&mut out);
    }
    out
}

/// CBC from the AES block function: C_i = E(P_i ⊕ C_{i-1}), C_0 = IV.
fn cbc(key: &[u8], iv: &[u8], data: &[u8], decrypt: bool) -> Vec<u8> {
    let aes = Aes128::new_from_slice(key).unwrap();
    let mut prev = iv.to_vec();
    let mut out = Vec::with_capacity(data.len());
    for block in data.chunks(16) {
        let mut b = aes::Block::clone_from_slice(block);
        if decrypt {
            aes.decrypt_block(&mut b);
            out.extend(b.iter().zip(&prev).map(|(x, p)| x ^ p));
            prev = block.to_vec();
        } else {
            for (x, p) in b.iter_mut().zip(&prev) {
                *x ^= p;
            }
            aes.encrypt_block(&mut b);
            out.extend_from_slice(&b);
            prev = b.to_vec();
        }
    }
    out
}

#[test]
fn encrypt_decrypt_equal_host_aes_in_both_directions() {
    let (_sim, tpm, frames) = swtpm_recording();
    let mut s = salted_session(&tpm);
    let owner = Auth::empty();
    let key = random_bytes(16);
    let key_auth = pw("aes key");
    // Mode NULL: the command chooses the mode.
    let (k, _, _) = create_loaded(
        &tpm,
        &Entity::owner(),
        &mut [SessionSlot::Password(&owner), s.extra()],
        &aes_key_template(AlgId::NULL),
        &key_auth,
        &key,
    );
    let iv = random_bytes(16);
    let plain = random_bytes(1024);
    type HostMode = fn(&[u8], &[u8], &[u8], bool) -> Vec<u8>;
    for (mode, host) in [(AlgId::CFB, cfb as HostMode), (AlgId::CBC, cbc as HostMode)] {
        let expected = host(&key, &iv, &plain, false);
        assert_eq!(host(&key, &iv, &expected, true), plain, "host {mode}");
        let last_block = expected[expected.len() - 16..].to_vec();

        // TPM2_EncryptDecrypt: the data goes in clear (its first parameter is no TPM2B);
        // the ciphertext comes back encrypted by the session.
        frames.lock().unwrap().clear();
        let enc = tpm
            .execute(
                &EncryptDecrypt {
                    key_handle: k.clone(),
                    decrypt: false,
                    mode,
                    iv_in: Iv::new(&iv).unwrap(),
                    in_data: SecretBuffer::new(&plain).unwrap(),
                },
                &mut [s.auth(&key_auth)],
            )
            .expect("EncryptDecrypt");
        assert_eq!(enc.out_data.as_bytes(), expected, "{mode}");
        assert_eq!(enc.iv_out.as_bytes(), last_block, "{mode} ivOut");
        {
            let f = frames.lock().unwrap();
            assert!(contains(&f[0].0, &plain), "no session can hide it");
            assert!(!contains(&f[0].1, &expected[..32]), "ciphertext encrypted");
        }

        // TPM2_EncryptDecrypt2 decrypts it; the plaintext travels encrypted both ways.
        frames.lock().unwrap().clear();
        let dec = tpm
            .execute(
                &EncryptDecrypt2 {
                    key_handle: k.clone(),
                    in_data: SecretBuffer::new(&expected).unwrap(),
                    decrypt: true,
                    mode,
                    iv_in: Iv::new(&iv).unwrap(),
                },
                &mut [s.auth(&key_auth)],
            )
            .expect("EncryptDecrypt2");
        assert_eq!(dec.out_data.as_bytes(), plain, "{mode}");
        assert_eq!(dec.iv_out.as_bytes(), last_block, "{mode} ivOut");
        {
            let f = frames.lock().unwrap();
            assert!(!contains(&f[0].0, &expected[..32]), "input encrypted");
            assert!(!contains(&f[0].1, &plain[..32]), "plaintext encrypted");
        }

        // The other way round: EncryptDecrypt2 encrypts, EncryptDecrypt decrypts, in two
        // halves chained through ivOut.
        let mut chained = Vec::new();
        let mut next_iv = Iv::new(&iv).unwrap();
        for half in plain.chunks(512) {
            let r = tpm
                .execute(
                    &EncryptDecrypt2 {
                        key_handle: k.clone(),
                        in_data: SecretBuffer::new(half).unwrap(),
                        decrypt: false,
                        mode,
                        iv_in: next_iv.clone(),
                    },
                    &mut [SessionSlot::Password(&key_auth)],
                )
                .unwrap();
            chained.extend_from_slice(r.out_data.as_bytes());
            next_iv = r.iv_out.clone();
        }
        assert_eq!(chained, expected, "{mode}: ivOut continues the chain");
        let back = tpm
            .execute(
                &EncryptDecrypt {
                    key_handle: k.clone(),
                    decrypt: true,
                    mode,
                    iv_in: Iv::new(&iv).unwrap(),
                    in_data: SecretBuffer::new(&chained).unwrap(),
                },
                &mut [SessionSlot::Password(&key_auth)],
            )
            .unwrap();
        assert_eq!(back.out_data.as_bytes(), plain, "{mode}");
    }
    // CBC takes whole blocks only.
    assert_tpm_error(
        tpm.execute(
            &EncryptDecrypt2 {
                key_handle: k.clone(),
                in_data: SecretBuffer::new(&plain[..20]).unwrap(),
                decrypt: false,
                mode: AlgId::CBC,
                iv_in: Iv::new(&iv).unwrap(),
            },
            &mut [SessionSlot::Password(&key_auth)],
        ),
        TpmRc::SIZE,
    );
    flush(&tpm, k.handle);
}

/// A key whose mode is CFB refuses any other mode.
#[test]
fn a_cfb_key_refuses_cbc() {
    let (_sim, tpm) = swtpm();
    let key_auth = pw("aes");
    let (k, _) = primary(&tpm, &aes_key_template(AlgId::CFB), &key_auth, &[7; 16]);
    let run = |mode| {
        tpm.execute(
            &EncryptDecrypt2 {
                key_handle: k.clone(),
                in_data: SecretBuffer::new(&[1; 32]).unwrap(),
                decrypt: false,
                mode,
                iv_in: Iv::new(&[0; 16]).unwrap(),
            },
            &mut [SessionSlot::Password(&key_auth)],
        )
    };
    let ok = run(AlgId::NULL).expect("the key's own mode");
    assert_eq!(
        ok.out_data.as_bytes(),
        cfb(&[7; 16], &[0; 16], &[1; 32], false)
    );
    assert_tpm_error(run(AlgId::CBC), TpmRc::MODE);
}

// ---- RSA ----

const LABEL: &str = "tpm2-wire label\0";

fn rsa_public(public: &tpm2_wire::wire::Public) -> RsaPublicKey {
    let PublicKey::Rsa { unique, .. } = &public.key else {
        panic!("not an RSA key")
    };
    RsaPublicKey::new(
        BigUint::from_bytes_be(unique.as_bytes()),
        BigUint::from(65537u32),
    )
    .unwrap()
}

fn rsa_decrypt(
    tpm: &Tpm,
    key: &Entity,
    ct: &[u8],
    scheme: RsaScheme,
    label: &Data,
    slot: SessionSlot<'_>,
) -> tpm2_wire::Result<tpm2_wire::command::RsaDecryptResponse> {
    tpm.execute(
        &RsaDecrypt {
            key_handle: key.clone(),
            cipher_text: PublicKeyRsa::new(ct).unwrap(),
            in_scheme: scheme,
            label: label.clone(),
        },
        &mut [slot],
    )
}

#[test]
fn rsa_oaep_with_the_host_and_round_trips() {
    let (_sim, tpm, frames) = swtpm_recording();
    let mut s = salted_session(&tpm);
    let key_auth = pw("rsa key");
    let (k, public) = primary(&tpm, &rsa_decrypt_template(), &key_auth, &[]);
    let host = rsa_public(&public);
    let oaep = RsaScheme::Oaep {
        hash: AlgId::SHA256,
    };
    let label = Data::new(LABEL.as_bytes()).unwrap();

    // Host OAEP encryption, TPM decryption; the plaintext comes back encrypted.
    let message = random_bytes(48);
    let ct = host
        .encrypt(
            &mut OsRng,
            Oaep::new_with_label::<sha2::Sha256, _>(LABEL),
            &message,
        )
        .unwrap();
    frames.lock().unwrap().clear();
    let out = rsa_decrypt(&tpm, &k, &ct, oaep, &label, s.auth(&key_auth)).expect("RSA_Decrypt");
    assert_eq!(out.message.as_bytes(), message);
    assert!(!contains(&frames.lock().unwrap()[0].1, &message));
    // The label is part of OAEP: another one is refused. Part 3 says TPM_RC_VALUE; libtpms
    // with OpenSSL answers TPM_RC_FAILURE, without going into failure mode.
    let other = Data::new(b"another label\0").unwrap();
    match rsa_decrypt(
        &tpm,
        &k,
        &ct,
        oaep,
        &other,
        SessionSlot::Password(&key_auth),
    ) {
        Err(Error::Tpm { rc, .. }) => assert!(
            matches!(rc.base_code(), TpmRc::VALUE | TpmRc::FAILURE),
            "{rc}"
        ),
        other => panic!("decrypted with the wrong label: {other:?}"),
    }
    let health = tpm.run(&GetTestResult {}).unwrap();
    assert_eq!(health.test_result, TpmRc::SUCCESS);
    // PKCS#1 v1.5 from the host too.
    let ct15 = host.encrypt(&mut OsRng, Pkcs1v15Encrypt, &message).unwrap();
    let out = rsa_decrypt(
        &tpm,
        &k,
        &ct15,
        RsaScheme::RsaEs,
        &Data::empty(),
        SessionSlot::Password(&key_auth),
    )
    .unwrap();
    assert_eq!(out.message.as_bytes(), message);

    // TPM encryption (no authorization; the session only encrypts), TPM decryption.
    let message2 = random_bytes(60);
    frames.lock().unwrap().clear();
    let enc = tpm
        .execute(
            &RsaEncrypt {
                key_handle: k.clone(),
                message: RsaMessage::new(&message2).unwrap(),
                in_scheme: oaep,
                label: label.clone(),
            },
            &mut [s.extra()],
        )
        .expect("RSA_Encrypt");
    assert!(!contains(&frames.lock().unwrap()[0].0, &message2));
    assert_eq!(enc.out_data.len(), 256);
    let again = tpm
        .run(&RsaEncrypt {
            key_handle: k.clone(),
            message: RsaMessage::new(&message2).unwrap(),
            in_scheme: oaep,
            label: label.clone(),
        })
        .unwrap();
    assert_ne!(again.out_data, enc.out_data, "OAEP is randomized");
    for ct in [&enc.out_data, &again.out_data] {
        let out = rsa_decrypt(
            &tpm,
            &k,
            ct.as_bytes(),
            oaep,
            &label,
            SessionSlot::Password(&key_auth),
        )
        .unwrap();
        assert_eq!(out.message.as_bytes(), message2);
    }
    // A label that does not end in a zero octet is refused.
    assert_tpm_error(
        tpm.run(&RsaEncrypt {
            key_handle: k.clone(),
            message: RsaMessage::new(&message2).unwrap(),
            in_scheme: oaep,
            label: Data::new(b"no terminator").unwrap(),
        }),
        TpmRc::VALUE,
    );
    flush(&tpm, k.handle);
}

// ---- ECDH ----

fn zgen(
    tpm: &Tpm,
    key: &Entity,
    point: EccPoint,
    slot: SessionSlot<'_>,
) -> tpm2_wire::Result<tpm2_wire::command::EcdhZGenResponse> {
    tpm.execute(
        &EcdhZGen {
            key_handle: key.clone(),
            in_point: Tpm2bEccPoint(point),
        },
        &mut [slot],
    )
}

#[test]
fn ecdh_shared_points_equal_host_ecdh() {
    let (_sim, tpm, frames) = swtpm_recording();
    let mut s = salted_session(&tpm);
    let key_auth = pw("ecc key");
    let (k, public) = primary(&tpm, &ecc_decrypt_template(), &key_auth, &[]);

    // ZGen with a host ephemeral key: the TPM's d·(eG) is the host's e·Q.
    let HostEcdh {
        q,
        e_pub,
        z: z_host,
    } = host_ecdh(&public);
    frames.lock().unwrap().clear();
    let z = zgen(&tpm, &k, to_wire(&e_pub), s.auth(&key_auth)).expect("ECDH_ZGen");
    assert_eq!(z.out_point.x.as_bytes(), z_host.x.as_bytes());
    assert_eq!(z.out_point.y.as_bytes(), z_host.y.as_bytes());
    assert!(!contains(&frames.lock().unwrap()[0].1, z_host.x.as_bytes()));

    // KeyGen: Z = e'·Q for an ephemeral e' of the TPM's; the key's d·(e'G) is the same point.
    frames.lock().unwrap().clear();
    let kg = tpm
        .execute(
            &EcdhKeyGen {
                key_handle: k.clone(),
            },
            &mut [s.extra()],
        )
        .expect("ECDH_KeyGen");
    let ephemeral = to_affine(&kg.pub_point.0);
    assert_ne!(ephemeral, q);
    assert!(!contains(
        &frames.lock().unwrap()[0].1,
        kg.z_point.x.as_bytes()
    ));
    let z2 = zgen(
        &tpm,
        &k,
        to_wire(&ephemeral),
        SessionSlot::Password(&key_auth),
    )
    .unwrap();
    assert_eq!(z2.out_point, kg.z_point);
    assert_eq!(kg.z_point.x.len(), 32);

    // A point off the curve is refused.
    let mut off = to_wire(&e_pub);
    let mut y = off.y.as_bytes().to_vec();
    y[31] ^= 1;
    off.y = EccParameter::new(&y).unwrap();
    assert_tpm_error(
        zgen(&tpm, &k, off, SessionSlot::Password(&key_auth)),
        TpmRc::ECC_POINT,
    );
    flush(&tpm, k.handle);
}
