"""The ``hf`` system family: transformers causal LMs and VLMs from local folders."""
