"""Imported once by the forkserver, so every execution environment starts with the layer loaded.

multiprocessing's forkserver does not apply the parent's sys.path to its preloads, hence
the path set-up here.
"""

from local_gateway.functions import ensure_layer_on_path, load_handler
from local_gateway.template import functions

ensure_layer_on_path()

import boto3  # noqa: E402, F401 - the runtime provides it; preloading saves every worker its import

for _spec in functions():
    load_handler(_spec)
