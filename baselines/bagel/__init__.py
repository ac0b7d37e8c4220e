"""The ``bagel`` family: the official BAGEL code (from a local checkout) under hbench's runtime.

Modules: ``schedule`` (sampler settings and the NFE function, pure), ``options`` (config
dataclasses and path checks), ``family`` / ``system`` (the registry entry and the System),
``checkout`` (find and import the official code), ``loading`` (weights, shared model pool,
distilled weight swaps, fused norms), ``contexts`` (the eval scripts' KV contexts),
``generator`` (one-NFE module and sampling loop), ``target`` (decoding-runtime adapter),
``attention`` (PyTorch stand-in for ``flash_attn_varlen_func``). Importing this package
imports no BAGEL code.
"""
