"""Make ``ansible_collections.srcardoso.evolution`` importable when pytest runs from the repo."""

import sys
from pathlib import Path

# .../collections/ansible_collections/srcardoso/evolution/tests/unit -> .../collections
COLLECTIONS_ROOT = Path(__file__).resolve().parents[5]
if str(COLLECTIONS_ROOT) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS_ROOT))
