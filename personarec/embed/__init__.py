"""LLM item embeddings: item text -> sentence-transformers -> ``Item.embedding`` (+ vector index)."""

from personarec.embed.items import EmbedSummary, embed_items, embed_texts, nearest_items
from personarec.embed.model import DEFAULT_MODEL_ID, EmbedError, load_encoder, resolve_model
from personarec.embed.text import build_item_text, text_hash

__all__ = ["DEFAULT_MODEL_ID", "EmbedError", "EmbedSummary", "build_item_text", "embed_items", "embed_texts",
           "load_encoder", "nearest_items", "resolve_model", "text_hash"]
