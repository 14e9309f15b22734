# Found by Twisted's plugin system (this folder has no __init__.py): keep it
# light, Twisted imports every plugin module when it builds its cache.
from utf8json import parser  # noqa: F401
