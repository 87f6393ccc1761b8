"""Data: datasets (plugins), safe fetching and extraction, vocabulary, tokenize-once cache, batches.

Import the submodules directly (``zoo.data.prepare``, ``zoo.data.batching``...): this package
imports nothing heavy itself, so that ``zoo --help`` and plugin registration stay cheap.
"""
