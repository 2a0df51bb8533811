"""A simulated GPU cluster: the seed's artifact API serving real PEFT-format LoRA files."""
