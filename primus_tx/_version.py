"""
Versions: this package's, and the Primus release whose wire protocol it
speaks.  Kept on the ground floor so that the spec document, the browser
library and the public facade read them without importing the server.
"""

__version__ = "0.1.0.dev0"

#: The Primus release whose wire protocol this server speaks (reported in
#: ``/spec`` as ``version`` and in the browser library's banner).
PRIMUS_VERSION = "8.0.9"
