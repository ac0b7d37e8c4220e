"""GenEval: official prompts and rules, pluggable detectors and colour classifiers, official layout."""
