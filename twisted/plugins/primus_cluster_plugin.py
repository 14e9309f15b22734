"""
Publishes primus-tx's ``cluster`` plugin under that name, so that
``Primus(site, plugin="cluster", cluster={...})`` finds it.  Imports nothing
heavy: the plugin itself is imported when a server adds it.
"""

from twisted.plugin import IPlugin
from zope.interface import implementer

from primus_tx.interfaces import IPrimusPlugin


@implementer(IPlugin, IPrimusPlugin)
class _ClusterPlugin:
    name = "cluster"
    client = None
    library = None

    def server(self, primus, options):
        from primus_tx.cluster import plugin

        plugin.server(primus, options)


cluster = _ClusterPlugin()
