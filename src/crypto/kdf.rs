//! KDFa and KDFe (TPM 2.0 Part 1 §11.4.10.2 and §11.4.10.3).

use zeroize::Zeroizing;

use super::{label_needs_nul, Block, CryptoError, HashAlg, Hasher, HmacCtx};

/// Output bytes for `bits`, checked against the caller's buffer.
fn output_len(bits: u32, out_len: usize) -> Result<usize, CryptoError> {
    // u32 bits always fit in usize on the platforms Rust targets with std.
    let expected = (bits as usize).div_ceil(8);
    if out_len != expected {
        return Err(CryptoError::BadLength {
            what: "KDF output buffer",
            expected,
            actual: out_len,
        });
    }
    Ok(expected)
}

/// The spec's KDF outputs are a bit string of `bits` bits, right-aligned in whole bytes: the
/// unused high bits of the first byte are zero.
fn clear_unused_bits(bits: u32, out: &mut [u8]) {
    let used = bits % 8;
    if used != 0 {
        if let Some(first) = out.first_mut() {
            *first &= (1u8 << used) - 1;
        }
    }
}

/// Generates the KDFa key stream of `ceil(bits / 8)` bytes (unmasked) block by block and hands
/// each block with its offset to `sink`, so callers can copy or XOR it without a heap buffer.
pub(crate) fn kdfa_stream(
    alg: HashAlg,
    key: &[u8],
    label: &[u8],
    context_u: &[u8],
    context_v: &[u8],
    bits: u32,
    sink: impl FnMut(usize, &[u8]),
) {
    let keyed = HmacCtx::new(alg, key);
    let len = (bits as usize).div_ceil(8);
    counter_blocks(alg, len, sink, |counter, block| {
        let mut mac = keyed.clone();
        mac.update(&counter.to_be_bytes());
        mac.update(label);
        if label_needs_nul(label) {
            mac.update(&[0]);
        }
        mac.update(context_u);
        mac.update(context_v);
        mac.update(&bits.to_be_bytes());
        mac.finalize_into(block);
    });
}

/// The counter-mode loop both KDFs share: block `counter` (from 1) is made by `make_block`,
/// and the first `len` bytes of the blocks go to `sink` with their offsets.
fn counter_blocks(
    alg: HashAlg,
    len: usize,
    mut sink: impl FnMut(usize, &[u8]),
    mut make_block: impl FnMut(u32, &mut Block),
) {
    let digest_size = alg.digest_size();
    let mut block: Zeroizing<Block> = Zeroizing::new([0; super::MAX_DIGEST_SIZE]);
    let mut counter: u32 = 0;
    let mut offset = 0;
    while offset < len {
        // Cannot overflow: `len` is at most ceil(u32::MAX / 8) bytes, far fewer than 2^32 blocks.
        counter += 1;
        make_block(counter, &mut block);
        let take = digest_size.min(len - offset);
        sink(offset, &block[..take]);
        offset += take;
    }
}

/// KDFa: SP800-108 counter-mode KDF with HMAC-`alg`, as the TPM uses it.
///
/// Each block is `HMAC(key, counter ‖ label ‖ 0x00 ‖ context_u ‖ context_v ‖ bits)` with 32-bit
/// big-endian counter (from 1) and `bits`. `label` is given without its terminating NUL (one
/// already present is not doubled). Writes `ceil(bits / 8)` bytes into `out`, whose length must
/// be exactly that; when `bits % 8 != 0` the unused high bits of `out[0]` are cleared.
pub fn kdfa(
    alg: HashAlg,
    key: &[u8],
    label: &[u8],
    context_u: &[u8],
    context_v: &[u8],
    bits: u32,
    out: &mut [u8],
) -> Result<(), CryptoError> {
    output_len(bits, out.len())?;
    kdfa_stream(
        alg,
        key,
        label,
        context_u,
        context_v,
        bits,
        |offset, chunk| out[offset..offset + chunk.len()].copy_from_slice(chunk),
    );
    clear_unused_bits(bits, out);
    Ok(())
}

/// KDFe: SP800-56A concatenation KDF with `alg`, as the TPM uses it for ECDH-derived secrets.
///
/// Each block is `H(counter ‖ z ‖ label ‖ 0x00 ‖ party_u ‖ party_v)` with a 32-bit big-endian
/// counter from 1; `bits` is not hashed, so shorter outputs are prefixes of longer ones (up to
/// the masking of the first byte). Label and output rules as for [`kdfa`].
pub fn kdfe(
    alg: HashAlg,
    z: &[u8],
    label: &[u8],
    party_u: &[u8],
    party_v: &[u8],
    bits: u32,
    out: &mut [u8],
) -> Result<(), CryptoError> {
    let len = output_len(bits, out.len())?;
    counter_blocks(
        alg,
        len,
        |offset, chunk| out[offset..offset + chunk.len()].copy_from_slice(chunk),
        |counter, block| {
            let mut h = Hasher::new(alg);
            h.update(&counter.to_be_bytes());
            h.update(z);
            h.update(label);
            if label_needs_nul(label) {
                h.update(&[0]);
            }
            h.update(party_u);
            h.update(party_v);
            h.finalize_into(block);
        },
    );
    clear_unused_bits(bits, out);
    Ok(())
}
