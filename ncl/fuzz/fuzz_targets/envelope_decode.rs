//! Feeds arbitrary bytes to the envelope decoder; see `ncl_fuzz::envelope_decode`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ncl_fuzz::envelope_decode(data));
