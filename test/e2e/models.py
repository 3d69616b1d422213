"""End-to-end test models for llmc: built in PyTorch, exported to ONNX.

Every model is built with seeded random weights (no pretrained weights are
downloaded), put in eval mode and exported with torch.onnx.export (Debian's
torch 1.13, opset OPSET, fixed input shapes). Alongside the ONNX file each
model comes with fixed inputs and two PyTorch references:

  ref_fp32  the model run by PyTorch in float32 (what the ONNX file encodes)
  ref_fp64  the same weights and inputs run in float64 (model.double()): an
            independent, much more accurate reference to measure fp32 error

    import models
    case = models.get("gpt2_mini")           # or models.gpt2_mini()
    case.onnx_path, case.inputs, case.ref_fp32, case.ref_fp64

`case` is a named tuple (onnx_path, inputs, ref_fp32, ref_fp64); the dicts map
ONNX input / output names to numpy arrays (float32 / int64 inputs, float32 and
float64 references).

Models (MODELS lists them; DESCRIPTIONS says what each is):
  resnet50            torchvision resnet50(weights=None), 1x3x224x224
  mobilenet_v3_small  torchvision mobilenet_v3_small(weights=None), 1x3x224x224
  vit_mini            a small ViT (torchvision VisionTransformer class, NOT
                      vit_b_16): 64x64 image, patch 8, 4 layers, 4 heads,
                      hidden 128, MLP 512, 1000 classes; 1x3x64x64
  gpt2_mini           GPT-2-style decoder written here: vocab 1000, 4 layers,
                      4 heads, d=128, seq 32, pre-LN, causal attention via
                      explicit matmul/mask/softmax, tanh-GELU MLP, tied LM head;
                      input_ids int64 2x32
  bert_mini           BERT-style encoder written here: vocab 1000, 4 layers,
                      4 heads, d=128, seq 32, token+position+segment
                      embeddings, post-LN, additive attention mask, erf-GELU,
                      tanh pooler; input_ids/token_type_ids/attention_mask
                      int64 2x32 (row 1 has 10 padding positions)
  llama_mini          Llama-style decoder written here: vocab 1000, 2 layers,
                      d=128, 4 query heads and 2 KV heads (GQA, KV repeated
                      by expand + reshape), head_dim 32, RMSNorm written out,
                      RoPE (precomputed cos/sin buffers, rotate_half by slices
                      and cat), causal mask, SwiGLU MLP (hidden 256), no
                      biases, untied LM head; input_ids int64 2x32
  moe_mini            dense mixture of experts: x float32 2x16x64 -> router
                      Linear(64, 4) -> softmax; each of 4 experts (stacked
                      weights w1 [4,64,128], w2 [4,128,64], einsum, GELU
                      between) runs on every token; outputs weighted by the
                      router probabilities, summed over experts, plus x
  moe_topk            GShard-style top-2 MoE with static shapes: x float32
                      4x16x64 (4 groups of 16 tokens) -> router Linear(64,4)
                      -> softmax -> top-2 -> each choice's slot in its
                      expert's buffer (cumsum of one-hots, capacity 10,
                      overflow dropped) -> dispatch einsum -> experts (w1
                      [4,64,128], GELU, w2 [4,128,64]) -> combine einsum
                      weighted by the normalized gates, plus x

Cache: exported files land in CACHE_ROOT/<key>/ where CACHE_ROOT defaults to
build/e2e-models (override with $LLMC_E2E_CACHE or the cache_dir argument) and
<key> hashes this file's bytes, the torch version and OPSET, so editing this
file re-exports everything and unchanged models are exported once; entries
of other keys not used for a day are removed when a new key is created. Each model
is stored as NAME.onnx plus NAME.npz (inputs and both references). Writes are
atomic and serialised with a lock file, so concurrent users are safe.

Run directly to (re)build the cache and print a summary:
    .venv/bin/python test/e2e/models.py [NAME ...]
"""

import collections
import copy
import fcntl
import hashlib
import math
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_CACHE_ROOT = os.path.join(REPO, "build", "e2e-models")
OPSET = 14
SEED = 20240611

E2ECase = collections.namedtuple("E2ECase", "onnx_path inputs ref_fp32 ref_fp64")


def _torch():
    import torch  # imported lazily: only needed when (re)exporting
    return torch


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def _randomize_batchnorm(model):
    """Give every BatchNorm non-trivial (but well-conditioned) statistics and
    affine parameters; torchvision's defaults make eval-mode BN an identity."""
    torch = _torch()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.normal_(0.0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                if m.affine:
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.normal_(0.0, 0.1)


def _randomize_layernorm(model):
    torch = _torch()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.LayerNorm) and m.elementwise_affine:
                m.weight.normal_(1.0, 0.1)
                m.bias.normal_(0.0, 0.1)


# ---------------------------------------------------------------------------
# Model definitions. Each builder returns (module in eval mode, ordered dict of
# input name -> torch tensor, list of output names). Builders seed torch.
# ---------------------------------------------------------------------------

def _image_input(shape):
    torch = _torch()
    g = torch.Generator().manual_seed(SEED + 1)
    return torch.randn(*shape, generator=g, dtype=torch.float32)


def build_resnet50():
    torch = _torch()
    import torchvision
    torch.manual_seed(SEED)
    model = torchvision.models.resnet50(weights=None)
    _randomize_batchnorm(model)
    model.eval()
    inputs = collections.OrderedDict(input=_image_input((1, 3, 224, 224)))
    return model, inputs, ["logits"]


def build_mobilenet_v3_small():
    torch = _torch()
    import torchvision
    torch.manual_seed(SEED)
    model = torchvision.models.mobilenet_v3_small(weights=None)
    _randomize_batchnorm(model)
    model.eval()
    inputs = collections.OrderedDict(input=_image_input((1, 3, 224, 224)))
    return model, inputs, ["logits"]


def build_vit_mini():
    torch = _torch()
    from torchvision.models.vision_transformer import VisionTransformer
    torch.manual_seed(SEED)
    model = VisionTransformer(image_size=64, patch_size=8, num_layers=4,
                              num_heads=4, hidden_dim=128, mlp_dim=512,
                              num_classes=1000)
    with torch.no_grad():
        # torchvision zero-initialises the class token and the head (the
        # output would be all zeros); make them random.
        model.class_token.normal_(0.0, 0.02)
        torch.nn.init.normal_(model.heads.head.weight, 0.0, 0.05)
        torch.nn.init.normal_(model.heads.head.bias, 0.0, 0.05)
    _randomize_layernorm(model)
    model.eval()
    inputs = collections.OrderedDict(input=_image_input((1, 3, 64, 64)))
    return model, inputs, ["logits"]


def _transformer_modules():
    """The GPT-2 and BERT style modules (defined lazily: they need torch)."""
    torch = _torch()
    nn = torch.nn
    F = torch.nn.functional

    class CausalSelfAttention(nn.Module):
        def __init__(self, d, heads, max_seq):
            super().__init__()
            self.heads = heads
            self.c_attn = nn.Linear(d, 3 * d)
            self.c_proj = nn.Linear(d, d)
            mask = torch.tril(torch.ones(max_seq, max_seq, dtype=torch.bool))
            self.register_buffer("mask", mask.view(1, 1, max_seq, max_seq),
                                 persistent=False)

        def forward(self, x):
            B, T, C = x.shape
            hd = C // self.heads
            q, k, v = self.c_attn(x).split(C, dim=2)
            q = q.view(B, T, self.heads, hd).transpose(1, 2)
            k = k.view(B, T, self.heads, hd).transpose(1, 2)
            v = v.view(B, T, self.heads, hd).transpose(1, 2)
            att = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
            att = att.masked_fill(~self.mask[:, :, :T, :T], float("-inf"))
            att = F.softmax(att, dim=-1)
            y = torch.matmul(att, v)
            y = y.transpose(1, 2).reshape(B, T, C)
            return self.c_proj(y)

    class GPT2Block(nn.Module):
        def __init__(self, d, heads, max_seq):
            super().__init__()
            self.ln_1 = nn.LayerNorm(d)
            self.attn = CausalSelfAttention(d, heads, max_seq)
            self.ln_2 = nn.LayerNorm(d)
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d),
                                     nn.GELU(approximate="tanh"),
                                     nn.Linear(4 * d, d))

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            x = x + self.mlp(self.ln_2(x))
            return x

    class GPT2(nn.Module):
        def __init__(self, vocab, d, layers, heads, max_seq):
            super().__init__()
            self.wte = nn.Embedding(vocab, d)
            self.wpe = nn.Embedding(max_seq, d)
            self.blocks = nn.ModuleList(
                [GPT2Block(d, heads, max_seq) for _ in range(layers)])
            self.ln_f = nn.LayerNorm(d)
            self.register_buffer("pos", torch.arange(max_seq), persistent=False)

        def forward(self, input_ids):
            T = input_ids.shape[1]
            x = self.wte(input_ids) + self.wpe(self.pos[:T])
            for blk in self.blocks:
                x = blk(x)
            x = self.ln_f(x)
            return torch.matmul(x, self.wte.weight.t())  # tied LM head

    class BertSelfAttention(nn.Module):
        def __init__(self, d, heads):
            super().__init__()
            self.heads = heads
            self.query = nn.Linear(d, d)
            self.key = nn.Linear(d, d)
            self.value = nn.Linear(d, d)
            self.output = nn.Linear(d, d)

        def forward(self, x, ext_mask):
            B, T, C = x.shape
            hd = C // self.heads

            def split(t):
                return t.view(B, T, self.heads, hd).permute(0, 2, 1, 3)

            q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
            scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(hd)
            probs = F.softmax(scores + ext_mask, dim=-1)
            ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).reshape(B, T, C)
            return self.output(ctx)

    class BertLayer(nn.Module):
        def __init__(self, d, heads):
            super().__init__()
            self.attention = BertSelfAttention(d, heads)
            self.ln_attn = nn.LayerNorm(d, eps=1e-12)
            self.intermediate = nn.Linear(d, 4 * d)
            self.out = nn.Linear(4 * d, d)
            self.ln_out = nn.LayerNorm(d, eps=1e-12)

        def forward(self, x, ext_mask):
            x = self.ln_attn(x + self.attention(x, ext_mask))
            x = self.ln_out(x + self.out(F.gelu(self.intermediate(x))))
            return x

    class Bert(nn.Module):
        def __init__(self, vocab, d, layers, heads, max_seq, type_vocab=2):
            super().__init__()
            self.word_embeddings = nn.Embedding(vocab, d)
            self.position_embeddings = nn.Embedding(max_seq, d)
            self.token_type_embeddings = nn.Embedding(type_vocab, d)
            self.ln_emb = nn.LayerNorm(d, eps=1e-12)
            self.layers = nn.ModuleList([BertLayer(d, heads) for _ in range(layers)])
            self.pooler = nn.Linear(d, d)
            self.register_buffer("pos", torch.arange(max_seq), persistent=False)

        def forward(self, input_ids, token_type_ids, attention_mask):
            T = input_ids.shape[1]
            x = (self.word_embeddings(input_ids)
                 + self.position_embeddings(self.pos[:T])
                 + self.token_type_embeddings(token_type_ids))
            x = self.ln_emb(x)
            ext = attention_mask[:, None, None, :].to(x.dtype)
            ext = (1.0 - ext) * -10000.0
            for layer in self.layers:
                x = layer(x, ext)
            pooled = torch.tanh(self.pooler(x[:, 0]))
            return x, pooled

    return GPT2, Bert


VOCAB, D_MODEL, LAYERS, HEADS, SEQ, BATCH = 1000, 128, 4, 4, 32, 2


def _token_ids():
    torch = _torch()
    g = torch.Generator().manual_seed(SEED + 2)
    return torch.randint(0, VOCAB, (BATCH, SEQ), generator=g, dtype=torch.int64)


def build_gpt2_mini():
    torch = _torch()
    GPT2, _ = _transformer_modules()
    torch.manual_seed(SEED)
    model = GPT2(VOCAB, D_MODEL, LAYERS, HEADS, SEQ)
    _randomize_layernorm(model)
    model.eval()
    inputs = collections.OrderedDict(input_ids=_token_ids())
    return model, inputs, ["logits"]


def build_bert_mini():
    torch = _torch()
    _, Bert = _transformer_modules()
    torch.manual_seed(SEED)
    model = Bert(VOCAB, D_MODEL, LAYERS, HEADS, SEQ)
    _randomize_layernorm(model)
    model.eval()
    token_type = torch.zeros(BATCH, SEQ, dtype=torch.int64)
    token_type[:, SEQ // 2:] = 1
    mask = torch.ones(BATCH, SEQ, dtype=torch.int64)
    mask[1, SEQ - 10:] = 0
    inputs = collections.OrderedDict(input_ids=_token_ids(),
                                     token_type_ids=token_type,
                                     attention_mask=mask)
    return model, inputs, ["last_hidden_state", "pooler_output"]


def _llama_modules():
    """The Llama-style decoder (defined lazily: it needs torch)."""
    torch = _torch()
    nn = torch.nn
    F = torch.nn.functional

    class RMSNorm(nn.Module):
        def __init__(self, d, eps=1e-6):
            super().__init__()
            self.eps = eps
            self.weight = nn.Parameter(torch.ones(d))

        def forward(self, x):
            ms = x.pow(2).mean(-1, keepdim=True)
            return x * torch.rsqrt(ms + self.eps) * self.weight

    def rotate_half(x):
        half = x.shape[-1] // 2
        return torch.cat((-x[..., half:], x[..., :half]), dim=-1)

    class LlamaAttention(nn.Module):
        def __init__(self, d, heads, kv_heads, head_dim, max_seq):
            super().__init__()
            self.heads, self.kv_heads, self.head_dim = heads, kv_heads, head_dim
            self.q_proj = nn.Linear(d, heads * head_dim, bias=False)
            self.k_proj = nn.Linear(d, kv_heads * head_dim, bias=False)
            self.v_proj = nn.Linear(d, kv_heads * head_dim, bias=False)
            self.o_proj = nn.Linear(heads * head_dim, d, bias=False)
            mask = torch.tril(torch.ones(max_seq, max_seq, dtype=torch.bool))
            self.register_buffer("mask", mask.view(1, 1, max_seq, max_seq),
                                 persistent=False)

        def _repeat_kv(self, t):
            B, H, T, hd = t.shape
            rep = self.heads // self.kv_heads
            return t[:, :, None, :, :].expand(B, H, rep, T, hd).reshape(
                B, H * rep, T, hd)

        def forward(self, x, cos, sin):
            B, T, _ = x.shape
            hd = self.head_dim
            q = self.q_proj(x).view(B, T, self.heads, hd).transpose(1, 2)
            k = self.k_proj(x).view(B, T, self.kv_heads, hd).transpose(1, 2)
            v = self.v_proj(x).view(B, T, self.kv_heads, hd).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            k, v = self._repeat_kv(k), self._repeat_kv(v)
            att = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
            att = att.masked_fill(~self.mask[:, :, :T, :T], float("-inf"))
            att = F.softmax(att, dim=-1)
            y = torch.matmul(att, v).transpose(1, 2).reshape(B, T, self.heads * hd)
            return self.o_proj(y)

    class LlamaMLP(nn.Module):
        def __init__(self, d, hidden):
            super().__init__()
            self.gate_proj = nn.Linear(d, hidden, bias=False)
            self.up_proj = nn.Linear(d, hidden, bias=False)
            self.down_proj = nn.Linear(hidden, d, bias=False)

        def forward(self, x):
            return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))

    class LlamaBlock(nn.Module):
        def __init__(self, d, heads, kv_heads, head_dim, hidden, max_seq):
            super().__init__()
            self.input_layernorm = RMSNorm(d)
            self.self_attn = LlamaAttention(d, heads, kv_heads, head_dim, max_seq)
            self.post_attention_layernorm = RMSNorm(d)
            self.mlp = LlamaMLP(d, hidden)

        def forward(self, x, cos, sin):
            x = x + self.self_attn(self.input_layernorm(x), cos, sin)
            x = x + self.mlp(self.post_attention_layernorm(x))
            return x

    class Llama(nn.Module):
        def __init__(self, vocab, d, layers, heads, kv_heads, head_dim, hidden,
                     max_seq, theta=10000.0):
            super().__init__()
            self.embed_tokens = nn.Embedding(vocab, d)
            self.layers = nn.ModuleList(
                [LlamaBlock(d, heads, kv_heads, head_dim, hidden, max_seq)
                 for _ in range(layers)])
            self.norm = RMSNorm(d)
            self.lm_head = nn.Linear(d, vocab, bias=False)
            # RoPE tables, computed in float64 and stored as float32 (so the
            # float64 reference uses exactly the values the ONNX file holds).
            inv = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64)
                                  / head_dim)
            ang = torch.outer(torch.arange(max_seq, dtype=torch.float64), inv)
            ang = torch.cat((ang, ang), dim=-1)
            self.register_buffer("cos", ang.cos().float(), persistent=False)
            self.register_buffer("sin", ang.sin().float(), persistent=False)

        def forward(self, input_ids):
            T = input_ids.shape[1]
            x = self.embed_tokens(input_ids)
            cos, sin = self.cos[:T], self.sin[:T]
            for layer in self.layers:
                x = layer(x, cos, sin)
            return self.lm_head(self.norm(x))

    return Llama


LLAMA_LAYERS, LLAMA_HEADS, LLAMA_KV_HEADS, LLAMA_HEAD_DIM, LLAMA_HIDDEN = 2, 4, 2, 32, 256


def build_llama_mini():
    torch = _torch()
    Llama = _llama_modules()
    torch.manual_seed(SEED)
    model = Llama(VOCAB, D_MODEL, LLAMA_LAYERS, LLAMA_HEADS, LLAMA_KV_HEADS,
                  LLAMA_HEAD_DIM, LLAMA_HIDDEN, SEQ)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("layernorm.weight") or name == "norm.weight":
                p.normal_(1.0, 0.1)  # RMSNorm gains: not all ones
    model.eval()
    inputs = collections.OrderedDict(input_ids=_token_ids())
    return model, inputs, ["logits"]


MOE_BATCH, MOE_TOKENS, MOE_D, MOE_HIDDEN, MOE_EXPERTS = 2, 16, 64, 128, 4


def build_moe_mini():
    torch = _torch()
    nn = torch.nn
    F = torch.nn.functional

    class DenseMoE(nn.Module):
        def __init__(self, d, hidden, experts):
            super().__init__()
            self.router = nn.Linear(d, experts)
            self.w1 = nn.Parameter(torch.randn(experts, d, hidden) / math.sqrt(d))
            self.w2 = nn.Parameter(torch.randn(experts, hidden, d) / math.sqrt(hidden))

        def forward(self, x):
            probs = F.softmax(self.router(x), dim=-1)          # [B, T, E]
            h = F.gelu(torch.einsum("btd,edh->beth", x, self.w1))
            out = torch.einsum("beth,ehd->betd", h, self.w2)  # [B, E, T, D]
            return x + torch.einsum("betd,bte->btd", out, probs)

    torch.manual_seed(SEED)
    model = DenseMoE(MOE_D, MOE_HIDDEN, MOE_EXPERTS)
    model.eval()
    g = torch.Generator().manual_seed(SEED + 3)
    x = torch.randn(MOE_BATCH, MOE_TOKENS, MOE_D, generator=g, dtype=torch.float32)
    return model, collections.OrderedDict(x=x), ["y"]


TOPK_GROUPS, TOPK_TOKENS, TOPK_D, TOPK_HIDDEN, TOPK_EXPERTS, TOPK_K = 4, 16, 64, 128, 4, 2
# Each expert's buffer holds 1.25x its fair share of a group's token choices;
# tokens beyond it are dropped (their expert output is zero), as in GShard.
TOPK_CAPACITY = int(math.ceil(TOPK_K * TOPK_TOKENS / TOPK_EXPERTS * 1.25))


def build_moe_topk():
    torch = _torch()
    nn = torch.nn
    F = torch.nn.functional
    G, S, E, K, C = TOPK_GROUPS, TOPK_TOKENS, TOPK_EXPERTS, TOPK_K, TOPK_CAPACITY

    class TopKMoE(nn.Module):
        """GShard's top-k MoE layer with static shapes: per group (batch
        row), each token picks its top-k experts; a token's slot in an
        expert's buffer is its rank among the group's choices of that expert
        (first choices first), and choices beyond the capacity are dropped.
        Dispatch and combine are one-hot einsums."""

        def __init__(self, d, hidden, experts):
            super().__init__()
            self.router = nn.Linear(d, experts)
            self.w1 = nn.Parameter(torch.randn(experts, d, hidden) / math.sqrt(d))
            self.w2 = nn.Parameter(torch.randn(experts, hidden, d) / math.sqrt(hidden))

        def forward(self, x):
            probs = F.softmax(self.router(x), dim=-1)             # [G, S, E]
            gate, index = probs.topk(K, dim=-1)                    # [G, S, K]
            gate = gate / gate.sum(-1, keepdim=True)
            chosen = F.one_hot(index, E).to(x.dtype)               # [G, S, K, E]
            order = chosen.permute(0, 2, 1, 3).reshape(G, K * S, E)
            slot = torch.cumsum(order, dim=1) - 1                  # rank per expert
            kept = (slot < C).to(x.dtype) * order
            slot = slot.reshape(G, K, S, E).permute(0, 2, 1, 3)
            kept = kept.reshape(G, K, S, E).permute(0, 2, 1, 3)
            combine = 0
            for j in range(K):
                pos = (slot[:, :, j, :] * kept[:, :, j, :]).sum(-1).long()
                combine = combine + (gate[:, :, j, None, None] *
                                     kept[:, :, j, :, None] *
                                     F.one_hot(pos, C).to(x.dtype)[:, :, None, :])
            dispatch = (combine > 0).to(x.dtype)                   # [G, S, E, C]
            xe = torch.einsum("gsec,gsm->egcm", dispatch, x)
            h = F.gelu(torch.einsum("egcm,emh->egch", xe, self.w1))
            ye = torch.einsum("egch,ehm->egcm", h, self.w2)
            return x + torch.einsum("gsec,egcm->gsm", combine, ye)

    torch.manual_seed(SEED)
    model = TopKMoE(TOPK_D, TOPK_HIDDEN, TOPK_EXPERTS)
    model.eval()
    g = torch.Generator().manual_seed(SEED + 4)
    x = torch.randn(TOPK_GROUPS, TOPK_TOKENS, TOPK_D, generator=g, dtype=torch.float32)
    return model, collections.OrderedDict(x=x), ["y"]


BUILDERS = collections.OrderedDict([
    ("resnet50", build_resnet50),
    ("mobilenet_v3_small", build_mobilenet_v3_small),
    ("vit_mini", build_vit_mini),
    ("gpt2_mini", build_gpt2_mini),
    ("bert_mini", build_bert_mini),
    ("llama_mini", build_llama_mini),
    ("moe_mini", build_moe_mini),
    ("moe_topk", build_moe_topk),
])
MODELS = list(BUILDERS)

DESCRIPTIONS = {
    "resnet50": "torchvision resnet50(weights=None), random BN stats, 1x3x224x224",
    "mobilenet_v3_small": "torchvision mobilenet_v3_small(weights=None), random BN stats, 1x3x224x224",
    "vit_mini": "small ViT (torchvision VisionTransformer: img 64, patch 8, 4 layers, 4 heads, hidden 128, mlp 512), 1x3x64x64",
    "gpt2_mini": "GPT-2-style decoder (vocab 1000, 4 layers, 4 heads, d 128, pre-LN, causal softmax attention, tanh-GELU, tied head), ids 2x32",
    "bert_mini": "BERT-style encoder (vocab 1000, 4 layers, 4 heads, d 128, post-LN, attention mask, erf-GELU, pooler), ids 2x32",
    "llama_mini": "Llama-style decoder (vocab 1000, 2 layers, d 128, 4 heads / 2 KV heads GQA, RMSNorm, RoPE, causal, SwiGLU 256, untied head), ids 2x32",
    "moe_mini": "dense mixture of 4 experts (router Linear(64,4) + softmax, stacked w1 [4,64,128] / w2 [4,128,64] by einsum, GELU, residual), x 2x16x64",
    "moe_topk": "GShard top-2 MoE (router Linear(64,4), top-2 of 4 experts, capacity 10 per group, one-hot dispatch/combine einsums, w1 [4,64,128] / w2 [4,128,64], GELU, residual), x 4x16x64",
}

# Slow models (for pytest marks and for callers that want a quick subset).
SLOW = {"resnet50"}


def build_torch_model(name):
    """(module in eval mode, ordered dict of torch input tensors, output names)."""
    if name not in BUILDERS:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    return BUILDERS[name]()


# ---------------------------------------------------------------------------
# Export + cache
# ---------------------------------------------------------------------------

def _file_hash():
    with open(os.path.abspath(__file__), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# Hash of this file as imported (not re-read later: the cache key must match
# the code that runs, even if the file is edited while a process uses it).
_FILE_HASH = _file_hash()
STALE_CACHE_AGE_S = 24 * 3600


def cache_key():
    torch = _torch()
    h = hashlib.sha256(_FILE_HASH.encode())
    h.update(f"torch={torch.__version__};opset={OPSET}".encode())
    return h.hexdigest()[:16]


def _prune_stale(root, keep):
    """Remove other cache entries (16-hex-digit directories) of `root` not
    touched for STALE_CACHE_AGE_S: left by earlier versions of this file."""
    import shutil
    import time
    try:
        entries = os.listdir(root)
    except OSError:
        return
    for e in entries:
        p = os.path.join(root, e)
        if e == keep or len(e) != 16 or not os.path.isdir(p):
            continue
        if any(c not in "0123456789abcdef" for c in e):
            continue
        try:
            if time.time() - os.path.getmtime(p) > STALE_CACHE_AGE_S:
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass


def cache_dir(root=None):
    root = root or os.environ.get("LLMC_E2E_CACHE") or DEFAULT_CACHE_ROOT
    return os.path.join(root, cache_key())


def _run_torch(model, inputs, dtype):
    """Run `model` (a deep copy converted to `dtype`) and return numpy outputs."""
    torch = _torch()
    m = copy.deepcopy(model).to(dtype).eval()
    args = [t.to(dtype) if t.is_floating_point() else t for t in inputs.values()]
    with torch.no_grad():
        out = m(*args)
    if isinstance(out, torch.Tensor):
        out = (out,)
    return [o.detach().cpu().numpy() for o in out]


def _export(name, onnx_path, npz_path):
    torch = _torch()
    model, inputs, output_names = build_torch_model(name)
    ref32 = _run_torch(model, inputs, torch.float32)
    ref64 = _run_torch(model, inputs, torch.float64)

    d = os.path.dirname(onnx_path)
    fd, tmp_onnx = tempfile.mkstemp(prefix=name + ".", suffix=".onnx.tmp", dir=d)
    os.close(fd)
    tmp_npz = None
    try:
        # Export with autograd enabled: under no_grad nn.MultiheadAttention
        # takes its fused fast path, which has no ONNX symbolic in torch 1.13.
        with torch.enable_grad():
            torch.onnx.export(model, tuple(inputs.values()), tmp_onnx,
                              input_names=list(inputs), output_names=output_names,
                              opset_version=OPSET, do_constant_folding=True,
                              training=torch.onnx.TrainingMode.EVAL)
        arrays = {}
        for k, v in inputs.items():
            arrays["in:" + k] = v.numpy()
        for k, a32, a64 in zip(output_names, ref32, ref64):
            arrays["ref32:" + k] = a32.astype(np.float32)
            arrays["ref64:" + k] = a64.astype(np.float64)
        fd, tmp_npz = tempfile.mkstemp(prefix=name + ".", suffix=".npz.tmp", dir=d)
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        for p in (tmp_onnx, tmp_npz):
            os.chmod(p, 0o644)
        # npz last: its presence marks a complete entry.
        os.replace(tmp_onnx, onnx_path)
        os.replace(tmp_npz, npz_path)
    finally:
        for p in (tmp_onnx, tmp_npz):
            if p and os.path.exists(p):
                os.unlink(p)


def _load(onnx_path, npz_path):
    inputs, ref32, ref64 = {}, {}, {}
    with np.load(npz_path) as z:
        for key in z.files:
            kind, name = key.split(":", 1)
            {"in": inputs, "ref32": ref32, "ref64": ref64}[kind][name] = z[key]
    return E2ECase(onnx_path, inputs, ref32, ref64)


def get(name, cache_root=None):
    """E2ECase for model `name`, exporting it into the cache if needed."""
    if name not in BUILDERS:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    d = cache_dir(cache_root)
    if not os.path.isdir(d):
        os.makedirs(d, exist_ok=True)
        _prune_stale(os.path.dirname(d), os.path.basename(d))
    onnx_path = os.path.join(d, name + ".onnx")
    npz_path = os.path.join(d, name + ".npz")
    if not (os.path.exists(onnx_path) and os.path.exists(npz_path)):
        with open(os.path.join(d, name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (os.path.exists(onnx_path) and os.path.exists(npz_path)):
                _export_with_debian_torch(name, onnx_path, npz_path)
    return _load(onnx_path, npz_path)


def _export_with_debian_torch(name, onnx_path, npz_path):
    """The files always come from Debian's torch 1.13 (/usr/bin/python3):
    torch 2.x (the test venv's) exports through Dynamo and onnxscript, or,
    with its TorchScript exporter, leaves attention's shape arithmetic
    unfolded. The same files whichever interpreter asks."""
    import torch
    if int(torch.__version__.split(".")[0]) < 2:
        _export(name, onnx_path, npz_path)
        return
    import subprocess
    subprocess.run(["/usr/bin/python3", os.path.abspath(__file__), "--export", name,
                    onnx_path, npz_path], check=True)



def _export_dynamic(name, onnx_path):
    """Exports token model `name` with its batch and sequence dims symbolic
    ("batch", "seq"; the other outputs' dims as torch gives them)."""
    torch = _torch()
    model, inputs, output_names = build_torch_model(name)
    axes = {k: {0: "batch", 1: "seq"} for k in inputs}
    d = os.path.dirname(onnx_path)
    fd, tmp_onnx = tempfile.mkstemp(prefix=name + ".", suffix=".onnx.tmp", dir=d)
    os.close(fd)
    try:
        with torch.enable_grad():
            torch.onnx.export(model, tuple(inputs.values()), tmp_onnx,
                              input_names=list(inputs), output_names=output_names,
                              opset_version=OPSET, do_constant_folding=True,
                              training=torch.onnx.TrainingMode.EVAL,
                              dynamic_axes=axes)
        os.chmod(tmp_onnx, 0o644)
        os.replace(tmp_onnx, onnx_path)
    finally:
        if os.path.exists(tmp_onnx):
            os.unlink(tmp_onnx)


def dynamic_file(name, cache_root=None):
    """The path of token model `name` (gpt2_mini, bert_mini, llama_mini)
    exported with symbolic "batch" and "seq" dims, by Debian's torch 1.13,
    into the cache."""
    if name not in ("gpt2_mini", "bert_mini", "llama_mini"):
        raise KeyError(f"no dynamic export of {name!r}")
    d = cache_dir(cache_root)
    os.makedirs(d, exist_ok=True)
    onnx_path = os.path.join(d, name + ".dynamic.onnx")
    if not os.path.exists(onnx_path):
        with open(os.path.join(d, name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not os.path.exists(onnx_path):
                import torch
                if int(torch.__version__.split(".")[0]) < 2:
                    _export_dynamic(name, onnx_path)
                else:
                    import subprocess
                    subprocess.run(["/usr/bin/python3", os.path.abspath(__file__),
                                    "--export-dynamic", name, onnx_path], check=True)
    return onnx_path


def resnet50(cache_root=None):
    return get("resnet50", cache_root)


def mobilenet_v3_small(cache_root=None):
    return get("mobilenet_v3_small", cache_root)


def vit_mini(cache_root=None):
    return get("vit_mini", cache_root)


def gpt2_mini(cache_root=None):
    return get("gpt2_mini", cache_root)


def bert_mini(cache_root=None):
    return get("bert_mini", cache_root)


def llama_mini(cache_root=None):
    return get("llama_mini", cache_root)


def moe_mini(cache_root=None):
    return get("moe_mini", cache_root)


def moe_topk(cache_root=None):
    return get("moe_topk", cache_root)


# ---------------------------------------------------------------------------
# Decoders with a static KV cache (gpt-fast / TensorRT-LLM style)
# ---------------------------------------------------------------------------
#
# A Llama-style decoder whose KV caches are preallocated to max_seq
# positions: inputs input_ids [batch, T] (int64), input_pos [T] (int64, the
# positions of the T tokens) and per layer past_key_I / past_value_I
# [batch, kv_heads, max_seq, head_dim]; outputs logits [batch, T, vocab] and
# present_key_I / present_value_I, the caches with the T new positions
# written. The mask is computed from input_pos (key j is visible to the
# token at position p when j <= p), so one file serves every position: the
# same ONNX graph at T = 1 decodes at any length, at T = prompt length it
# prefills. Even layers update their caches by index_put
# (`cache[:, :, input_pos] = k`: ONNX ScatterND), odd layers by
# Tensor.scatter (ScatterElements), the two spellings exporters produce.
#
#     path, weights = models.decoder_file("test", T)    # exported once, cached
#     module = models.decoder_module("test", weights)   # the same weights, any torch

DECODER_CONFIGS = {
    # Small: the tests.
    "test": dict(vocab=1000, d=128, layers=2, heads=4, kv_heads=2, hidden=256,
                 max_seq=64, batch=2),
    # bench/bench_decode.py (batch given there): 8 layers, d 512, 33M
    # parameters (134 MB fp32).
    "bench": dict(vocab=8000, d=512, layers=8, heads=8, kv_heads=4, hidden=1536,
                  max_seq=256, batch=1),
}


def _decoder_class():
    torch = _torch()
    nn = torch.nn
    F = torch.nn.functional

    class RMSNorm(nn.Module):
        def __init__(self, d, eps=1e-6):
            super().__init__()
            self.eps = eps
            self.weight = nn.Parameter(torch.ones(d))

        def forward(self, x):
            return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))

    class Layer(nn.Module):
        def __init__(self, c):
            super().__init__()
            hd = c["d"] // c["heads"]
            self.attention_norm = RMSNorm(c["d"])
            self.wq = nn.Linear(c["d"], c["heads"] * hd, bias=False)
            self.wk = nn.Linear(c["d"], c["kv_heads"] * hd, bias=False)
            self.wv = nn.Linear(c["d"], c["kv_heads"] * hd, bias=False)
            self.wo = nn.Linear(c["heads"] * hd, c["d"], bias=False)
            self.ffn_norm = RMSNorm(c["d"])
            self.w1 = nn.Linear(c["d"], c["hidden"], bias=False)
            self.w3 = nn.Linear(c["d"], c["hidden"], bias=False)
            self.w2 = nn.Linear(c["hidden"], c["d"], bias=False)

    class StaticCacheLlama(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.c = c
            self.hd = c["d"] // c["heads"]
            self.tok_embeddings = nn.Embedding(c["vocab"], c["d"])
            self.layers = nn.ModuleList([Layer(c) for _ in range(c["layers"])])
            self.norm = RMSNorm(c["d"])
            self.output = nn.Linear(c["d"], c["vocab"], bias=False)
            inv = 1.0 / 10000.0 ** (torch.arange(0, self.hd, 2, dtype=torch.float64)
                                    / self.hd)
            ang = torch.outer(torch.arange(c["max_seq"], dtype=torch.float64), inv)
            ang = torch.cat((ang, ang), dim=-1)
            self.register_buffer("cos", ang.cos().float(), persistent=False)
            self.register_buffer("sin", ang.sin().float(), persistent=False)
            self.register_buffer("key_positions", torch.arange(c["max_seq"]),
                                 persistent=False)

        @staticmethod
        def _rotate(x, cos, sin):
            half = x.shape[-1] // 2
            return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin

        def forward(self, input_ids, input_pos, *caches):
            c = self.c
            B, T = input_ids.shape
            H, KV, hd = c["heads"], c["kv_heads"], self.hd
            x = self.tok_embeddings(input_ids)
            cos, sin = self.cos[input_pos], self.sin[input_pos]  # [T, hd]
            visible = self.key_positions[None, :] <= input_pos[:, None]  # [T, max]
            presents = []
            for i, layer in enumerate(self.layers):
                h = layer.attention_norm(x)
                q = layer.wq(h).view(B, T, H, hd).transpose(1, 2)
                k = layer.wk(h).view(B, T, KV, hd).transpose(1, 2)
                v = layer.wv(h).view(B, T, KV, hd).transpose(1, 2)
                q, k = self._rotate(q, cos, sin), self._rotate(k, cos, sin)
                kc, vc = caches[2 * i], caches[2 * i + 1]
                if i % 2 == 0:  # index_put: ScatterND
                    kc, vc = kc.clone(), vc.clone()
                    kc[:, :, input_pos] = k
                    vc[:, :, input_pos] = v
                else:  # scatter: ScatterElements
                    idx = input_pos.view(1, 1, T, 1).expand(B, KV, T, hd)
                    kc, vc = kc.scatter(2, idx, k), vc.scatter(2, idx, v)
                presents += [kc, vc]
                rep = H // KV
                kk = kc[:, :, None].expand(B, KV, rep, c["max_seq"], hd).reshape(
                    B, H, c["max_seq"], hd)
                vv = vc[:, :, None].expand(B, KV, rep, c["max_seq"], hd).reshape(
                    B, H, c["max_seq"], hd)
                att = torch.matmul(q, kk.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
                att = att.masked_fill(~visible, float("-inf"))
                y = torch.matmul(F.softmax(att, dim=-1), vv)
                x = x + layer.wo(y.transpose(1, 2).reshape(B, T, H * hd))
                h = layer.ffn_norm(x)
                x = x + layer.w2(F.silu(layer.w1(h)) * layer.w3(h))
            return (self.output(self.norm(x)), *presents)

    return StaticCacheLlama


def decoder_io_names(config):
    c = DECODER_CONFIGS[config]
    caches = [f"{kind}_{i}" for i in range(c["layers"]) for kind in ("key", "value")]
    return (["input_ids", "input_pos"] + ["past_" + n for n in caches],
            ["logits"] + ["present_" + n for n in caches])


def decoder_module(config, weights_path):
    """The decoder of `config` in eval mode with the weights of the npz that
    decoder_file wrote (works on torch 1.13 and 2.x alike)."""
    torch = _torch()
    model = _decoder_class()(DECODER_CONFIGS[config])
    with np.load(weights_path) as z:
        state = {k: torch.from_numpy(z[k]) for k in z.files}
    model.load_state_dict(state)
    return model.eval()


def _export_decoder(config, T, batch, onnx_path, weights_path):
    torch = _torch()
    c = dict(DECODER_CONFIGS[config], batch=batch)
    torch.manual_seed(SEED + 7)
    model = _decoder_class()(c)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.normal_(1.0, 0.1)
            else:
                p.normal_(0.0, 0.02 if "embeddings" not in name else 1.0)
    model.eval()
    hd = c["d"] // c["heads"]
    cache = torch.zeros(c["batch"], c["kv_heads"], c["max_seq"], hd)
    args = (torch.zeros(c["batch"], T, dtype=torch.int64), torch.arange(T),
            *([cache] * (2 * c["layers"])))
    inputs, outputs = decoder_io_names(config)
    d = os.path.dirname(onnx_path)
    fd, tmp_onnx = tempfile.mkstemp(suffix=".onnx.tmp", dir=d)
    os.close(fd)
    fd, tmp_npz = tempfile.mkstemp(suffix=".npz.tmp", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **{k: v.detach().numpy() for k, v in model.state_dict().items()})
        torch.onnx.export(model, args, tmp_onnx, input_names=inputs,
                          output_names=outputs, opset_version=OPSET,
                          do_constant_folding=True)
        os.replace(tmp_npz, weights_path)
        os.replace(tmp_onnx, onnx_path)  # last: its presence marks a complete entry
    finally:
        for p in (tmp_onnx, tmp_npz):
            if os.path.exists(p):
                os.unlink(p)


def decoder_file(config, T, batch=None, cache_root=None):
    """(ONNX path, weights npz path) of the decoder of `config` taking T new
    tokens per call for `batch` sequences (default: the config's batch),
    exported with Debian's torch 1.13 into the cache. Every file of a config
    has the same weights."""
    if config not in DECODER_CONFIGS:
        raise KeyError(f"unknown decoder config {config!r}; known: "
                       f"{', '.join(DECODER_CONFIGS)}")
    batch = batch or DECODER_CONFIGS[config]["batch"]
    d = cache_dir(cache_root)
    os.makedirs(d, exist_ok=True)
    onnx_path = os.path.join(d, f"decoder_{config}_b{batch}_t{T}.onnx")
    weights_path = os.path.join(d, f"decoder_{config}.weights.npz")
    if not os.path.exists(onnx_path):
        with open(os.path.join(d, f"decoder_{config}.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not os.path.exists(onnx_path):
                import torch
                if int(torch.__version__.split(".")[0]) < 2:
                    _export_decoder(config, T, batch, onnx_path, weights_path)
                else:
                    import subprocess
                    subprocess.run(["/usr/bin/python3", os.path.abspath(__file__),
                                    "--export-decoder", config, str(T), str(batch),
                                    onnx_path, weights_path], check=True)
    return onnx_path, weights_path


def rel_l2(actual, expected):
    """||actual - expected||_2 / ||expected||_2, computed in float64."""
    a = np.asarray(actual, np.float64).ravel()
    e = np.asarray(expected, np.float64).ravel()
    return float(np.linalg.norm(a - e) / np.linalg.norm(e))


def main(argv):
    names = argv or MODELS
    print(f"cache: {cache_dir()}")
    for name in names:
        case = get(name)
        size = os.path.getsize(case.onnx_path) / 1e6
        errs = ", ".join(f"{k}: {rel_l2(case.ref_fp32[k], case.ref_fp64[k]):.2e}"
                         for k in case.ref_fp64)
        shapes = ", ".join(f"{k}{list(v.shape)}:{v.dtype}" for k, v in case.inputs.items())
        print(f"{name:20s} {size:7.1f} MB  inputs {shapes}  "
              f"torch fp32 vs fp64 rel L2: {errs}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--export":  # see _export_with_debian_torch
        _export(sys.argv[2], sys.argv[3], sys.argv[4])
    elif len(sys.argv) == 4 and sys.argv[1] == "--export-dynamic":  # see dynamic_file
        _export_dynamic(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 7 and sys.argv[1] == "--export-decoder":  # see decoder_file
        _export_decoder(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5],
                        sys.argv[6])
    else:
        main(sys.argv[1:])
