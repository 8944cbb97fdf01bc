"""Where a committee's webhook may point: every address its host resolves to is public, or allow-listed."""
import ipaddress

import pytest

from services.notification import destinations
from shared.errors import InvalidInput


def resolving_to(*addresses):
    return lambda host, port: list(addresses)


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "10.0.0.1", "10.255.255.255", "172.16.0.1",
                                     "172.31.255.254", "192.168.1.1", "169.254.169.254", "0.0.0.0", "100.64.0.1",
                                     "::1", "fc00::1", "fd12:3456::1", "fe80::1", "::ffff:127.0.0.1",
                                     "::ffff:169.254.169.254", "224.0.0.1"])
def test_a_host_resolving_to_an_inside_address_is_refused_naming_the_field(address):
    with pytest.raises(InvalidInput) as refused:
        destinations.check("https://hooks.example.org/x", resolver=resolving_to(address))
    assert list(refused.value.details["fields"]) == ["webhook_url"]
    assert refused.value.message == destinations.REFUSED


def test_one_inside_address_among_public_ones_is_enough_to_refuse():
    with pytest.raises(InvalidInput):
        destinations.check("https://hooks.example.org/x", resolver=resolving_to("93.184.215.14", "10.0.0.7"))


def test_a_public_https_receiver_is_taken_with_the_addresses_a_try_may_use():
    checked = destinations.check("https://hooks.example.org:8443/x", resolver=resolving_to("93.184.215.14"))
    assert (checked.host, checked.port, checked.addresses) == ("hooks.example.org", 8443, ("93.184.215.14",))


def test_probing_gives_one_answer_whatever_is_behind_the_address():
    """A closed port, PostgreSQL's port, a name that does not resolve, plain http: the same refusal, no connection."""
    def unresolvable(host, port):
        raise OSError("Name or service not known")
    refusals = []
    for url, resolver in [("https://10.0.0.5:5432/", resolving_to("10.0.0.5")),
                          ("https://10.0.0.5:1/", resolving_to("10.0.0.5")),
                          ("https://nowhere.invalid/", unresolvable),
                          ("http://hooks.example.org/", resolving_to("93.184.215.14")),
                          ("https://user:pw@hooks.example.org/", resolving_to("93.184.215.14"))]:
        with pytest.raises(InvalidInput) as refused:
            destinations.check(url, resolver=resolver)
        refusals.append(refused.value.as_dict())
    assert all(r == refusals[0] for r in refusals)


def test_an_allow_listed_receiver_may_be_inside_and_plain_http():
    by_host = destinations.AllowList(hosts=frozenset({"receiver.internal"}))
    by_network = destinations.AllowList(networks=(ipaddress.ip_network("10.20.0.0/16"),))
    assert destinations.check("http://receiver.internal:8080/x", by_host, resolving_to("10.0.0.1")).addresses == ()
    assert destinations.check("http://hook.corp/x", by_network, resolving_to("10.20.3.4")).addresses == ("10.20.3.4",)
    with pytest.raises(InvalidInput):  # the network vouches for its own addresses only
        destinations.check("https://hook.corp/x", by_network, resolving_to("10.20.3.4", "10.30.0.1"))


def test_the_allow_list_comes_from_the_configuration():
    allowed = destinations.AllowList.from_config({"WEBHOOK_ALLOWED_HOSTS": ["Receiver.Internal"],
                                                  "WEBHOOK_ALLOWED_NETWORKS": ["127.0.0.0/8", "fd00::/8"]})
    assert allowed.vouches_for_host("receiver.internal", 443)
    assert allowed.vouches_for(ipaddress.ip_address("127.0.0.1"))
    assert not allowed.vouches_for(ipaddress.ip_address("10.0.0.1"))
