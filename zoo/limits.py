"""The bounds zoo puts on what it reads from others: run directories, specs, stdin.

Runs, specs and archives are shared, so a file may have been crafted to exhaust memory or time.
Each bound here sits far above what zoo itself writes and far below what would hurt a machine;
going past one is an error that names the file and the bound, never a hang or an OOM kill.
(Archive bounds are dataset options: ``max_files`` and ``max_total_bytes`` of ``imdb``.)
"""

from __future__ import annotations

#: The most parameters zoo builds a model of unless told otherwise (``--max-parameters``, the
#: ``max_parameters`` of ``zoo.load`` and ``zoo.train``): 100 times imdb-best's 4.3M.
MAX_PARAMETERS = 500_000_000
#: Bytes a checkpoint may take per parameter (fp32 weights and two Adam moments) and on top of
#: that (history, random states, pickle framing): a larger file is not read.
CHECKPOINT_BYTES_PER_PARAMETER = 16
CHECKPOINT_OVERHEAD_BYTES = 64 << 20

#: A spec file (a real one has about a kilobyte), and its data: levels of nesting and values
#: once YAML aliases are expanded (a real spec: 4 levels, about 50 values).
MAX_SPEC_BYTES = 1 << 20
MAX_SPEC_DEPTH = 32
MAX_SPEC_VALUES = 10_000
#: A run's JSON files: run.json and summary.json, and vocab.json (20,000 tokens take 300 kB).
MAX_JSON_BYTES = 16 << 20
MAX_VOCAB_BYTES = 256 << 20
#: An export pack (``zoo pack``), unpacked: every member's bytes together, counted while inflating.
MAX_PACK_BYTES = 4 << 30
#: Epochs a checkpoint may claim (as many as ``train.epochs`` allows).
MAX_EPOCHS = 100_000

#: ``zoo predict``: the longest text in characters (``--max-chars``; about 7 times the longest
#: IMDB review), and the texts and characters predicted at once from stdin.
MAX_TEXT_CHARS = 100_000
#: Large enough that a batch sorted by length pads little and tokenizes in worker processes
#: (batches of 256 scored 25,000 reviews 3.5 times slower); small enough to stay tens of MB.
STDIN_BATCH_TEXTS = 8192
STDIN_BATCH_CHARS = 16_000_000
