"""The exchange's emergency key: it pauses, and can do nothing else."""
import ape


def test_the_guardian_pauses(market, guardian, deployed):
    market.pause(sender=guardian)
    assert market.paused()


def test_the_guardian_cannot_unpause(market, guardian, deployed):
    market.pause(sender=guardian)
    with ape.reverts(market.AccessControlUnauthorizedAccount, account=guardian.address, neededRole=b"\x00" * 32):
        market.unpause(sender=guardian)


def test_the_guardian_cannot_change_the_fee_or_roles(market, guardian, stranger, deployed):
    with ape.reverts(market.AccessControlUnauthorizedAccount):
        market.setFee(1, stranger, sender=guardian)
    with ape.reverts(market.AccessControlUnauthorizedAccount):
        market.grantRole(market.GUARDIAN_ROLE(), stranger, sender=guardian)


def test_a_stranger_cannot_pause(market, stranger, deployed):
    with ape.reverts(market.AccessControlUnauthorizedAccount, account=stranger.address,
                     neededRole=market.GUARDIAN_ROLE()):
        market.pause(sender=stranger)


def test_the_admin_still_pauses_and_unpauses(market, admin, deployed):
    market.pause(sender=admin)
    market.unpause(sender=admin)
    assert not market.paused()
