"""Validators lost and back, as Pis losing power: Clique with 3 signers seals on with 2 (a signer may
seal one block in any 2), stalls with 1, and resumes once the others restart (killed with SIGKILL,
so they restart from what they had written)."""
import time

PERIOD = 1  # the poa_network fixture's Clique period, in seconds


def test_two_of_three_validators_seal_on_one_stalls_and_restarts_resume(poa_network):
    node0, node1, node2 = poa_network.nodes
    deadline = time.monotonic() + 30
    while [n.peers() for n in poa_network.nodes] != [2, 2, 2]:  # peered first, or two forks could stall
        assert time.monotonic() < deadline, "the validators did not peer"
        time.sleep(0.2)
    poa_network.wait_block(node0.head() + 2, timeout=30)

    poa_network.stop([2], hard=True)
    head = node0.head()
    poa_network.wait_block(head + 4, timeout=30, nodes=[0, 1])  # 4 blocks of 1 s, with room for a loaded CI

    poa_network.stop([1], hard=True)
    time.sleep(3 * PERIOD)  # node0 may still seal one block, if node1 sealed the last one
    stalled = node0.head()
    time.sleep(5 * PERIOD)
    assert node0.head() == stalled, "one validator of three must not seal on alone"
    assert "signed recently, must wait for others" in node0.log_tail(200)

    t0 = time.monotonic()
    assert [n.name for n in poa_network.start([1, 2])] == ["node1", "node2"]
    poa_network.wait_block(stalled + 3, timeout=40)  # all three, the restarted ones synced
    print(f"\nsealing resumed on all nodes {time.monotonic() - t0:.1f} s after the restart")
    assert [n.peers() for n in poa_network.nodes] == [2, 2, 2]  # static peers redialled
