//! `tpm2-wire policy or|authorize|secret|…` against the tpm2-tools tool of the same name:
//! (a) both give the same digest for the same inputs on trial sessions, (b) they take turns
//! on one session file in either order, ending at the digest `PolicyCalculator` computes.

mod cli_common;

use cli_common::{hex, is_hex, Env};
use tpm2_wire::crypto::HashAlg;
use tpm2_wire::session::policy::PolicyCalculator;
use tpm2_wire::wire::{
    ArithmeticOp, Digest, LocalityAttributes, Name, Nonce, Operand, StructureTag, Ticket,
};

/// One tool: its tpm2-tools name, the arguments both take after `-S FILE`, and what it does to
/// a policy digest.
struct Case<'a> {
    tool: &'a str,
    args: &'a [&'a str],
    /// Our arguments where they differ from the tool's.
    our_args: Option<&'a [&'a str]>,
    /// Needs a real policy session (a trial one is refused).
    real: bool,
    calc: &'a dyn Fn(&mut PolicyCalculator),
}

impl<'a> Case<'a> {
    /// A case the tool and we run the same way, on trial sessions.
    fn trial(
        tool: &'a str,
        args: &'a [&'a str],
        calc: &'a dyn Fn(&mut PolicyCalculator),
    ) -> Case<'a> {
        Case {
            tool,
            args,
            our_args: None,
            real: false,
            calc,
        }
    }
}

fn digest_of(out: &str) -> String {
    let d = out.trim_end().to_string();
    assert!(is_hex(&d, 64), "{out:?}");
    d
}

/// `-S FILE -L OUT ARGS…`: the tool's own arguments last, as tpm2_policyduplicationselect
/// forgets `--include-object` when any option follows it.
fn with_session<'a>(file: &'a str, args: &[&'a str], out: &'a str) -> Vec<&'a str> {
    let mut v = vec!["-S", file, "-L", out];
    v.extend_from_slice(args);
    v
}

fn check(env: &Env, case: &Case) {
    let sub = case.tool.strip_prefix("tpm2_policy").unwrap();
    let ours = |file: &str, out: &str| -> String {
        let mut args = vec!["policy", sub];
        args.extend(with_session(file, case.our_args.unwrap_or(case.args), out));
        let printed = digest_of(&env.ok(&args));
        assert_eq!(hex(&env.read(out)), printed, "{sub}: -L and stdout differ");
        printed
    };
    let theirs = |file: &str, out: &str| {
        env.tool_ok(case.tool, &with_session(file, case.args, out));
        // No resource manager: a tool leaves the objects it loaded behind.
        env.tool_ok("tpm2_flushcontext", &["-t"]);
        hex(&env.read(out))
    };

    let (tool_start, our_start): (&[&str], &[&str]) = if case.real {
        (
            &["--policy-session"],
            &["session", "start", "--policy-session"],
        )
    } else {
        (&[], &["session", "start"])
    };
    let start_tool = |file| {
        let mut args = tool_start.to_vec();
        args.extend(["-S", file]);
        env.tool_ok("tpm2_startauthsession", &args);
    };
    let start_ours = |file| {
        let mut args = our_start.to_vec();
        args.extend(["-S", file]);
        env.ok(&args);
    };

    // (a) The same inputs on fresh trial sessions.
    start_tool("t.ctx");
    let tools = theirs("t.ctx", "t.dig");
    start_ours("w.ctx");
    let wire = ours("w.ctx", "w.dig");
    assert_eq!(wire, tools, "{sub}: digest differs from {}", case.tool);
    let mut alone = PolicyCalculator::new(HashAlg::Sha256);
    (case.calc)(&mut alone);
    assert_eq!(
        wire,
        hex(alone.digest().as_bytes()),
        "{sub}: not the offline digest"
    );

    // (b1) tpm2-tools starts and goes first, we follow, tpm2-tools reads the digest.
    start_tool("b1.ctx");
    env.tool_ok("tpm2_policypassword", &["-S", "b1.ctx"]);
    let wire = ours("b1.ctx", "b1.dig");
    let read = env.tool_ok("tpm2_getpolicydigest", &["-S", "b1.ctx"]);
    let mut expected = PolicyCalculator::new(HashAlg::Sha256);
    expected.policy_password();
    (case.calc)(&mut expected);
    assert_eq!(hex(&read), wire);
    assert_eq!(
        wire,
        hex(expected.digest().as_bytes()),
        "{sub} after tpm2-tools"
    );

    // (b2) We start and go first, tpm2-tools follows, we read the digest.
    start_ours("b2.ctx");
    ours("b2.ctx", "b2.dig");
    // Not PolicyCommandCode: PolicyDuplicationSelect fixes the command code already.
    env.tool_ok("tpm2_policyauthvalue", &["-S", "b2.ctx"]);
    let read = digest_of(&env.ok(&["policy", "digest", "-S", "b2.ctx"]));
    let mut expected = PolicyCalculator::new(HashAlg::Sha256);
    (case.calc)(&mut expected);
    expected.policy_auth_value();
    assert_eq!(
        read,
        hex(expected.digest().as_bytes()),
        "{sub} before tpm2-tools"
    );

    for f in ["t.ctx", "w.ctx", "b1.ctx", "b2.ctx"] {
        env.tool_ok("tpm2_flushcontext", &[f]);
    }
}

fn digest_file(env: &Env, file: &str, fill: u8) -> Digest {
    std::fs::write(env.path(file), [fill; 32]).unwrap();
    Digest::new(&[fill; 32]).unwrap()
}

fn name_file(env: &Env, file: &str, fill: u8) -> Name {
    let mut bytes = vec![0x00, 0x0b];
    bytes.extend_from_slice(&[fill; 32]);
    std::fs::write(env.path(file), &bytes).unwrap();
    Name::new(&bytes).unwrap()
}

#[test]
fn or_and_authorize() {
    let env = Env::new();
    let (a, b, c) = (
        digest_file(&env, "a.bin", 1),
        digest_file(&env, "b.bin", 2),
        digest_file(&env, "c.bin", 3),
    );
    let branches = [a.clone(), b.clone(), c];
    check(
        &env,
        &Case::trial("tpm2_policyor", &["-l", "sha256:a.bin,b.bin,c.bin"], &|p| {
            p.policy_or(&branches).unwrap();
        }),
    );
    // Two lists make one.
    env.ok(&["session", "start", "-S", "s.ctx"]);
    let two = digest_of(&env.ok(&[
        "policy",
        "or",
        "-S",
        "s.ctx",
        "-l",
        "sha256:a.bin",
        "sha256:b.bin,c.bin",
    ]));
    let mut expected = PolicyCalculator::new(HashAlg::Sha256);
    expected.policy_or(&branches).unwrap();
    assert_eq!(two, hex(expected.digest().as_bytes()));

    let key = name_file(&env, "key.name", 9);
    std::fs::write(env.path("ref.bin"), b"qualifier").unwrap();
    check(
        &env,
        &Case::trial(
            "tpm2_policyauthorize",
            &["-i", "a.bin", "-q", "ref.bin", "-n", "key.name"],
            &|p| {
                p.policy_authorize_name(&key, &Nonce::new(b"qualifier").unwrap());
            },
        ),
    );
    // The qualification as hex.
    check(
        &env,
        &Case::trial(
            "tpm2_policyauthorize",
            &["-i", "b.bin", "-q", "0102ff", "-n", "key.name"],
            &|p| {
                p.policy_authorize_name(&key, &Nonce::new(&[1, 2, 0xff]).unwrap());
            },
        ),
    );

    // Refused before the TPM sees them, the session file still good: too few branches, a
    // branch of the wrong size, another hash, a file that is not a ticket.
    let before = digest_of(&env.ok(&["policy", "digest", "-S", "s.ctx"]));
    std::fs::write(env.path("short.bin"), [0u8; 20]).unwrap();
    let refusals: [(&str, &[&str], &[&str]); 5] = [
        ("or", &["-l", "sha256:a.bin"], &["at least 2"]),
        (
            "or",
            &["-l", "sha256:a.bin,short.bin"],
            &["short.bin: 20 bytes"],
        ),
        (
            "or",
            &["-l", "sha1:short.bin,short.bin"],
            &["sha1", "sha256"],
        ),
        (
            "authorize",
            &["-i", "a.bin", "-n", "key.name", "-t", "a.bin"],
            &["a.bin"],
        ),
        (
            "authorize",
            &["-i", "a.bin", "-n", "key.name", "-q", "zz"],
            &["neither a file nor a hex"],
        ),
    ];
    for (tool, args, why) in refusals {
        let mut all = vec!["policy", tool, "-S", "s.ctx"];
        all.extend_from_slice(args);
        let err = env.fails(&all);
        assert!(
            why.iter().all(|w| err.contains(w)),
            "{tool} {args:?}: {err}"
        );
    }
    assert_eq!(
        digest_of(&env.ok(&["policy", "digest", "-S", "s.ctx"])),
        before
    );
    env.tool_ok("tpm2_flushcontext", &["s.ctx"]);
}

#[test]
fn authorize_with_a_real_ticket() {
    let env = Env::new();
    // A signing key, a policy it approves and the TPM's ticket for that signature.
    env.tool_ok(
        "tpm2_createprimary",
        &[
            "-C",
            "o",
            "-G",
            "ecc",
            "-a",
            "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign",
            "-c",
            "key.ctx",
        ],
    );
    // No resource manager: each tool leaves the key it loaded behind.
    env.tool_ok("tpm2_flushcontext", &["-t"]);
    env.tool_ok("tpm2_readpublic", &["-c", "key.ctx", "-n", "key.name"]);
    env.tool_ok("tpm2_flushcontext", &["-t"]);
    env.tool_ok("tpm2_startauthsession", &["-S", "t.ctx"]);
    env.tool_ok(
        "tpm2_policycommandcode",
        &["-S", "t.ctx", "TPM2_CC_Unseal", "-L", "approved.pol"],
    );
    env.tool_ok("tpm2_flushcontext", &["t.ctx"]);
    let mut tbs = env.read("approved.pol");
    tbs.extend_from_slice(b"ref");
    std::fs::write(env.path("tbs.bin"), &tbs).unwrap();
    std::fs::write(env.path("ref.bin"), b"ref").unwrap();
    env.tool_ok(
        "tpm2_sign",
        &["-c", "key.ctx", "-g", "sha256", "-o", "sig.bin", "tbs.bin"],
    );
    env.tool_ok("tpm2_flushcontext", &["-t"]);
    env.tool_ok(
        "tpm2_verifysignature",
        &[
            "-c",
            "key.ctx",
            "-g",
            "sha256",
            "-m",
            "tbs.bin",
            "-s",
            "sig.bin",
            "-t",
            "verified.tkt",
        ],
    );
    // A real policy session in the approved state, authorized with the ticket.
    env.ok(&["session", "start", "--policy-session", "-S", "p.ctx"]);
    env.ok(&["policy", "commandcode", "-S", "p.ctx", "TPM2_CC_Unseal"]);
    let ours = digest_of(&env.ok(&[
        "policy",
        "authorize",
        "-S",
        "p.ctx",
        "-i",
        "approved.pol",
        "-q",
        "ref.bin",
        "-n",
        "key.name",
        "-t",
        "verified.tkt",
    ]));
    let name = Name::new(&env.read("key.name")).unwrap();
    let mut expected = PolicyCalculator::new(HashAlg::Sha256);
    expected.policy_authorize_name(&name, &Nonce::new(b"ref").unwrap());
    assert_eq!(ours, hex(expected.digest().as_bytes()));
    // A policy the key did not approve: the TPM refuses the ticket.
    env.ok(&["session", "start", "--policy-session", "-S", "q.ctx"]);
    env.ok(&["policy", "commandcode", "-S", "q.ctx", "TPM2_CC_Unseal"]);
    env.fails(&[
        "policy",
        "authorize",
        "-S",
        "q.ctx",
        "-i",
        "approved.pol",
        "-q",
        "0102",
        "-n",
        "key.name",
        "-t",
        "verified.tkt",
    ]);
    env.tool_ok("tpm2_flushcontext", &["p.ctx"]);
    env.tool_ok("tpm2_flushcontext", &["q.ctx"]);
}

#[test]
fn secret() {
    let env = Env::new();
    let owner = tpm2_wire::command::Entity::owner().name;
    check(
        &env,
        &Case::trial("tpm2_policysecret", &["-c", "o"], &|p| {
            p.policy_secret(&owner, &[]);
        }),
    );
    // With an owner password (not dictionary-attack protected, so a wrong one cannot lock
    // the TPM out), a qualification, and a ticket asked for.
    env.tool_ok("tpm2_changeauth", &["-c", "o", "ownerpass"]);
    check(
        &env,
        &Case::trial(
            "tpm2_policysecret",
            &["-c", "owner", "-q", "abcd", "ownerpass"],
            &|p| {
                p.policy_secret(&owner, &[0xab, 0xcd]);
            },
        ),
    );
    env.ok(&["session", "start", "--policy-session", "-S", "p.ctx"]);
    // `--timeout` before the subcommand is the command timeout, after it the timeout file.
    env.ok(&[
        "--timeout",
        "30",
        "policy",
        "secret",
        "-S",
        "p.ctx",
        "-c",
        "o",
        "-x",
        "-t",
        "-60",
        "--ticket",
        "s.tkt",
        "--timeout",
        "s.tmo",
        "hex:6f776e657270617373",
    ]);
    // TPM_ST_AUTH_SECRET, owner hierarchy, an HMAC (of the TPM's proof hash) filling the rest.
    let ticket = env.read("s.tkt");
    assert_eq!(&ticket[..6], &[0x80, 0x23, 0x40, 0, 0, 1]);
    let size = u16::from_be_bytes([ticket[6], ticket[7]]) as usize;
    assert!(size >= 32 && ticket.len() == 8 + size, "{ticket:?}");
    assert_eq!(env.read("s.tmo").len(), 8);
    let before = digest_of(&env.ok(&["policy", "digest", "-S", "p.ctx"]));
    let err = env.fails(&["policy", "secret", "-S", "p.ctx", "-c", "o", "wrong"]);
    assert!(err.contains("TPM_RC_BAD_AUTH"), "{err}");
    assert_eq!(
        digest_of(&env.ok(&["policy", "digest", "-S", "p.ctx"])),
        before
    );
    env.tool_ok("tpm2_flushcontext", &["p.ctx"]);
    env.tool_ok("tpm2_changeauth", &["-c", "o", "-p", "ownerpass"]);
}

#[test]
fn comparisons_hashes_and_flags() {
    let env = Env::new();
    let time = |n: u64| Operand::new(&n.to_be_bytes()).unwrap();
    check(
        &env,
        &Case::trial("tpm2_policycountertimer", &["--ult", "60000"], &|p| {
            p.policy_counter_timer(&time(60000), 0, ArithmeticOp::UNSIGNED_LT);
        }),
    );
    check(
        &env,
        &Case::trial("tpm2_policycountertimer", &["safe"], &|p| {
            p.policy_counter_timer(&Operand::new(&[1]).unwrap(), 24, ArithmeticOp::EQ);
        }),
    );
    check(
        &env,
        &Case::trial("tpm2_policycountertimer", &["--neq", "resets=3"], &|p| {
            let three = Operand::new(&3u32.to_be_bytes()).unwrap();
            p.policy_counter_timer(&three, 16, ArithmeticOp::NEQ);
        }),
    );
    check(
        &env,
        &Case::trial("tpm2_policycountertimer", &["--sge", "clock=5"], &|p| {
            p.policy_counter_timer(&time(5), 8, ArithmeticOp::SIGNED_GE);
        }),
    );
    let d = digest_file(&env, "d.bin", 7);
    // The cpHash file is a TPM2B_DIGEST, as `--cphash` of the other tools writes it.
    let mut cp = vec![0, 32];
    cp.extend_from_slice(d.as_bytes());
    std::fs::write(env.path("cp.bin"), cp).unwrap();
    check(
        &env,
        &Case::trial("tpm2_policycphash", &["--cphash-input", "cp.bin"], &|p| {
            p.policy_cp_hash(&d).unwrap();
        }),
    );
    check(
        &env,
        &Case::trial("tpm2_policynamehash", &["-n", "d.bin"], &|p| {
            p.policy_name_hash(&d).unwrap();
        }),
    );
    check(
        &env,
        &Case::trial("tpm2_policytemplate", &["--template-hash", "d.bin"], &|p| {
            p.policy_template_hash(&d).unwrap();
        }),
    );
    for (arg, byte) in [("three", 8), ("zero", 1), ("3", 3), ("200", 200)] {
        check(
            &env,
            &Case::trial("tpm2_policylocality", &[arg], &|p| {
                p.policy_locality(LocalityAttributes(byte));
            }),
        );
    }
    for (arg, set) in [("s", true), ("c", false), ("1", true), ("0", false)] {
        check(
            &env,
            &Case::trial("tpm2_policynvwritten", &[arg], &|p| {
                p.policy_nv_written(set);
            }),
        );
    }
    let (object, parent) = (name_file(&env, "o.name", 4), name_file(&env, "p.name", 5));
    for include in [false, true] {
        let args: &[&str] = if include {
            &["-n", "o.name", "-N", "p.name", "--include-object"]
        } else {
            &["-n", "o.name", "-N", "p.name"]
        };
        check(
            &env,
            &Case {
                tool: "tpm2_policyduplicationselect",
                args,
                real: false,
                our_args: None,
                calc: &|p| {
                    p.policy_duplication_select(&object, &parent, include);
                },
            },
        );
    }

    // Wrong inputs: refused with what is wrong, the session untouched.
    env.ok(&["session", "start", "-S", "s.ctx"]);
    let err = env.fails(&["policy", "cphash", "-S", "s.ctx", "--cphash-input", "d.bin"]);
    assert!(err.contains("d.bin: not a TPM2B_DIGEST"), "{err}");
    let mut short = vec![0, 20];
    short.extend_from_slice(&[0; 20]);
    std::fs::write(env.path("short.bin"), short).unwrap();
    let err = env.fails(&[
        "policy",
        "cphash",
        "-S",
        "s.ctx",
        "--cphash-input",
        "short.bin",
    ]);
    assert!(err.contains("20 bytes"), "{err}");
    let err = env.fails(&[
        "policy",
        "template",
        "-S",
        "s.ctx",
        "--template-hash",
        "a.bin",
    ]);
    assert!(err.contains("a.bin"), "{err}");
    let err = env.fails(&["policy", "locality", "-S", "s.ctx", "five"]);
    assert!(err.contains("five"), "{err}");
    let err = env.fails(&["policy", "nvwritten", "-S", "s.ctx", "yes"]);
    assert!(err.contains("yes"), "{err}");
    let err = env.fails(&["policy", "countertimer", "-S", "s.ctx", "resets=4294967296"]);
    assert!(err.contains("32 bits"), "{err}");
    env.fails(&[
        "policy",
        "countertimer",
        "-S",
        "s.ctx",
        "--eq",
        "--neq",
        "1",
    ]);
    std::fs::write(env.path("bad.name"), [0u8; 5]).unwrap();
    let err = env.fails(&[
        "policy",
        "duplicationselect",
        "-S",
        "s.ctx",
        "-n",
        "bad.name",
        "-N",
        "p.name",
    ]);
    assert!(err.contains("bad.name"), "{err}");
    let zeros = "0".repeat(64);
    assert_eq!(
        digest_of(&env.ok(&["policy", "digest", "-S", "s.ctx"])),
        zeros
    );
    env.tool_ok("tpm2_flushcontext", &["s.ctx"]);
}

/// The name `tpm2_nvreadpublic` reports for an index.
fn nv_name(env: &Env, index: &str) -> Name {
    let out = String::from_utf8(env.tool_ok("tpm2_nvreadpublic", &[index])).unwrap();
    let line = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("name: "))
        .unwrap_or_else(|| panic!("no name in {out}"));
    let bytes: Vec<u8> = (0..line.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&line[i..i + 2], 16).unwrap())
        .collect();
    Name::new(&bytes).unwrap()
}

#[test]
fn nv_and_authorizenv() {
    let env = Env::new();
    let attrs = "ownerread|ownerwrite|authread|authwrite";
    // An index holding 8 bytes, another holding a policy (TPMT_HA), both written (which
    // changes their names, so before they are read).
    env.tool_ok(
        "tpm2_nvdefine",
        &["0x01000002", "-C", "o", "-s", "8", "-a", attrs],
    );
    std::fs::write(env.path("data.bin"), [0, 0, 0, 0, 0, 0, 1, 0]).unwrap();
    env.tool_ok("tpm2_nvwrite", &["0x01000002", "-C", "o", "-i", "data.bin"]);
    env.tool_ok(
        "tpm2_nvdefine",
        &[
            "0x01000003",
            "-C",
            "o",
            "-s",
            "34",
            "-a",
            attrs,
            "-p",
            "nvpass",
        ],
    );
    let mut ha = vec![0x00, 0x0b];
    ha.extend_from_slice(&[6; 32]);
    std::fs::write(env.path("ha.bin"), &ha).unwrap();
    env.tool_ok("tpm2_nvwrite", &["0x01000003", "-C", "o", "-i", "ha.bin"]);
    let data = nv_name(&env, "0x01000002");
    let policy = nv_name(&env, "0x01000003");
    std::fs::write(env.path("op.bin"), [0, 0, 0, 0, 0, 0, 1, 0]).unwrap();
    std::fs::write(env.path("op2.bin"), [0, 0, 2]).unwrap();
    let op = Operand::new(&[0, 0, 0, 0, 0, 0, 1, 0]).unwrap();
    let op2 = Operand::new(&[0, 0, 2]).unwrap();

    check(
        &env,
        &Case::trial(
            "tpm2_policynv",
            &["-i", "op.bin", "0x01000002", "eq"],
            &|p| {
                p.policy_nv(&data, &op, 0, ArithmeticOp::EQ);
            },
        ),
    );
    check(
        &env,
        &Case::trial(
            "tpm2_policynv",
            &["-C", "o", "-i", "op2.bin", "--offset", "5", "2", "ult"],
            &|p| {
                p.policy_nv(&data, &op2, 5, ArithmeticOp::UNSIGNED_LT);
            },
        ),
    );
    check(
        &env,
        &Case::trial("tpm2_policyauthorizenv", &["-P", "nvpass", "3"], &|p| {
            p.policy_authorize_nv(&policy);
        }),
    );
    check(
        &env,
        &Case::trial("tpm2_policyauthorizenv", &["-C", "o", "0x01000003"], &|p| {
            p.policy_authorize_nv(&policy);
        }),
    );

    // Refused: an unknown comparison, a handle outside the NV range, an index
    // that does not exist; the session file survives each.
    env.ok(&["session", "start", "-S", "s.ctx"]);
    let err = env.fails(&["policy", "nv", "-S", "s.ctx", "-i", "op.bin", "2", "lt"]);
    assert!(err.contains("\"lt\""), "{err}");
    let err = env.fails(&["policy", "authorizenv", "-S", "s.ctx", "0x81000001"]);
    assert!(err.contains("not an NV index"), "{err}");
    let err = env.fails(&["policy", "authorizenv", "-S", "s.ctx", "9"]);
    assert!(err.contains("NV_ReadPublic"), "{err}");
    let zeros = "0".repeat(64);
    assert_eq!(
        digest_of(&env.ok(&["policy", "digest", "-S", "s.ctx"])),
        zeros
    );
    env.tool_ok("tpm2_flushcontext", &["s.ctx"]);
}

/// An unrestricted ECC signing key in key.ctx, its name in key.name.
fn signing_key(env: &Env) -> Name {
    let attrs = "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign";
    let args = ["-C", "o", "-G", "ecc", "-a", attrs, "-c", "key.ctx"];
    env.tool_ok("tpm2_createprimary", &args);
    env.tool_ok("tpm2_flushcontext", &["-t"]);
    env.tool_ok("tpm2_readpublic", &["-c", "key.ctx", "-n", "key.name"]);
    env.tool_ok("tpm2_flushcontext", &["-t"]);
    Name::new(&env.read("key.name")).unwrap()
}

/// Signs (expiration ‖ cpHash ‖ policyRef) with key.ctx, no nonce: what PolicySigned checks.
fn sign_terms(env: &Env, expiration: i32, policy_ref: &[u8], out: &str) {
    let mut message = expiration.to_be_bytes().to_vec();
    message.extend_from_slice(policy_ref);
    std::fs::write(env.path("msg.bin"), message).unwrap();
    env.tool_ok(
        "tpm2_sign",
        &["-c", "key.ctx", "-g", "sha256", "-o", out, "msg.bin"],
    );
    env.tool_ok("tpm2_flushcontext", &["-t"]);
}

/// What PolicySigned (or a ticket of it) by `key` with `policy_ref` leaves.
fn signed_by(p: &mut PolicyCalculator, key: &Name, policy_ref: &[u8]) {
    let signed = Ticket::null(StructureTag::AUTH_SIGNED);
    p.policy_ticket(&signed, key, &Nonce::new(policy_ref).unwrap())
        .unwrap();
}

#[test]
fn signed_and_ticket() {
    let env = Env::new();
    let key = signing_key(&env);
    std::fs::write(env.path("ref.bin"), b"ref").unwrap();
    sign_terms(&env, 0, b"ref", "sig.bin");
    check(
        &env,
        &Case {
            tool: "tpm2_policysigned",
            args: &["-c", "key.ctx", "-s", "sig.bin", "-q", "ref.bin"],
            real: false,
            our_args: None,
            calc: &|p| signed_by(p, &key, b"ref"),
        },
    );

    // On a real session the TPM checks the signature; a negative expiration yields a ticket.
    sign_terms(&env, -600, b"ref", "sig600.bin");
    env.ok(&["session", "start", "--policy-session", "-S", "p.ctx"]);
    let ours = digest_of(&env.ok(&[
        "policy",
        "signed",
        "-S",
        "p.ctx",
        "-c",
        "key.ctx",
        "-s",
        "sig600.bin",
        "-q",
        "ref.bin",
        "-t",
        "-600",
        "--ticket",
        "s.tkt",
        "--timeout-file",
        "s.tmo",
    ]));
    let mut expected = PolicyCalculator::new(HashAlg::Sha256);
    signed_by(&mut expected, &key, b"ref");
    assert_eq!(ours, hex(expected.digest().as_bytes()));
    assert_eq!(&env.read("s.tkt")[..2], &[0x80, 0x25]);
    // A signature over other terms: refused by the TPM, the session file kept.
    env.ok(&["session", "start", "--policy-session", "-S", "q.ctx"]);
    let err = env.fails(&[
        "policy", "signed", "-S", "q.ctx", "-c", "key.ctx", "-s", "sig.bin", "-q", "0102",
    ]);
    assert!(err.contains("PolicySigned"), "{err}");
    assert_eq!(
        digest_of(&env.ok(&["policy", "digest", "-S", "q.ctx"])),
        "0".repeat(64)
    );

    // The ticket, replayed by both with the same arguments.
    check(
        &env,
        &Case {
            tool: "tpm2_policyticket",
            args: &[
                "-n",
                "key.name",
                "--ticket",
                "s.tkt",
                "--timeout",
                "s.tmo",
                "-q",
                "ref.bin",
            ],
            real: true,
            our_args: None,
            calc: &|p| signed_by(p, &key, b"ref"),
        },
    );
    // A ticket for another policyRef does not verify; a non-ticket file is refused unread.
    let err = env.fails(&[
        "policy",
        "ticket",
        "-S",
        "q.ctx",
        "-n",
        "key.name",
        "--ticket",
        "s.tkt",
        "--timeout-file",
        "s.tmo",
        "-q",
        "0102",
    ]);
    assert!(err.contains("PolicyTicket"), "{err}");
    let err = env.fails(&[
        "policy",
        "ticket",
        "-S",
        "q.ctx",
        "-n",
        "key.name",
        "--ticket",
        "ref.bin",
        "--timeout-file",
        "s.tmo",
    ]);
    assert!(err.contains("ref.bin: not a ticket"), "{err}");
    env.tool_ok("tpm2_flushcontext", &["p.ctx"]);
    env.tool_ok("tpm2_flushcontext", &["q.ctx"]);
}

/// `session:FILE[+AUTH]` authorizes the entity of secret, nv and authorizenv as in tpm2-tools:
/// both give the same digest taking turns on one HMAC session file, which each saves back (a
/// file left stale would not load again).
#[test]
fn session_file_authorizations() {
    let env = Env::new();
    let attrs = "ownerread|ownerwrite|authread|authwrite";
    env.tool_ok(
        "tpm2_nvdefine",
        &[
            "0x01000002",
            "-C",
            "o",
            "-s",
            "8",
            "-a",
            attrs,
            "-p",
            "nvpass",
        ],
    );
    std::fs::write(env.path("data.bin"), [0, 0, 0, 0, 0, 0, 1, 0]).unwrap();
    env.tool_ok("tpm2_nvwrite", &["0x01000002", "-C", "o", "-i", "data.bin"]);
    let mut ha = vec![0x00, 0x0b];
    ha.extend_from_slice(&[6; 32]);
    std::fs::write(env.path("ha.bin"), &ha).unwrap();
    env.tool_ok(
        "tpm2_nvdefine",
        &["0x01000003", "-C", "o", "-s", "34", "-a", attrs],
    );
    env.tool_ok("tpm2_nvwrite", &["0x01000003", "-C", "o", "-i", "ha.bin"]);
    let data = nv_name(&env, "0x01000002");
    let policy = nv_name(&env, "0x01000003");
    let op = Operand::new(&[0, 0, 0, 0, 0, 0, 1, 0]).unwrap();
    std::fs::write(env.path("op.bin"), op.as_bytes()).unwrap();
    let owner = tpm2_wire::command::Entity::owner().name;

    // The HMAC session both use, started by tpm2-tools.
    env.tool_ok("tpm2_startauthsession", &["--hmac-session", "-S", "h.ctx"]);
    let cases: [(&str, &[&str]); 4] = [
        ("secret", &["-c", "o", "session:h.ctx"]),
        (
            "nv",
            &[
                "-P",
                "session:h.ctx+nvpass",
                "-i",
                "op.bin",
                "0x01000002",
                "eq",
            ],
        ),
        ("authorizenv", &["-P", "session:h.ctx", "3"]),
        // Read through the owner: the owner's (empty) auth value.
        (
            "authorizenv",
            &["-C", "o", "-P", "session:h.ctx", "0x01000003"],
        ),
    ];
    let mut expected = PolicyCalculator::new(HashAlg::Sha256);
    expected.policy_secret(&owner, &[]);
    expected.policy_nv(&data, &op, 0, ArithmeticOp::EQ);
    expected.policy_authorize_nv(&policy);
    let after_nv = hex(expected.digest().as_bytes());
    expected.policy_authorize_nv(&policy);
    let after_all = hex(expected.digest().as_bytes());

    env.tool_ok("tpm2_startauthsession", &["-S", "t.ctx"]);
    env.ok(&["session", "start", "-S", "w.ctx"]);
    for (i, (sub, args)) in cases.iter().enumerate() {
        let tool = format!("tpm2_policy{sub}");
        let mut theirs = vec!["-S", "t.ctx", "-L", "t.dig"];
        theirs.extend(*args);
        let mut ours = vec!["policy", sub, "-S", "w.ctx", "-L", "w.dig"];
        ours.extend(*args);
        // Taking turns, in either order, on h.ctx.
        if i % 2 == 0 {
            env.tool_ok(&tool, &theirs);
            env.ok(&ours);
        } else {
            env.ok(&ours);
            env.tool_ok(&tool, &theirs);
        }
        env.tool_ok("tpm2_flushcontext", &["-t"]);
        assert_eq!(hex(&env.read("w.dig")), hex(&env.read("t.dig")), "{sub}");
        if i == 2 {
            assert_eq!(hex(&env.read("w.dig")), after_nv);
        }
    }
    assert_eq!(hex(&env.read("w.dig")), after_all);

    // A wrong password through the session: refused by the TPM, the session still saved back
    // (tpm2-tools takes it afterwards).
    let err = env.fails(&[
        "policy",
        "nv",
        "-S",
        "w.ctx",
        "-P",
        "session:h.ctx+wrong",
        "-i",
        "op.bin",
        "0x01000002",
        "eq",
    ]);
    assert!(
        err.contains("TPM_RC_AUTH_FAIL") || err.contains("BAD_AUTH"),
        "{err}"
    );
    env.tool_ok(
        "tpm2_policysecret",
        &["-S", "t.ctx", "-c", "o", "session:h.ctx"],
    );
    // pcr: is no authorization here, as in tpm2-tools.
    let err = env.fails(&["policy", "secret", "-S", "w.ctx", "-c", "o", "pcr:sha256:0"]);
    assert!(err.contains("pcr:"), "{err}");
    for f in ["h.ctx", "t.ctx", "w.ctx"] {
        env.tool_ok("tpm2_flushcontext", &[f]);
    }
    env.tool_ok("tpm2_nvundefine", &["0x01000002", "-C", "o"]);
    env.tool_ok("tpm2_nvundefine", &["0x01000003", "-C", "o"]);
}

/// `signed --raw-data` writes what tpm2-tools writes (nonceTPM ‖ expiration ‖ cpHash ‖
/// policyRef, undigested), and plain signatures (`-f ecdsa` DER, `-f rsassa` bare) made over
/// it are taken by both.
#[test]
fn signed_raw_data_and_plain_signatures() {
    let env = Env::new();
    let key = signing_key(&env);
    std::fs::write(env.path("ref.bin"), b"ref").unwrap();
    let mut cp = vec![0, 32];
    cp.extend([0x11; 32]);
    std::fs::write(env.path("cp.bin"), &cp).unwrap();

    // The same session file, so the same nonceTPM: the same bytes.
    env.tool_ok(
        "tpm2_startauthsession",
        &["--policy-session", "-S", "p.ctx"],
    );
    let args = [
        "-S", "p.ctx", "-c", "key.ctx", "-x", "-q", "ref.bin", "-g", "sha256",
    ];
    let mut theirs = args.to_vec();
    theirs.extend(["--raw-data", "t.raw", "--cphash-input", "cp.bin"]);
    env.tool_ok("tpm2_policysigned", &theirs);
    env.tool_ok("tpm2_flushcontext", &["-t"]);
    let mut ours = vec!["policy", "signed"];
    ours.extend(args);
    ours.extend(["--raw-data", "w.raw", "--cphash-input", "cp.bin"]);
    assert_eq!(env.ok(&ours), "", "--raw-data prints nothing");
    let raw = env.read("w.raw");
    assert_eq!(hex(&raw), hex(&env.read("t.raw")));
    assert_eq!(raw.len(), 32 + 4 + 32 + 3);
    assert_eq!(&raw[32..], [&[0; 4][..], &[0x11; 32], b"ref"].concat());
    // Without -x: no nonce.
    let mut ours = vec!["policy", "signed"];
    ours.extend([
        "-S",
        "p.ctx",
        "-c",
        "key.ctx",
        "-t",
        "7",
        "--raw-data",
        "n.raw",
    ]);
    env.ok(&ours);
    assert_eq!(env.read("n.raw"), [0, 0, 0, 7]);

    // Signed over the raw data (ECDSA, DER): we take it, then tpm2-tools on the same session.
    let raw_no_cp = [&raw[..36], b"ref"].concat();
    std::fs::write(env.path("m.raw"), raw_no_cp).unwrap();
    env.tool_ok(
        "tpm2_sign",
        &[
            "-c", "key.ctx", "-g", "sha256", "-f", "plain", "-o", "sig.der", "m.raw",
        ],
    );
    env.tool_ok("tpm2_flushcontext", &["-t"]);
    let mut ours = vec!["policy", "signed"];
    ours.extend(args);
    ours.extend(["-f", "ecdsa", "-s", "sig.der"]);
    let mut expected = PolicyCalculator::new(HashAlg::Sha256);
    signed_by(&mut expected, &key, b"ref");
    assert_eq!(digest_of(&env.ok(&ours)), hex(expected.digest().as_bytes()));
    let mut theirs = args.to_vec();
    theirs.extend(["-f", "ecdsa", "-s", "sig.der", "-L", "t.dig"]);
    env.tool_ok("tpm2_policysigned", &theirs);
    env.tool_ok("tpm2_flushcontext", &["-t"]);
    signed_by(&mut expected, &key, b"ref");
    assert_eq!(hex(&env.read("t.dig")), hex(expected.digest().as_bytes()));
    // A TPMT_SIGNATURE is no DER signature; an unknown format is refused.
    env.tool_ok(
        "tpm2_sign",
        &["-c", "key.ctx", "-g", "sha256", "-o", "sig.tss", "m.raw"],
    );
    env.tool_ok("tpm2_flushcontext", &["-t"]);
    let mut bad = vec!["policy", "signed"];
    bad.extend(args);
    bad.extend(["-f", "ecdsa", "-s", "sig.tss"]);
    let err = env.fails(&bad);
    assert!(err.contains("sig.tss: not a DER ECDSA signature"), "{err}");
    let mut bad = vec!["policy", "signed"];
    bad.extend(args);
    bad.extend(["-f", "dsa", "-s", "sig.der"]);
    assert!(env.fails(&bad).contains("\"dsa\""));
    env.tool_ok("tpm2_flushcontext", &["p.ctx"]);

    // RSASSA, bare: both take it on real sessions, in either order.
    let attrs = "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign";
    let args = [
        "-C",
        "o",
        "-G",
        "rsa2048:rsassa-sha256:null",
        "-a",
        attrs,
        "-c",
        "rsa.ctx",
    ];
    env.tool_ok("tpm2_createprimary", &args);
    env.tool_ok("tpm2_flushcontext", &["-t"]);
    env.tool_ok("tpm2_readpublic", &["-c", "rsa.ctx", "-n", "rsa.name"]);
    env.tool_ok("tpm2_flushcontext", &["-t"]);
    let rsa = Name::new(&env.read("rsa.name")).unwrap();
    std::fs::write(env.path("r.raw"), [&[0; 4][..], b"ref"].concat()).unwrap();
    env.tool_ok(
        "tpm2_sign",
        &[
            "-c", "rsa.ctx", "-g", "sha256", "-f", "plain", "-o", "rsig.bin", "r.raw",
        ],
    );
    env.tool_ok("tpm2_flushcontext", &["-t"]);
    assert_eq!(env.read("rsig.bin").len(), 256);
    check(
        &env,
        &Case {
            tool: "tpm2_policysigned",
            args: &[
                "-c", "rsa.ctx", "-f", "rsassa", "-g", "sha256", "-s", "rsig.bin", "-q", "ref.bin",
            ],
            real: true,
            our_args: None,
            calc: &|p| signed_by(p, &rsa, b"ref"),
        },
    );
}

/// `--cphash FILE` writes the command's cpHash instead of running it, byte for byte what
/// tpm2-tools writes for the same session file (whose handle is in the cpHash), and leaves
/// the session as it was.
#[test]
fn cphash_files() {
    let env = Env::new();
    let attrs = "ownerread|ownerwrite|authread|authwrite";
    env.tool_ok(
        "tpm2_nvdefine",
        &["0x01000002", "-C", "o", "-s", "8", "-a", attrs],
    );
    std::fs::write(env.path("data.bin"), [0; 8]).unwrap();
    env.tool_ok("tpm2_nvwrite", &["0x01000002", "-C", "o", "-i", "data.bin"]);
    std::fs::write(env.path("op.bin"), [0, 0, 1]).unwrap();
    let mut cp = vec![0, 32];
    cp.extend([0x11; 32]);
    std::fs::write(env.path("cp.bin"), &cp).unwrap();
    digest_file(&env, "pol.bin", 5);
    name_file(&env, "key.name", 9);
    // A TPMT_TK_VERIFIED (owner hierarchy); its HMAC is never checked here.
    let mut ticket = vec![0x80, 0x22, 0x40, 0, 0, 1, 0, 32];
    ticket.extend([0x33; 32]);
    std::fs::write(env.path("v.tkt"), &ticket).unwrap();
    env.tool_ok("tpm2_startauthsession", &["--hmac-session", "-S", "h.ctx"]);
    env.tool_ok(
        "tpm2_startauthsession",
        &["--hmac-session", "-g", "sha1", "-S", "h1.ctx"],
    );

    let cases: &[(&str, &[&str])] = &[
        ("password", &[]),
        ("authvalue", &[]),
        ("commandcode", &["0x15e"]),
        ("countertimer", &["--ult", "clock=5000"]),
        ("locality", &["three"]),
        ("nvwritten", &["s"]),
        // On a trial session tpm2-tools sends its own ticket, `-t` or not.
        (
            "authorize",
            &[
                "-i", "pol.bin", "-n", "key.name", "-q", "abcd", "-t", "v.tkt",
            ],
        ),
        ("secret", &["-c", "o"]),
        ("secret", &["-c", "o", "-x", "-t", "30", "-q", "abcd"]),
        ("secret", &["-c", "o", "session:h.ctx"]),
        // The authorization session's hash is the cpHash's.
        ("secret", &["-c", "o", "session:h1.ctx"]),
        (
            "nv",
            &["-i", "op.bin", "--offset", "5", "0x01000002", "ult"],
        ),
        (
            "nv",
            &["-C", "o", "-P", "session:h1.ctx", "-i", "op.bin", "2", "eq"],
        ),
        ("authorizenv", &["-C", "o", "0x01000002"]),
    ];
    for real in [false, true] {
        let mut start = vec!["-S", "s.ctx"];
        if real {
            start.push("--policy-session");
        }
        env.tool_ok("tpm2_startauthsession", &start);
        for (sub, args) in cases {
            let tool = format!("tpm2_policy{sub}");
            let mut theirs = vec!["-S", "s.ctx", "--cphash", "t.cp"];
            theirs.extend(*args);
            // No stale file compared by mistake.
            let _ = std::fs::remove_file(env.path("t.cp"));
            let _ = std::fs::remove_file(env.path("w.cp"));
            env.tool_ok(&tool, &theirs);
            env.tool_ok("tpm2_flushcontext", &["-t"]);
            let mut ours = vec!["policy", sub, "-S", "s.ctx", "--cphash", "w.cp"];
            ours.extend(*args);
            assert_eq!(env.ok(&ours), "", "{sub}: --cphash prints nothing");
            let (w, t) = (env.read("w.cp"), env.read("t.cp"));
            assert_eq!(hex(&w), hex(&t), "{sub} {args:?}");
            // The hash is the last non-trial session's: h1.ctx's (sha1) only on a trial one.
            let size = if args.contains(&"session:h1.ctx") && !real {
                20
            } else {
                32
            };
            assert_eq!(w.len(), 2 + size, "{sub} {args:?}");
        }
        // The trial-only form (no ticket), and a hash named in the path.
        let mut extra: Vec<(&str, Vec<&str>)> =
            vec![("commandcode", vec!["--cphash", "sha384:X.cp", "0x15e"])];
        if !real {
            extra.push((
                "authorize",
                vec!["--cphash", "X.cp", "-i", "pol.bin", "-n", "key.name"],
            ));
        }
        for (sub, args) in extra {
            let tool = format!("tpm2_policy{sub}");
            let theirs: Vec<String> = ["-S", "s.ctx"]
                .iter()
                .chain(&args)
                .map(|a| a.replace('X', "t"))
                .collect();
            let theirs: Vec<&str> = theirs.iter().map(String::as_str).collect();
            env.tool_ok(&tool, &theirs);
            env.tool_ok("tpm2_flushcontext", &["-t"]);
            let ours: Vec<String> = ["policy", sub, "-S", "s.ctx"]
                .iter()
                .chain(&args)
                .map(|a| a.replace('X', "w"))
                .collect();
            let ours: Vec<&str> = ours.iter().map(String::as_str).collect();
            env.ok(&ours);
            let w = env.read("w.cp");
            assert_eq!(hex(&w), hex(&env.read("t.cp")), "{sub} {args:?}");
            let size = if args[1].starts_with("sha384:") {
                48
            } else {
                32
            };
            assert_eq!(w.len(), 2 + size);
        }
        // Nothing ran: the session's digest is still the initial one.
        assert_eq!(
            digest_of(&env.ok(&["policy", "digest", "-S", "s.ctx"])),
            "0".repeat(64)
        );
        env.tool_ok("tpm2_flushcontext", &["s.ctx"]);
    }
    // tpm2_policycphash takes `--cphash` as `--cphash-input` (the older name); so do we.
    env.ok(&["session", "start", "-S", "s.ctx"]);
    let mut expected = PolicyCalculator::new(HashAlg::Sha256);
    expected
        .policy_cp_hash(&Digest::new(&[0x11; 32]).unwrap())
        .unwrap();
    let printed = env.ok(&["policy", "cphash", "-S", "s.ctx", "--cphash", "cp.bin"]);
    assert_eq!(digest_of(&printed), hex(expected.digest().as_bytes()));
    env.tool_ok("tpm2_flushcontext", &["s.ctx"]);
    // Tools without --cphash in tpm2-tools do not take it.
    env.ok(&["session", "start", "-S", "s.ctx"]);
    let err = env.fails(&[
        "policy", "namehash", "-S", "s.ctx", "-n", "pol.bin", "--cphash", "x",
    ]);
    assert!(err.contains("--cphash"), "{err}");
    for f in ["s.ctx", "h.ctx", "h1.ctx"] {
        env.tool_ok("tpm2_flushcontext", &[f]);
    }
    env.tool_ok("tpm2_nvundefine", &["0x01000002", "-C", "o"]);
}
