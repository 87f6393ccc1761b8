"""zoo-extras: an example third-party zoo plugin (encoder ``textcnn``, head ``highway``,
tokenizer ``char-ngrams``).

zoo finds it through the ``zoo`` entry point ``extras = "zoo_extras.plugin"``; importing this
package imports neither torch nor zoo's heavy parts.
"""

__version__ = "0.1.0"
