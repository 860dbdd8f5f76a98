//! probe
use tpm2_wire::ek::*;
use tpm2_wire::sim::Swtpm;
use tpm2_wire::Tpm;

#[test]
fn probe() {
    let (sim, ca) = Swtpm::spawn_with_ek_certs().unwrap();
    let tpm = Tpm::new(Box::new(sim.transport().unwrap()));
    let bundle = CaBundle::from_files(&[&ca.root_cert, &ca.intermediate_cert]).unwrap();
    for alg in [EkAlg::Rsa, EkAlg::Ecc] {
        let ek = VerifiedEk::create(&tpm, alg, &bundle).unwrap();
        println!("{alg}: {} {:?}", ek.template(), ek.chain());
        let (_, persisted) = tpm
            .read_public(if alg == EkAlg::Rsa {
                0x8101_0001.into()
            } else {
                0x8101_0016.into()
            })
            .unwrap();
        assert_eq!(&persisted, ek.public());
    }
}
