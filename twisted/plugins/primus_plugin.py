from twisted.application.service import ServiceMaker

primus = ServiceMaker("primus-tx", "primus_tx.tap", "Primus real-time server on Twisted", "primus")
