#!/usr/bin/env python3
"""Per-operator test models for fvae's int8 interpreter, with TFLite Micro's outputs.

The fixtures in tests/data/tflite only use FULLY_CONNECTED, CONV_2D, TRANSPOSE_CONV, RESHAPE and
LOGISTIC. This script writes small .tflite flatbuffers by hand for the other operators and
options (DEPTHWISE_CONV_2D, TANH, RELU, RELU6, ADD with broadcasting and a constant operand,
RESIZE_NEAREST_NEIGHBOR, QUANTIZE f32->int8 and int8->int8, DEQUANTIZE, CONV_2D with VALID
padding/stride/dilation/per-tensor weights, TRANSPOSE_CONV with VALID padding and no bias,
LEAKY_RELU, MUL, SUB, ADD beyond rank 4, PRELU, HARD_SWISH, ELU int8 and f32, MAXIMUM, MINIMUM,
SQUARED_DIFFERENCE, GELU, MEAN, SUM, AVERAGE_POOL_2D, MAX_POOL_2D, SOFTMAX, RESIZE_BILINEAR,
DEPTH_TO_SPACE, SPACE_TO_DEPTH, ARG_MAX, ARG_MIN, TILE, SPLIT, SPLIT_V, UNPACK, GATHER), feeds each random int8 (or f32)
inputs (the newer operators get edge rows first), and records what the TFLite Micro reference interpreter (pip `tflite-micro`, its
Python `runtime.Interpreter`) outputs; for GELU (TFLite Micro has it only in float), TILE (not in
TFLite Micro), ARG_MAX/ARG_MIN and GATHER with int64 indices (TFLite Micro: int32 only) and
int32 GATHER (folded by fvae; not in TFLite Micro), LiteRT's
interpreter (pip `ai-edge-litert`) with its reference kernels (`OpResolverType.BUILTIN_REF`).
The Rust test tests/nn.rs then requires fvae's outputs to be identical. It also writes models
fvae must refuse (`bad_*.tflite`, `unsupported_op.tflite`).

Run (from the repository root, in a venv with `pip install tflite-micro ai-edge-litert flatbuffers numpy`):
    bench-venv/bin/python scripts/make_op_models.py
It writes tests/data/tflite_ops/NAME.tflite, NAME_in0.npy (, NAME_in1.npy), NAME_out0.npy (one
NAME_outK.npy per graph output) and a manifest.json. Fixed seeds: running it twice writes
byte-identical files. The flatbuffers are written with the `flatbuffers` Builder directly, field by
field in the order of TFLite's schema.fbs (no TensorFlow needed).
"""
import json
import os

import flatbuffers
import numpy as np
from tflite_micro.python.tflite_micro import runtime

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "tflite_ops")
ROWS = 16

# BuiltinOperator codes and BuiltinOptions union codes of schema.fbs.
OPS = {"MUL": 18, "ADD": 0, "CONV_2D": 3, "DEPTHWISE_CONV_2D": 4, "DEQUANTIZE": 6, "FULLY_CONNECTED": 9,
       "RELU": 19, "RELU6": 21, "TANH": 28, "TRANSPOSE_CONV": 67, "RESIZE_NEAREST_NEIGHBOR": 97,
       "QUANTIZE": 114, "SUB": 41, "PRELU": 54, "MAXIMUM": 55, "MINIMUM": 57, "LEAKY_RELU": 98,
       "SQUARED_DIFFERENCE": 99, "ELU": 111, "HARD_SWISH": 117, "GELU": 150, "FLOOR": 8,
       "TRANSPOSE": 39, "LOGISTIC": 14,
       "MEAN": 40, "SUM": 74, "AVERAGE_POOL_2D": 1, "MAX_POOL_2D": 17, "SOFTMAX": 25, "RESIZE_BILINEAR": 23, "DEPTH_TO_SPACE": 5, "SPACE_TO_DEPTH": 26, "ARG_MAX": 56, "ARG_MIN": 79, "TILE": 69,
       "SPLIT": 49, "SPLIT_V": 102, "UNPACK": 88, "GATHER": 36, "SHAPE": 77, "RESHAPE": 22}

OPT = {"Conv2D": 1, "DepthwiseConv2D": 2, "FullyConnected": 8, "Add": 11, "TransposeConv": 49,
       "ResizeNearestNeighbor": 74, "Dequantize": 38, "Quantize": 89, "Mul": 21, "Sub": 28,
       "LeakyRelu": 75, "Gelu": 116, "Reducer": 27, "Pool2D": 5, "Softmax": 9, "ResizeBilinear": 15, "SpaceToDepth": 19, "DepthToSpace": 94, "ArgMax": 40, "ArgMin": 57,
       "Split": 35, "SplitV": 79, "Unpack": 64, "Gather": 23, "Shape": 55}
INT8, INT32, INT64, FLOAT32 = 9, 2, 4, 0


class Graph:
    """Collects tensors, buffers and operators, then writes the flatbuffer."""

    def __init__(self):
        self.tensors, self.buffers, self.ops, self.codes = [], [b""], [], []

    def tensor(self, shape, dtype=INT8, scale=None, zp=None, data=None, qdim=0):
        buf = 0
        if data is not None:
            self.buffers.append(np.ascontiguousarray(data).tobytes())
            buf = len(self.buffers) - 1
        else:
            self.buffers.append(b"")
            buf = len(self.buffers) - 1
        self.tensors.append(dict(shape=list(shape), dtype=dtype, buffer=buf, scale=scale, zp=zp, qdim=qdim))
        return len(self.tensors) - 1

    def op(self, name, inputs, outputs, opt=None, fields=()):
        code = OPS[name]
        if code not in self.codes:
            self.codes.append(code)
        self.ops.append(dict(code=self.codes.index(code), inputs=inputs, outputs=outputs, opt=opt, fields=fields))

    def build(self, inputs, outputs):
        b = flatbuffers.Builder(4096)

        def ivec(xs):
            return b.CreateNumpyVector(np.asarray(xs, dtype=np.int32))

        bufs = []
        for data in self.buffers:
            d = b.CreateNumpyVector(np.frombuffer(data, dtype=np.uint8)) if data else None
            b.StartObject(3)
            if d is not None:
                b.PrependUOffsetTRelativeSlot(0, d, 0)
            bufs.append(b.EndObject())
        tens = []
        for i, t in enumerate(self.tensors):
            q = None
            if t["scale"] is not None:
                sc = b.CreateNumpyVector(np.asarray(t["scale"], dtype=np.float32).reshape(-1))
                zp = b.CreateNumpyVector(np.asarray(t["zp"], dtype=np.int64).reshape(-1))
                b.StartObject(7)
                b.PrependUOffsetTRelativeSlot(2, sc, 0)
                b.PrependUOffsetTRelativeSlot(3, zp, 0)
                b.PrependInt32Slot(6, t["qdim"], 0)
                q = b.EndObject()
            shape = ivec(t["shape"])
            name = b.CreateString(f"t{i}")
            b.StartObject(8)
            b.PrependUOffsetTRelativeSlot(0, shape, 0)
            b.PrependInt8Slot(1, t["dtype"], 0)
            b.PrependUint32Slot(2, t["buffer"], 0)
            b.PrependUOffsetTRelativeSlot(3, name, 0)
            if q is not None:
                b.PrependUOffsetTRelativeSlot(4, q, 0)
            tens.append(b.EndObject())
        ops = []
        for o in self.ops:
            opt = None
            if o["opt"] is not None:
                n = max([f[0] for f in o["fields"]] + [0]) + 1
                b.StartObject(n)
                for slot, kind, v in o["fields"]:
                    {"i8": b.PrependInt8Slot, "i32": b.PrependInt32Slot, "bool": b.PrependBoolSlot,
                     "f32": b.PrependFloat32Slot}[kind](slot, v, 0 if kind != "i32" else -999)
                opt = b.EndObject()
            ins, outs = ivec(o["inputs"]), ivec(o["outputs"])
            b.StartObject(5)
            b.PrependUint32Slot(0, o["code"], 0)
            b.PrependUOffsetTRelativeSlot(1, ins, 0)
            b.PrependUOffsetTRelativeSlot(2, outs, 0)
            if opt is not None:
                b.PrependUint8Slot(3, OPT[o["opt"]], 0)
                b.PrependUOffsetTRelativeSlot(4, opt, 0)
            ops.append(b.EndObject())
        codes = []
        for c in self.codes:
            b.StartObject(4)
            b.PrependInt8Slot(0, min(c, 127), 0)
            b.PrependInt32Slot(2, 1, 0)
            b.PrependInt32Slot(3, c, 0)
            codes.append(b.EndObject())

        def tvec(xs):
            b.StartVector(4, len(xs), 4)
            for x in reversed(xs):
                b.PrependUOffsetTRelative(x)
            return b.EndVector()

        tv, ov = tvec(tens), tvec(ops)
        iv, outv = ivec(inputs), ivec(outputs)
        b.StartObject(5)
        b.PrependUOffsetTRelativeSlot(0, tv, 0)
        b.PrependUOffsetTRelativeSlot(1, iv, 0)
        b.PrependUOffsetTRelativeSlot(2, outv, 0)
        b.PrependUOffsetTRelativeSlot(3, ov, 0)
        sg = b.EndObject()
        sgv, cv, bv = tvec([sg]), tvec(codes), tvec(bufs)
        desc = b.CreateString("fvae per-operator test")
        b.StartObject(5)
        b.PrependUint32Slot(0, 3, 0)
        b.PrependUOffsetTRelativeSlot(1, cv, 0)
        b.PrependUOffsetTRelativeSlot(2, sgv, 0)
        b.PrependUOffsetTRelativeSlot(3, desc, 0)
        b.PrependUOffsetTRelativeSlot(4, bv, 0)
        b.Finish(b.EndObject(), file_identifier=b"TFL3")
        return bytes(b.Output())


rng = np.random.default_rng(20261124)


def i8(shape):
    return rng.integers(-128, 128, size=shape, dtype=np.int8)


def per_channel(n):
    return (rng.uniform(0.002, 0.02, size=n)).astype(np.float32)


# Per-model options: edge rows first; expected outputs from LiteRT's reference kernels.
EDGES = dict(edges=True)
LITERT = dict(edges=True, litert=True)


def models():
    # DEPTHWISE_CONV_2D: SAME, stride 2, depth multiplier 2, per-channel, bias, fused RELU6.
    g = Graph()
    x = g.tensor([1, 5, 5, 3], scale=[0.05], zp=[3])
    w = g.tensor([1, 3, 3, 6], scale=per_channel(6), zp=[0] * 6, data=i8((1, 3, 3, 6)), qdim=3)
    bias = g.tensor([6], INT32, scale=per_channel(6) * 0.05, zp=[0] * 6,
                    data=rng.integers(-2000, 2000, 6, dtype=np.int32))
    y = g.tensor([1, 3, 3, 6], scale=[0.03], zp=[-100])
    g.op("DEPTHWISE_CONV_2D", [x, w, bias], [y], "DepthwiseConv2D",
         [(0, "i8", 0), (1, "i32", 2), (2, "i32", 2), (3, "i32", 2), (4, "i8", 3)])
    yield "depthwise_same_s2_relu6", g, [x], [y]

    # DEPTHWISE_CONV_2D: VALID, dilation 2, per-tensor weights, no bias.
    g = Graph()
    x = g.tensor([1, 7, 6, 4], scale=[0.02], zp=[-7])
    w = g.tensor([1, 2, 3, 4], scale=[0.01], zp=[0], data=i8((1, 2, 3, 4)))
    y = g.tensor([1, 5, 2, 4], scale=[0.05], zp=[5])
    g.op("DEPTHWISE_CONV_2D", [x, w], [y], "DepthwiseConv2D",
         [(0, "i8", 1), (1, "i32", 1), (2, "i32", 1), (3, "i32", 1), (4, "i8", 0), (5, "i32", 2), (6, "i32", 2)])
    yield "depthwise_valid_dilated", g, [x], [y]

    # TANH.
    g = Graph()
    x = g.tensor([1, 64], scale=[0.03], zp=[-5])
    y = g.tensor([1, 64], scale=[1.0 / 128], zp=[0])
    g.op("TANH", [x], [y])
    yield "tanh", g, [x], [y]

    # RELU (requantising) and RELU6.
    g = Graph()
    x = g.tensor([1, 64], scale=[0.04], zp=[10])
    y = g.tensor([1, 64], scale=[0.02], zp=[-128])
    g.op("RELU", [x], [y])
    yield "relu", g, [x], [y]
    g = Graph()
    x = g.tensor([1, 64], scale=[0.05], zp=[-20])
    y = g.tensor([1, 64], scale=[0.05], zp=[-20])
    g.op("RELU6", [x], [y])
    yield "relu6", g, [x], [y]

    # ADD: broadcast [1,4,4,3] + [1,1,1,3], fused RELU; and + a constant [3].
    g = Graph()
    a = g.tensor([1, 4, 4, 3], scale=[0.05], zp=[2])
    c = g.tensor([1, 1, 1, 3], scale=[0.1], zp=[-3])
    y = g.tensor([1, 4, 4, 3], scale=[0.08], zp=[-10])
    g.op("ADD", [a, c], [y], "Add", [(0, "i8", 1)])
    yield "add_broadcast_relu", g, [a, c], [y]
    g = Graph()
    a = g.tensor([2, 8], scale=[0.03], zp=[0])
    c = g.tensor([8], scale=[0.02], zp=[4], data=i8(8))
    y = g.tensor([2, 8], scale=[0.04], zp=[1])
    g.op("ADD", [a, c], [y])
    yield "add_constant", g, [a], [y]

    # RESIZE_NEAREST_NEIGHBOR: 3x4 -> 5x7, half-pixel centres; and align_corners.
    for name, fields in [("resize_half_pixel", [(1, "bool", 1)]), ("resize_align_corners", [(0, "bool", 1)]),
                         ("resize_default", [])]:
        g = Graph()
        x = g.tensor([1, 3, 4, 2], scale=[0.1], zp=[0])
        size = g.tensor([2], INT32, data=np.array([5, 7], dtype=np.int32))
        y = g.tensor([1, 5, 7, 2], scale=[0.1], zp=[0])
        g.op("RESIZE_NEAREST_NEIGHBOR", [x, size], [y], "ResizeNearestNeighbor" if fields else None, fields)
        yield name, g, [x], [y]

    # QUANTIZE f32 -> int8, FULLY_CONNECTED (per-tensor, no bias, RELU_N1_TO_1), DEQUANTIZE.
    g = Graph()
    xf = g.tensor([3, 16], FLOAT32)
    xq = g.tensor([3, 16], scale=[0.02], zp=[-3])
    w = g.tensor([5, 16], scale=[0.01], zp=[0], data=i8((5, 16)))
    yq = g.tensor([3, 5], scale=[0.01], zp=[2])
    yf = g.tensor([3, 5], FLOAT32)
    g.op("QUANTIZE", [xf], [xq])
    g.op("FULLY_CONNECTED", [xq, w, -1], [yq], "FullyConnected", [(0, "i8", 2)])
    g.op("DEQUANTIZE", [yq], [yf])
    yield "quantize_fc_dequantize", g, [xf], [yf]

    # QUANTIZE int8 -> int8 (requantise).
    g = Graph()
    x = g.tensor([1, 40], scale=[0.037], zp=[11])
    y = g.tensor([1, 40], scale=[0.011], zp=[-9])
    g.op("QUANTIZE", [x], [y])
    yield "requantize", g, [x], [y]

    # CONV_2D: VALID, stride 2x1, dilation 1x2, per-tensor weights, bias, fused RELU.
    g = Graph()
    x = g.tensor([1, 9, 8, 3], scale=[0.04], zp=[-1])
    w = g.tensor([4, 3, 2, 3], scale=[0.008], zp=[0], data=i8((4, 3, 2, 3)))
    bias = g.tensor([4], INT32, scale=[0.04 * 0.008] * 4, zp=[0] * 4,
                    data=rng.integers(-3000, 3000, 4, dtype=np.int32))
    y = g.tensor([1, 4, 6, 4], scale=[0.06], zp=[-128])
    g.op("CONV_2D", [x, w, bias], [y], "Conv2D",
         [(0, "i8", 1), (1, "i32", 1), (2, "i32", 2), (3, "i8", 1), (4, "i32", 2), (5, "i32", 1)])
    yield "conv_valid_strided_dilated", g, [x], [y]

    # TRANSPOSE_CONV: VALID, stride 2, 5x5 output from 2x2, no bias, per-channel.
    g = Graph()
    shape = g.tensor([4], INT32, data=np.array([1, 5, 5, 3], dtype=np.int32))
    w = g.tensor([3, 3, 3, 2], scale=per_channel(3), zp=[0] * 3, data=i8((3, 3, 3, 2)))
    x = g.tensor([1, 2, 2, 2], scale=[0.05], zp=[6])
    y = g.tensor([1, 5, 5, 3], scale=[0.02], zp=[-3])
    g.op("TRANSPOSE_CONV", [shape, w, x], [y], "TransposeConv", [(0, "i8", 1), (1, "i32", 2), (2, "i32", 2)])
    yield "transpose_conv_valid_nobias", g, [x], [y]

    # The operators below get edge rows first (EDGES): every input at -128, at 127, the two
    # mixed, and all 256 values in order; then random rows.

    # LEAKY_RELU: alpha 0.2; a negative alpha with zero points at the ends; alpha 3 (a
    # multiplier above 1); an output scale making the identity multiplier tiny.
    for name, alpha, (sx, zx), (sy, zy) in [("leaky_relu", 0.2, (0.05, 3), (0.03, -20)),
                                            ("leaky_relu_negative_alpha", -0.5, (0.04, -128), (0.05, 127)),
                                            ("leaky_relu_alpha_3", 3.0, (0.1, 127), (0.02, -128)),
                                            ("leaky_relu_tiny_multiplier", 0.1, (1e-3, 0), (40.0, 0)),
                                            # f64 and f32 multipliers give different tables here.
                                            ("leaky_relu_f64_multiplier", 1.9079780578613281,
                                             (0.003043972421437502, -10), (0.0016427787486463785, 33))]:
        g = Graph()
        x = g.tensor([1, 256], scale=[sx], zp=[zx])
        y = g.tensor([1, 256], scale=[sy], zp=[zy])
        g.op("LEAKY_RELU", [x], [y], "LeakyRelu", [(0, "f32", alpha)])
        yield name, g, [x], [y], EDGES

    # MUL: broadcast with fused RELU6; same shapes of odd size with a multiplier far above 1
    # (shift 8) and zero points at the ends; a multiplier that flushes to zero; a constant
    # operand; rank-6 broadcast; a rank-0 scalar.
    g = Graph()
    a = g.tensor([1, 4, 4, 3], scale=[0.05], zp=[2])
    c = g.tensor([1, 1, 1, 3], scale=[0.1], zp=[-3])
    y = g.tensor([1, 4, 4, 3], scale=[0.02], zp=[-60])
    g.op("MUL", [a, c], [y], "Mul", [(0, "i8", 3)])
    yield "mul_broadcast_relu6", g, [a, c], [y], EDGES
    g = Graph()
    a = g.tensor([3, 7], scale=[0.5], zp=[-128])
    c = g.tensor([3, 7], scale=[0.5], zp=[127])
    y = g.tensor([3, 7], scale=[0.001], zp=[5])
    g.op("MUL", [a, c], [y])
    yield "mul_huge_multiplier", g, [a, c], [y], EDGES
    g = Graph()
    a = g.tensor([5], scale=[1e-6], zp=[0])
    c = g.tensor([5], scale=[1e-6], zp=[0])
    y = g.tensor([5], scale=[10.0], zp=[-7])
    g.op("MUL", [a, c], [y])
    yield "mul_flushed_multiplier", g, [a, c], [y], EDGES
    g = Graph()
    a = g.tensor([2, 5], scale=[0.03], zp=[-1])
    c = g.tensor([5], scale=[0.02], zp=[4], data=i8(5))
    y = g.tensor([2, 5], scale=[0.01], zp=[0])
    g.op("MUL", [c, a], [y])
    yield "mul_constant_first", g, [a], [y], EDGES
    g = Graph()
    a = g.tensor([2, 1, 3, 1, 2, 3], scale=[0.04], zp=[1])
    c = g.tensor([1, 2, 1, 4, 1, 3], scale=[0.03], zp=[-2])
    y = g.tensor([2, 2, 3, 4, 2, 3], scale=[0.01], zp=[3])
    g.op("MUL", [a, c], [y])
    yield "mul_broadcast_6d", g, [a, c], [y], EDGES
    g = Graph()
    a = g.tensor([2, 3, 5], scale=[0.04], zp=[1])
    c = g.tensor([], scale=[0.03], zp=[-2])
    y = g.tensor([2, 3, 5], scale=[0.01], zp=[3])
    g.op("MUL", [a, c], [y])
    yield "mul_scalar", g, [a, c], [y], EDGES
    g = Graph()
    a = g.tensor([2, 9], scale=[0.06], zp=[-9])
    y = g.tensor([2, 9], scale=[0.05], zp=[-128])
    g.op("MUL", [a, a], [y])
    yield "mul_square", g, [a], [y], EDGES

    # SUB: rank-3 against rank-2 broadcast with fused RELU; constant minus activation; rank 5.
    g = Graph()
    a = g.tensor([2, 3, 4], scale=[0.05], zp=[-5])
    c = g.tensor([3, 1], scale=[0.07], zp=[9])
    y = g.tensor([2, 3, 4], scale=[0.04], zp=[-128])
    g.op("SUB", [a, c], [y], "Sub", [(0, "i8", 1)])
    yield "sub_broadcast_relu", g, [a, c], [y], EDGES
    g = Graph()
    a = g.tensor([3, 5], scale=[0.02], zp=[127])
    c = g.tensor([1, 5], scale=[0.09], zp=[-128], data=i8((1, 5)))
    y = g.tensor([3, 5], scale=[0.05], zp=[0])
    g.op("SUB", [c, a], [y])
    yield "sub_constant_first", g, [a], [y], EDGES
    g = Graph()
    a = g.tensor([2, 1, 3, 2, 5], scale=[0.03], zp=[0])
    c = g.tensor([4, 1, 1, 5], scale=[0.03], zp=[0])
    y = g.tensor([2, 4, 3, 2, 5], scale=[0.06], zp=[2])
    g.op("SUB", [a, c], [y])
    yield "sub_broadcast_5d", g, [a, c], [y], EDGES

    # ADD beyond 4-D, both inputs broadcast (rank 6 against rank 5), zero points at the ends.
    g = Graph()
    a = g.tensor([1, 2, 1, 3, 1, 2], scale=[0.05], zp=[-128])
    c = g.tensor([2, 1, 3, 1, 4, 1][1:], scale=[0.02], zp=[127])
    y = g.tensor([1, 2, 3, 3, 4, 2], scale=[0.06], zp=[-3])
    g.op("ADD", [a, c], [y])
    yield "add_broadcast_6d", g, [a, c], [y], EDGES

    # PRELU: alpha shared over H and W (the converter's shared_axes form), and a full alpha.
    g = Graph()
    x = g.tensor([1, 4, 4, 3], scale=[0.05], zp=[7])
    al = g.tensor([1, 1, 3], scale=[0.004], zp=[-20], data=i8((1, 1, 3)))
    y = g.tensor([1, 4, 4, 3], scale=[0.03], zp=[-128])
    g.op("PRELU", [x, al], [y])
    yield "prelu_shared_axes", g, [x], [y], EDGES
    g = Graph()
    x = g.tensor([2, 3, 5], scale=[0.08], zp=[-128])
    al = g.tensor([2, 3, 5], scale=[0.01], zp=[0], data=i8((2, 3, 5)))
    y = g.tensor([2, 3, 5], scale=[0.05], zp=[127])
    g.op("PRELU", [x, al], [y])
    yield "prelu_full_alpha", g, [x], [y], EDGES

    # HARD_SWISH: reluish exponents positive (s_x 0.05), negative (s_x 0.002) and large (s_x 0.9).
    for name, (sx, zx), (sy, zy) in [("hard_swish", (0.05, -3), (0.03, -50)),
                                     ("hard_swish_small_scale", (0.002, 127), (0.001, -128)),
                                     ("hard_swish_large_scale", (0.9, -128), (0.5, 100)),
                                     # f64 and f32 multipliers give different tables here.
                                     ("hard_swish_f64_multiplier", (0.0005415622727014124, -128),
                                      (0.0002313376753591001, -128))]:
        g = Graph()
        x = g.tensor([1, 256], scale=[sx], zp=[zx])
        y = g.tensor([1, 256], scale=[sy], zp=[zy])
        g.op("HARD_SWISH", [x], [y])
        yield name, g, [x], [y], EDGES

    # ELU: int8 (TFLite Micro's table), f32, and the converter's DEQUANTIZE -> ELU -> QUANTIZE.
    g = Graph()
    x = g.tensor([1, 256], scale=[0.06], zp=[40])
    y = g.tensor([1, 256], scale=[0.04], zp=[-100])
    g.op("ELU", [x], [y])
    yield "elu", g, [x], [y], EDGES
    g = Graph()
    x = g.tensor([4, 64], FLOAT32)
    y = g.tensor([4, 64], FLOAT32)
    g.op("ELU", [x], [y])
    yield "elu_f32", g, [x], [y], EDGES
    g = Graph()
    xq = g.tensor([1, 256], scale=[0.045], zp=[9])
    xf = g.tensor([1, 256], FLOAT32)
    yf = g.tensor([1, 256], FLOAT32)
    yq = g.tensor([1, 256], scale=[0.025], zp=[-88])
    g.op("DEQUANTIZE", [xq], [xf])
    g.op("ELU", [xf], [yf])
    g.op("QUANTIZE", [yf], [yq])
    yield "dequantize_elu_quantize", g, [xq], [yq], EDGES

    # MAXIMUM and MINIMUM: broadcast and same shape (one quantisation, as the converter writes).
    for op in ["MAXIMUM", "MINIMUM"]:
        g = Graph()
        a = g.tensor([2, 3, 4], scale=[0.05], zp=[-3])
        c = g.tensor([4], scale=[0.05], zp=[-3])
        y = g.tensor([2, 3, 4], scale=[0.05], zp=[-3])
        g.op(op, [a, c], [y])
        yield op.lower() + "_broadcast", g, [a, c], [y], EDGES
        g = Graph()
        a = g.tensor([3, 7], scale=[0.02], zp=[127])
        c = g.tensor([3, 7], scale=[0.02], zp=[127])
        y = g.tensor([3, 7], scale=[0.02], zp=[127])
        g.op(op, [a, c], [y])
        yield op.lower() + "_same_shape", g, [a, c], [y], EDGES

    # SQUARED_DIFFERENCE: broadcast with different scales; same shape with zero points at the ends
    # and a small output scale (output multiplier above 1).
    g = Graph()
    a = g.tensor([1, 4, 4, 3], scale=[0.05], zp=[2])
    c = g.tensor([1, 1, 1, 3], scale=[0.11], zp=[-9])
    y = g.tensor([1, 4, 4, 3], scale=[0.3], zp=[-128])
    g.op("SQUARED_DIFFERENCE", [a, c], [y])
    yield "squared_difference_broadcast", g, [a, c], [y], EDGES
    g = Graph()
    a = g.tensor([3, 7], scale=[0.02], zp=[-128])
    c = g.tensor([3, 7], scale=[0.03], zp=[127])
    y = g.tensor([3, 7], scale=[0.0001], zp=[-100])
    g.op("SQUARED_DIFFERENCE", [a, c], [y])
    yield "squared_difference_small_output_scale", g, [a, c], [y], EDGES

    # One-element constant operands (fvae turns these into tables): x + c, c * x (rank 0),
    # c - x, max(x, c), (x - c)^2, PRELU with one alpha.
    for name, op, opt, fields, first, cshape in [("add_constant_scalar", "ADD", "Add", [(0, "i8", 1)], False, [1]),
                                                 ("mul_constant_scalar_first", "MUL", None, [], True, []),
                                                 ("sub_constant_scalar_first", "SUB", None, [], True, [1, 1]),
                                                 ("maximum_constant_scalar", "MAXIMUM", None, [], False, [1]),
                                                 ("squared_difference_constant_scalar", "SQUARED_DIFFERENCE", None, [],
                                                  False, [1]),
                                                 ("prelu_constant_scalar", "PRELU", None, [], False, [1])]:
        g = Graph()
        same = op == "MAXIMUM"
        a = g.tensor([3, 11], scale=[0.05], zp=[-7])
        c = g.tensor(cshape, scale=[0.05 if same else 0.09], zp=[-7 if same else 100], data=i8(cshape))
        y = g.tensor([3, 11], scale=[0.05 if same else 0.04], zp=[-7 if same else -30])
        g.op(op, [c, a] if first else [a, c], [y], opt, fields)
        yield name, g, [a], [y], EDGES

    # GELU (LiteRT's reference kernels; TFLite Micro has no int8 GELU): erf and tanh forms.
    for name, approximate, (sx, zx), (sy, zy) in [("gelu", 0, (0.042, 6), (0.0207, -120)),
                                                  ("gelu_approximate", 1, (0.03, -128), (0.02, -5)),
                                                  ("gelu_wide", 0, (0.2, 127), (0.1, -128))]:
        g = Graph()
        x = g.tensor([1, 256], scale=[sx], zp=[zx])
        y = g.tensor([1, 256], scale=[sy], zp=[zy])
        g.op("GELU", [x], [y], "Gelu", [(0, "bool", approximate)] if approximate else [])
        yield name, g, [x], [y], LITERT

    # RELU and RELU6 in f32 (odd size; -0, NaN, infinities in the edge rows), and the converter's
    # DEQUANTIZE -> RELU -> QUANTIZE.
    for op in ["RELU", "RELU6"]:
        g = Graph()
        x = g.tensor([3, 37], FLOAT32)
        y = g.tensor([3, 37], FLOAT32)
        g.op(op, [x], [y])
        yield op.lower() + "_f32", g, [x], [y], EDGES
    g = Graph()
    xq = g.tensor([1, 255], scale=[0.045], zp=[-15])
    xf = g.tensor([1, 255], FLOAT32)
    yf = g.tensor([1, 255], FLOAT32)
    yq = g.tensor([1, 255], scale=[0.03], zp=[-128])
    g.op("DEQUANTIZE", [xq], [xf])
    g.op("RELU", [xf], [yf])
    g.op("QUANTIZE", [yf], [yq])
    yield "dequantize_relu_quantize", g, [xq], [yq], EDGES

    # The rest of litert-torch's float tail: TRANSPOSE and LOGISTIC in f32 (odd sizes, ranks 3
    # and 4; LOGISTIC's edge rows cross both cut-offs), TRANSPOSE_CONV with f32 weights and bias.
    for name, shape, perm in [("transpose_f32", [3, 5, 7], [2, 0, 1]), ("transpose_f32_rank4", [2, 3, 1, 5], [3, 1, 0, 2])]:
        g = Graph()
        x = g.tensor(shape, FLOAT32)
        p = g.tensor([len(perm)], INT32, data=np.array(perm, dtype=np.int32))
        y = g.tensor([shape[k] for k in perm], FLOAT32)
        g.op("TRANSPOSE", [x, p], [y])
        yield name, g, [x], [y], EDGES
    g = Graph()
    x = g.tensor([3, 43], FLOAT32)
    y = g.tensor([3, 43], FLOAT32)
    g.op("LOGISTIC", [x], [y])
    yield "logistic_f32", g, [x], [y], EDGES
    # SAME, strides 2 and 3, bias, RELU6 fused; VALID, stride 1, no bias.
    for name, (h, w_, c), (kh, kw, oc), (sh, sw), (oh, ow), pad, act, bias in [
            ("transpose_conv_f32_same", (3, 2, 5), (3, 4, 3), (2, 3), (6, 6), 0, 3, True),
            ("transpose_conv_f32_valid", (2, 3, 3), (2, 3, 4), (1, 1), (3, 5), 1, 0, False)]:
        g = Graph()
        shape = g.tensor([4], INT32, data=np.array([1, oh, ow, oc], dtype=np.int32))
        w = g.tensor([oc, kh, kw, c], FLOAT32, data=rng.normal(0, 0.7, (oc, kh, kw, c)).astype(np.float32))
        x = g.tensor([1, h, w_, c], FLOAT32)
        y = g.tensor([1, oh, ow, oc], FLOAT32)
        ins = [shape, w, x]
        if bias:
            ins.append(g.tensor([oc], FLOAT32, data=rng.normal(0, 1, oc).astype(np.float32)))
        g.op("TRANSPOSE_CONV", ins, [y], "TransposeConv",
             [(0, "i8", pad), (1, "i32", sw), (2, "i32", sh), (3, "i8", act)])
        yield name, g, [x], [y], EDGES

    # MEAN and SUM: the global average over H and W (keep_dims) requantising between zero
    # points at the ends; the last axis without keep_dims; axes 0 and 2 of a rank-4 tensor;
    # repeated and negative axes; a multiplier far above 1 and one flushed to zero; 323
    # elements per mean; SUM over H and W and over the first axis.
    for name, op, shape, axes, keep, (sx, zx), (sy, zy) in [
            ("mean_global_hw", "MEAN", [1, 5, 7, 3], [1, 2], True, (0.05, -128), (0.06, -128)),
            ("mean_last_axis", "MEAN", [2, 3, 5], [-1], False, (0.04, 9), (0.04, 9)),
            ("mean_axes_0_2", "MEAN", [2, 3, 4, 5], [0, 2], True, (0.02, 127), (0.05, 127)),
            ("mean_repeated_axes", "MEAN", [3, 4, 5], [1, -2, 1], False, (0.07, -3), (0.02, 4)),
            ("mean_large_multiplier", "MEAN", [1, 3, 3, 4], [1, 2], True, (2.0, 0), (0.01, -5)),
            ("mean_flushed_multiplier", "MEAN", [1, 3, 3, 4], [1, 2], True, (1e-9, 0), (10.0, -7)),
            ("mean_323", "MEAN", [1, 17, 19, 2], [1, 2], False, (0.01, -100), (0.02, 20)),
            ("sum_hw", "SUM", [1, 4, 4, 3], [1, 2], True, (0.01, -20), (0.2, -128)),
            ("sum_first_axis", "SUM", [3, 7], [0], False, (0.05, 127), (0.1, 0))]:
        g = Graph()
        x = g.tensor(shape, scale=[sx], zp=[zx])
        ax = g.tensor([len(axes)], INT32, data=np.array(axes, dtype=np.int32))
        kept = [1 if k in [a % len(shape) for a in axes] else d for k, d in enumerate(shape)]
        out = kept if keep else [d for k, d in enumerate(shape) if k not in [a % len(shape) for a in axes]]
        y = g.tensor(out, scale=[sy], zp=[zy])
        g.op(op, [x, ax], [y], "Reducer", [(0, "bool", 1)] if keep else [])
        yield name, g, [x], [y], EDGES

    # AVERAGE_POOL_2D and MAX_POOL_2D: SAME windows cut at odd edges, VALID with unequal
    # windows and strides and a fused RELU6 / RELU, a global average, zero points at the ends.
    for name, op, shape, (padding, fh, fw, sh, sw), act, (sc, zp) in [
            ("avg_pool_same_3x3_s2", "AVERAGE_POOL_2D", [1, 7, 9, 3], (0, 3, 3, 2, 2), 0, (0.05, -128)),
            ("avg_pool_valid_2x3_relu6", "AVERAGE_POOL_2D", [2, 6, 7, 2], (1, 2, 3, 2, 1), 3, (0.05, -30)),
            ("avg_pool_global", "AVERAGE_POOL_2D", [1, 5, 5, 4], (1, 5, 5, 1, 1), 0, (0.02, 127)),
            ("avg_pool_same_4x4_s1", "AVERAGE_POOL_2D", [1, 5, 6, 3], (0, 4, 4, 1, 1), 0, (0.1, 3)),
            ("max_pool_same_2x2_s2", "MAX_POOL_2D", [1, 5, 7, 3], (0, 2, 2, 2, 2), 0, (0.05, -128)),
            ("max_pool_valid_3x3_relu", "MAX_POOL_2D", [1, 6, 5, 2], (1, 3, 3, 1, 1), 1, (0.04, 5)),
            ("max_pool_same_3x2_s3x1", "MAX_POOL_2D", [2, 7, 4, 3], (0, 3, 2, 3, 1), 0, (0.03, 127))]:
        def out_size(n, f, st):
            return -(-n // st) if padding == 0 else (n - f + st) // st
        g = Graph()
        x = g.tensor(shape, scale=[sc], zp=[zp])
        y = g.tensor([shape[0], out_size(shape[1], fh, sh), out_size(shape[2], fw, sw), shape[3]], scale=[sc], zp=[zp])
        g.op(op, [x], [y], "Pool2D",
             [(0, "i8", padding), (1, "i32", sw), (2, "i32", sh), (3, "i32", fw), (4, "i32", fh), (5, "i8", act)])
        yield name, g, [x], [y], EDGES

    # SOFTMAX (int8 out, scale 1/256, zero point -128): small and large input scales (with a
    # large one most differences fall below diff_min), beta below 1, rank 4, 256 classes.
    for name, shape, beta, (sx, zx) in [("softmax", [4, 10], 1.0, (0.1, -10)),
                                        ("softmax_small_scale", [3, 33], 1.0, (0.02, 127)),
                                        ("softmax_large_scale", [2, 5], 1.0, (1.0, -128)),
                                        ("softmax_beta_rank4", [1, 2, 3, 7], 0.5, (0.07, 3)),
                                        ("softmax_256", [1, 256], 1.0, (0.05, 0))]:
        g = Graph()
        x = g.tensor(shape, scale=[sx], zp=[zx])
        y = g.tensor(shape, scale=[1.0 / 256], zp=[-128])
        g.op("SOFTMAX", [x], [y], "Softmax", [(0, "f32", beta)])
        yield name, g, [x], [y], EDGES

    # RESIZE_BILINEAR: up (odd factors) and down, each of the default, align_corners and
    # half_pixel_centers; an output of one pixel with align_corners.
    for name, ins, outs, fields in [("resize_bilinear_up", (3, 4), (7, 9), []),
                                    ("resize_bilinear_up_align_corners", (3, 4), (7, 9), [(2, "bool", 1)]),
                                    ("resize_bilinear_up_half_pixel", (3, 4), (7, 9), [(3, "bool", 1)]),
                                    ("resize_bilinear_down", (7, 6), (3, 4), []),
                                    ("resize_bilinear_down_align_corners", (7, 6), (3, 4), [(2, "bool", 1)]),
                                    ("resize_bilinear_down_half_pixel", (7, 6), (3, 4), [(3, "bool", 1)]),
                                    ("resize_bilinear_to_one_align_corners", (5, 4), (1, 1), [(2, "bool", 1)])]:
        g = Graph()
        x = g.tensor([2, ins[0], ins[1], 3], scale=[0.1], zp=[-128])
        size = g.tensor([2], INT32, data=np.array(outs, dtype=np.int32))
        y = g.tensor([2, outs[0], outs[1], 3], scale=[0.1], zp=[-128])
        g.op("RESIZE_BILINEAR", [x, size], [y], "ResizeBilinear" if fields else None, fields)
        yield name, g, [x], [y], EDGES

    # DEPTH_TO_SPACE and SPACE_TO_DEPTH: block sizes 2 and 3, odd sizes, two batches.
    for name, op, opt, shape, k in [("depth_to_space_2", "DEPTH_TO_SPACE", "DepthToSpace", [2, 3, 5, 12], 2),
                                    ("depth_to_space_3", "DEPTH_TO_SPACE", "DepthToSpace", [1, 2, 3, 18], 3),
                                    ("space_to_depth_2", "SPACE_TO_DEPTH", "SpaceToDepth", [2, 6, 10, 3], 2),
                                    ("space_to_depth_3", "SPACE_TO_DEPTH", "SpaceToDepth", [1, 9, 3, 2], 3)]:
        n, h, w, c = shape
        out = [n, h * k, w * k, c // (k * k)] if op == "DEPTH_TO_SPACE" else [n, h // k, w // k, c * k * k]
        g = Graph()
        x = g.tensor(shape, scale=[0.05], zp=[-128])
        y = g.tensor(out, scale=[0.05], zp=[-128])
        g.op(op, [x], [y], opt, [(0, "i32", k)])
        yield name, g, [x], [y], EDGES

    # ARG_MAX and ARG_MIN: int32 indices (TFLite Micro) over the last, a middle and the first
    # axis (negative and int64 axis tensors); int64 indices (the converter's default) from
    # LiteRT's reference kernels. The edge rows (all equal) pin the first index on ties.
    for name, op, shape, axis, axis_type, out_type in [
            ("arg_max_last_axis", "ARG_MAX", [2, 3, 5], -1, INT32, INT32),
            ("arg_max_middle_axis", "ARG_MAX", [2, 7, 3], 1, INT32, INT32),
            ("arg_min_first_axis", "ARG_MIN", [4, 3, 2], 0, INT32, INT32),
            ("arg_max_int64", "ARG_MAX", [1, 4, 4, 9], 3, INT64, INT64),
            ("arg_min_int64", "ARG_MIN", [3, 11], -2, INT32, INT64)]:
        g = Graph()
        x = g.tensor(shape, scale=[0.1], zp=[3])
        ax = g.tensor([1], axis_type, data=np.array([axis], dtype=np.int32 if axis_type == INT32 else np.int64))
        y = g.tensor([d for k, d in enumerate(shape) if k != axis % len(shape)], out_type)
        g.op(op, [x, ax], [y], "ArgMax" if op == "ARG_MAX" else "ArgMin", [(0, "i8", out_type)])
        yield name, g, [x], [y], LITERT if out_type == INT64 else EDGES

    # TILE (LiteRT's reference kernels; TFLite Micro has none): every dimension of a rank-4
    # tensor tiled (one multiple 1), int64 multiples on rank 2, a rank-1 tensor.
    for name, shape, mult, mtype in [("tile_4d", [1, 2, 3, 2], [2, 3, 1, 2], INT32),
                                     ("tile_2d_int64", [3, 5], [2, 3], INT64),
                                     ("tile_1d", [7], [4], INT32)]:
        g = Graph()
        x = g.tensor(shape, scale=[0.05], zp=[-128])
        m = g.tensor([len(mult)], mtype, data=np.array(mult, dtype=np.int32 if mtype == INT32 else np.int64))
        y = g.tensor([d * k for d, k in zip(shape, mult)], scale=[0.05], zp=[-128])
        g.op("TILE", [x, m], [y])
        yield name, g, [x], [y], LITERT

    # SPLIT, SPLIT_V and UNPACK (several outputs, bytes copied unchanged): a middle axis, a
    # negative axis, odd sizes, one output only, f32; SPLIT_V with a -1 size.
    for name, shape, axis, n, dtype in [("split_axis1_3", [2, 6, 5], 1, 3, INT8),
                                        ("split_last_axis", [3, 4], -1, 2, INT8),
                                        ("split_first_axis_f32", [4, 3, 3], 0, 2, FLOAT32),
                                        ("split_one", [5, 3], 0, 1, INT8)]:
        g = Graph()
        x = g.tensor(shape, dtype, **({} if dtype == FLOAT32 else dict(scale=[0.05], zp=[-3])))
        ax = g.tensor([], INT32, data=np.array(axis, dtype=np.int32))
        part = [d // n if k == axis % len(shape) else d for k, d in enumerate(shape)]
        ys = [g.tensor(part, dtype, **({} if dtype == FLOAT32 else dict(scale=[0.05], zp=[-3]))) for _ in range(n)]
        g.op("SPLIT", [ax, x], ys, "Split", [(0, "i32", n)])
        yield name, g, [x], ys, EDGES
    for name, shape, axis, sizes in [("split_v_middle_axis", [2, 7, 3], 1, [1, 4, 2]),
                                     ("split_v_minus_one", [4, 9], -1, [2, -1, 3])]:
        g = Graph()
        x = g.tensor(shape, scale=[0.1], zp=[7])
        sz = g.tensor([len(sizes)], INT32, data=np.array(sizes, dtype=np.int32))
        ax = g.tensor([1], INT32, data=np.array([axis], dtype=np.int32))
        a = axis % len(shape)
        full = [shape[a] - sum(v for v in sizes if v >= 0) if v < 0 else v for v in sizes]
        ys = [g.tensor([v if k == a else d for k, d in enumerate(shape)], scale=[0.1], zp=[7]) for v in full]
        g.op("SPLIT_V", [x, sz, ax], ys, "SplitV", [(0, "i32", len(sizes))])
        yield name, g, [x], ys, EDGES
    for name, shape, axis in [("unpack_first_axis", [3, 4, 5], 0), ("unpack_last_axis", [2, 3, 4], -1),
                              ("unpack_middle_axis", [2, 5, 3], 1)]:
        g = Graph()
        x = g.tensor(shape, scale=[0.02], zp=[-128])
        a = axis % len(shape)
        ys = [g.tensor([d for k, d in enumerate(shape) if k != a], scale=[0.02], zp=[-128]) for _ in range(shape[a])]
        g.op("UNPACK", [x], ys, "Unpack", [(0, "i32", shape[a]), (1, "i32", axis)])
        yield name, g, [x], ys, EDGES

    # GATHER with constant indices: a middle axis with repeats, 2-D indices on axis 0, batch_dims
    # 1, a negative axis, f32 params, int64 indices (LiteRT: TFLite Micro takes int32 only).
    for name, shape, idx, axis, batch_dims, dtype, itype in [
            ("gather_axis1", [2, 5, 3], [4, 0, 0, 2], 1, 0, INT8, INT32),
            ("gather_indices_2d", [6, 3], [[5, 1], [0, 5]], 0, 0, INT8, INT32),
            ("gather_batch_dims", [2, 5, 3], [[4, 1, 1], [0, 3, 2]], 1, 1, INT8, INT32),
            ("gather_negative_axis", [3, 4, 5], [4, 0, 3], -1, 0, INT8, INT32),
            ("gather_f32", [4, 3], [3, 3, 1], 0, 0, FLOAT32, INT32),
            ("gather_int64_indices", [7, 2], [6, 0, 3, 3, 1], 0, 0, INT8, INT64)]:
        g = Graph()
        q = {} if dtype == FLOAT32 else dict(scale=[0.03], zp=[11])
        x = g.tensor(shape, dtype, **q)
        idx = np.array(idx, dtype=np.int32 if itype == INT32 else np.int64)
        i = g.tensor(list(idx.shape), itype, data=idx)
        a = axis % len(shape)
        out = shape[:a] + list(idx.shape)[batch_dims:] + shape[a + 1:]
        y = g.tensor(out, dtype, **q)
        g.op("GATHER", [x, i], [y], "Gather", [(0, "i32", axis), (1, "i32", batch_dims)])
        yield name, g, [x], [y], LITERT if itype == INT64 else EDGES
    # A VQ-VAE's code lookup: ARG_MAX over the last axis picks a row of a constant int8 codebook
    # (the indices an activation), with int32 (TFLite Micro) and int64 (LiteRT) indices.
    for name, itype in [("gather_codebook", INT32), ("gather_codebook_int64", INT64)]:
        g = Graph()
        x = g.tensor([1, 5, 8], scale=[0.1], zp=[0])
        ax = g.tensor([1], INT32, data=np.array([-1], dtype=np.int32))
        codes = g.tensor([1, 5], itype)
        book = g.tensor([8, 6], scale=[0.02], zp=[-4], data=i8((8, 6)))
        y = g.tensor([1, 5, 6], scale=[0.02], zp=[-4])
        g.op("ARG_MAX", [x, ax], [codes], "ArgMax", [(0, "i8", itype)])
        g.op("GATHER", [book, codes], [y], "Gather", [(0, "i32", 0)])
        yield name, g, [x], [y], LITERT if itype == INT64 else EDGES
    # GATHER of a shape known at plan time (folded): RESHAPE to the input's dimensions reversed
    # (LiteRT: TFLite Micro has no int32 GATHER).
    g = Graph()
    x = g.tensor([1, 6], scale=[0.1], zp=[0])
    shp = g.tensor([2], INT32)
    idx = g.tensor([2], INT32, data=np.array([1, 0], dtype=np.int32))
    new = g.tensor([2], INT32)
    y = g.tensor([6, 1], scale=[0.1], zp=[0])
    g.op("SHAPE", [x], [shp], "Shape", [(0, "i8", INT32)])
    g.op("GATHER", [shp, idx], [new], "Gather", [(0, "i32", 0)])
    g.op("RESHAPE", [x, new], [y])
    yield "gather_shape_folded", g, [x], [y], LITERT
    # GATHER with a negative batch_dims (-1: the indices' rank less one) on a rank-4 input.
    g = Graph()
    x = g.tensor([2, 3, 4, 2], scale=[0.05], zp=[-128])
    i = g.tensor([2, 3, 2], INT32, data=np.array([[[3, 0], [1, 1], [2, 3]], [[0, 0], [3, 2], [1, 0]]], dtype=np.int32))
    y = g.tensor([2, 3, 2, 2], scale=[0.05], zp=[-128])
    g.op("GATHER", [x, i], [y], "Gather", [(0, "i32", 2), (1, "i32", -1)])
    yield "gather_negative_batch_dims", g, [x], [y], EDGES
    # The small decoder's convolution shapes, which the Cortex-M pairs forms take (input channels
    # in groups of 4): 3x3 stride 2 SAME with one output channel, 3x3 stride 1 SAME with three
    # (fused RELU), and a stride-2 TRANSPOSE_CONV to one channel with a bias.
    g = Graph()
    x = g.tensor([1, 8, 8, 8], scale=[0.04], zp=[5])
    ws = per_channel(1)
    w = g.tensor([1, 3, 3, 8], scale=ws, zp=[0], data=i8((1, 3, 3, 8)))
    bias = g.tensor([1], INT32, scale=ws * 0.04, zp=[0], data=np.array([1234], dtype=np.int32))
    y = g.tensor([1, 4, 4, 1], scale=[0.05], zp=[-2])
    g.op("CONV_2D", [x, w, bias], [y], "Conv2D",
         [(0, "i8", 0), (1, "i32", 2), (2, "i32", 2), (3, "i8", 0), (4, "i32", 1), (5, "i32", 1)])
    yield "conv_same_s2_one_channel", g, [x], [y]
    g = Graph()
    x = g.tensor([1, 6, 7, 4], scale=[0.03], zp=[-7])
    ws = per_channel(3)
    w = g.tensor([3, 3, 3, 4], scale=ws, zp=[0] * 3, data=i8((3, 3, 3, 4)))
    bias = g.tensor([3], INT32, scale=ws * 0.03, zp=[0] * 3, data=rng.integers(-3000, 3000, 3, dtype=np.int32))
    y = g.tensor([1, 6, 7, 3], scale=[0.04], zp=[-128])
    g.op("CONV_2D", [x, w, bias], [y], "Conv2D",
         [(0, "i8", 0), (1, "i32", 1), (2, "i32", 1), (3, "i8", 1), (4, "i32", 1), (5, "i32", 1)])
    yield "conv_same_three_channels_relu", g, [x], [y]
    g = Graph()
    shape = g.tensor([4], INT32, data=np.array([1, 8, 8, 1], dtype=np.int32))
    ws = per_channel(1)
    w = g.tensor([1, 3, 3, 8], scale=ws, zp=[0], data=i8((1, 3, 3, 8)))
    x = g.tensor([1, 4, 4, 8], scale=[0.05], zp=[3])
    bias = g.tensor([1], INT32, scale=ws * 0.05, zp=[0], data=np.array([-777], dtype=np.int32))
    y = g.tensor([1, 8, 8, 1], scale=[0.06], zp=[4])
    g.op("TRANSPOSE_CONV", [shape, w, x, bias], [y], "TransposeConv", [(0, "i8", 0), (1, "i32", 2), (2, "i32", 2)])
    yield "transpose_conv_same_s2_one_channel", g, [x], [y]
    # DEPTHWISE_CONV_2D, depth multiplier 1, 6 channels (a group of 4 and a tail of 2), SAME,
    # stride 2, per-channel, bias.
    g = Graph()
    x = g.tensor([1, 7, 6, 6], scale=[0.05], zp=[-9])
    ws = per_channel(6)
    w = g.tensor([1, 3, 3, 6], scale=ws, zp=[0] * 6, data=i8((1, 3, 3, 6)), qdim=3)
    bias = g.tensor([6], INT32, scale=ws * 0.05, zp=[0] * 6, data=rng.integers(-2000, 2000, 6, dtype=np.int32))
    y = g.tensor([1, 4, 3, 6], scale=[0.03], zp=[11])
    g.op("DEPTHWISE_CONV_2D", [x, w, bias], [y], "DepthwiseConv2D",
         [(0, "i8", 0), (1, "i32", 2), (2, "i32", 2), (3, "i32", 1), (4, "i8", 0)])
    yield "depthwise_same_s2_six_channels", g, [x], [y]


def bad_models():
    def graph(op, shapes, scales, opt=None, fields=(), const=(), dtype=INT8):
        g = Graph()
        ts = []
        for k, (shape, sc) in enumerate(zip(shapes, scales)):
            data = np.zeros(shape, dtype=np.int8) if k in const else None
            ts.append(g.tensor(shape, dtype, scale=sc, zp=[0] * len(sc), data=data, qdim=len(shape) - 1))
        g.op(op, ts[:-1], ts[-1:], opt, fields)
        g.io = ([t for k, t in enumerate(ts[:-1]) if k not in const], ts[-1:])
        return g
    yield "mul_shapes", graph("MUL", [[2, 3], [4, 3], [2, 3]], [[0.1]] * 3)
    yield "sub_output_scale", graph("SUB", [[4], [4], [4]], [[1.0], [1.0], [1e-7]])
    yield "hard_swish_output_scale", graph("HARD_SWISH", [[8], [8]], [[1.0], [1e-3]])
    yield "prelu_per_channel_alpha", graph("PRELU", [[2, 3], [3], [2, 3]], [[0.1], [0.1, 0.2, 0.3], [0.1]],
                                           const=(1,))
    yield "mul_two_constants", graph("MUL", [[3], [3], [3]], [[0.1]] * 3, const=(0, 1))
    yield "mul_int16", graph("MUL", [[3], [3], [3]], [[0.1]] * 3, dtype=7)
    g = Graph()
    x = g.tensor([2, 3], scale=[0.1], zp=[0])
    ax = g.tensor([1], INT32, data=np.array([2], dtype=np.int32))
    y = g.tensor([2, 3], scale=[0.1], zp=[0])
    g.op("MEAN", [x, ax], [y])
    g.io = ([x], [y])
    yield "mean_axis", g
    g = Graph()
    x = g.tensor([1, 4, 4, 2], scale=[0.1], zp=[0])
    y = g.tensor([1, 2, 2, 2], scale=[0.1], zp=[1])
    g.op("AVERAGE_POOL_2D", [x], [y], "Pool2D",
         [(0, "i8", 1), (1, "i32", 2), (2, "i32", 2), (3, "i32", 2), (4, "i32", 2), (5, "i8", 0)])
    g.io = ([x], [y])
    yield "avg_pool_zero_points", g
    g = Graph()
    x = g.tensor([2, 5], scale=[0.1], zp=[0])
    y = g.tensor([2, 5], scale=[1.0 / 128], zp=[0])
    g.op("SOFTMAX", [x], [y], "Softmax", [(0, "f32", 1.0)])
    g.io = ([x], [y])
    yield "softmax_output_scale", g
    g = Graph()
    x = g.tensor([2, 5], scale=[0.1], zp=[0])
    ax = g.tensor([], INT32, data=np.array(1, dtype=np.int32))
    ys = [g.tensor([2, 2], scale=[0.1], zp=[0]) for _ in range(2)]
    g.op("SPLIT", [ax, x], ys, "Split", [(0, "i32", 2)])
    g.io = ([x], ys)
    yield "split_uneven", g
    g = Graph()
    x = g.tensor([4, 3], scale=[0.1], zp=[0])
    i = g.tensor([2], INT32, data=np.array([1, 4], dtype=np.int32))
    y = g.tensor([2, 3], scale=[0.1], zp=[0])
    g.op("GATHER", [x, i], [y], "Gather", [(0, "i32", 0)])
    g.io = ([x], [y])
    yield "gather_constant_index", g
    # Not refused at set-up: ARG_MAX over 8 values indexes a codebook of 4 rows, so an input
    # whose largest value is in the last 4 makes GATHER fail at run time.
    g = Graph()
    x = g.tensor([1, 8], scale=[0.1], zp=[0])
    ax = g.tensor([1], INT32, data=np.array([-1], dtype=np.int32))
    codes = g.tensor([1], INT32)
    book = g.tensor([4, 3], scale=[0.1], zp=[0], data=i8((4, 3)))
    y = g.tensor([1, 3], scale=[0.1], zp=[0])
    g.op("ARG_MAX", [x, ax], [codes], "ArgMax", [(0, "i8", INT32)])
    g.op("GATHER", [book, codes], [y], "Gather", [(0, "i32", 0)])
    g.io = ([x], [y])
    yield "gather_index_at_run_time", g


def set_edge_rows(v, k):
    """Rows 0-4 of input k: all -128, all 127, the two mixed (input 0 low, input 1 high and
    the reverse), every value in order (rotated per input); f32 rows 0-1: special values."""
    rows = v.reshape(v.shape[0], -1)
    n = rows.shape[1]
    if v.dtype == np.float32:
        special = np.array([0.0, -0.0, -1e-45, -1e-38, -1e-8, -0.5, -1.0, -9.0, -17.0, -88.0, -104.0, -1e30,
                            -np.inf, np.inf, np.nan, 1e-40, 3.0, 1e30], dtype=np.float32)
        rows[0, :min(n, len(special))] = special[:n]
        rows[1] = -np.abs(rows[1]) * 4
        return
    rows[0] = -128
    rows[1] = 127
    rows[2] = -128 if k == 0 else 127
    rows[3] = 127 if k == 0 else -128
    rows[4] = np.roll(np.resize(np.arange(-128, 128), n), 37 * k)


class LiteRT:
    """The LiteRT interpreter with its reference kernels (BUILTIN_REF), behind the two calls
    main() makes of TFLite Micro's."""

    def __init__(self, model):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
        self.it = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
        self.it.allocate_tensors()

    def set_input(self, v, k):
        d = self.it.get_input_details()[k]
        self.it.set_tensor(d["index"], v.reshape(d["shape"]))

    def invoke(self):
        self.it.invoke()

    def get_output(self, k):
        return self.it.get_tensor(self.it.get_output_details()[k]["index"])


def main():
    os.makedirs(OUT, exist_ok=True)
    manifest = {}
    keep = []  # the runtime keeps pointers into the model bytes: keep every model alive
    for name, g, ins, outs, *opts in models():
        opts = opts[0] if opts else {}
        model = g.build(ins, outs)
        with open(os.path.join(OUT, name + ".tflite"), "wb") as f:
            f.write(model)
        if opts.get("litert"):
            interp = LiteRT(model)
        else:
            interp = runtime.Interpreter.from_bytes(model)
        keep.append((model, interp))
        in_data = []
        for k, t in enumerate(ins):
            shape = [ROWS] + g.tensors[t]["shape"]
            if g.tensors[t]["dtype"] == FLOAT32:
                v = rng.normal(0, 1.5, size=shape).astype(np.float32)
                # Ties (x / scale = +-0.5) and saturation. Not +-1e9: there TFLite's
                # static_cast<int32_t> of an out-of-range float is undefined behaviour (x86 gives
                # INT_MIN, Arm saturates); fvae saturates, as Arm does.
                v.reshape(-1)[:4] = [0.5 * 0.02, -0.5 * 0.02, 7.0, -7.0]
            else:
                v = i8(shape)
            if opts.get("edges"):
                set_edge_rows(v, k)
            in_data.append(v)
            np.save(os.path.join(OUT, f"{name}_in{k}.npy"), v)
        results = [[] for _ in outs]
        for r in range(ROWS):
            for k in range(len(ins)):
                interp.set_input(in_data[k][r], k)
            interp.invoke()
            for k in range(len(outs)):
                results[k].append(interp.get_output(k).copy())
        for k in range(len(outs)):
            out = np.stack(results[k])
            np.save(os.path.join(OUT, f"{name}_out{k}.npy"), out)
            print(name, k, out.dtype, out.shape)
        manifest[name] = dict(inputs=len(ins), rows=ROWS, out_dtype=str(out.dtype), out_shape=list(out.shape))
        if len(outs) > 1:
            manifest[name]["outputs"] = len(outs)
    # An operator fvae does not implement (FLOOR), after a supported one: only for the error test.
    g = Graph()
    x = g.tensor([1, 8], scale=[0.1], zp=[0])
    h = g.tensor([1, 8], scale=[0.1], zp=[0])
    y = g.tensor([1, 8], scale=[0.1], zp=[0])
    g.op("RELU", [x], [h])
    g.op("FLOOR", [h], [y])
    with open(os.path.join(OUT, "unsupported_op.tflite"), "wb") as f:
        f.write(g.build([x], [y]))
    # Models fvae must refuse at set-up, each naming the operator (tests/nn.rs): shapes that do
    # not broadcast to the output, a SUB output scale giving a multiplier of 1 or more (TFLite
    # Micro aborts), a HARD_SWISH output scale below input scale / 128, a per-channel PRELU
    # alpha, a MUL of two constants, an int16 MUL.
    for name, build in bad_models():
        with open(os.path.join(OUT, f"bad_{name}.tflite"), "wb") as f:
            f.write(build.build(*build.io))
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
