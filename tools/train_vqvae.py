#!/usr/bin/env python3
"""Train a small convolutional VQ-VAE on 8x8 images and export what fvae runs: the int8 encoder and
decoder as `.tflite` and the codebook as `.safetensors`, with TFLite Micro's outputs on a test set.

Needs TensorFlow (Keras 3 and the TFLite converter, whose full-integer quantisation makes the int8
`.tflite` fvae and TFLite Micro run) and, for the expected outputs, pip `tflite-micro`. Run by hand:

    python3 tools/train_vqvae.py --images tests/data/gmm/digits_k16/x.npy --train 1100 \\
        --grid 4 --codebook-size 64 --out-dir tests/data/vqvae/g4_m64
    fvae vqvae encode --encoder E.tflite --codebook C.safetensors --input X.npy --out I.npy

Data: `--images` is [N, 64] float32 in [0, 1] (8x8 images, row-major); rows 0..--train are the
training split, the rest the test split (never seen in training).

Model (batch-1 input so the converter emits only CONV_2D, TRANSPOSE_CONV, TANH, LOGISTIC,
RELU-fused convolutions and RESHAPE):
- encoder: 8x8x1 -> conv 3x3/2 (16, ReLU) [-> conv 3x3/2 (16, ReLU) for --grid 2] -> conv 3x3
  (C, tanh): a grid x grid x C latent. TFLite quantises a TANH output with scale 1/128 and zero
  point 0, so the int8 latent q means q/128 exactly.
- vector quantiser: M codewords of C values, nearest by squared Euclidean distance, the
  straight-through estimator, commitment loss (beta 0.25), codewords by exponential moving average
  (decay 0.95) with unused codewords restarted at random latents of the batch.
- decoder: grid x grid x C -> [transpose conv 3x3/2 (32, ReLU) for --grid 2] -> conv 3x3 (32, ReLU)
  -> transpose conv 3x3/2 (16, ReLU) -> conv 3x3 (1, sigmoid): 8x8.
Loss: mean squared reconstruction error + codebook commitment.

After training the codewords are rounded to multiples of 1/128 (the int8 latent's grid). Then the
f32 codebook and the int8 one (`codebook_i8.safetensors`, scale 1/128) have the same nearest
codeword for every int8 latent, and every distance is exact in f32.

Writes to --out-dir:

    encoder.tflite             int8 [1,8,8,1] -> int8 [1,grid,grid,C]
    codebook.safetensors       codebook [M,C] f32
    codebook_i8.safetensors    codebook [M,C] i8, scale [1] f32 (1/128)
    decoder.tflite             int8 [1,grid,grid,C] -> int8 [1,8,8,1]
    test_latent.npy            [T,grid*grid*C] i8: TFLite Micro's encoder output on the test split
    test_indices.npy           [T,grid*grid] i64: nearest codeword of each latent vector
    test_decoded.npy           [T,64] i8: TFLite Micro's decoder output for those indices
    manifest.json              sizes, quantisation, training figures
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fvae_export import write_safetensors  # noqa: E402


def quantize(v, scale, zero_point):
    """TFLite's QUANTIZE as fvae computes it: f32 division, ties away from zero, clamped."""
    q = (np.asarray(v, np.float32) / np.float32(scale)).astype(np.float64)
    q = np.where(q >= 0, np.floor(q + 0.5), np.ceil(q - 0.5))
    return np.clip(q + zero_point, -128, 127).astype(np.int8)


def nearest(z, codebook):
    """fvae's VQ: squared Euclidean (float64 sum rounded to f32), ties to the lowest index."""
    d = ((z[:, None, :].astype(np.float64) - codebook[None].astype(np.float64)) ** 2).sum(-1)
    return np.argmin(d.astype(np.float32), axis=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", required=True, help="[N,64] f32 in [0,1]")
    ap.add_argument("--train", type=int, required=True, help="rows 0..TRAIN are the training split")
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--grid", type=int, choices=(2, 4), default=4)
    ap.add_argument("--channels", type=int, default=4, help="C, the codeword length")
    ap.add_argument("--codebook-size", type=int, default=64, help="M")
    ap.add_argument("--epochs", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    import tensorflow as tf
    from tensorflow import keras
    from tflite_micro.python.tflite_micro import runtime

    keras.utils.set_random_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    images = np.load(a.images).astype(np.float32)
    x_train, x_test = images[: a.train], images[a.train :]
    g, c, m = a.grid, a.channels, a.codebook_size
    L = keras.layers

    inp = L.Input((8, 8, 1), batch_size=1)
    h = L.Conv2D(16, 3, strides=2, padding="same", activation="relu")(inp)
    if g == 2:
        h = L.Conv2D(16, 3, strides=2, padding="same", activation="relu")(h)
    z = L.Conv2D(c, 3, padding="same", activation="tanh")(h)
    encoder = keras.Model(inp, z)

    dinp = L.Input((g, g, c), batch_size=1)
    h = dinp
    if g == 2:
        h = L.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(h)
    h = L.Conv2D(32, 3, padding="same", activation="relu")(h)
    h = L.Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu")(h)
    out = L.Conv2D(1, 3, padding="same", activation="sigmoid")(h)
    decoder = keras.Model(dinp, out)

    # Training runs at batch 64: the batch-1 models' layers, applied in order, take any batch.
    def run_layers(model, x):
        for layer in model.layers[1:]:
            x = layer(x)
        return x

    def enc(x):
        return run_layers(encoder, x)

    def dec(zq):
        return run_layers(decoder, zq)

    xt = x_train.reshape(-1, 8, 8, 1)
    z0 = enc(tf.constant(xt[rng.choice(len(xt), 64)])).numpy().reshape(-1, c)
    codebook = tf.Variable(z0[rng.choice(len(z0), m, replace=len(z0) < m)] + rng.normal(0, 0.01, (m, c)).astype(np.float32))
    ema_count = tf.Variable(tf.ones(m))
    ema_sum = tf.Variable(codebook.numpy())
    decay, beta = 0.95, 0.25
    opt = keras.optimizers.Adam(2e-3)
    weights = encoder.trainable_weights + decoder.trainable_weights

    @tf.function
    def step(batch):
        with tf.GradientTape() as tape:
            ze = enc(batch)
            flat = tf.reshape(ze, (-1, c))
            d = tf.reduce_sum((flat[:, None, :] - codebook[None]) ** 2, -1)
            idx = tf.argmin(d, axis=1)
            zq = tf.reshape(tf.gather(codebook, idx), tf.shape(ze))
            st = ze + tf.stop_gradient(zq - ze)
            y = dec(st)
            rec = tf.reduce_mean((y - batch) ** 2)
            commit = tf.reduce_mean((ze - tf.stop_gradient(zq)) ** 2)
            loss = rec + beta * commit
        opt.apply_gradients(zip(tape.gradient(loss, weights), weights))
        onehot = tf.one_hot(idx, m)
        ema_count.assign(decay * ema_count + (1 - decay) * tf.reduce_sum(onehot, 0))
        ema_sum.assign(decay * ema_sum + (1 - decay) * tf.matmul(onehot, flat, transpose_a=True))
        n = tf.reduce_sum(ema_count)
        count = (ema_count + 1e-5) / (n + m * 1e-5) * n
        codebook.assign(ema_sum / count[:, None])
        return rec, flat

    data = tf.data.Dataset.from_tensor_slices(xt).shuffle(len(xt), seed=a.seed).batch(64, drop_remainder=True)
    for epoch in range(a.epochs):
        recs = []
        for b in data:
            rec, flat = step(b)
            recs.append(float(rec))
        # Restart codewords nobody uses with latents of the last batch.
        dead = np.flatnonzero(ema_count.numpy() < 1e-2)
        if len(dead) and epoch < a.epochs - 20:
            f = flat.numpy()
            new = f[rng.choice(len(f), len(dead))]
            cb, es, ec = codebook.numpy(), ema_sum.numpy(), ema_count.numpy()
            cb[dead], es[dead], ec[dead] = new, new, 1.0
            codebook.assign(cb), ema_sum.assign(es), ema_count.assign(ec)
        if epoch % 25 == 0 or epoch == a.epochs - 1:
            print(f"epoch {epoch}: reconstruction mse {np.mean(recs):.5f}, dead codewords {len(dead)}", flush=True)

    cb_i8 = np.clip(np.round(codebook.numpy() * 128), -128, 127).astype(np.int8)
    cb = (cb_i8.astype(np.float32) / 128).astype(np.float32)

    def convert(model, samples):
        conv = tf.lite.TFLiteConverter.from_keras_model(model)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([s[None]] for s in samples)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
        return conv.convert()

    z_train = enc(tf.constant(xt)).numpy()
    idx_train = nearest(z_train.reshape(-1, c), cb).reshape(len(xt), g, g)
    zq_train = cb[idx_train].astype(np.float32)
    enc_bytes = convert(encoder, xt[:1000])
    dec_bytes = convert(decoder, zq_train[:1000])

    os.makedirs(a.out_dir, exist_ok=True)
    for name, b in (("encoder.tflite", enc_bytes), ("decoder.tflite", dec_bytes)):
        with open(os.path.join(a.out_dir, name), "wb") as f:
            f.write(b)
    write_safetensors(os.path.join(a.out_dir, "codebook.safetensors"), {"codebook": cb})
    write_safetensors(
        os.path.join(a.out_dir, "codebook_i8.safetensors"),
        {"codebook": cb_i8, "scale": np.array([1 / 128], np.float32)},
    )

    # TFLite Micro on the test split: encoder, nearest codeword, decoder.
    enc_it = runtime.Interpreter.from_bytes(enc_bytes)
    dec_it = runtime.Interpreter.from_bytes(dec_bytes)
    ei, eo = enc_it.get_input_details(0), enc_it.get_output_details(0)
    di, do = dec_it.get_input_details(0), dec_it.get_output_details(0)

    def qparams(d):
        qp = d["quantization_parameters"]
        return float(qp["scales"][0]), int(qp["zero_points"][0])

    (ein_s, ein_z), (eout_s, eout_z) = qparams(ei), qparams(eo)
    (din_s, din_z), (dout_s, dout_z) = qparams(di), qparams(do)
    assert (eout_s, eout_z) == (1 / 128, 0), (eout_s, eout_z)
    latents, indices, decoded = [], [], []
    for row in x_test:
        enc_it.set_input(quantize(row, ein_s, ein_z).reshape(1, 8, 8, 1), 0)
        enc_it.invoke()
        q = enc_it.get_output(0).reshape(-1).copy()
        zf = (np.float32(eout_s) * (q.astype(np.int32) - eout_z).astype(np.float32)).reshape(-1, c)
        k = nearest(zf, cb)
        dec_it.set_input(quantize(cb[k].reshape(-1), din_s, din_z).reshape(1, g, g, c), 0)
        dec_it.invoke()
        latents.append(q)
        indices.append(k)
        decoded.append(dec_it.get_output(0).reshape(-1).copy())
    latents, indices, decoded = np.stack(latents), np.stack(indices).astype(np.int64), np.stack(decoded)
    np.save(os.path.join(a.out_dir, "test_latent.npy"), latents)
    np.save(os.path.join(a.out_dir, "test_indices.npy"), indices)
    np.save(os.path.join(a.out_dir, "test_decoded.npy"), decoded)

    y = np.float32(dout_s) * (decoded.astype(np.int32) - dout_z).astype(np.float32)
    mse = float(np.mean((y - x_test) ** 2))
    used = len(np.unique(indices))
    manifest = {
        "grid": g, "channels": c, "codebook_size": m, "train_images": a.train, "test_images": len(x_test),
        "epochs": a.epochs, "seed": a.seed,
        "encoder_input_scale": ein_s, "encoder_input_zero_point": ein_z,
        "encoder_output_scale": eout_s, "encoder_output_zero_point": eout_z,
        "decoder_input_scale": din_s, "decoder_input_zero_point": din_z,
        "decoder_output_scale": dout_s, "decoder_output_zero_point": dout_z,
        "test_mse_tflite_micro": mse, "test_codewords_used": used,
    }
    with open(os.path.join(a.out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"wrote {a.out_dir}: encoder {len(enc_bytes)} B, decoder {len(dec_bytes)} B, "
          f"test mse {mse:.5f}, {used} of {m} codewords used")


if __name__ == "__main__":
    main()
