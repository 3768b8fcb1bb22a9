#!/usr/bin/env python3
"""Train a small VAE on your descriptors and export what fvae runs: the int8 encoder (mean head) and the
int8 decoder as `.tflite`, and the FV-VAE decoder layer as `.safetensors`.

Needs TensorFlow (Keras 3 and the TFLite converter): the converter's full-integer quantisation is what
produces the int8 `.tflite` fvae (and TFLite Micro) run, which is why TensorFlow rather than PyTorch.

    python3 -m venv bench-venv && bench-venv/bin/pip install tensorflow-cpu
    bench-venv/bin/python tools/train_vae.py --input X.npy --latent 8 --out-dir model/
    fvae fv-vae --encoder model/encoder.tflite --decoder-layer model/decoder_layer.safetensors \\
        --input X.npy --out F.npy --improved --per-row-groups 25

Model: encoder P -> hidden (ReLU) -> mean and log-variance of L latents; decoder one dense layer
u = relu(W z + b) with a Gaussian likelihood N(x; u, diag var), so the decoder *is* the FV-VAE layer.
Loss: sum (x - u)^2 / (2 s^2) + KL(q(z|x) || N(0, I)) with s^2 = --noise-var. After training, `variance`
is the per-dimension residual variance of the reconstruction from the latent mean on the training data
(floored at 1e-4). Writes to --out-dir:

    encoder.tflite             int8 in [1,P] -> int8 out [1,L] (the latent mean), full-integer quantised
    decoder.tflite             int8 in [1,L] -> int8 out [1,P] (relu(W z + b))
    decoder_layer.safetensors  weight [P,L], bias [P], variance [P] (float32)
    manifest.json              sizes and the input/output scales and zero points

Checked (tests/data/digits/vae_train1100 was made by this script): `fvae decode` on both exported networks
equals TFLite Micro (pip `tflite-micro`) bit for bit on 600 patches; TensorFlow Lite's own interpreter
(`tf.lite.Interpreter`, even with reference kernels) differs from both by 1 in a few outputs, so compare
with TFLite Micro. CI has no TensorFlow, so this script has no CI test (fvae_export.py, which it uses, has).
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fvae_export import export_decoder_layer  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", required=True, help="descriptors [N,P] .npy")
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--latent", type=int, default=8)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--noise-var", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    import tensorflow as tf
    from tensorflow import keras

    keras.utils.set_random_seed(a.seed)
    x = np.load(a.input).astype(np.float32)
    n, p = x.shape
    latent = a.latent

    inp = keras.Input((p,))
    h = keras.layers.Dense(a.hidden, activation="relu")(inp)
    mean = keras.layers.Dense(latent, name="mean")(h)
    logvar = keras.layers.Dense(latent, name="logvar")(h)
    encoder = keras.Model(inp, [mean, logvar])
    dense = keras.layers.Dense(p, activation="relu", name="decoder")
    decoder = keras.Sequential([keras.Input((latent,)), dense])

    opt = keras.optimizers.Adam(1e-3)

    @tf.function
    def step(batch):
        with tf.GradientTape() as tape:
            m, lv = encoder(batch)
            z = m + tf.exp(0.5 * lv) * tf.random.normal(tf.shape(m))
            u = decoder(z)
            rec = tf.reduce_sum(tf.square(batch - u), axis=1) / (2.0 * a.noise_var)
            kl = -0.5 * tf.reduce_sum(1.0 + lv - tf.square(m) - tf.exp(lv), axis=1)
            loss = tf.reduce_mean(rec + kl)
        weights = encoder.trainable_weights + decoder.trainable_weights
        opt.apply_gradients(zip(tape.gradient(loss, weights), weights))
        return loss

    data = tf.data.Dataset.from_tensor_slices(x).shuffle(n, seed=a.seed).batch(128)
    for epoch in range(a.epochs):
        losses = [float(step(b)) for b in data]
        if epoch % 10 == 0 or epoch == a.epochs - 1:
            print(f"epoch {epoch}: loss {np.mean(losses):.3f}")

    os.makedirs(a.out_dir, exist_ok=True)
    mean_model = keras.Model(inp, mean)

    def convert(model, samples):
        conv = tf.lite.TFLiteConverter.from_keras_model(model)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([s[None, :]] for s in samples[:1000])
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
        return conv.convert()

    z_train = mean_model.predict(x, verbose=0)
    enc_bytes = convert(mean_model, x)
    dec_bytes = convert(decoder, z_train.astype(np.float32))
    for name, b in (("encoder.tflite", enc_bytes), ("decoder.tflite", dec_bytes)):
        with open(os.path.join(a.out_dir, name), "wb") as f:
            f.write(b)

    kernel, bias = dense.get_weights()  # kernel [L, P]
    u = np.maximum(z_train @ kernel + bias, 0.0)
    variance = np.maximum(((x - u) ** 2).mean(axis=0), 1e-4)
    export_decoder_layer(kernel.T, bias, variance, os.path.join(a.out_dir, "decoder_layer.safetensors"))

    def io(model_bytes):
        it = tf.lite.Interpreter(model_content=model_bytes)
        i, o = it.get_input_details()[0], it.get_output_details()[0]
        return [float(i["quantization"][0]), int(i["quantization"][1]), float(o["quantization"][0]), int(o["quantization"][1])]

    manifest = {"patch_dim": p, "latent": latent, "n_train": n}
    for name, b in (("encoder", enc_bytes), ("decoder", dec_bytes)):
        s_in, zp_in, s_out, zp_out = io(b)
        manifest.update({
            f"{name}_input_scale": s_in,
            f"{name}_input_zero_point": zp_in,
            f"{name}_output_scale": s_out,
            f"{name}_output_zero_point": zp_out,
        })
    with open(os.path.join(a.out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"wrote {a.out_dir}: encoder.tflite ({len(enc_bytes)} B), decoder.tflite ({len(dec_bytes)} B), "
          f"decoder_layer.safetensors, manifest.json")


if __name__ == "__main__":
    main()
