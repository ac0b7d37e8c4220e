"""Model-agnostic acceleration runtime reused by every system family.

Speculative decoding lives in ``target`` (model adapter), ``kv_cache``, ``decoding``
(settings, stopping, statistics), ``greedy`` (the baseline loop), ``drafters``, ``eagle``
(the draft-head module) and ``speculative`` (the loop and acceptance rules). Import the
submodules directly; this package imports nothing heavy on its own.
"""
