"""Put gem5/configs first on sys.path, as gem5 does for the entry script."""

import os
import sys

CONFIGS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if CONFIGS_DIR not in sys.path:
    sys.path.insert(0, CONFIGS_DIR)
