//! The `.tflite` reader and the int8 runner: any bytes give a network that runs (on whatever
//! input) or an error. The arena is capped so a huge planned model is rejected, not allocated.
#![no_main]

use fvae::formats::AlignedBuf;
use fvae::nn::Network;
use libfuzzer_sys::fuzz_target;

const MAX_ARENA: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let buf = AlignedBuf::from_bytes(data);
    let Ok(net) = Network::new(buf.as_bytes()) else { return };
    let need = net.required_arena();
    // A small arena must be refused cleanly.
    let mut small = vec![0u8; need.saturating_sub(1).min(MAX_ARENA)];
    if need > 0 {
        assert!(net.interpreter(&mut small).is_err());
    }
    if need > MAX_ARENA {
        return;
    }
    let mut arena = vec![0u8; need];
    let Ok(mut it) = net.interpreter(&mut arena) else { return };
    if let Ok(x) = it.input_i8_mut(0) {
        for (i, v) in x.iter_mut().enumerate() {
            *v = data.get(i).copied().unwrap_or(0) as i8;
        }
    }
    if let Ok(info) = net.input(0) {
        let n: usize = info.shape().iter().product();
        if n <= MAX_ARENA {
            let _ = it.set_input_f32(0, &vec![0.5f32; n]);
        }
    }
    let _ = it.invoke();
    let _ = it.output_i8(0).map(|o| o.len());
    if let Ok(info) = net.output(0) {
        let n: usize = info.shape().iter().product();
        if n <= MAX_ARENA {
            let _ = it.output_f32(0, &mut vec![0.0f32; n]);
        }
    }
});
