//! Multiples of a fixed point with a precomputed comb (Lim–Lee; Handbook of Elliptic and
//! Hyperelliptic Curve Cryptography §13.1.3), over the curve crates' own group law.
//!
//! A salted session start with an ECC key makes two multiplications by one fresh secret scalar:
//! of the generator (the ephemeral public key) and of the TPM's key (the shared point). The
//! curve crates of the project's RustCrypto generation multiply with a 4-bit window built per
//! call and carry no precomputed tables, so each multiplication costs 256 doublings and about
//! 80 additions. With a comb of [`TEETH`] teeth per point one takes ⌈bits / TEETH⌉ doublings and
//! as many additions; the comb is built only for a point multiplied more than once
//! ([`ReusedPoint`]), since building it costs about a multiplication. The entries stay projective: this
//! generation's crates offer no batch inversion for their field elements, and inverting each
//! entry would cost more than affine (mixed) additions save.
//!
//! Constant time in the scalar: every table entry is read at every step (a conditional select),
//! the bits are read at positions that depend on nothing secret, and the curve crates' addition
//! formulas are complete (no special cases for doubling or the identity).

// Without `std` no comb is ever built (see `ReusedPoint`).
#![cfg_attr(not(feature = "std"), allow(dead_code))]

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

/// A fixed point that is multiplied by many secret scalars (a TPM key, a curve's generator),
/// with its comb built only once the point is reused: the comb costs about one multiplication
/// to build and saves a little over half of one each time, so a point multiplied once (one
/// salted session to a key, one encapsulation in a process) is cheaper without it. The first
/// multiplication is the curve crate's own; the second builds the comb and every later one uses
/// it. Which of the two runs depends only on how often the point was used, never on a scalar.
/// Without `std` there is no `OnceLock` to share a comb between threads, and every
/// multiplication is the curve crate's.
#[derive(Debug)]
pub(crate) struct ReusedPoint<C: CurveArithmetic> {
    point: C::ProjectivePoint,
    #[cfg(feature = "std")]
    comb: std::sync::OnceLock<Box<Comb<C>>>,
    #[cfg(feature = "std")]
    multiplied: core::sync::atomic::AtomicBool,
}

impl<C: CurveArithmetic> ReusedPoint<C> {
    /// `point`, with no comb yet.
    pub(crate) fn new(point: C::ProjectivePoint) -> Self {
        ReusedPoint {
            point,
            #[cfg(feature = "std")]
            comb: std::sync::OnceLock::new(),
            #[cfg(feature = "std")]
            multiplied: core::sync::atomic::AtomicBool::new(false),
        }
    }

    /// `scalar · P`.
    pub(crate) fn multiply(&self, scalar: &C::Scalar) -> C::ProjectivePoint {
        #[cfg(feature = "std")]
        {
            use core::sync::atomic::Ordering;
            if let Some(comb) = self.comb.get() {
                return comb.multiply(scalar);
            }
            // Only a count of uses: which thread builds the comb, or whether two threads both
            // multiply plainly once, changes no result.
            if self.multiplied.swap(true, Ordering::Relaxed) {
                return self
                    .comb
                    .get_or_init(|| Comb::new(self.point))
                    .multiply(scalar);
            }
        }
        self.point * scalar
    }

    /// Whether the comb has been built (for tests of when it is).
    #[cfg(all(test, feature = "std"))]
    pub(crate) fn has_comb(&self) -> bool {
        self.comb.get().is_some()
    }
}

impl<C: CurveArithmetic> Clone for ReusedPoint<C> {
    fn clone(&self) -> Self {
        ReusedPoint {
            point: self.point,
            #[cfg(feature = "std")]
            comb: self.comb.clone(),
            #[cfg(feature = "std")]
            multiplied: core::sync::atomic::AtomicBool::new(
                self.multiplied.load(core::sync::atomic::Ordering::Relaxed),
            ),
        }
    }
}

/// A curve whose generator is one [`ReusedPoint`] per process.
pub(crate) trait CombedCurve: CurveArithmetic {
    /// The curve's generator, shared by every recipient on the curve (with `std`; without it,
    /// a fresh one per call, which never builds a comb).
    fn generator() -> GeneratorPoint<Self>;
}

/// How a recipient holds its curve's generator: shared by the process where `std` provides a
/// `OnceLock`, its own otherwise.
#[cfg(feature = "std")]
pub(crate) type GeneratorPoint<C> = &'static ReusedPoint<C>;
/// How a recipient holds its curve's generator: shared by the process where `std` provides a
/// `OnceLock`, its own otherwise.
#[cfg(not(feature = "std"))]
pub(crate) type GeneratorPoint<C> = ReusedPoint<C>;

macro_rules! combed_curves {
    ($($curve:ty),+) => {$(
        impl CombedCurve for $curve {
            fn generator() -> GeneratorPoint<Self> {
                let generator = <$curve as CurveArithmetic>::ProjectivePoint::generator;
                #[cfg(feature = "std")]
                {
                    static GENERATOR: std::sync::OnceLock<ReusedPoint<$curve>> =
                        std::sync::OnceLock::new();
                    GENERATOR.get_or_init(|| ReusedPoint::new(generator()))
                }
                #[cfg(not(feature = "std"))]
                {
                    ReusedPoint::new(generator())
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

    #[cfg(feature = "std")]
    fn a_reused_point_multiplies_like_the_curve_crate_before_and_after_its_comb<
        C: CurveArithmetic,
    >() {
        let point = C::ProjectivePoint::generator() * C::Scalar::random(&mut OsRng);
        let reused = ReusedPoint::<C>::new(point);
        for use_count in 1..=4 {
            let scalar = C::Scalar::random(&mut OsRng);
            assert!(bool::from(
                reused.multiply(&scalar).ct_eq(&(point * scalar))
            ));
            // Built on the second use, not before: a point used once never pays for it.
            assert_eq!(reused.has_comb(), use_count >= 2, "use {use_count}");
        }
        // A copy keeps the comb (and a copy of an unused point does not build one early).
        assert!(reused.clone().has_comb());
        let fresh = ReusedPoint::<C>::new(point);
        let copy = fresh.clone();
        let scalar = C::Scalar::random(&mut OsRng);
        assert!(bool::from(copy.multiply(&scalar).ct_eq(&(point * scalar))));
        assert!(!copy.has_comb() && !fresh.has_comb());
    }

    #[cfg(feature = "std")]
    #[test]
    fn a_reused_point_builds_its_comb_on_the_second_use_on_every_curve() {
        a_reused_point_multiplies_like_the_curve_crate_before_and_after_its_comb::<p256::NistP256>(
        );
        a_reused_point_multiplies_like_the_curve_crate_before_and_after_its_comb::<p384::NistP384>(
        );
        a_reused_point_multiplies_like_the_curve_crate_before_and_after_its_comb::<p521::NistP521>(
        );
    }

    #[cfg(feature = "std")]
    #[test]
    fn threads_sharing_a_point_get_the_curve_crates_products() {
        let point = p256::ProjectivePoint::generator() * p256::Scalar::random(&mut OsRng);
        let reused = ReusedPoint::<p256::NistP256>::new(point);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..8 {
                        let scalar = p256::Scalar::random(&mut OsRng);
                        assert_eq!(reused.multiply(&scalar), point * scalar);
                    }
                });
            }
        });
        assert!(reused.has_comb());
    }

    #[test]
    fn a_comb_multiplies_like_the_curve_crates_on_every_curve() {
        agrees_with_the_curve_crate::<p256::NistP256>();
        agrees_with_the_curve_crate::<p384::NistP384>();
        agrees_with_the_curve_crate::<p521::NistP521>();
    }
}
