"""The Hugging Face Hub protocol, read-only, over the artifacts' repositories (DESIGN §15)."""
