//! Arbitrary wire values (feature `arbitrary`) round-trip: the property the `wire_roundtrip`
//! fuzz target checks, run here on stable over a few thousand pseudo-random inputs.

mod roundtrip;

use roundtrip::{round_trip, CASES};

/// Deterministic pseudo-random bytes (xorshift64), so a failure reproduces.
struct Bytes(u64);

impl Bytes {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn fill(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Inputs per case: short ones (most of a structure's fields) and long ones (buffers filled
/// to their capacity, lists to their maximum count).
const PER_CASE: usize = 40;

#[test]
fn every_case_is_reachable_from_the_first_byte() {
    assert!(CASES.len() <= 256, "{} cases", CASES.len());
    for (i, (name, _)) in CASES.iter().enumerate() {
        assert_eq!(round_trip(&[i as u8]), Some(*name));
    }
    assert_eq!(round_trip(&[]), None);
}

#[test]
fn arbitrary_values_marshal_and_read_back() {
    let mut rng = Bytes(0x2545_F491_4F6C_DD1D);
    let mut runs = 0;
    for (i, (name, _)) in CASES.iter().enumerate() {
        for j in 0..PER_CASE {
            let len = match j % 4 {
                0 => rng.next() as usize % 16,
                1 | 2 => rng.next() as usize % 512,
                _ => rng.next() as usize % 12_000,
            };
            let mut data = vec![i as u8];
            data.extend(rng.fill(len));
            assert_eq!(round_trip(&data), Some(*name));
            runs += 1;
        }
        // Inputs with no entropy at all: zeros, and all ones (every length at its largest).
        for fill in [0x00, 0xFF] {
            let mut data = vec![fill; 9000];
            data[0] = i as u8;
            round_trip(&data);
            runs += 1;
        }
    }
    assert!(runs >= 4000, "{runs} inputs");
}

/// Inputs the fuzz target found, with the case they ran (the selector byte depends on how
/// many cases there are, so it is looked up by name).
const FOUND: &[(&str, &[u8])] = &[
    // An error response tagged TPM_ST_SESSIONS: a bare header, with no parameter size.
    (
        "ResponseFrame",
        &[
            0x28, 0x1d, 0x28, 0x1d, 0x98, 0x01, 0x01, 0xf1, 0x70, 0x70, 0x70, 0x70,
        ],
    ),
];

#[test]
fn inputs_the_fuzzer_found_still_round_trip() {
    for (name, rest) in FOUND {
        let i = CASES.iter().position(|(n, _)| n == name).unwrap();
        let mut data = vec![i as u8];
        data.extend_from_slice(rest);
        assert_eq!(round_trip(&data), Some(*name));
    }
}
