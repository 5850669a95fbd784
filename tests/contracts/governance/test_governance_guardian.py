"""The exchange's emergency key: it pauses, and can do nothing else."""
import ape


def test_the_guardian_pauses(exchange, guardian, deployed):
    exchange.pause(sender=guardian)
    assert exchange.paused()


def test_the_guardian_cannot_unpause(exchange, guardian, deployed):
    exchange.pause(sender=guardian)
    with ape.reverts(exchange.AccessControlUnauthorizedAccount, account=guardian.address, neededRole=b"\x00" * 32):
        exchange.unpause(sender=guardian)


def test_the_guardian_cannot_change_the_fee_or_roles(exchange, guardian, stranger, deployed):
    with ape.reverts(exchange.AccessControlUnauthorizedAccount):
        exchange.setFee(1, stranger, sender=guardian)
    with ape.reverts(exchange.AccessControlUnauthorizedAccount):
        exchange.grantRole(exchange.GUARDIAN_ROLE(), stranger, sender=guardian)


def test_a_stranger_cannot_pause(exchange, stranger, deployed):
    with ape.reverts(exchange.AccessControlUnauthorizedAccount, account=stranger.address,
                     neededRole=exchange.GUARDIAN_ROLE()):
        exchange.pause(sender=stranger)


def test_the_admin_still_pauses_and_unpauses(exchange, admin, deployed):
    exchange.pause(sender=admin)
    exchange.unpause(sender=admin)
    assert not exchange.paused()
