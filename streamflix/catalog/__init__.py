"""Engine versions, instance classes and (later) prices as data, per region.

The catalogue is a JSON snapshot (``engine_versions.json``) with its date and
source. ``seed.py`` builds it from the data cfn-lint ships; ``refresh.py``
rebuilds it from the AWS APIs. Nothing here knows about config models or
templates: it answers "what exists where".
"""

from streamflix.catalog.engines import (
    ENGINES,
    Catalog,
    load_catalog,
    nearest_versions,
    version_key,
)

__all__ = ["ENGINES", "Catalog", "load_catalog", "nearest_versions", "version_key"]
