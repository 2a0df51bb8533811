"""The base models the simulated cluster fine-tunes, as their config.json on the Hugging Face hub has them.

A LoRA adapter's tensor shapes follow its base model: PEFT wraps each targeted ``nn.Linear`` and
gives it ``lora_A`` of shape ``(r, in_features)`` and ``lora_B`` of ``(out_features, r)``
(peft/tuners/lora/layer.py, ``LoraLayer.update_layer``), one pair per targeted module in every
decoder layer. The three bases use grouped-query attention, so k_proj and v_proj project to
``num_key_value_heads * head_dim`` features, not ``hidden_size``, and the MLP projections go
through ``intermediate_size``.

Sources (config.json of each model, cross-checked with the transformers configuration classes):
* mistralai/Mistral-7B-v0.1: https://huggingface.co/mistralai/Mistral-7B-v0.1/blob/main/config.json
  (hidden 4096, intermediate 14336, 32 layers, 32 heads, 8 KV heads, vocab 32000, untied); the
  ``MistralConfig`` defaults are documented as "similar to Mistral-7B-v0.1" and hold the same values.
* meta-llama/Llama-3.1-8B: https://huggingface.co/meta-llama/Llama-3.1-8B/blob/main/config.json
  (hidden 4096, intermediate 14336, 32 layers, 32 heads, 8 KV heads, vocab 128256, untied).
* Qwen/Qwen2.5-7B: https://huggingface.co/Qwen/Qwen2.5-7B/blob/main/config.json (hidden 3584,
  intermediate 18944, 28 layers, 28 heads, 4 KV heads, vocab 152064, untied).
None of the three config.json files sets ``head_dim``; transformers then uses
``hidden_size // num_attention_heads`` (configuration_mistral.py / configuration_llama.py,
modeling_qwen2.py), 128 for all three.
"""

from __future__ import annotations

from dataclasses import dataclass

# Where each module sits in a decoder layer of these architectures (modeling_mistral.py,
# modeling_llama.py, modeling_qwen2.py: ``self_attn.{q,k,v,o}_proj`` and ``mlp.{gate,up,down}_proj``).
MODULE_PARENTS = {
    "q_proj": "self_attn",
    "k_proj": "self_attn",
    "v_proj": "self_attn",
    "o_proj": "self_attn",
    "gate_proj": "mlp",
    "up_proj": "mlp",
    "down_proj": "mlp",
}


@dataclass(frozen=True)
class BaseModelConfig:
    """The fields of a base model's config.json that fix LoRA tensor names and shapes."""

    model_type: str
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    vocab_size: int
    tie_word_embeddings: bool = False

    def features(self, module: str) -> tuple[int, int]:
        """``(in_features, out_features)`` of one targeted linear module."""
        attention = self.num_attention_heads * self.head_dim
        key_value = self.num_key_value_heads * self.head_dim
        return {
            "q_proj": (self.hidden_size, attention),
            "k_proj": (self.hidden_size, key_value),
            "v_proj": (self.hidden_size, key_value),
            "o_proj": (attention, self.hidden_size),
            "gate_proj": (self.hidden_size, self.intermediate_size),
            "up_proj": (self.hidden_size, self.intermediate_size),
            "down_proj": (self.intermediate_size, self.hidden_size),
        }[module]

    def transformers_config(self) -> dict[str, object]:
        """The config.json fields, for ``AutoConfig.for_model(model_type, **fields)``."""
        return {
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "vocab_size": self.vocab_size,
            "tie_word_embeddings": self.tie_word_embeddings,
        }


BASE_MODELS = {
    "mistralai/Mistral-7B-v0.1": BaseModelConfig(
        model_type="mistral",
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        head_dim=128,
        vocab_size=32000,
    ),
    "meta-llama/Llama-3.1-8B": BaseModelConfig(
        model_type="llama",
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        head_dim=128,
        vocab_size=128256,
    ),
    "Qwen/Qwen2.5-7B": BaseModelConfig(
        model_type="qwen2",
        hidden_size=3584,
        intermediate_size=18944,
        num_hidden_layers=28,
        num_attention_heads=28,
        num_key_value_heads=4,
        head_dim=128,
        vocab_size=152064,
    ),
}
