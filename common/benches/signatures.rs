//! Sign and verify with both signature backends, side by side, on the same inputs.
//!
//! Run by hand in release: `cargo bench -p weft-common --bench signatures`.
//! Results go to BENCHMARKS.md (compare the ratio, not absolute numbers).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
#[cfg(feature = "aws-lc")]
use weft_common::crypto::AwsLcBackend;
use weft_common::crypto::{PrivateKey, RustCryptoBackend, SignatureBackend};

fn backends() -> Vec<&'static dyn SignatureBackend> {
    vec![
        #[cfg(feature = "aws-lc")]
        &AwsLcBackend,
        &RustCryptoBackend,
    ]
}

fn signatures(c: &mut Criterion) {
    let key = PrivateKey::generate();
    let public = key.public_key();
    // About the size of a proposal response payload with a small rwset.
    let message = vec![0x5a_u8; 1024];
    let signature = key.sign(&message).expect("sign");

    let mut group = c.benchmark_group("ecdsa-p256");
    for backend in backends() {
        group.bench_function(format!("sign/{}", backend.name()), |b| {
            b.iter(|| backend.sign(&key, black_box(&message)).expect("sign"))
        });
        group.bench_function(format!("verify/{}", backend.name()), |b| {
            b.iter(|| {
                backend
                    .verify(&public, black_box(&message), black_box(&signature))
                    .expect("verify")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, signatures);
criterion_main!(benches);
