from tests.support.geth import poa_network  # noqa: F401 - the module-scoped 3-validator network
