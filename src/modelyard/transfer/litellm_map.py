"""LiteLLM's provider prefixes and what each becomes in modelyard: a kind, a base URL and a
provider name (the vendor's, as the built-in catalog names it, when the base URL is the
vendor's own)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    kind: str
    base_url: str | None  # None: the kind's default, or (openai_compatible) api_base required
    vendor: str  # the provider's name when it is the vendor's own endpoint


_COMPATIBLE = {
    "groq": ("https://api.groq.com/openai/v1", "groq"),
    "openrouter": ("https://openrouter.ai/api/v1", "openrouter"),
    "deepseek": ("https://api.deepseek.com/v1", "deepseek"),
    "mistral": ("https://api.mistral.ai/v1", "mistral"),
    "together_ai": ("https://api.together.xyz/v1", "together"),
    "fireworks_ai": ("https://api.fireworks.ai/inference/v1", "fireworks"),
    "perplexity": ("https://api.perplexity.ai", "perplexity"),
    "xai": ("https://api.x.ai/v1", "xai"),
    "cerebras": ("https://api.cerebras.ai/v1", "cerebras"),
    "nvidia_nim": ("https://integrate.api.nvidia.com/v1", "nvidia"),
    "lm_studio": ("http://localhost:1234/v1", "lm_studio"),
    "hosted_vllm": (None, "vllm"),
    "custom_openai": (None, "openai_compatible"),
}

PREFIXES: dict[str, Target] = {
    "openai": Target("openai", "https://api.openai.com/v1", "openai"),
    "anthropic": Target("anthropic", "https://api.anthropic.com", "anthropic"),
    "gemini": Target("gemini", "https://generativelanguage.googleapis.com/v1beta", "gemini"),
    "ollama": Target("ollama", "http://localhost:11434", "ollama"),
    "ollama_chat": Target("ollama", "http://localhost:11434", "ollama"),
    **{
        prefix: Target("openai_compatible", base, vendor)
        for prefix, (base, vendor) in _COMPATIBLE.items()
    },
}

# Prefixes LiteLLM knows that no modelyard kind speaks (yet): listed as unsupported entries.
UNSUPPORTED: dict[str, str] = {
    "azure": "Azure OpenAI (deployments, api-version, api-key header)",
    "azure_ai": "Azure AI Foundry",
    "azure_text": "Azure OpenAI text completions",
    "text-completion-openai": "OpenAI's legacy completions models",
    "text-completion-codestral": "Codestral's completions endpoint",
    "bedrock": "AWS Bedrock (SigV4 signing)",
    "bedrock_converse": "AWS Bedrock (SigV4 signing)",
    "vertex_ai": "Google Vertex AI (service-account auth)",
    "vertex_ai_beta": "Google Vertex AI (service-account auth)",
    "sagemaker": "AWS SageMaker (SigV4 signing)",
    "sagemaker_chat": "AWS SageMaker (SigV4 signing)",
    "huggingface": "Hugging Face inference endpoints",
    "cohere": "Cohere's own API",
    "cohere_chat": "Cohere's own API",
    "replicate": "Replicate's prediction API",
    "watsonx": "IBM watsonx",
    "databricks": "Databricks serving endpoints",
    "cloudflare": "Cloudflare Workers AI",
    "voyage": "Voyage embeddings",
    "jina_ai": "Jina embeddings",
    "triton": "NVIDIA Triton",
    "predibase": "Predibase",
    "clarifai": "Clarifai",
    "ai21": "AI21's own API",
    "nlp_cloud": "NLP Cloud",
    "aleph_alpha": "Aleph Alpha",
    "baseten": "Baseten",
    "petals": "Petals",
}
