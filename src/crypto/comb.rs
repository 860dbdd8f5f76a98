//! Multiples of a fixed point with a precomputed comb (Lim–Lee; Handbook of Elliptic and
//! Hyperelliptic Curve Cryptography §13.1.3), over the curve crates' own group law.
//!
//! A salted session start with an ECC key makes two multiplications by one fresh secret scalar:
//! of the generator (the ephemeral public key) and of the TPM's key (the shared point). The
//! curve crates of the project's RustCrypto generation multiply with a 4-bit window built per
//! call and carry no precomputed tables, so each multiplication costs 256 doublings and about
//! 80 additions. With a comb of [`TEETH`] teeth per point, computed once per salt key, one takes
//! ⌈bits / TEETH⌉ doublings and as many additions. The entries stay projective: this
//! generation's crates offer no batch inversion for their field elements, and inverting each
//! entry would cost more than affine (mixed) additions save.
//!
//! Constant time in the scalar: every table entry is read at every step (a conditional select),
//! the bits are read at positions that depend on nothing secret, and the curve crates' addition
//! formulas are complete (no special cases for doubling or the identity).

use alloc::boxed::Box;
use p256::elliptic_curve::ff::PrimeField;
use p256::elliptic_curve::group::Group;
use p256::elliptic_curve::subtle::{ConditionallySelectable, ConstantTimeEq};
use p256::elliptic_curve::{CurveArithmetic, FieldBytes};
use zeroize::Zeroizing;

/// Bits of the scalar combined per table lookup: 2^TEETH entries, each step one doubling and
/// one addition. Five keeps a table at 32 points (3 KiB for P-256) and its construction near
/// one multiplication's cost.
const TEETH: usize = 5;
const ENTRIES: usize = 1 << TEETH;

/// The comb of one point `P`: entry `i` is `Σ 2^(j·columns)·P` over the bits `j` set in `i`.
#[derive(Clone, Debug)]
pub(crate) struct Comb<C: CurveArithmetic> {
    entries: [C::ProjectivePoint; ENTRIES],
    columns: usize,
}

impl<C: CurveArithmetic> Comb<C> {
    /// The comb of `point`.
    pub(crate) fn new(point: C::ProjectivePoint) -> Box<Self> {
        let columns = scalar_bits::<C>().div_ceil(TEETH);
        let mut teeth = [point; TEETH];
        for tooth in 1..TEETH {
            let mut spread = teeth[tooth - 1];
            for _ in 0..columns {
                spread = spread.double();
            }
            teeth[tooth] = spread;
        }
        let mut sums = [C::ProjectivePoint::identity(); ENTRIES];
        for index in 1..ENTRIES {
            let top = (usize::BITS - 1 - index.leading_zeros()) as usize;
            sums[index] = sums[index ^ (1 << top)] + teeth[top];
        }
        Box::new(Comb {
            entries: sums,
            columns,
        })
    }

    /// `scalar · P`.
    pub(crate) fn multiply(&self, scalar: &C::Scalar) -> C::ProjectivePoint {
        let bytes: Zeroizing<FieldBytes<C>> = Zeroizing::new(scalar.to_repr());
        // Bit `i` of the big-endian scalar; positions past its end are zero.
        let bit = |i: usize| -> u8 {
            match bytes.len().checked_sub(1 + i / 8) {
                Some(at) => (bytes[at] >> (i % 8)) & 1,
                None => 0,
            }
        };
        let mut sum = C::ProjectivePoint::identity();
        for column in (0..self.columns).rev() {
            sum = sum.double();
            let mut index = 0u8;
            for tooth in 0..TEETH {
                index |= bit(tooth * self.columns + column) << tooth;
            }
            let mut entry = self.entries[0];
            for (at, candidate) in self.entries.iter().enumerate().skip(1) {
                entry.conditional_assign(candidate, (at as u8).ct_eq(&index));
            }
            sum += entry;
        }
        sum
    }
}

/// How a recipient holds its curve's generator comb: one per process where `std` provides a
/// `OnceLock`, one per recipient otherwise.
#[cfg(feature = "std")]
pub(crate) type GeneratorComb<C> = &'static Comb<C>;
/// How a recipient holds its curve's generator comb: one per process where `std` provides a
/// `OnceLock`, one per recipient otherwise.
#[cfg(not(feature = "std"))]
pub(crate) type GeneratorComb<C> = Box<Comb<C>>;

/// A curve whose generator's comb is shared.
pub(crate) trait CombedCurve: CurveArithmetic {
    /// The comb of the curve's generator.
    fn generator_comb() -> GeneratorComb<Self>;
}

macro_rules! combed_curves {
    ($($curve:ty),+) => {$(
        impl CombedCurve for $curve {
            fn generator_comb() -> GeneratorComb<Self> {
                let generator = <$curve as CurveArithmetic>::ProjectivePoint::generator;
                #[cfg(feature = "std")]
                {
                    static COMB: std::sync::OnceLock<Box<Comb<$curve>>> =
                        std::sync::OnceLock::new();
                    &**COMB.get_or_init(|| Comb::new(generator()))
                }
                #[cfg(not(feature = "std"))]
                {
                    Comb::new(generator())
                }
            }
        }
    )+};
}

combed_curves!(p256::NistP256, p384::NistP384, p521::NistP521);

fn scalar_bits<C: CurveArithmetic>() -> usize {
    FieldBytes::<C>::default().len() * 8
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::elliptic_curve::Field;
    use rand_core::OsRng;

    fn agrees_with_the_curve_crate<C: CurveArithmetic>() {
        let generator = C::ProjectivePoint::generator();
        let other = generator * C::Scalar::random(&mut OsRng);
        let minus_one = -C::Scalar::ONE;
        let two_to_the_columns = {
            let mut s = C::Scalar::ONE;
            for _ in 0..scalar_bits::<C>().div_ceil(TEETH) {
                s = s.double();
            }
            s
        };
        for point in [generator, other] {
            let comb = Comb::<C>::new(point);
            let mut scalars = alloc::vec![
                C::Scalar::ZERO,
                C::Scalar::ONE,
                minus_one,
                two_to_the_columns,
                two_to_the_columns - C::Scalar::ONE,
            ];
            scalars.extend((0..20).map(|_| C::Scalar::random(&mut OsRng)));
            for scalar in scalars {
                assert!(bool::from(comb.multiply(&scalar).ct_eq(&(point * scalar))));
            }
        }
    }

    #[test]
    fn a_comb_multiplies_like_the_curve_crates_on_every_curve() {
        agrees_with_the_curve_crate::<p256::NistP256>();
        agrees_with_the_curve_crate::<p384::NistP384>();
        agrees_with_the_curve_crate::<p521::NistP521>();
    }
}
