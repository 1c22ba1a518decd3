//! Feeds arbitrary bytes to the payload decoder, directly and inside envelopes; see
//! `ncl_fuzz::payload_decode`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ncl_fuzz::payload_decode(data));
