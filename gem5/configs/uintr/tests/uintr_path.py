"""Put gem5/configs/uintr and gem5/configs first on sys.path, as run_uintr.py does."""

import os
import sys

UINTR_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS_DIR = os.path.dirname(UINTR_DIR)
REPO_DIR = os.path.dirname(os.path.dirname(CONFIGS_DIR))
for path in (CONFIGS_DIR, UINTR_DIR):
    if path not in sys.path:
        sys.path.insert(0, path)
