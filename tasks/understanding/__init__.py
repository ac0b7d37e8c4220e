"""The understanding suite: shapes caption/VQA, MME, MMBench and MMMU from local files."""
