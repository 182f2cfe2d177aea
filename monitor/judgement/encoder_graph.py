"""The sentence encoder's forward pass as an ONNX graph, for onnxruntime.

numpy runs all-MiniLM-L6-v2 one operation at a time; onnxruntime runs the same graph with its own
kernels and threads (``benchmarks/pipeline.py``). Each product is the encoder's int8 reading
(``encoder._product``): each token's activations rounded to 8 bits of their own scale (stored
offset by 128, the unsigned form the int8 kernels take), an integer ``MatMulInteger`` with the
weights' 7-bit columns, scaled back; a whole-tensor scale (onnxruntime's own dynamic quantizer)
would make a text's vector depend on the other texts of its batch. It is written once to the
cache folder, named by the weights' sha256, and read from there afterwards; building needs the
``onnx`` package, running only onnxruntime.

Pure: weights in, a serialised graph out. Inputs ``input_ids`` (int64, batch × tokens) and
``attention_mask`` (float32); output ``states``, the last layer's state of every token (pooling
and unit length are the encoder's, shared with the numpy pass).
"""

from __future__ import annotations

OPSET = 17  # LayerNormalization's first opset


def build(words, positions, token_type, norm, layers, *, heads: int, dimensions: int, activation_steps: int,
          tiny: float) -> bytes:
    """The serialised graph of the weights as ``encoder.Encoder`` holds them (its ``_layers`` tuples,
    each product's weights quantized: ``encoder._quantized``)."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    initializers, nodes = [], []
    size = dimensions // heads

    def const(name: str, value) -> str:
        initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op: str, inputs: list[str], **attributes) -> str:
        out = f"t{len(nodes)}"
        nodes.append(helper.make_node(op, inputs, [out], **attributes))
        return out

    def product(x: str, weights: tuple, tag: str) -> str:
        """``x`` times a quantized product's weights (``encoder._product``): each token's
        activations in 8 bits of its own scale (stored offset by 128, the kernels' unsigned form),
        an integer product, scaled back by the token's and the column's scales."""
        scale = node("Div", [node("Max", [node("ReduceMax", [node("Abs", [x])], axes=[-1], keepdims=1), least]), steps])
        stepped = node("Cast", [node("Add", [node("Round", [node("Div", [x, scale])]), offset])], to=TensorProto.UINT8)
        summed = node("MatMulInteger", [stepped, const(f"{tag}.q", weights[0]), offset_q, zero_q])
        return node("Mul", [node("Mul", [node("Cast", [summed], to=TensorProto.FLOAT), scale]),
                            const(f"{tag}.scales", weights[1])])

    def layer_norm(x: str, weights: tuple, tag: str) -> str:
        return node("LayerNormalization", [x, const(f"{tag}.gain", weights[0]), const(f"{tag}.bias", weights[1])],
                    axis=-1, epsilon=1e-12)

    ids, mask = "input_ids", "attention_mask"
    width = node("Shape", [ids], start=1, end=2)
    at = node("Slice", [const("positions", positions), const("zero", np.array([0], np.int64)), width])
    # Each word's embedding in 8 bits and its scale (``encoder._rows``), made float again once gathered.
    word_scale = node("Unsqueeze", [node("Gather", [const("word_scales", words[1]), ids]),
                                    const("last", np.array([-1], np.int64))])
    looked_up = node("Mul", [node("Cast", [node("Gather", [const("words", words[0]), ids])], to=TensorProto.FLOAT),
                             word_scale])
    x = node("Add", [node("Add", [looked_up, at]), const("token_type", token_type)])
    x = layer_norm(x, norm, "embeddings")
    hidden = node("Mul", [node("Sub", [const("one", np.float32(1.0)), mask]), const("never", np.float32(-1e9))])
    hidden = node("Unsqueeze", [hidden, const("axes12", np.array([1, 2], np.int64))])  # padding is never attended to
    split = const("split", np.array([0, 0, 3, heads, size], np.int64))
    joined = const("joined", np.array([0, 0, dimensions], np.int64))
    scale = const("scale", np.float32(1.0 / np.sqrt(size)))
    half, one = const("half", np.float32(0.5)), const("one_", np.float32(1.0))
    inner_scale, cube = const("gelu_scale", np.float32(0.7978845608)), const("gelu_cube", np.float32(0.044715))
    picks = [const(f"pick{i}", np.array(i, np.int64)) for i in range(3)]
    least, steps = const("tiny", np.float32(tiny)), const("steps", np.float32(activation_steps))
    offset, offset_q, zero_q = const("offset", np.float32(128.0)), const("offset_q", np.uint8(128)), const("zero_q", np.int8(0))
    for n, (qkv, qkv_bias, out, out_bias, norm1, up, up_bias, down, down_bias, norm2) in enumerate(layers):
        both = node("Add", [product(x, qkv, f"l{n}.qkv"), const(f"l{n}.qkv_bias", qkv_bias)])
        both = node("Transpose", [node("Reshape", [both, split])], perm=[2, 0, 3, 1, 4])
        q, k, v = (node("Gather", [both, pick], axis=0) for pick in picks)
        scores = node("MatMul", [q, node("Transpose", [k], perm=[0, 1, 3, 2])])
        scores = node("Softmax", [node("Add", [node("Mul", [scores, scale]), hidden])], axis=-1)
        context = node("Reshape", [node("Transpose", [node("MatMul", [scores, v])], perm=[0, 2, 1, 3]), joined])
        attended = node("Add", [product(context, out, f"l{n}.out"), const(f"l{n}.out_bias", out_bias)])
        x = layer_norm(node("Add", [x, attended]), norm1, f"l{n}.norm1")
        inner = node("Add", [product(x, up, f"l{n}.up"), const(f"l{n}.up_bias", up_bias)])
        # BERT's GELU in its tanh form, as the numpy pass computes it (the heads were trained on those vectors)
        cubed = node("Mul", [node("Mul", [node("Mul", [inner, inner]), inner]), cube])
        tanh = node("Tanh", [node("Mul", [node("Add", [inner, cubed]), inner_scale])])
        gelu = node("Mul", [node("Mul", [inner, half]), node("Add", [one, tanh])])
        fed = node("Add", [product(gelu, down, f"l{n}.down"), const(f"l{n}.down_bias", down_bias)])
        x = layer_norm(node("Add", [x, fed]), norm2, f"l{n}.norm2")
    nodes[-1].output[0] = "states"
    graph = helper.make_graph(
        nodes, "all-MiniLM-L6-v2",
        [helper.make_tensor_value_info(ids, TensorProto.INT64, ["batch", "tokens"]),
         helper.make_tensor_value_info(mask, TensorProto.FLOAT, ["batch", "tokens"])],
        [helper.make_tensor_value_info("states", TensorProto.FLOAT, ["batch", "tokens", dimensions])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="reputation-monitor")
    model.ir_version = 8  # read by every onnxruntime since 1.10
    return model.SerializeToString()
