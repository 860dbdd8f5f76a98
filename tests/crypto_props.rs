//! Property tests for the crypto module: inverses, output shapes, and what KDFa/KDFe outputs of
//! different lengths do (and do not) share.

use proptest::prelude::*;
use tpm2_wire::crypto::{
    aes_cfb_decrypt, aes_cfb_encrypt, hmac, kdfa, kdfe, xor_obfuscate, HashAlg, HmacCtx,
};

fn any_hash() -> impl Strategy<Value = HashAlg> {
    prop::sample::select(HashAlg::ALL.to_vec())
}

fn aes_key() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(vec![16usize, 24, 32])
        .prop_flat_map(|len| prop::collection::vec(any::<u8>(), len))
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn out_len(bits: u32) -> usize {
    (bits as usize).div_ceil(8)
}

/// The mask the spec applies to the first byte of a `bits`-bit output.
fn first_byte_mask(bits: u32) -> u8 {
    match bits % 8 {
        0 => 0xff,
        used => (1u8 << used) - 1,
    }
}

proptest! {
    #[test]
    fn aes_cfb_decrypt_inverts_encrypt(
        key in aes_key(),
        iv in any::<[u8; 16]>(),
        data in bytes(1100),
    ) {
        let mut buf = data.clone();
        aes_cfb_encrypt(&key, &iv, &mut buf).unwrap();
        aes_cfb_decrypt(&key, &iv, &mut buf).unwrap();
        prop_assert_eq!(buf, data);
    }

    #[test]
    fn aes_cfb_of_a_prefix_is_the_prefix_of_the_ciphertext(
        key in aes_key(),
        iv in any::<[u8; 16]>(),
        data in bytes(1100),
        cut in any::<prop::sample::Index>(),
    ) {
        let cut = cut.index(data.len() + 1);
        let mut whole = data.clone();
        aes_cfb_encrypt(&key, &iv, &mut whole).unwrap();
        let mut prefix = data[..cut].to_vec();
        aes_cfb_encrypt(&key, &iv, &mut prefix).unwrap();
        prop_assert_eq!(&prefix[..], &whole[..cut]);
    }

    #[test]
    fn xor_obfuscation_is_its_own_inverse(
        alg in any_hash(),
        key in bytes(130),
        nonce_newer in bytes(65),
        nonce_older in bytes(65),
        data in bytes(1100),
    ) {
        let mut buf = data.clone();
        xor_obfuscate(alg, &key, &nonce_newer, &nonce_older, &mut buf).unwrap();
        if data.len() >= 16 {
            // A mask of 128+ bits that is all zeros would mean no mask at all.
            prop_assert_ne!(&buf, &data);
        }
        xor_obfuscate(alg, &key, &nonce_newer, &nonce_older, &mut buf).unwrap();
        prop_assert_eq!(buf, data);
    }

    #[test]
    fn kdfa_writes_exactly_ceil_bits_over_8_with_unused_bits_clear(
        alg in any_hash(),
        key in bytes(70),
        context_u in bytes(65),
        context_v in bytes(65),
        bits in 1u32..=2048,
    ) {
        let len = out_len(bits);
        let mut out = vec![0u8; len];
        kdfa(alg, &key, b"KDF", &context_u, &context_v, bits, &mut out).unwrap();
        prop_assert_eq!(out[0] & !first_byte_mask(bits), 0);

        // Any other buffer length is refused rather than silently filled short or long.
        let mut short = vec![0u8; len - 1];
        prop_assert!(kdfa(alg, &key, b"KDF", &context_u, &context_v, bits, &mut short).is_err());
        let mut long = vec![0u8; len + 1];
        prop_assert!(kdfa(alg, &key, b"KDF", &context_u, &context_v, bits, &mut long).is_err());
    }

    /// KDFa is counter-mode HMAC: block i is HMAC(key, i ‖ label ‖ 0 ‖ u ‖ v ‖ bits); the output is
    /// their concatenation cut to length, first byte masked.
    #[test]
    fn kdfa_output_is_the_counter_mode_hmac_stream(
        alg in any_hash(),
        key in bytes(70),
        context_u in bytes(65),
        context_v in bytes(65),
        bits in 1u32..=2048,
    ) {
        let mut out = vec![0u8; out_len(bits)];
        kdfa(alg, &key, b"STORAGE", &context_u, &context_v, bits, &mut out).unwrap();
        let mut stream = Vec::new();
        let mut counter = 1u32;
        while stream.len() < out.len() {
            let block = hmac(
                alg,
                &key,
                &[&counter.to_be_bytes(), b"STORAGE\0", &context_u, &context_v, &bits.to_be_bytes()],
            );
            stream.extend_from_slice(block.as_bytes());
            counter += 1;
        }
        stream.truncate(out.len());
        stream[0] &= first_byte_mask(bits);
        prop_assert_eq!(out, stream);
    }

    /// KDFa hashes the requested length, so a longer derivation does not extend a shorter one:
    /// eight bytes past the (maskable) first one already differ (a false failure has probability
/// 2^-64).
    #[test]
    fn kdfa_outputs_of_different_lengths_are_unrelated(
        alg in any_hash(),
        key in bytes(70),
        bits in 72u32..=2048,
        extra in 1u32..=256,
    ) {
        let mut short = vec![0u8; out_len(bits)];
        let mut long = vec![0u8; out_len(bits + extra)];
        kdfa(alg, &key, b"CFB", b"u", b"v", bits, &mut short).unwrap();
        kdfa(alg, &key, b"CFB", b"u", b"v", bits + extra, &mut long).unwrap();
        prop_assert_ne!(&short[1..9], &long[1..9]);
    }

    /// KDFe does not hash the length: a shorter output is the longer one's prefix, except that its
    /// first byte keeps only its own used bits.
    #[test]
    fn kdfe_shorter_output_is_the_masked_prefix_of_a_longer_one(
        alg in any_hash(),
        z in bytes(67),
        party_u in bytes(67),
        party_v in bytes(67),
        bits in 1u32..=2048,
        extra_bytes in 0usize..=64,
    ) {
        let mut short = vec![0u8; out_len(bits)];
        kdfe(alg, &z, b"SECRET", &party_u, &party_v, bits, &mut short).unwrap();
        prop_assert_eq!(short[0] & !first_byte_mask(bits), 0);

        let long_bits = (out_len(bits) + extra_bytes) as u32 * 8;
        let mut long = vec![0u8; out_len(long_bits)];
        kdfe(alg, &z, b"SECRET", &party_u, &party_v, long_bits, &mut long).unwrap();
        prop_assert_eq!(short[0], long[0] & first_byte_mask(bits));
        prop_assert_eq!(&short[1..], &long[1..short.len()]);
    }

    #[test]
    fn hmac_verify_rejects_every_single_bit_flip(
        alg in any_hash(),
        key in bytes(200),
        data in bytes(300),
        flip in any::<prop::sample::Index>(),
    ) {
        let mut ctx = HmacCtx::new(alg, &key);
        ctx.update(&data);
        let tag = hmac(alg, &key, &[&data]);
        prop_assert!(ctx.clone().verify(tag.as_bytes()));

        let bit = flip.index(tag.len() * 8);
        let mut flipped = tag.as_bytes().to_vec();
        flipped[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(!ctx.verify(&flipped));
    }
}
