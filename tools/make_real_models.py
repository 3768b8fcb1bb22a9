#!/usr/bin/env python3
"""VAE and VQ-VAE networks written the usual way in Keras, converted by the real TensorFlow Lite
converter with the standard full-integer recipe, with TFLite Micro's outputs: the fixtures of
tests/data/real/ that tests/real_models.rs checks fvae against bit for bit.

Run by hand (not in CI), from the repository root, in a venv with TensorFlow 2.21, scikit-learn
and `pip install --pre tflite-micro`:

    VENV/bin/python tools/make_real_models.py

Each family (an MLP VAE encoder with two heads, MLP decoders with BatchNorm and LeakyReLU /
PReLU / ELU / swish, the keras.io conv VAE encoder and decoder (scaled to 8x8, and as written at
28x28, batch 1 only, on the digits upscaled), conv VQ-VAE encoder and decoders
with residual blocks and upsampling, a conditional decoder with two inputs) is trained for a
few epochs on scikit-learn's 8x8 digits (images 0..1100, pixels / 16) and converted twice: with
the batch dimension unknown (`keras.Input(shape)`, what most code does) and with batch 1
(`batch_size=1`). Recipe: `optimizations = [Optimize.DEFAULT]`, a representative dataset of
200 training rows, `supported_ops = [TFLITE_BUILTINS_INT8]`, and either int8 input and output
(`inference_input_type = inference_output_type = tf.int8`) or the converter's default float32
I/O (a QUANTIZE after each input, a DEQUANTIZE before each output).

For each model NAME it writes NAME.tflite, NAME_in{k}.npy (64 rows per graph input, 16 for the 28x28 models: int8 for
int8 inputs, already quantised; float32 for float inputs), NAME_out{k}.npy (what TFLite Micro's
reference interpreter outputs for each row, one file per graph output, in graph order) and a
row of manifest.json: family, converter, batch, I/O dtypes, the operators with their versions,
TFLite Micro's arena use (bytes, from its recording allocator) and the graph's input and output
names and shapes. `--torch` (in the litert-torch venv) makes the PyTorch models; then
`--fvae-status target/release/fvae` records in each row whether `fvae decode` runs it bit-exact
or how it refuses it.
"""
import contextlib
import json
import os
import re
import sys
import tempfile

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "real")
ROWS = 64
SEED = 0


def digits():
    from sklearn.datasets import load_digits

    x = load_digits().data.astype(np.float32) / 16.0
    return x[:1100], x[1100:1100 + ROWS]


def digits28(x):
    """The 8x8 digits as 28x28 images (each pixel 3x3, 2 pixels of border), the MNIST shape the
    keras.io VAE example is written for."""
    img = np.kron(x.reshape(-1, 8, 8), np.ones((3, 3), np.float32))
    return np.pad(img, ((0, 0), (2, 2), (2, 2)))[..., None].astype(np.float32)


def shaped(rows, shape):
    """Rows of flattened 8x8 digits as a network input of `shape` (28x28 images upscaled)."""
    if tuple(shape[:2]) == (28, 28):
        return digits28(rows)
    return rows.reshape((-1,) + tuple(shape))


# The 28x28 models record fewer rows: their images are 784 bytes each.
ROWS_28 = 16


# --------------------------------------------------------------------------------------------
# Families: each returns (encoder or None, decoder or None, what to convert) built with `batch`
# (None or 1). Training always uses a batch-None twin with the same weights.


def families(keras):
    L = keras.layers

    def mlp_encoder(batch):
        x = keras.Input((64,), batch_size=batch)
        h = L.Dense(32, activation="relu")(x)
        return keras.Model(x, [L.Dense(4, name="z_mean")(h), L.Dense(4, name="z_log_var")(h)])

    def mlp_decoder(act):
        def make(batch):
            z = keras.Input((4,), batch_size=batch)
            h = L.Dense(32)(z)
            h = L.BatchNormalization()(h)
            h = act()(h)
            return keras.Model(z, L.Dense(64, activation="sigmoid")(h))
        return make

    def keras_io_encoder(side, c1, c2, latent):  # the keras.io VAE encoder (28x28: 32, 64, latent 2)
        def make(batch):
            x = keras.Input((side, side, 1), batch_size=batch)
            h = L.Conv2D(c1, 3, activation="relu", strides=2, padding="same")(x)
            h = L.Conv2D(c2, 3, activation="relu", strides=2, padding="same")(h)
            h = L.Flatten()(h)
            h = L.Dense(16, activation="relu")(h)
            return keras.Model(x, [L.Dense(latent, name="z_mean")(h), L.Dense(latent, name="z_log_var")(h)])
        return make

    def keras_io_decoder(side, c1, c2, latent):  # the keras.io VAE decoder, its mirror
        def make(batch):
            z = keras.Input((latent,), batch_size=batch)
            h = L.Dense((side // 4) ** 2 * c2, activation="relu")(z)
            h = L.Reshape((side // 4, side // 4, c2))(h)
            h = L.Conv2DTranspose(c2, 3, activation="relu", strides=2, padding="same")(h)
            h = L.Conv2DTranspose(c1, 3, activation="relu", strides=2, padding="same")(h)
            return keras.Model(z, L.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(h))
        return make

    conv_encoder, conv_decoder = keras_io_encoder(8, 8, 16, 4), keras_io_decoder(8, 8, 16, 4)  # scaled to 8x8
    conv_encoder28, conv_decoder28 = keras_io_encoder(28, 32, 64, 2), keras_io_decoder(28, 32, 64, 2)  # as written

    def vq_encoder(batch):
        x = keras.Input((8, 8, 1), batch_size=batch)
        h = L.Conv2D(8, 3, activation="relu", strides=2, padding="same")(x)
        h = L.Conv2D(8, 3, activation="relu", padding="same")(h)
        return keras.Model(x, L.Conv2D(4, 1, padding="same", name="z_e")(h))

    def residual(h, c):
        r = L.Conv2D(c, 3, activation="relu", padding="same")(h)
        r = L.Conv2D(c, 1, padding="same")(r)
        return L.ReLU()(L.Add()([h, r]))

    def vq_decoder_residual(batch):
        z = keras.Input((4, 4, 4), batch_size=batch)
        h = L.Conv2D(8, 3, activation="relu", padding="same")(z)
        h = residual(h, 8)
        h = L.Conv2DTranspose(8, 3, activation="relu", strides=2, padding="same")(h)
        return keras.Model(z, L.Conv2D(1, 3, activation="sigmoid", padding="same")(h))

    def vq_decoder_upsample(batch):
        z = keras.Input((4, 4, 4), batch_size=batch)
        h = L.Conv2D(8, 3, activation="relu", padding="same")(z)
        # (Keras 3's UpSampling2D converts to TILE and RESHAPE, which TFLite Micro fails to
        # allocate; Resizing converts to RESIZE_NEAREST_NEIGHBOR.)
        h = L.Resizing(8, 8, interpolation="nearest")(h)
        h = L.Conv2D(8, 3, activation="relu", padding="same")(h)
        return keras.Model(z, L.Conv2D(1, 3, activation="sigmoid", padding="same")(h))

    def cvae_decoder(batch):  # two inputs: the latent and a one-hot label
        z = keras.Input((4,), batch_size=batch, name="z")
        y = keras.Input((10,), batch_size=batch, name="label")
        h = L.Concatenate()([z, y])
        h = L.Dense(32, activation="relu")(h)
        return keras.Model([z, y], L.Dense(64, activation="sigmoid")(h))

    def plumbing_encoder(batch):  # padding, a permutation and a channel concatenation
        x = keras.Input((8, 8, 1), batch_size=batch)
        h = L.ZeroPadding2D(((1, 0), (0, 2)))(x)
        h = L.Conv2D(4, 3, strides=2, activation="relu")(h)
        t = L.Permute((2, 1, 3))(h)
        h = L.Concatenate(axis=-1)([h, t])
        h = L.Flatten()(h)
        return keras.Model(x, [L.Dense(4, name="z_mean")(h), L.Dense(4, name="z_log_var")(h)])

    def plumbing_decoder(batch):  # another permutation, a spatial concatenation, side padding
        z = keras.Input((4,), batch_size=batch)
        h = L.Dense(32, activation="relu")(z)
        h = L.Reshape((4, 4, 2))(h)
        p = L.Reshape((4, 4, 2))(L.Permute((3, 1, 2))(h))
        h = L.Concatenate(axis=1)([h, p])
        h = L.ZeroPadding2D(((0, 0), (2, 2)))(h)
        return keras.Model(z, L.Conv2D(1, 3, padding="same", activation="sigmoid")(h))

    def squeeze_decoder(batch):  # expand_dims / squeeze around a 1x1 convolution
        z = keras.Input((4,), batch_size=batch)
        h = L.Dense(16, activation="relu")(z)
        h = keras.ops.expand_dims(keras.ops.expand_dims(h, 1), 1)
        h = L.Conv2D(64, 1, activation="sigmoid")(h)
        return keras.Model(z, keras.ops.squeeze(h, axis=(1, 2)))

    return {
        "squeeze_decoder": ("decoder", squeeze_decoder),
        "plumbing_encoder": ("encoder", plumbing_encoder),
        "plumbing_decoder": ("decoder", plumbing_decoder),
        "mlp_encoder": ("encoder", mlp_encoder),
        "mlp_decoder_leaky": ("decoder", mlp_decoder(lambda: L.LeakyReLU(0.2))),
        "mlp_decoder_prelu": ("decoder", mlp_decoder(lambda: L.PReLU())),
        "mlp_decoder_elu": ("decoder", mlp_decoder(lambda: L.Activation("elu"))),
        "mlp_decoder_swish": ("decoder", mlp_decoder(lambda: L.Activation("swish"))),
        "mlp_decoder_relu": ("decoder", mlp_decoder(lambda: L.ReLU())),
        "conv_encoder": ("encoder", conv_encoder),
        "conv_decoder": ("decoder", conv_decoder),
        "conv_encoder28": ("encoder", conv_encoder28),
        "conv_decoder28": ("decoder", conv_decoder28),
        "vq_encoder": ("vq_encoder", vq_encoder),
        "vq_decoder_residual": ("vq_decoder", vq_decoder_residual),
        "vq_decoder_upsample": ("vq_decoder", vq_decoder_upsample),
        "cvae_decoder": ("cvae_decoder", cvae_decoder),
    }


def train(tf, keras, role, make, x):
    """Trains the family's network (with a plain partner network for the other half) for a few
    epochs and returns it (batch None) with the inputs its conversion and tests use."""
    L = keras.layers
    net = make(None)
    img = x.reshape(-1, 8, 8, 1)
    if role == "encoder":
        dec = keras.Sequential([keras.Input((net.outputs[0].shape[-1],)), L.Dense(64, activation="sigmoid")])
        enc_in = shaped(x, net.inputs[0].shape[1:])

        def loss_of(batch_in, batch_x):
            m, lv = net(batch_in)
            z = m + tf.exp(0.5 * lv) * tf.random.normal(tf.shape(m))
            rec = tf.reduce_sum(tf.square(batch_x - dec(z)), axis=1) / 0.02
            kl = -0.5 * tf.reduce_sum(1.0 + lv - tf.square(m) - tf.exp(lv), axis=1)
            return tf.reduce_mean(rec + kl)
        weights = net.trainable_weights + dec.trainable_weights
        feeds = (enc_in, x)
    elif role == "decoder":
        enc = keras.Sequential([keras.Input((64,)), L.Dense(net.inputs[0].shape[-1])])
        target = shaped(x, net.outputs[0].shape[1:]).reshape(len(x), -1)

        def loss_of(batch_x, batch_t):
            out = tf.reshape(net(enc(batch_x), training=True), tf.shape(batch_t))
            return tf.reduce_mean(tf.reduce_sum(tf.square(batch_t - out), axis=1))
        weights = net.trainable_weights + enc.trainable_weights
        feeds = (x, target)
    elif role == "vq_encoder":
        dec = keras.Sequential([keras.Input((4, 4, 4)), L.Conv2DTranspose(1, 3, strides=2, padding="same",
                                                                          activation="sigmoid")])

        def loss_of(batch_img, _):
            return tf.reduce_mean(tf.reduce_sum(tf.square(batch_img - dec(net(batch_img))), axis=[1, 2, 3]))
        weights = net.trainable_weights + dec.trainable_weights
        feeds = (img, img)
    elif role == "vq_decoder":
        enc = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(4, 3, strides=2, padding="same")])

        def loss_of(batch_img, _):
            return tf.reduce_mean(tf.reduce_sum(tf.square(batch_img - net(enc(batch_img))), axis=[1, 2, 3]))
        weights = net.trainable_weights + enc.trainable_weights
        feeds = (img, img)
    else:  # cvae_decoder
        from sklearn.datasets import load_digits
        labels = np.eye(10, dtype=np.float32)[load_digits().target[:1100]]
        enc = keras.Sequential([keras.Input((64,)), L.Dense(4)])

        def loss_of(batch_x, batch_y):
            return tf.reduce_mean(tf.reduce_sum(tf.square(batch_x - net([enc(batch_x), batch_y])), axis=1))
        weights = net.trainable_weights + enc.trainable_weights
        feeds = (x, labels)
    opt = keras.optimizers.Adam(3e-3)

    @tf.function
    def step(a, b):
        with tf.GradientTape() as tape:
            loss = loss_of(a, b)
        opt.apply_gradients(zip(tape.gradient(loss, weights), weights))
        return loss

    data = tf.data.Dataset.from_tensor_slices(feeds).shuffle(len(x), seed=SEED).batch(64)
    for _ in range(8):
        for a, b in data:
            step(a, b)
    # The network's own inputs, on the training rows (representative data) and test rows.
    if role == "encoder" or role == "vq_encoder":
        inputs = lambda rows: [shaped(rows, net.inputs[0].shape[1:])]  # noqa: E731
    elif role == "decoder":
        inputs = lambda rows: [enc(rows).numpy()]  # noqa: E731
    elif role == "vq_decoder":
        inputs = lambda rows: [enc(rows.reshape(-1, 8, 8, 1)).numpy()]  # noqa: E731
    else:
        from sklearn.datasets import load_digits
        t = load_digits().target

        def inputs(rows):
            lab = t[:1100] if len(rows) == 1100 else t[1100:1100 + len(rows)]
            return [enc(rows).numpy(), np.eye(10, dtype=np.float32)[lab]]
    return net, inputs


def convert(tf, net, samples, int8_io):
    conv = tf.lite.TFLiteConverter.from_keras_model(net)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([s[i:i + 1] for s in samples] for i in range(200))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if int8_io:
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    return conv.convert()


# --------------------------------------------------------------------------------------------
# Reading the converted model and running TFLite Micro.

BUILTIN_NAMES = None


def op_list(model_bytes):
    """[(name, version)] of every operator of subgraph 0, in order."""
    from tflite_micro.python.tflite_micro import runtime
    global BUILTIN_NAMES
    m = runtime.convert_bytearray_to_object(bytearray(model_bytes))
    if BUILTIN_NAMES is None:
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as s
        BUILTIN_NAMES = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
    out = []
    for op in m.subgraphs[0].operators:
        code = m.operatorCodes[op.opcodeIndex]
        b = runtime.get_builtin_code_from_operator_code(code)
        out.append((BUILTIN_NAMES.get(b, str(b)), int(code.version)))
    return out


@contextlib.contextmanager
def captured_stdout():
    """What the C++ side prints (TFLite Micro's recording allocator: stdout or stderr) as a string."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile(mode="w+b") as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        box = {}
        try:
            yield box
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, s in zip((1, 2), saved):
                os.dup2(s, fd)
                os.close(s)
            f.seek(0)
            box["text"] = f.read().decode(errors="replace")


def run_tflm(model_bytes, rows):
    """TFLite Micro's outputs for every row (one inference each) and its arena use in bytes."""
    from tflite_micro.python.tflite_micro import runtime
    it = runtime.Interpreter.from_bytes(model_bytes, arena_size=256 * 1024)
    n_in = len(rows)
    n_out = 0
    while True:
        try:
            with captured_stdout():
                it.get_output_details(n_out)
            n_out += 1
        except Exception:
            break
    outs = [[] for _ in range(n_out)]
    for r in range(len(rows[0])):
        for k in range(n_in):
            d = it.get_input_details(k)
            it.set_input(rows[k][r].reshape(d["shape"]).astype(d["dtype"]), k)
        it.invoke()
        for k in range(n_out):
            outs[k].append(it.get_output(k).copy())
    with captured_stdout() as box:
        it.print_allocations()
    m = re.search(r"Arena allocation total (\d+) bytes", box["text"])
    arena = int(m.group(1)) if m else None
    return [np.stack(o).reshape((len(rows[0]),) + o[0].shape[1:]) for o in outs], arena


def io_details(model_bytes):
    import tensorflow as tf
    it = tf.lite.Interpreter(model_content=model_bytes)

    def one(d):
        return {"name": d["name"], "shape": [int(s) for s in d["shape"]],
                "dtype": np.dtype(d["dtype"]).name, "scale": float(d["quantization"][0]),
                "zero_point": int(d["quantization"][1])}
    return [one(d) for d in it.get_input_details()], [one(d) for d in it.get_output_details()]


def quantise_rows(x, detail):
    if detail["dtype"] == "float32":
        return x.astype(np.float32)
    q = np.round(x / detail["scale"]) + detail["zero_point"]
    return np.clip(q, -128, 127).astype(np.int8)


def main():
    import tensorflow as tf
    from tensorflow import keras

    os.makedirs(OUT, exist_ok=True)
    keras.utils.set_random_seed(SEED)
    x_train, x_test = digits()
    only = set(sys.argv[1:])
    for family, (role, make) in families(keras).items():
        if only and family not in only:
            continue
        net, inputs = train(tf, keras, role, make, x_train)
        train_in, test_in = inputs(x_train), inputs(x_test)
        variants = [("b1", 1, True), ("bnone", None, True)]
        if family.endswith("28"):
            variants = [("b1", 1, True)]
            test_in = [s[:ROWS_28] for s in test_in]
        if family in ("mlp_decoder_relu", "conv_encoder", "vq_decoder_residual", "cvae_decoder"):
            variants.append(("b1_f32io", 1, False))
        for tag, batch, int8_io in variants:
            name = f"{family}_{tag}"
            twin = make(batch)
            twin.set_weights(net.get_weights())
            model = convert(tf, twin, [s.astype(np.float32) for s in train_in], int8_io)
            ins, outs = io_details(model)
            rows = [quantise_rows(v, d) for v, d in zip(test_in, ins)]
            try:
                expected, arena = run_tflm(model, rows)
            except Exception as e:  # a model TFLite Micro does not run is no fixture
                print(f"{name}: TFLite Micro does not run it: {type(e).__name__}: {e} {op_list(model)}", flush=True)
                continue
            with open(os.path.join(OUT, f"{name}.tflite"), "wb") as f:
                f.write(model)
            for k, r in enumerate(rows):
                np.save(os.path.join(OUT, f"{name}_in{k}.npy"), r)
            for k, e in enumerate(expected):
                np.save(os.path.join(OUT, f"{name}_out{k}.npy"), e)
            write_manifest(name, {
                "family": family,
                "converter": f"tensorflow {tf.__version__} TFLiteConverter.from_keras_model",
                "batch": "None" if batch is None else 1,
                "io": "int8" if int8_io else "float32",
                "ops": [f"{n} v{v}" for n, v in op_list(model)],
                "tflm_arena_used_bytes": arena,
                "inputs": ins,
                "outputs": outs,
                "rows": len(rows[0]),
                "bytes": len(model),
            })
            print(name, len(model), "B", op_list(model), "arena", arena, flush=True)


def write_manifest(name, row):
    """Adds or replaces one model's row (rewriting the file each time: runs of one family keep
    the others' rows)."""
    path = os.path.join(OUT, "manifest.json")
    manifest = json.load(open(path)) if os.path.exists(path) else {}
    manifest[name] = row
    with open(path, "w") as f:
        json.dump(dict(sorted(manifest.items())), f, indent=1)
        f.write("\n")


# --------------------------------------------------------------------------------------------
# PyTorch through litert-torch (`--torch`, in a venv with torch, litert-torch and tflite-micro):
# the PT2E full-integer recipe of litert-torch (symmetric per-channel int8 weights, static int8
# activations, calibration on training rows), which makes int8 graph inputs and outputs.


def torch_families(nn):
    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(64, 32), nn.ReLU())
            self.mean, self.log_var = nn.Linear(32, 4), nn.Linear(32, 4)

        def forward(self, x):
            h = self.body(x)
            return self.mean(h), self.log_var(h)

    def mlp_decoder():
        return nn.Sequential(nn.Linear(4, 32), nn.BatchNorm1d(32), nn.LeakyReLU(0.2), nn.Linear(32, 64),
                             nn.Sigmoid())

    def conv_decoder():
        return nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Unflatten(1, (16, 2, 2)),
                             nn.ConvTranspose2d(16, 8, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(8, 1, 4, 2, 1),
                             nn.Sigmoid(), nn.Flatten())

    def vq_encoder():
        return nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 4, 1))

    return {"torch_mlp_encoder": ("encoder", TwoHeads), "torch_mlp_decoder_leaky": ("decoder", mlp_decoder),
            "torch_conv_decoder": ("decoder", conv_decoder), "torch_vq_encoder": ("vq_encoder", vq_encoder)}


def torch_main(only):
    import litert_torch
    import torch
    from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    torch.manual_seed(SEED)
    nn = torch.nn
    x_train, x_test = digits()
    xt = torch.from_numpy(x_train)
    for family, (role, make) in torch_families(nn).items():
        if only and family not in only:
            continue
        net = make()
        enc = nn.Linear(64, 4)
        dec = nn.Sequential(nn.Linear(4, 64), nn.Sigmoid())
        opt = torch.optim.Adam(list(net.parameters()) + list(enc.parameters()) + list(dec.parameters()), 3e-3)
        for _ in range(8):
            for b in torch.randperm(len(xt)).split(64):
                xb = xt[b]
                if role == "encoder":
                    m, lv = net(xb)
                    z = m + torch.exp(0.5 * lv) * torch.randn_like(m)
                    loss = ((xb - dec(z)) ** 2).sum(1).mean() / 0.02 - 0.5 * (1 + lv - m ** 2 - lv.exp()).sum(1).mean()
                elif role == "decoder":
                    loss = ((xb - net(enc(xb)).reshape(-1, 64)) ** 2).sum(1).mean()
                else:
                    up = nn.functional.interpolate(net(xb), scale_factor=2.0)
                    loss = ((xb - up.mean(1).reshape(-1, 64)) ** 2).sum(1).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
        net.eval()
        with torch.no_grad():
            feed = (lambda rows: torch.from_numpy(rows)) if role != "decoder" else (
                lambda rows: enc(torch.from_numpy(rows)).detach())
            train_in, test_in = feed(x_train), feed(x_test)
        for tag, dynamic in [("b1", False), ("bnone", True)]:
            name = f"{family}_{tag}"
            sample = (train_in[:2],) if dynamic else (train_in[:1],)
            shapes = ({0: torch.export.Dim("batch", min=1, max=1024)},) if dynamic else None
            q = PT2EQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True, is_dynamic=False))
            try:
                p = torch.export.export(net, sample, dynamic_shapes=shapes).module()
                p = prepare_pt2e(p, q)
                with torch.no_grad():
                    for i in range(200):
                        p(train_in[i:i + 1])
                p = convert_pt2e(p, fold_quantize=False)
                edge = litert_torch.convert(p, sample, quant_config=QuantConfig(pt2e_quantizer=q),
                                            dynamic_shapes=shapes)
                with tempfile.TemporaryDirectory() as d:
                    edge.export(os.path.join(d, "m.tflite"))
                    model = open(os.path.join(d, "m.tflite"), "rb").read()
            except Exception as e:  # say what failed and go on with the others
                print(f"{name}: litert-torch conversion failed: {type(e).__name__}: {str(e)[:300]}", flush=True)
                continue
            ins, outs = tflm_io(model)
            rows = [quantise_rows(test_in.numpy(), ins[0])]
            try:
                expected, arena = run_tflm(model, rows)
            except Exception as e:
                print(f"{name}: TFLite Micro does not run it: {type(e).__name__}: {str(e)[:300]}", flush=True)
                continue
            save(name, model, rows, expected)
            write_manifest(name, {
                "family": family,
                "converter": f"litert-torch {litert_torch.__version__} (torch {torch.__version__}), PT2E int8",
                "batch": "None" if dynamic else 1,
                "io": ins[0]["dtype"] if ins[0]["dtype"] == "int8" else "float32",
                "ops": [f"{n} v{v}" for n, v in op_list(model)],
                "tflm_arena_used_bytes": arena,
                "inputs": ins,
                "outputs": outs,
                "rows": ROWS,
                "bytes": len(model),
            })
            print(name, len(model), "B", op_list(model), "arena", arena, flush=True)


def tflm_io(model_bytes):
    """Graph inputs and outputs as TFLite Micro reports them (name, shape, dtype, quantisation)."""
    from tflite_micro.python.tflite_micro import runtime
    it = runtime.Interpreter.from_bytes(model_bytes, arena_size=256 * 1024)
    m = runtime.convert_bytearray_to_object(bytearray(model_bytes))
    g = m.subgraphs[0]

    def one(t):
        t = g.tensors[t]
        q = t.quantization
        scale = float(q.scale[0]) if q is not None and q.scale is not None and len(q.scale) else 0.0
        zp = int(q.zeroPoint[0]) if q is not None and q.zeroPoint is not None and len(q.zeroPoint) else 0
        dtype = {0: "float32", 9: "int8"}.get(t.type, str(t.type))
        return {"name": t.name.decode(), "shape": [int(s) for s in t.shape], "dtype": dtype, "scale": scale,
                "zero_point": zp}
    del it
    return [one(t) for t in g.inputs], [one(t) for t in g.outputs]


def save(name, model, rows, expected):
    with open(os.path.join(OUT, f"{name}.tflite"), "wb") as f:
        f.write(model)
    for k, r in enumerate(rows):
        np.save(os.path.join(OUT, f"{name}_in{k}.npy"), r)
    for k, e in enumerate(expected):
        np.save(os.path.join(OUT, f"{name}_out{k}.npy"), e)


def fvae_status(fvae):
    """Runs `fvae decode` (the binary at `fvae`) on every model of the manifest and records in
    its `fvae` field what happened: "bit-exact" (every output file equal to TFLite Micro's) or
    the refusal, word for word."""
    import subprocess
    path = os.path.join(OUT, "manifest.json")
    manifest = json.load(open(path))
    with tempfile.TemporaryDirectory() as d:
        for name, row in manifest.items():
            args = [fvae, "decode", "--model", os.path.join(OUT, f"{name}.tflite")]
            for k in range(len(row["inputs"])):
                args += ["--input", os.path.join(OUT, f"{name}_in{k}.npy")]
            outs = [os.path.join(d, f"{name}_{k}.npy") for k in range(len(row["outputs"]))]
            for o in outs:
                args += ["--out", o]
            r = subprocess.run(args, capture_output=True, text=True)
            if r.returncode != 0:
                row["fvae"] = r.stderr.strip().split(".tflite: ", 1)[-1]
            else:
                same = all(np.array_equal(np.load(o), np.load(os.path.join(OUT, f"{name}_out{k}.npy")))
                           for k, o in enumerate(outs))
                row["fvae"] = "bit-exact" if same else "DIFFERS from TFLite Micro"
            print(name, row["fvae"])
    with open(path, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    if "--fvae-status" in sys.argv:
        fvae_status(sys.argv[sys.argv.index("--fvae-status") + 1])
    elif "--torch" in sys.argv:
        torch_main(set(a for a in sys.argv[1:] if a != "--torch"))
    else:
        main()
