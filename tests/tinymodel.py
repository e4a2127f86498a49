"""Write a tiny llama-architecture GGUF with random weights, for tests and benchmarks.

The vocabulary is SentencePiece-style with byte fallback: <unk>, <s>, </s> and the 256 byte
tokens, so any text (Korean included) tokenizes, and grammar-constrained decoding can spell any
JSON. A ChatML template is embedded so llama-cpp-python formats chats without extra setup
(`chat_template=` embeds another one; None writes a GGUF without any).

Random weights would emit random bytes, mostly invalid UTF-8. To keep outputs printable ASCII,
dimension 0 of the residual stream is held constant (every embedding has C there and no layer
writes to it), which turns column 0 of the output matrix into a per-token bias: strongly
negative for control and non-ASCII bytes, and `eos_bias` for </s>.
"""

from __future__ import annotations

from pathlib import Path

CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def write_tiny_gguf(path: Path, *, n_embd: int = 64, n_layer: int = 2, n_head: int = 4,
                    n_ff: int = 128, n_ctx: int = 2048, seed: int = 0,
                    eos_bias: float = -50.0, chat_template: str | None = CHATML) -> Path:
    import gguf
    import numpy as np

    rng = np.random.default_rng(seed)
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    types += [gguf.TokenType.BYTE] * 256
    n_vocab = len(tokens)

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("jaju-tiny-random")
    w.add_context_length(n_ctx)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(n_embd // n_head)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * n_vocab)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    if chat_template is not None:
        w.add_chat_template(chat_template)

    def t(*shape: int, scale: float = 0.02) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    embd = t(n_vocab, n_embd, scale=1.0)
    embd[:, 0] = 8.0  # the constant "bias" dimension
    w.add_tensor("token_embd.weight", embd)
    w.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    output = t(n_vocab, n_embd, scale=0.5)
    output[:, 0] = 0.0
    for byte in list(range(0x00, 0x20)) + list(range(0x7F, 0x100)):
        if byte != 0x0A:
            output[3 + byte, 0] = -10.0  # never sampled: keeps output printable ASCII
    output[0:2, 0] = -10.0  # <unk>, <s>
    output[2, 0] = eos_bias / 5.0  # negative (default): generations run to max_tokens
    w.add_tensor("output.weight", output)
    for i in range(n_layer):
        attn_out, ffn_down = t(n_embd, n_embd), t(n_embd, n_ff)
        attn_out[0, :] = 0.0  # no layer writes to the bias dimension
        ffn_down[0, :] = 0.0
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        w.add_tensor(f"blk.{i}.attn_q.weight", t(n_embd, n_embd))
        w.add_tensor(f"blk.{i}.attn_k.weight", t(n_embd, n_embd))
        w.add_tensor(f"blk.{i}.attn_v.weight", t(n_embd, n_embd))
        w.add_tensor(f"blk.{i}.attn_output.weight", attn_out)
        w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        w.add_tensor(f"blk.{i}.ffn_gate.weight", t(n_ff, n_embd))
        w.add_tensor(f"blk.{i}.ffn_up.weight", t(n_ff, n_embd))
        w.add_tensor(f"blk.{i}.ffn_down.weight", ffn_down)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
